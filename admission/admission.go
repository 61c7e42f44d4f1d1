// Package admission bounds how many requests run at once and admits the
// rest strictly in arrival order.
//
// Why: with more requests in flight than CPU cores and pooled database
// connections, every request slows down together, and Go hands a released
// connection to a random waiter, so some requests wait many turns while
// others wait none: the 99th percentile drifts far from the median. A
// first-come-first-served gate sized near the connection pool keeps the
// requests that run fast and makes the waiting fair.
package admission

import (
	"context"
	"net/http"
	"strings"

	"golang.org/x/sync/semaphore"
)

// Gate admits at most its limit of requests at a time, in FIFO order.
type Gate struct {
	sem *semaphore.Weighted
}

// New returns a gate for limit concurrent requests; limit <= 0 returns nil,
// a gate that admits everything.
func New(limit int) *Gate {
	if limit <= 0 {
		return nil
	}
	return &Gate{sem: semaphore.NewWeighted(int64(limit))}
}

// Enter waits for a slot (in arrival order) or for ctx to end. Call the
// returned release exactly once when the work is done.
func (g *Gate) Enter(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	if err := g.sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { g.sem.Release(1) }, nil
}

// Middleware runs next through the gate. A client that gives up while
// queued is dropped without running its request.
func (g *Gate) Middleware(next http.Handler) http.Handler {
	if g == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if longLived(r) {
			next.ServeHTTP(w, r) // a subscription would hold its slot for hours
			return
		}
		release, err := g.Enter(r.Context())
		if err != nil {
			return // the client is gone; nobody reads an answer
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// longLived reports requests that stream for as long as the client stays:
// WebSocket upgrades and server-sent events.
func longLived(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" || strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}
