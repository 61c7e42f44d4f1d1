package harness

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WSConn is a graphql-transport-ws client, the protocol of the graphql-ws
// npm package: connection_init with the token in its payload, then
// subscribe/next/error/complete per operation id, answering the server's
// pings with pongs.
type WSConn struct {
	t    testing.TB
	conn *websocket.Conn
	// noPong makes the client ignore pings, like a client that has gone.
	noPong bool
	// header is sent with the upgrade request.
	header http.Header

	mu     sync.Mutex
	ops    map[string]chan WSMessage
	nextID int
	pings  atomic.Int64

	done     chan struct{} // closed when the connection has ended
	closeErr error         // why it ended
}

// WSOption changes how DialWS connects.
type WSOption func(*WSConn)

// WSHeader sends h with the upgrade request (clients other than browsers
// may authenticate there).
func WSHeader(h http.Header) WSOption { return func(c *WSConn) { c.header = h } }

// NoPong makes the client ignore the server's pings, like a client that
// has gone.
func NoPong() WSOption { return func(c *WSConn) { c.noPong = true } }

// WSMessage is one protocol message, stamped when it arrived.
type WSMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	At      time.Time       `json:"-"`
}

// Result decodes a next message's payload.
func (m WSMessage) Result() GQLResponse {
	var r GQLResponse
	_ = json.Unmarshal(m.Payload, &r)
	return r
}

// DialWS opens a connection to baseURL's /query and initialises it with
// token (none when ""), failing the test if it cannot.
func DialWS(t testing.TB, baseURL, token string, opts ...WSOption) *WSConn {
	t.Helper()
	c, err := TryDialWS(t, baseURL, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TryDialWS is DialWS returning why the server refused the connection
// (its close status, see websocket.CloseStatus) instead of failing the
// test.
func TryDialWS(t testing.TB, baseURL, token string, opts ...WSOption) (*WSConn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &WSConn{t: t, ops: map[string]chan WSMessage{}, done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	conn, _, err := websocket.Dial(ctx, wsURL(baseURL),
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: c.header})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	c.conn = conn
	t.Cleanup(c.Close)
	payload := map[string]any{}
	if token != "" {
		payload["Authorization"] = "Bearer " + token
	}
	if err := c.Send(WSMessage{Type: "connection_init", Payload: json.RawMessage(JSON(payload))}); err != nil {
		return nil, err
	}
	ack := make(chan error, 1)
	go c.read(ack)
	select {
	case err := <-ack:
		if err != nil {
			return nil, err
		}
	case <-time.After(5 * time.Second):
		return nil, errors.New("no connection_ack within 5s")
	}
	return c, nil
}

// wsURL is baseURL's /query as a websocket URL.
func wsURL(baseURL string) string {
	return "ws" + strings.TrimPrefix(baseURL, "http") + "/query"
}

// Send writes one protocol message as it is.
func (c *WSConn) Send(m WSMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _ := json.Marshal(m)
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// read dispatches messages until the connection ends. ack receives nil on
// connection_ack, or the error the connection ended with before it.
func (c *WSConn) read(ack chan<- error) {
	defer close(c.done)
	acked := false
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.closeErr = err
			if !acked {
				ack <- err
			}
			c.mu.Lock()
			for _, ch := range c.ops {
				close(ch)
			}
			c.ops = map[string]chan WSMessage{}
			c.mu.Unlock()
			return
		}
		var m WSMessage
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Errorf("server sent invalid JSON: %s", b)
			continue
		}
		m.At = time.Now()
		switch m.Type {
		case "connection_ack":
			acked = true
			ack <- nil
		case "ping":
			c.pings.Add(1)
			if !c.noPong {
				_ = c.Send(WSMessage{Type: "pong"})
			}
		case "pong":
		case "next", "error", "complete":
			c.mu.Lock()
			ch := c.ops[m.ID]
			if m.Type != "next" {
				delete(c.ops, m.ID)
			}
			c.mu.Unlock()
			if ch == nil {
				// gqlgen follows an error with a complete, which the
				// protocol does not ask for; graphql-ws ignores it too.
				if m.Type != "complete" {
					c.t.Errorf("message for an unknown operation: %s", b)
				}
				continue
			}
			select {
			case ch <- m:
			default:
				c.t.Errorf("test client's buffer for %s is full", m.ID)
			}
			if m.Type != "next" {
				close(ch)
			}
		default:
			c.t.Errorf("unexpected message %s", b)
		}
	}
}

// Operation is one operation's messages; its channel closes after its
// error or complete (or when the connection ends).
type Operation struct {
	c  *WSConn
	id string
	ch chan WSMessage
}

// Subscribe starts an operation under the next free id.
func (c *WSConn) Subscribe(query string, vars map[string]any) *Operation {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	id := fmt.Sprint(c.nextID)
	c.mu.Unlock()
	return c.SubscribeID(id, query, vars)
}

// SubscribeID starts an operation under id. Its messages are routed to it
// before the subscribe message leaves, so none can arrive unclaimed.
func (c *WSConn) SubscribeID(id, query string, vars map[string]any) *Operation {
	c.t.Helper()
	op := &Operation{c: c, id: id, ch: make(chan WSMessage, 1024)}
	c.mu.Lock()
	c.ops[id] = op.ch
	c.mu.Unlock()
	err := c.Send(WSMessage{Type: "subscribe", ID: id, Payload: json.RawMessage(JSON(map[string]any{"query": query, "variables": vars}))})
	if err != nil {
		c.t.Fatalf("subscribe: %v", err)
	}
	return op
}

// ID is the operation's id.
func (op *Operation) ID() string { return op.id }

// Stop completes the operation from the client's side.
func (op *Operation) Stop() {
	_ = op.c.Send(WSMessage{Type: "complete", ID: op.id})
}

// Next returns the operation's next message, or fails the test after
// timeout. ok is false when the operation ended without one.
func (op *Operation) Next(timeout time.Duration) (m WSMessage, ok bool) {
	op.c.t.Helper()
	select {
	case m, ok := <-op.ch:
		return m, ok
	case <-time.After(timeout):
		op.c.t.Fatalf("operation %s: nothing within %s", op.id, timeout)
	}
	return WSMessage{}, false
}

// Event returns the next roomEvents result, failing on anything else.
func (op *Operation) Event(timeout time.Duration) RoomEvent {
	op.c.t.Helper()
	m, ok := op.Next(timeout)
	if !ok || m.Type != "next" {
		op.c.t.Fatalf("operation %s: got %q %s, want an event", op.id, m.Type, m.Payload)
	}
	var data struct{ RoomEvents RoomEvent }
	m.Result().Decode(op.c.t, &data)
	return data.RoomEvents
}

// EventAfterJoins is Event, passing over PARTICIPANT_JOINED events: on
// PostgreSQL a join committed just before the subscription can still
// reach it (NOTIFY is delivered asynchronously), for tests that subscribe
// right after someone joined.
func (op *Operation) EventAfterJoins(timeout time.Duration) RoomEvent {
	op.c.t.Helper()
	for {
		if e := op.Event(timeout); e.Type != "PARTICIPANT_JOINED" {
			return e
		}
	}
}

// Completes asserts the operation completes next.
func (op *Operation) Completes(timeout time.Duration) {
	op.c.t.Helper()
	m, ok := op.Next(timeout)
	if ok && m.Type != "complete" {
		op.c.t.Fatalf("operation %s: got %q %s, want complete", op.id, m.Type, m.Payload)
	}
	if !ok {
		op.c.t.Fatalf("operation %s: connection ended (%v) instead of complete", op.id, op.c.closeErr)
	}
}

// Refused returns the error code a refused (or failed) operation carries,
// checking it then completes.
func (op *Operation) Refused(timeout time.Duration) (code, reason string) {
	op.c.t.Helper()
	m, ok := op.Next(timeout)
	if !ok {
		op.c.t.Fatalf("operation %s: connection ended (%v), want an error", op.id, op.c.closeErr)
	}
	var errs []GQLError
	switch m.Type {
	case "error":
		_ = json.Unmarshal(m.Payload, &errs)
	case "next":
		r := m.Result()
		if string(r.Data) != "" && string(r.Data) != "null" {
			op.c.t.Fatalf("operation %s: got data %s, want only errors", op.id, r.Data)
		}
		errs = r.Errors
		op.Completes(timeout)
	}
	if len(errs) == 0 {
		op.c.t.Fatalf("operation %s: got %q %s, want an error", op.id, m.Type, m.Payload)
	}
	code, _ = errs[0].Extensions["code"].(string)
	reason, _ = errs[0].Extensions["reason"].(string)
	return code, reason
}

// CloseStatus waits for the connection to end and returns the close code
// the server sent (-1 without a close frame).
func (c *WSConn) CloseStatus(timeout time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("connection still open after %s", timeout)
	}
	return websocket.CloseStatus(c.closeErr)
}

// Err is why the connection ended (after Done).
func (c *WSConn) Err() error { return c.closeErr }

// Done is closed once the connection has ended.
func (c *WSConn) Done() <-chan struct{} { return c.done }

// Pings counts the server's pings so far.
func (c *WSConn) Pings() int64 { return c.pings.Load() }

// Close closes the connection normally.
func (c *WSConn) Close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
}

// DialRawWS opens a websocket to baseURL's /query with subprotocol and
// nothing else: no connection_init, no reader.
func DialRawWS(t testing.TB, baseURL, subprotocol string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, wsURL(baseURL), &websocket.DialOptions{Subprotocols: []string{subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

// DialWSResponse only attempts the graphql-transport-ws upgrade, for tests
// of how the server refuses it.
func DialWSResponse(baseURL string) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, wsURL(baseURL), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if conn != nil {
		_ = conn.CloseNow()
	}
	return resp, err
}

// ReadUntilClosed reads a raw connection until it ends or within passes,
// returning the close status (-1 when it ended without a close frame) and
// whether it ended.
func ReadUntilClosed(conn *websocket.Conn, within time.Duration) (websocket.StatusCode, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		if _, _, err := conn.Read(ctx); err != nil {
			if ctx.Err() != nil {
				return -1, false
			}
			return websocket.CloseStatus(err), true
		}
	}
}

// ExpectQuiet fails the test if the operation receives anything within d:
// for asserting that something does not happen, where no event marks that
// it will not.
func (op *Operation) ExpectQuiet(d time.Duration) {
	op.c.t.Helper()
	select {
	case m, ok := <-op.ch:
		op.c.t.Fatalf("operation %s: got %q %s (open %v), want nothing for %s", op.id, m.Type, m.Payload, ok, d)
	case <-time.After(d):
	}
}
