package graph

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/service"
)

// SubscriptionConfig tunes live events (Subscription.roomEvents, myRooms) over
// websockets (graphql-transport-ws, and the legacy graphql-ws) and SSE.
type SubscriptionConfig struct {
	// Tokens verifies the credential a websocket client sends in its
	// connection_init payload. Without it, websockets are not served.
	Tokens *auth.Tokens
	// KeepAlive is the interval of websocket pings (a client that misses
	// two pongs is disconnected) and SSE comments, short enough to keep
	// proxies from closing idle streams (0: DefaultKeepAlive).
	KeepAlive time.Duration
	// AllowedOrigins are the browser origins (the CORS allow-list) that
	// may open websockets besides the API's own.
	AllowedOrigins []string
	// Limits bound streams and what they hold.
	Limits StreamLimits
	// Closing is done when the server shuts down: websockets then close
	// (with 1000, so graphql-ws clients reconnect, to another instance).
	// http.Server.Shutdown neither closes nor waits for hijacked
	// connections, so nothing else would. Nil: never.
	Closing context.Context
}

// DefaultKeepAlive is SubscriptionConfig.KeepAlive's default: under the
// 30-60 s idle timeouts common in load balancers.
const DefaultKeepAlive = 25 * time.Second

func (c SubscriptionConfig) keepAlive() time.Duration {
	if c.KeepAlive > 0 {
		return c.KeepAlive
	}
	return DefaultKeepAlive
}

// websocketTransport serves graphql-transport-ws (and graphql-ws).
// maxMessage caps one client message (a document with its variables), as
// the body limit caps a POST.
func websocketTransport(cfg SubscriptionConfig, counts *streamCounts, maxMessage int64, log *slog.Logger) wsTransport {
	impl := wsImplementation{
		accept:       websocket.AcceptOptions{OriginPatterns: cfg.AllowedOrigins},
		keepAlive:    cfg.keepAlive(),
		initTimeout:  cfg.Limits.InitTimeout,
		writeTimeout: cfg.Limits.WriteTimeout,
	}
	t := transport.Websocket{
		Implementation: impl,
		InitFunc:       wsInit{cfg: cfg, counts: counts}.initConnection,
		// The connection enforces its own init deadline (closing with
		// 4408, as graphql-transport-ws asks; gqlgen would send 1002).
		InitTimeout: 0,
		// graphql-transport-ws: the server pings, the client pongs, and a
		// connection without a pong for two intervals is dropped.
		PingPongInterval: cfg.keepAlive(),
		// The legacy graphql-ws protocol's one-way "ka" messages (its
		// liveness comes from websocket pings, see wsImplementation).
		KeepAlivePingInterval: cfg.keepAlive(),
	}
	if maxMessage > 0 {
		t.PayloadReadLimit = &maxMessage
	}
	return wsTransport{Websocket: t, impl: impl, log: log}
}

// wsSubprotocols are the subprotocols gqlgen's transport speaks, which it
// offers when it accepts a connection itself.
var wsSubprotocols = []string{"graphql-ws", subprotocolTransportWS}

// wsTransport is gqlgen's websocket transport with the upgrade done
// first, here. When gqlgen's upgrade fails it logs the failure in plain
// text through the standard logger (outside slog, without the request id)
// and writes a second answer over the one coder/websocket has written. A
// refused upgrade (a foreign origin, a broken handshake) is the client's
// doing: it is answered by coder/websocket alone and logged at debug.
type wsTransport struct {
	transport.Websocket
	impl wsImplementation
	log  *slog.Logger
}

// Do implements graphql.Transport.
func (t wsTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	conn, err := t.impl.Accept(w, r, transport.WebsocketAcceptOptions{ResponseHeader: http.Header{}, Subprotocols: wsSubprotocols})
	if err != nil {
		t.log.DebugContext(r.Context(), "websocket upgrade refused", "err", err)
		return
	}
	ws := t.Websocket
	ws.Implementation = accepted{conn}
	ws.Do(w, r.WithContext(context.WithValue(r.Context(), wsConnKey{}, conn)), exec)
}

// accepted hands gqlgen's transport a connection already upgraded.
type accepted struct{ conn transport.WebsocketConn }

func (a accepted) Accept(http.ResponseWriter, *http.Request, transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	return a.conn, nil
}

// wsConnKey carries the accepted connection to initConnection, which
// closes it when its credential expires.
type wsConnKey struct{}

type wsInit struct {
	cfg    SubscriptionConfig
	counts *streamCounts
}

// initConnection authenticates a websocket from its connection_init
// payload, the graphql-ws convention ({"Authorization": "Bearer <token>"}),
// since browsers cannot set headers on websockets. A connection without
// one is anonymous (or uses the upgrade request's Authorization header);
// one with a credential that does not verify is refused with 4403, as the
// protocol asks, and one over its user's stream cap with 4429.
func (i wsInit) initConnection(ctx context.Context, payload transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	cred := payload.Authorization()
	principal := auth.FromContext(ctx) // the upgrade request's header
	if cred != "" {
		principal = i.cfg.Tokens.PrincipalFor(cred)
		if principal.Err != nil {
			ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeForbidden), "Forbidden")
			return ctx, nil, errors.New("forbidden: invalid or expired token")
		}
	}
	release, tooMany := i.counts.forPrincipal(principal)
	if tooMany != nil {
		ctx = transport.AppendCloseReason(transport.WithWebsocketCloseCode(ctx, closeTooManyStreams), "Too many streams")
		return ctx, nil, tooMany
	}
	// The upgrade request's context ends with the connection.
	context.AfterFunc(ctx, release)
	if c, ok := ctx.Value(wsConnKey{}).(*wsConn); ok && principal != nil && principal.Err == nil {
		// Every operation on the connection acts with its credential, so
		// once that no longer verifies nothing on it may go on, open
		// subscriptions included: a 7-day token must not stream forever.
		// Closed as a refused credential is, so graphql-ws clients
		// reconnect with a fresh token and resubscribe.
		expire := time.AfterFunc(time.Until(principal.Expires), func() { c.closeWith(closeForbidden, "Token expired") })
		context.AfterFunc(ctx, func() { expire.Stop() })
	}
	ctx = context.WithValue(ctx, wsSessionKey{}, &wsSession{authorization: cred})
	if i.cfg.Closing == nil {
		return ctx, nil, nil
	}
	// gqlgen closes the socket when the context it gets back ends.
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(i.cfg.Closing, cancel)
	// Once the connection ends, stop watching for shutdown, so closed
	// connections do not pile up in Closing's list.
	context.AfterFunc(ctx, func() { stop() })
	return ctx, nil, nil
}

// operationPrincipal gives each operation on a websocket a principal of its
// own, verified afresh from the connection's credential. A connection lives
// for hours and carries many operations: a principal caches its user (or a
// failure to load it), and neither should outlive one operation; an
// expired token stops opening new subscriptions.
func operationPrincipal(tokens *auth.Tokens) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		ws := sessionOf(ctx)
		if ws == nil {
			return next(ctx) // plain HTTP: the request's principal is the operation's
		}
		cred := ws.authorization
		if cred == "" {
			cred = graphql.GetOperationContext(ctx).Headers.Get("Authorization")
		}
		if cred == "" {
			return next(auth.WithPrincipal(ctx, nil))
		}
		return next(auth.WithPrincipal(ctx, tokens.PrincipalFor(cred)))
	}
}

// streamEnd lets a subscription resolver tell the operation why its stream
// ended, once it has.
type streamEnd struct {
	mu  sync.Mutex
	why func() error
}

type streamEndKey struct{}

// onStreamEnd registers why: called once the resolver's channel has
// closed, it returns the error to report, or nil for a normal end.
func onStreamEnd(ctx context.Context, why func() error) {
	if e, ok := ctx.Value(streamEndKey{}).(*streamEnd); ok {
		e.mu.Lock()
		e.why = why
		e.mu.Unlock()
	}
}

func (e *streamEnd) take() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	why := e.why
	e.why = nil
	if why == nil {
		return nil
	}
	return why()
}

// reportStreamErrors ends a subscription whose stream failed (it may have
// missed events) with a last result carrying the error, then completes it.
// gqlgen would only complete it, which a client cannot tell from a normal
// end. The same final result works on every transport.
func reportStreamErrors(present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if op := graphql.GetOperationContext(ctx).Operation; op == nil || op.Operation != ast.Subscription {
			return next(ctx)
		}
		end := &streamEnd{}
		responses := next(context.WithValue(ctx, streamEndKey{}, end))
		return func(ctx context.Context) *graphql.Response {
			if resp := responses(ctx); resp != nil {
				return resp
			}
			if err := end.take(); err != nil && ctx.Err() == nil {
				return &graphql.Response{Errors: gqlerror.List{present(ctx, err)}}
			}
			return nil
		}
	}
}

// errTokenExpired ends an SSE subscription whose token has expired.
var errTokenExpired = apperr.Unauthenticatedf("the token has expired; subscribe again with a fresh one")

// endWithToken ends an SSE subscription once the token it was opened with
// no longer verifies, with a last result carrying UNAUTHENTICATED, then
// completes it: a stream must not outlive its credential (a 7-day token
// would otherwise stream forever). A websocket's subscriptions end with
// their connection instead (see initConnection), since the connection's
// credential cannot be replaced without reconnecting.
func endWithToken(present graphql.ErrorPresenterFunc) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		op := graphql.GetOperationContext(ctx).Operation
		p := auth.FromContext(ctx)
		if op == nil || op.Operation != ast.Subscription || sessionOf(ctx) != nil || p == nil || p.Err != nil {
			return next(ctx)
		}
		opened := ctx
		ctx, cancel := context.WithDeadlineCause(ctx, p.Expires, errTokenExpired)
		responses := next(ctx)
		reported := false
		// gqlgen asks for responses with the context given to next, which
		// the deadline ends: whether the client is still there is told by
		// the context the operation came with.
		return func(rctx context.Context) *graphql.Response {
			if resp := responses(rctx); resp != nil {
				return resp
			}
			defer cancel()
			if !reported && opened.Err() == nil && errors.Is(context.Cause(ctx), errTokenExpired) {
				reported = true
				return &graphql.Response{Errors: gqlerror.List{present(opened, errTokenExpired)}}
			}
			return nil
		}
	}
}

// withLoaders is where loaders are born: every response gets its own. A
// plain request has one response, a websocket operation one, and a
// subscription one per event.
// Loaders cache what they load, and a subscription's context lasts as long
// as it does: shared across events, a participant's user would keep the
// displayName it had at the first event; shared across a websocket's
// operations, a query would see what the connection loaded before.
func withLoaders(svc *service.Service) graphql.ResponseMiddleware {
	return func(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
		return next(context.WithValue(ctx, loadersKey{}, NewLoaders(svc)))
	}
}

// reportEnd makes sub's failure, if it ends with one, the operation's last
// result.
func reportEnd(ctx context.Context, sub *events.Subscription) {
	onStreamEnd(ctx, func() error { return service.StreamEndError(sub.Err()) })
}

// sseTransport is gqlgen's SSE transport made fit for our server:
//   - gqlgen asserts http.Flusher on the ResponseWriter it is given, which
//     our middleware wraps; the flush goes through http.ResponseController,
//     which unwraps;
//   - a subscription lasts as long as its client likes, so once the
//     operation is known to be one (streamOps calls sseBecome.stream), the
//     request gives its admission slot back and the server's request
//     timeouts give way to a deadline per write, which still cuts off a
//     client that stops reading. Queries and mutations over SSE keep the
//     ordinary timeouts;
//   - gqlgen's keep-alive goroutine can tick after Do returns; writes are
//     refused from then on, as the ResponseWriter is no longer ours;
//   - gqlgen logs a body that does not decode, whole, through the standard
//     logger, and echoes it in its answer: the body is decoded here first,
//     and one that does not decode is answered as a plain POST's is.
type sseTransport struct {
	transport.SSE
	writeTimeout time.Duration
}

func newSSETransport(cfg SubscriptionConfig) sseTransport {
	return sseTransport{SSE: transport.SSE{KeepAlivePingInterval: cfg.keepAlive()}, writeTimeout: cfg.Limits.WriteTimeout}
}

// Do implements graphql.Transport.
func (t sseTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	// bodyLimit has read the body into memory already: reading it twice
	// costs a copy, not a wait.
	body, err := io.ReadAll(r.Body)
	bad := decodeParams(body, &graphql.RawParams{})
	if err != nil {
		bad = gqlerror.Errorf("could not read request body: %+v", err)
	}
	if bad != nil {
		w.Header().Set("Content-Type", contentTypeJSON)
		writeResponse(w, http.StatusBadRequest, exec.DispatchError(r.Context(), gqlerror.List{bad}))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rc := http.NewResponseController(w)
	sw := &streamWriter{ResponseWriter: w, rc: rc}
	defer sw.finish()
	become := &sseBecome{lift: func() {
		_ = rc.SetReadDeadline(time.Time{})
		sw.stream(t.writeTimeout)
	}}
	defer become.end()
	t.SSE.Do(sw, r.WithContext(context.WithValue(r.Context(), sseStreamKey{}, become)), exec)
}

var errStreamFinished = errors.New("stream finished")

type streamWriter struct {
	http.ResponseWriter
	rc       *http.ResponseController
	mu       sync.Mutex
	finished bool
	// writeTimeout, once the request is a stream, bounds each write.
	writeTimeout time.Duration
	streaming    bool
}

// stream replaces the request's write deadline with one per write.
func (w *streamWriter) stream(writeTimeout time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.streaming, w.writeTimeout = true, writeTimeout
	_ = w.rc.SetWriteDeadline(time.Time{})
}

func (w *streamWriter) armLocked() {
	if w.streaming && w.writeTimeout > 0 {
		_ = w.rc.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	}
}

func (w *streamWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.finished {
		return 0, errStreamFinished
	}
	w.armLocked()
	return w.ResponseWriter.Write(b)
}

func (w *streamWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.finished {
		w.armLocked()
		_ = w.rc.Flush()
	}
}

func (w *streamWriter) finish() {
	w.mu.Lock()
	w.finished = true
	w.mu.Unlock()
}
