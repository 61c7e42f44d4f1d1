package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"
)

// Close codes of graphql-transport-ws that gqlgen's transport does not
// send itself.
const (
	// closeForbidden refuses a credential: one that does not verify at
	// connection_init, or the connection's once it expires. graphql-ws
	// clients retry it, reading connectionParams afresh (a refreshed token).
	closeForbidden        = 4403
	closeInitTimeout      = 4408
	closeSubscriberExists = 4409
	// closeTooManyStreams refuses a connection over a per-user stream cap.
	// graphql-ws clients treat 4429 as final, so a capped client does not
	// reconnect in a loop.
	closeTooManyStreams = 4429
)

const subprotocolTransportWS = "graphql-transport-ws"

// wsImplementation accepts websockets for gqlgen's transport over
// coder/websocket, adding what that transport leaves out:
//   - every write has a deadline, so a peer that stops reading is cut off
//     instead of pinning its pending answers in memory;
//   - websocket-level pings for both subprotocols (the legacy graphql-ws
//     protocol has no pong of its own), so a vanished peer is dropped;
//   - a connection_init deadline closed with 4408, and a subscribe with an
//     id in use closed with 4409, as graphql-transport-ws requires;
//   - the upgraded request gives its admission slot back (the connection's
//     operations take slots of their own, see wsLimits).
type wsImplementation struct {
	accept       websocket.AcceptOptions
	keepAlive    time.Duration
	initTimeout  time.Duration
	writeTimeout time.Duration
}

var _ transport.WebsocketImplementation = wsImplementation{}

// Accept implements transport.WebsocketImplementation.
func (i wsImplementation) Accept(w http.ResponseWriter, r *http.Request, opts transport.WebsocketAcceptOptions) (transport.WebsocketConn, error) {
	for k, vs := range opts.ResponseHeader {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	accept := i.accept
	for _, p := range opts.Subprotocols {
		if !slices.Contains(accept.Subprotocols, p) {
			accept.Subprotocols = append(accept.Subprotocols, p)
		}
	}
	c, err := websocket.Accept(w, r, &accept)
	if err != nil {
		return nil, err
	}
	// Only now is this request a stream: a mere Upgrade header never was.
	becameStream(r.Context(), "websocket")
	conn := &wsConn{
		c:            c,
		writeTimeout: i.writeTimeout,
		transportWS:  c.Subprotocol() == subprotocolTransportWS,
		active:       map[string]bool{},
		done:         make(chan struct{}),
	}
	if i.initTimeout > 0 {
		conn.mu.Lock() // the timer's markClosing reads initTimer
		conn.initTimer = time.AfterFunc(i.initTimeout, func() {
			conn.closeWith(closeInitTimeout, "Connection initialisation timeout")
		})
		conn.mu.Unlock()
	}
	if i.keepAlive > 0 {
		go conn.pingUntilClosed(i.keepAlive)
	}
	return conn, nil
}

// wsConn is one accepted websocket.
type wsConn struct {
	c            *websocket.Conn
	writeTimeout time.Duration
	transportWS  bool
	initTimer    *time.Timer

	mu        sync.Mutex
	active    map[string]bool // graphql-transport-ws operation ids in use
	closing   bool            // a close handshake has started
	readTimer *time.Timer
	done      chan struct{} // closed once the connection is closing
}

var (
	_ transport.WebsocketConn          = (*wsConn)(nil)
	_ transport.WebsocketReadLimiter   = (*wsConn)(nil)
	_ transport.WebsocketReadDeadliner = (*wsConn)(nil)
)

// envelope is the part of a protocol message the connection looks at.
type envelope struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

// NextReader implements transport.WebsocketConn.
func (c *wsConn) NextReader() (int, io.Reader, error) {
	typ, data, err := c.c.Read(context.Background())
	if err != nil {
		if c.markClosing() {
			_ = c.c.CloseNow()
		}
		switch websocket.CloseStatus(err) {
		case websocket.StatusNormalClosure, websocket.StatusNoStatusRcvd:
			return int(typ), nil, transport.ErrWebsocketClosed
		}
		return int(typ), nil, err
	}
	if c.initTimer != nil {
		c.initTimer.Stop() // whatever came first, gqlgen judges it
	}
	if c.transportWS {
		var m envelope
		if json.Unmarshal(data, &m) == nil && !c.track(m, true) {
			c.closeWith(closeSubscriberExists, "Subscriber for "+m.ID+" already exists")
			return int(typ), nil, transport.ErrWebsocketClosed
		}
	}
	return int(typ), bytes.NewReader(data), nil
}

// track records an operation starting (subscribe from the client) or
// ending (the client's or the server's complete, the server's error). It
// returns false for a subscribe whose id is in use.
func (c *wsConn) track(m envelope, fromClient bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case m.Type == "subscribe" && fromClient:
		if c.active[m.ID] {
			return false
		}
		c.active[m.ID] = true
	case m.Type == "complete", m.Type == "error" && !fromClient:
		delete(c.active, m.ID)
	}
	return true
}

// WriteJSON implements transport.WebsocketConn. A write that cannot finish
// within the write timeout closes the connection (coder/websocket does so
// when the write's context ends).
func (c *wsConn) WriteJSON(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if c.transportWS {
		var m envelope
		if json.Unmarshal(data, &m) == nil {
			c.track(m, false)
		}
	}
	ctx, cancel := c.writeContext()
	defer cancel()
	return c.c.Write(ctx, websocket.MessageText, data)
}

func (c *wsConn) writeContext() (context.Context, context.CancelFunc) {
	if c.writeTimeout <= 0 {
		return context.WithCancel(context.Background())
	}
	return context.WithTimeout(context.Background(), c.writeTimeout)
}

// WriteClose implements transport.WebsocketConn: it starts the close
// handshake in the background (coder/websocket waits for the peer's close
// frame, up to 5 s), so gqlgen's teardown never stalls on a silent peer.
// The first close wins: gqlgen closes with 1000 after any connection end,
// including the ones this connection closed with a code of its own.
func (c *wsConn) WriteClose(code int, reason string) error {
	c.closeWith(websocket.StatusCode(code), reason)
	return nil
}

func (c *wsConn) closeWith(code websocket.StatusCode, reason string) {
	if !c.markClosing() {
		return
	}
	go func() { _ = c.c.Close(code, reason) }()
}

// markClosing reports whether this call is the one that starts closing.
func (c *wsConn) markClosing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.closing = true
	close(c.done)
	if c.readTimer != nil {
		c.readTimer.Stop()
	}
	if c.initTimer != nil {
		c.initTimer.Stop()
	}
	return true
}

// Close implements transport.WebsocketConn. A close handshake already
// under way owns the connection's end.
func (c *wsConn) Close() error {
	if c.markClosing() {
		return c.c.CloseNow()
	}
	return nil
}

// Subprotocol implements transport.WebsocketConn.
func (c *wsConn) Subprotocol() string { return c.c.Subprotocol() }

// SetReadLimit implements transport.WebsocketReadLimiter; a larger message
// closes the connection with 1009 (message too big).
func (c *wsConn) SetReadLimit(n int64) { c.c.SetReadLimit(n) }

// SetReadDeadline implements transport.WebsocketReadDeadliner, which
// gqlgen uses for graphql-transport-ws's pong deadline.
func (c *wsConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readTimer != nil {
		c.readTimer.Stop()
		c.readTimer = nil
	}
	if t.IsZero() || c.closing {
		return nil
	}
	c.readTimer = time.AfterFunc(time.Until(t), func() { _ = c.c.CloseNow() })
	return nil
}

// pingUntilClosed sends a websocket ping every interval and drops the
// connection when one is not answered within the next interval. Browsers
// and websocket libraries answer pings by themselves, so this checks the
// peer is there whatever the subprotocol.
func (c *wsConn) pingUntilClosed(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), interval)
		err := c.c.Ping(ctx)
		cancel()
		if err != nil {
			_ = c.c.CloseNow()
			return
		}
	}
}
