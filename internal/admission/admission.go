// Package admission bounds how many requests run at once and admits the
// rest strictly in arrival order.
//
// Why: with more requests in flight than CPU cores and pooled database
// connections, every request slows down together, and Go hands a released
// connection to a random waiter, so some requests wait many turns while
// others wait none: the 99th percentile drifts far from the median. A
// first-come-first-served gate sized near the connection pool keeps the
// requests that run fast and makes the waiting fair.
//
// Every request takes a slot; nothing a client sends (an Accept or Upgrade
// header) lets it skip the queue. A request that the server turns into a
// long-lived stream (a websocket it has upgraded, an SSE subscription it
// has started) gives its slot back with Leave, and the stream is bounded by
// its own limits from then on.
package admission

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// ErrBusy is Enter's answer when no slot came free within the gate's
// longest wait.
var ErrBusy = errors.New("admission: no slot came free in time")

// Gate admits at most its limit of requests at a time, in FIFO order.
type Gate struct {
	sem     *semaphore.Weighted
	maxWait time.Duration
}

// New returns a gate for limit concurrent requests, each waiting at most
// maxWait for its turn (0: as long as its context lasts). limit <= 0
// returns nil, a gate that admits everything.
func New(limit int, maxWait time.Duration) *Gate {
	if limit <= 0 {
		return nil
	}
	return &Gate{sem: semaphore.NewWeighted(int64(limit)), maxWait: maxWait}
}

// Enter waits for a slot in arrival order, for at most the gate's longest
// wait (then ErrBusy) or until ctx ends (then ctx's error). Call the
// returned release exactly once when the work is done.
func (g *Gate) Enter(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	wait := ctx
	if g.maxWait > 0 {
		var cancel context.CancelFunc
		wait, cancel = context.WithTimeout(ctx, g.maxWait)
		defer cancel()
	}
	if err := g.sem.Acquire(wait, 1); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, ErrBusy
	}
	return func() { g.sem.Release(1) }, nil
}

// EnterPatiently is Enter without the longest wait: for work that must
// not be dropped for want of a slot, such as delivering an event to a
// subscriber, it waits as long as ctx lasts.
func (g *Gate) EnterPatiently(ctx context.Context) (release func(), err error) {
	if g == nil {
		return func() {}, nil
	}
	if err := g.sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { g.sem.Release(1) }, nil
}

// Middleware runs next through the gate. A client that gives up while
// queued is dropped without running its request; one that waited the
// gate's longest wait gets busy's answer instead (its request's write
// deadline would otherwise pass before any work could finish, and work
// whose answer cannot be delivered must not start: a retried createRoom
// would run twice).
func (g *Gate) Middleware(busy http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if g == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			release, err := g.Enter(r.Context())
			switch {
			case errors.Is(err, ErrBusy):
				busy.ServeHTTP(w, r)
				return
			case err != nil:
				return // the client is gone; nobody reads an answer
			}
			s := &slot{release: release}
			defer s.leave()
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), slotKey{}, s)))
		})
	}
}

// slot is a request's place in the gate, given back once.
type slot struct {
	once    sync.Once
	release func()
}

func (s *slot) leave() { s.once.Do(s.release) }

type slotKey struct{}

// Leave gives back the slot of the request ctx belongs to, if it holds
// one. The handler calls it once the request has become a stream that may
// last for hours; calling it again, or without a slot, does nothing.
func Leave(ctx context.Context) {
	if s, ok := ctx.Value(slotKey{}).(*slot); ok {
		s.leave()
	}
}
