package graph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/internal/admission"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/clientip"
	"github.com/neuronmeet/api/internal/metrics"
)

// StreamLimits bound what live streams may hold. A stream is a websocket
// connection or an SSE subscription: each lasts as long as its client
// likes, outside the admission gate, so each is bounded here instead.
// Zero disables a limit.
type StreamLimits struct {
	// PerUser caps one user's (or guest participant's) open streams.
	PerUser int
	// PerAddress caps the open streams from one client address.
	PerAddress int
	// SubscriptionsPerConnection caps one websocket's open subscriptions.
	SubscriptionsPerConnection int
	// OperationsPerConnection caps one websocket's queries and mutations
	// in flight (each also waits its turn in the admission gate).
	OperationsPerConnection int
	// InitTimeout is how long a websocket may take to send
	// connection_init (then 4408).
	InitTimeout time.Duration
	// WriteTimeout cuts off a stream whose client stops reading.
	WriteTimeout time.Duration
}

// DefaultStreamLimits are the stream limits unless configured. A person
// has a few tabs and devices, each with one connection; an office behind
// one address has many people; a dashboard follows its active rooms on one
// connection.
func DefaultStreamLimits() StreamLimits {
	return StreamLimits{
		PerUser:                    16,
		PerAddress:                 256,
		SubscriptionsPerConnection: 50,
		OperationsPerConnection:    8,
		InitTimeout:                10 * time.Second,
		WriteTimeout:               10 * time.Second,
	}
}

func tooMany(reason apperr.Reason, what string, limit int) *apperr.Error {
	return &apperr.Error{
		Code: apperr.TooManyRequests, Reason: reason, RetryAfter: time.Second,
		Message: fmt.Sprintf("too many %s (the limit is %d)", what, limit),
	}
}

// streamCounts counts open streams per user and per address.
type streamCounts struct {
	limits StreamLimits
	mu     sync.Mutex
	open   map[string]int
}

func newStreamCounts(l StreamLimits) *streamCounts {
	return &streamCounts{limits: l, open: map[string]int{}}
}

// take counts one more stream under key, unless that would pass limit.
// release gives it back; calling it again does nothing.
func (s *streamCounts) take(key string, limit int) (release func(), ok bool) {
	if limit <= 0 {
		return func() {}, true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open[key] >= limit {
		return nil, false
	}
	s.open[key]++
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.open[key]--; s.open[key] <= 0 {
				delete(s.open, key)
			}
		})
	}, true
}

// forAddress counts a stream from r's client address.
func (s *streamCounts) forAddress(ctx context.Context) (release func(), err *apperr.Error) {
	release, ok := s.take("ip:"+clientip.FromContext(ctx).String(), s.limits.PerAddress)
	if !ok {
		return nil, tooMany(apperr.StreamsPerAddress, "open streams from this address", s.limits.PerAddress)
	}
	return release, nil
}

// forPrincipal counts a stream of p's user or participant; anonymous
// streams count per address only.
func (s *streamCounts) forPrincipal(p *auth.Principal) (release func(), err *apperr.Error) {
	var key string
	switch {
	case p == nil || p.Err != nil:
		return func() {}, nil
	case p.UserID != "":
		key = "user:" + p.UserID
	default:
		key = "participant:" + p.ParticipantID
	}
	release, ok := s.take(key, s.limits.PerUser)
	if !ok {
		return nil, tooMany(apperr.StreamsPerUser, "open streams for this user", s.limits.PerUser)
	}
	return release, nil
}

// isWebsocketUpgrade is what gqlgen's websocket transport takes on.
func isWebsocketUpgrade(r *http.Request) bool { return r.Header.Get("Upgrade") != "" }

// limitWebsocketsPerAddress refuses a websocket upgrade over the
// per-address cap with 429 before the upgrade, and counts the connection
// for as long as it lasts (gqlgen serves a websocket within its handler).
func (s *streamCounts) limitWebsocketsPerAddress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebsocketUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		release, err := s.forAddress(r.Context())
		if err != nil {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write(mustMarshal(map[string]any{"errors": []map[string]any{{
				"message": err.Message, "extensions": map[string]any{"code": string(err.Code), "reason": string(err.Reason)},
			}}}))
			return
		}
		defer release()
		next.ServeHTTP(w, r)
	})
}

// wsSession is one websocket connection's state, from connection_init on.
type wsSession struct {
	// authorization is the credential connection_init carried ("" for none).
	authorization string
	subscriptions atomic.Int64
	operations    atomic.Int64
}

type wsSessionKey struct{}

func sessionOf(ctx context.Context) *wsSession {
	s, _ := ctx.Value(wsSessionKey{}).(*wsSession)
	return s
}

// streamOps bounds the operations of streams: per-connection caps on a
// websocket's subscriptions and in-flight operations, the admission gate
// for a websocket's queries and mutations (so many operations on one
// connection never run outside it), the per-user and per-address caps on
// SSE subscriptions, and an SSE subscription's passage from request to
// stream.
func streamOps(counts *streamCounts, gate *admission.Gate, present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	refuse := func(ctx context.Context, err error) graphql.ResponseHandler {
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{present(ctx, err)}})
	}
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		subscription := graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription
		if s := sessionOf(ctx); s != nil {
			l := counts.limits
			counter, limit, refusal := &s.operations, l.OperationsPerConnection, tooMany(apperr.OperationsPerConnection, "operations in flight on this connection", l.OperationsPerConnection)
			if subscription {
				counter, limit, refusal = &s.subscriptions, l.SubscriptionsPerConnection, tooMany(apperr.SubscriptionsPerConnection, "subscriptions on this connection", l.SubscriptionsPerConnection)
			}
			if n := counter.Add(1); limit > 0 && n > int64(limit) {
				counter.Add(-1)
				return refuse(ctx, refusal)
			}
			// The place is given back as the operation's last result is
			// taken, before gqlgen tells the client it is complete (a client
			// may reuse it at once), or else when gqlgen cancels the
			// operation's context, however it ends.
			var once sync.Once
			leave := func() { once.Do(func() { counter.Add(-1) }) }
			context.AfterFunc(ctx, leave)
			responses := next(ctx) // a subscription's events take turns (admitEvents)
			if !subscription {
				responses = gated(gate, responses, func(ctx context.Context) *graphql.Response {
					return &graphql.Response{Errors: gqlerror.List{present(ctx, errServerBusy)}}
				})
			}
			return func(ctx context.Context) *graphql.Response {
				resp := responses(ctx)
				if resp == nil {
					leave()
				}
				return resp
			}
		}
		if become, ok := ctx.Value(sseStreamKey{}).(*sseBecome); ok && subscription {
			if err := become.stream(ctx, counts); err != nil {
				return refuse(ctx, err)
			}
		}
		return next(ctx)
	}
}

// gated runs a query's or mutation's responses (gqlgen executes them when
// the handler is called) within a slot of gate, answering busy's response
// once when none came free in time.
func gated(gate *admission.Gate, responses graphql.ResponseHandler, busy graphql.ResponseHandler) graphql.ResponseHandler {
	refused := false
	return func(ctx context.Context) *graphql.Response {
		if refused {
			return nil
		}
		release, err := gate.Enter(ctx)
		if err != nil {
			refused = true
			if errors.Is(err, admission.ErrBusy) {
				return busy(ctx)
			}
			return nil // the operation was stopped while it waited
		}
		defer release()
		return responses(ctx)
	}
}

var errServerBusy = &apperr.Error{Code: apperr.ServiceUnavailable, Message: "server busy: please retry", RetryAfter: time.Second}

// sseBecome turns an SSE request into a stream once its operation is
// known to be a subscription: only then are its deadlines lifted and its
// admission slot given back. Queries and mutations sent over SSE stay
// ordinary requests, bounded like any other.
type sseBecome struct {
	lift     func()
	releases []func()
}

type sseStreamKey struct{}

func (b *sseBecome) stream(ctx context.Context, counts *streamCounts) error {
	releaseAddr, err := counts.forAddress(ctx)
	if err != nil {
		return err
	}
	releaseUser, err := counts.forPrincipal(auth.FromContext(ctx))
	if err != nil {
		releaseAddr()
		return err
	}
	b.releases = append(b.releases, releaseAddr, releaseUser)
	b.lift()
	becameStream(ctx, "sse")
	return nil
}

// becameStream tells the request's keepers that ctx's request is now a
// stream: it gives its admission slot back (the stream is bounded by
// StreamLimits from now on) and is measured as a stream, not a request.
func becameStream(ctx context.Context, transport string) {
	admission.Leave(ctx)
	metrics.StreamStarted(ctx, transport)
}

func (b *sseBecome) end() {
	for _, r := range b.releases {
		r()
	}
}

// eventTurnsDone gives a subscription event's admission slot (taken in
// admitEvents) back once the event's result is resolved.
func eventTurnsDone(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if t, ok := ctx.Value(eventTurnKey{}).(*eventTurn); ok {
		t.done()
	}
	return resp
}

// eventTurn is a subscription's slot in the gate, held from the moment an
// event is taken for resolution until its result is ready.
type eventTurn struct {
	mu      sync.Mutex
	release func()
}

type eventTurnKey struct{}

func (t *eventTurn) hold(release func()) {
	t.mu.Lock()
	t.release = release
	t.mu.Unlock()
}

func (t *eventTurn) done() {
	t.mu.Lock()
	release := t.release
	t.release = nil
	t.mu.Unlock()
	if release != nil {
		release()
	}
}

// withEventTurns gives each subscription the slot holder admitEvents and
// eventTurnsDone share.
func withEventTurns(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	if graphql.GetOperationContext(ctx).Operation.Operation == ast.Subscription {
		t := &eventTurn{}
		ctx = context.WithValue(ctx, eventTurnKey{}, t)
		context.AfterFunc(ctx, t.done)
	}
	return next(ctx)
}

// admitEvents passes a subscription's events on one at a time, each only
// once it holds a slot in gate; eventTurnsDone gives the slot back when the
// event's result is resolved. Events are never dropped for want of a
// slot: they wait (the stream's own buffer bounds how many).
func admitEvents[T any](ctx context.Context, gate *admission.Gate, in <-chan T) <-chan T {
	t, ok := ctx.Value(eventTurnKey{}).(*eventTurn)
	if gate == nil || !ok {
		return in
	}
	out := make(chan T)
	go func() {
		defer close(out)
		for ev := range in {
			release, err := gate.EnterPatiently(ctx)
			if err != nil {
				return
			}
			t.hold(release)
			select {
			case out <- ev:
			case <-ctx.Done():
				t.done()
				return
			}
		}
	}()
	return out
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
