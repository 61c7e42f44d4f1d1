// Package recorder wraps an http.ResponseWriter to remember the status
// and size of the response, for the middleware that logs, counts and
// traces requests.
package recorder

import "net/http"

// Recorder is an http.ResponseWriter that remembers what was written.
type Recorder struct {
	http.ResponseWriter
	code  int
	bytes int
}

// Wrap returns a Recorder over w. If w already is one, it is returned
// as is, so stacked middleware share one.
func Wrap(w http.ResponseWriter) *Recorder {
	if r, ok := w.(*Recorder); ok {
		return r
	}
	return &Recorder{ResponseWriter: w}
}

// WriteHeader implements http.ResponseWriter.
func (r *Recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (r *Recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

// Status is the response's status code (200 when nothing was written).
func (r *Recorder) Status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// Bytes is the size of the body written so far.
func (r *Recorder) Bytes() int { return r.bytes }

// Unwrap lets http.ResponseController reach the connection (flushes,
// deadlines).
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
