package admission

import (
	"bytes"
	"io"
	"net/http"
)

// BufferBodies reads each request's body, up to max+1 bytes, before the
// request reaches the gate. A client uploading its body slowly would
// otherwise hold a slot for as long as the server's read timeout allows,
// and a few such clients would stall everyone. The handlers behind it see
// the same bytes (and the unread rest, for them to refuse as too large).
func BufferBodies(max int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body == nil || r.Body == http.NoBody || max <= 0 {
				next.ServeHTTP(w, r)
				return
			}
			head, err := io.ReadAll(io.LimitReader(r.Body, max+1))
			if err != nil {
				// The client went away or was too slow for the read timeout;
				// nobody is left to answer.
				return
			}
			r.Body = bufferedBody{Reader: io.MultiReader(bytes.NewReader(head), r.Body), Closer: r.Body}
			next.ServeHTTP(w, r)
		})
	}
}

type bufferedBody struct {
	io.Reader
	io.Closer
}
