package e2e

import (
	"bufio"
	"bytes"
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

// wsClient is a graphql-transport-ws client, the protocol of the graphql-ws
// npm package: connection_init with the token in its payload, then
// subscribe/next/error/complete per operation id, answering the server's
// pings with pongs.
type wsClient struct {
	t    testing.TB
	conn *websocket.Conn
	// noPong makes the client ignore pings, like a client that has gone.
	noPong bool
	// header is sent with the upgrade request.
	header http.Header

	mu     sync.Mutex
	subs   map[string]chan wsMessage
	nextID int
	pings  atomic.Int64

	done     chan struct{} // closed when the connection has ended
	closeErr error         // why it ended
}

// wsMessage is one protocol message, stamped when it arrived.
type wsMessage struct {
	Type    string          `json:"type"`
	ID      string          `json:"id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`
	At      time.Time       `json:"-"`
}

// result decodes a next message's payload.
func (m wsMessage) result() gqlResponse {
	var r gqlResponse
	_ = json.Unmarshal(m.Payload, &r)
	return r
}

// dialWS opens a connection to baseURL's /query and initialises it with
// token (none when ""). It returns the connection error, if the server
// refused it.
func dialWS(t testing.TB, baseURL, token string, opts ...func(*wsClient)) (*wsClient, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c := &wsClient{t: t, subs: map[string]chan wsMessage{}, done: make(chan struct{})}
	for _, o := range opts {
		o(c)
	}
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: c.header})
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	conn.SetReadLimit(1 << 20)
	c.conn = conn
	t.Cleanup(c.close)
	payload := map[string]any{}
	if token != "" {
		payload["Authorization"] = "Bearer " + token
	}
	if err := c.send(wsMessage{Type: "connection_init", Payload: mustJSON(payload)}); err != nil {
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

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (c *wsClient) send(m wsMessage) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	b, _ := json.Marshal(m)
	return c.conn.Write(ctx, websocket.MessageText, b)
}

// read dispatches messages until the connection ends. ack receives nil on
// connection_ack, or the error the connection ended with before it.
func (c *wsClient) read(ack chan<- error) {
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
			for _, ch := range c.subs {
				close(ch)
			}
			c.subs = map[string]chan wsMessage{}
			c.mu.Unlock()
			return
		}
		var m wsMessage
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
				_ = c.send(wsMessage{Type: "pong"})
			}
		case "pong":
		case "next", "error", "complete":
			c.mu.Lock()
			ch := c.subs[m.ID]
			if m.Type != "next" {
				delete(c.subs, m.ID)
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

// wsSub is one operation's messages; its channel closes after its error
// or complete (or when the connection ends).
type wsSub struct {
	c  *wsClient
	id string
	ch chan wsMessage
}

// subscribe starts an operation.
func (c *wsClient) subscribe(query string, vars map[string]any) *wsSub {
	c.t.Helper()
	c.mu.Lock()
	c.nextID++
	s := &wsSub{c: c, id: fmt.Sprint(c.nextID), ch: make(chan wsMessage, 1024)}
	c.subs[s.id] = s.ch
	c.mu.Unlock()
	err := c.send(wsMessage{Type: "subscribe", ID: s.id, Payload: mustJSON(map[string]any{"query": query, "variables": vars})})
	if err != nil {
		c.t.Fatalf("subscribe: %v", err)
	}
	return s
}

// stop completes the operation from the client's side.
func (s *wsSub) stop() {
	_ = s.c.send(wsMessage{Type: "complete", ID: s.id})
}

// next returns the operation's next message, or fails the test after
// timeout. ok is false when the operation ended without one.
func (s *wsSub) next(timeout time.Duration) (m wsMessage, ok bool) {
	s.c.t.Helper()
	select {
	case m, ok := <-s.ch:
		return m, ok
	case <-time.After(timeout):
		s.c.t.Fatalf("operation %s: nothing within %s", s.id, timeout)
	}
	return wsMessage{}, false
}

// event returns the next roomEvents result, failing on anything else.
func (s *wsSub) event(timeout time.Duration) roomEvent {
	s.c.t.Helper()
	m, ok := s.next(timeout)
	if !ok || m.Type != "next" {
		s.c.t.Fatalf("operation %s: got %q %s, want an event", s.id, m.Type, m.Payload)
	}
	var data struct{ RoomEvents roomEvent }
	m.result().decode(s.c.t, &data)
	data.RoomEvents.at = m.At
	return data.RoomEvents
}

// completes asserts the operation completes next.
func (s *wsSub) completes(timeout time.Duration) {
	s.c.t.Helper()
	m, ok := s.next(timeout)
	if ok && m.Type != "complete" {
		s.c.t.Fatalf("operation %s: got %q %s, want complete", s.id, m.Type, m.Payload)
	}
	if !ok {
		s.c.t.Fatalf("operation %s: connection ended (%v) instead of complete", s.id, s.c.closeErr)
	}
}

// refused returns the error code a refused (or failed) operation carries,
// checking it then completes.
func (s *wsSub) refused(timeout time.Duration) (code, reason string) {
	s.c.t.Helper()
	m, ok := s.next(timeout)
	if !ok {
		s.c.t.Fatalf("operation %s: connection ended (%v), want an error", s.id, s.c.closeErr)
	}
	var errs []gqlError
	switch m.Type {
	case "error":
		_ = json.Unmarshal(m.Payload, &errs)
	case "next":
		r := m.result()
		if string(r.Data) != "" && string(r.Data) != "null" {
			s.c.t.Fatalf("operation %s: got data %s, want only errors", s.id, r.Data)
		}
		errs = r.Errors
		s.completes(timeout)
	}
	if len(errs) == 0 {
		s.c.t.Fatalf("operation %s: got %q %s, want an error", s.id, m.Type, m.Payload)
	}
	code, _ = errs[0].Extensions["code"].(string)
	reason, _ = errs[0].Extensions["reason"].(string)
	return code, reason
}

// closeStatus waits for the connection to end and returns the close code
// the server sent (-1 without a close frame).
func (c *wsClient) closeStatus(timeout time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.t.Fatalf("connection still open after %s", timeout)
	}
	return websocket.CloseStatus(c.closeErr)
}

func (c *wsClient) close() {
	_ = c.conn.Close(websocket.StatusNormalClosure, "")
}

// roomEvent is a roomEvents result with every field the tests select.
type roomEvent struct {
	RoomID      string `json:"roomId"`
	Type        string `json:"type"`
	Time        string `json:"time"`
	Participant *struct {
		ID          string  `json:"id"`
		DisplayName string  `json:"displayName"`
		IsActive    bool    `json:"isActive"`
		LeftAt      *string `json:"leftAt"`
		User        *struct {
			DisplayName string `json:"displayName"`
		} `json:"user"`
	} `json:"participant"`
	Settings *struct {
		AllowChat       bool `json:"allowChat"`
		MaxParticipants int  `json:"maxParticipants"`
	} `json:"settings"`
	RoomName *string `json:"roomName"`

	at time.Time // when the client received it
}

const roomEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	roomId type time
	participant { id displayName isActive leftAt user { displayName } }
	settings { allowChat maxParticipants }
	roomName
} }`

// sseStream is a subscription over SSE: POST /query accepting
// text/event-stream.
type sseStream struct {
	t      testing.TB
	events chan sseEvent // closed when the stream ends
	pings  atomic.Int64
	cancel context.CancelFunc
}

type sseEvent struct {
	Event string // "next" or "complete"
	Data  gqlResponse
	At    time.Time
}

func subscribeSSE(t testing.TB, baseURL, token, query string, vars map[string]any) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/query", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("SSE request: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		t.Fatalf("SSE answered %d %s", resp.StatusCode, ct)
	}
	s := &sseStream{t: t, events: make(chan sseEvent, 1024), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": ping":
				s.pings.Add(1)
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data)
			case line == "" && ev.Event != "":
				ev.At = time.Now()
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	return s
}

// next returns the stream's next event; ok is false when it has ended.
func (s *sseStream) next(timeout time.Duration) (sseEvent, bool) {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(timeout):
		s.t.Fatalf("SSE: nothing within %s", timeout)
	}
	return sseEvent{}, false
}

func (s *sseStream) event(timeout time.Duration) roomEvent {
	s.t.Helper()
	ev, ok := s.next(timeout)
	if !ok || ev.Event != "next" {
		s.t.Fatalf("SSE: got %q (open %v), want an event", ev.Event, ok)
	}
	var data struct{ RoomEvents roomEvent }
	ev.Data.decode(s.t, &data)
	return data.RoomEvents
}
