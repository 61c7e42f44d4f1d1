package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

// postQuery sends a GraphQL document over a plain POST with extra headers
// and a deadline, returning the status and decoded response; a request
// still unanswered at the deadline fails the test.
func (s *testServer) postQuery(within time.Duration, token, query string, vars map[string]any, header http.Header) (int, gqlResponse) {
	s.t.Helper()
	status, res, err := s.tryPostQuery(within, token, query, vars, header)
	if err != nil {
		s.t.Fatal(err)
	}
	return status, res
}

// tryPostQuery is postQuery for other goroutines than the test's: it
// returns what went wrong instead of failing the test.
func (s *testServer) tryPostQuery(within time.Duration, token, query string, vars map[string]any, header http.Header) (int, gqlResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return 0, gqlResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/query", bytes.NewReader(body))
	if err != nil {
		return 0, gqlResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, gqlResponse{}, fmt.Errorf("POST /query %.40q: %w", strings.Join(strings.Fields(query), " "), err)
	}
	defer resp.Body.Close()
	var out gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, out, fmt.Errorf("HTTP %d: not a GraphQL response: %w", resp.StatusCode, err)
	}
	return resp.StatusCode, out, nil
}

// A subscription over a plain POST, which answers once, is refused at
// once: held open, four of them filled the admission gate and stalled the
// whole API while the probes stayed green.
func TestStreams_SubscriptionOverPlainPOSTIsRefusedAtOnce(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb, map[string]string{"MAX_CONCURRENT_REQUESTS": "1"})
		host := srv.register("host@example.com", "Host")
		room := srv.createRoom(host.Token, nil)
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, res, err := srv.tryPostQuery(5*time.Second, host.Token, roomEventsQuery, map[string]any{"room": room.ID}, nil)
				if err != nil {
					t.Error(err)
				} else if status != http.StatusUnprocessableEntity || res.code() != "STREAMING_TRANSPORT_REQUIRED" || res.Data != nil && string(res.Data) != "null" {
					t.Errorf("subscription over POST: %d %+v, want 422 STREAMING_TRANSPORT_REQUIRED without data", status, res)
				}
			}()
		}
		wg.Wait()
		status, res := srv.postQuery(5*time.Second, host.Token, roomEventsQuery, map[string]any{"room": room.ID},
			http.Header{"Accept": {"application/graphql-response+json"}})
		if status != http.StatusBadRequest || res.code() != "STREAMING_TRANSPORT_REQUIRED" {
			t.Errorf("subscription over POST asking for graphql-response+json: %d %+v, want 400", status, res)
		}
		if _, res := srv.postQuery(5*time.Second, host.Token, `{ me { id } }`, nil, nil); len(res.Errors) > 0 {
			t.Fatalf("a query after the refused subscriptions: %+v", res.Errors)
		}
		if n := srv.app.Events().Subscribers(); n != 0 {
			t.Fatalf("%d subscriptions were opened by refused requests", n)
		}
	})
}

// holdGate takes srv's only admission slot until the test ends.
func holdGate(t *testing.T, srv *testServer) {
	t.Helper()
	release, err := srv.app.Gate().Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

// A body still arriving holds no admission slot: the gate admits requests
// whose bodies are in. Before, a few clients uploading slowly held every
// slot for as long as HTTP_READ_TIMEOUT allowed.
func TestStreams_SlowUploadsDoNotHoldTheGate(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "500ms"})
	for range 3 {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if _, err := fmt.Fprint(conn, "POST /query HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // let the server take them in
	if status, res := srv.postQuery(5*time.Second, "", `{ __typename }`, nil, nil); status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("a query beside three slow uploads: %d %+v", status, res.Errors)
	}
}

// No header lets a request skip the admission queue: a request claiming
// to be a stream (Accept: text/event-stream, Upgrade) that the server does
// not make one waits like any other, and is answered 503 with Retry-After
// once it has waited ADMISSION_MAX_WAIT. Before, 30 joinRoom requests with
// the header emptied the database pool.
func TestStreams_HeadersDoNotSkipTheAdmissionGate(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "200ms"})
	host := srv.register("host@example.com", "Host")
	holdGate(t, srv)

	status, res := srv.postQuery(5*time.Second, host.Token, `{ me { id } }`, nil, http.Header{"Accept": {"text/event-stream"}})
	if status != http.StatusServiceUnavailable || res.code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("query over SSE with the gate full: %d %+v, want 503 SERVICE_UNAVAILABLE", status, res)
	}
	for _, path := range []string{"/query", "/users/me/rooms", "/api/users/me/rooms"} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path+"?query=%7B__typename%7D", nil)
		req.Header.Set("Authorization", "Bearer "+host.Token)
		req.Header.Set("Upgrade", "websocket")
		resp, err := srv.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with Upgrade: websocket and the gate full: %d (Retry-After %q), want 503 with Retry-After",
				path, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	if code, _ := srv.get(t, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz with the gate full: %d, probes must not queue", code)
	}
}

func (s *testServer) get(t *testing.T, path string) (int, string) {
	t.Helper()
	status, _, body := s.do(http.MethodGet, path, "", nil)
	return status, string(body)
}

// Streams the server has made streams give their admission slot back:
// with one slot, three websocket and three SSE subscriptions leave the
// API answering.
func TestStreams_OpenStreamsLeaveTheGateFree(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "2s"})
	host := srv.register("host@example.com", "Host")
	room := srv.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}
	for range 3 {
		ws, err := dialWS(t, srv.URL, host.Token)
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(roomEventsQuery, vars)
		subscribeSSE(t, srv.URL, host.Token, roomEventsQuery, vars)
	}
	waitSubscribers(t, srv, 6)
	if status, res := srv.postQuery(5*time.Second, host.Token, `{ me { id } }`, nil, nil); status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("a query beside six open streams: %d %+v", status, res.Errors)
	}
}

// dialRaw opens a websocket to srv's /query with subprotocol and nothing
// else: no connection_init, no reader.
func dialRaw(t *testing.T, baseURL, subprotocol string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/query",
		&websocket.DialOptions{Subprotocols: []string{subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.CloseNow() })
	return conn
}

// readUntilClosed reads a raw connection until it ends or within passes,
// returning the close status (-1 when it ended without a close frame) and
// whether it ended.
func readUntilClosed(conn *websocket.Conn, within time.Duration) (websocket.StatusCode, bool) {
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

// A websocket that never sends connection_init is closed with 4408, as
// graphql-transport-ws asks.
func TestStreams_WebsocketWithoutInitClosesWith4408(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"WEBSOCKET_INIT_TIMEOUT": "200ms"})
	conn := dialRaw(t, srv.URL, "graphql-transport-ws")
	if code, closed := readUntilClosed(conn, 5*time.Second); !closed || code != 4408 {
		t.Fatalf("silent connection: closed %v with %d, want 4408", closed, code)
	}
}

// A websocket message is held to GRAPHQL_MAX_BODY_BYTES like a POST body:
// a larger one closes the connection with 1009 (message too big).
func TestStreams_WebsocketMessagesObeyTheBodyLimit(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"GRAPHQL_MAX_BODY_BYTES": "4096"})
	ws, err := dialWS(t, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	small := ws.subscribe(`{ __typename }`, nil)
	if m, _ := small.next(5 * time.Second); m.Type != "next" {
		t.Fatalf("a small document: %s %s", m.Type, m.Payload)
	}
	ws.subscribe(`{ __typename }`+"#"+strings.Repeat("x", 8192), nil)
	if code := ws.closeStatus(5 * time.Second); code != websocket.StatusMessageTooBig {
		t.Fatalf("an 8 KiB document with a 4 KiB limit: close %d, want 1009", code)
	}
}

// A second subscribe with an id in use closes the socket with 4409; the
// first could otherwise never be stopped.
func TestStreams_DuplicateOperationIDClosesWith4409(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	host := srv.register("host@example.com", "Host")
	room := srv.createRoom(host.Token, nil)
	ws, err := dialWS(t, srv.URL, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	sub := ws.subscribe(roomEventsQuery, map[string]any{"room": room.ID})
	waitSubscribers(t, srv, 1)
	if err := ws.send(wsMessage{Type: "subscribe", ID: sub.id, Payload: mustJSON(map[string]any{"query": `{ __typename }`})}); err != nil {
		t.Fatal(err)
	}
	if code := ws.closeStatus(5 * time.Second); code != 4409 {
		t.Fatalf("duplicate id: close %d, want 4409", code)
	}
	waitSubscribers(t, srv, 0)

	// An id may be reused once its operation has completed.
	ws2, err := dialWS(t, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := ws2.send(wsMessage{Type: "subscribe", ID: "again", Payload: mustJSON(map[string]any{"query": `{ __typename }`})}); err != nil {
			t.Fatal(err)
		}
		ws2.mu.Lock()
		ch := make(chan wsMessage, 4)
		ws2.subs["again"] = ch
		ws2.mu.Unlock()
		(&wsSub{c: ws2, id: "again", ch: ch}).completesAfterResult(t)
	}
}

// completesAfterResult expects one result, then complete.
func (s *wsSub) completesAfterResult(t *testing.T) {
	t.Helper()
	if m, ok := s.next(5 * time.Second); !ok || m.Type != "next" {
		t.Fatalf("operation %s: got %q %s, want a result", s.id, m.Type, m.Payload)
	}
	s.completes(5 * time.Second)
}

// One websocket holds at most SUBSCRIPTIONS_PER_CONNECTION subscriptions;
// one over is refused with TOO_MANY_REQUESTS, and a stopped one frees its
// place.
func TestStreams_SubscriptionsPerConnectionAreCapped(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"SUBSCRIPTIONS_PER_CONNECTION": "2"})
	host := srv.register("host@example.com", "Host")
	room := srv.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}
	ws, err := dialWS(t, srv.URL, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	first := ws.subscribe(roomEventsQuery, vars)
	second := ws.subscribe(roomEventsQuery, vars)
	waitSubscribers(t, srv, 2)
	// An event reaching both shows both are set up (a subscription is
	// counted just before the caller's right to it is checked).
	mustSucceed(t, "lock", srv.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}))
	first.event(5 * time.Second)
	second.event(5 * time.Second)
	if code, reason := ws.subscribe(roomEventsQuery, vars).refused(5 * time.Second); code != "TOO_MANY_REQUESTS" || reason != "SUBSCRIPTIONS_PER_CONNECTION" {
		t.Fatalf("third subscription: %s %s, want TOO_MANY_REQUESTS SUBSCRIPTIONS_PER_CONNECTION", code, reason)
	}
	first.stop()
	first.completes(5 * time.Second)
	waitSubscribers(t, srv, 1)
	ws.subscribe(roomEventsQuery, vars)
	waitSubscribers(t, srv, 2)
	// Another connection has places of its own.
	other, err := dialWS(t, srv.URL, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	other.subscribe(roomEventsQuery, vars)
	waitSubscribers(t, srv, 3)
}

// A user holds at most STREAMS_PER_USER streams (websocket connections and
// SSE subscriptions together), an address at most STREAMS_PER_ADDRESS.
func TestStreams_StreamsPerUserAndPerAddressAreCapped(t *testing.T) {
	t.Run("per user", func(t *testing.T) {
		srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"STREAMS_PER_USER": "2"})
		host := srv.register("host@example.com", "Host")
		other := srv.register("other@example.com", "Other")
		room := srv.createRoom(host.Token, nil)
		vars := map[string]any{"room": room.ID}
		ws, err := dialWS(t, srv.URL, host.Token)
		if err != nil {
			t.Fatal(err)
		}
		ws.subscribe(roomEventsQuery, vars)
		subscribeSSE(t, srv.URL, host.Token, roomEventsQuery, vars)
		waitSubscribers(t, srv, 2)
		_, err = dialWS(t, srv.URL, host.Token)
		if code := websocket.CloseStatus(err); code != 4429 {
			t.Fatalf("third stream of one user over a websocket: %v, want close 4429", err)
		}
		sse := subscribeSSE(t, srv.URL, host.Token, roomEventsQuery, vars)
		if ev, ok := sse.next(5 * time.Second); !ok || ev.Event != "next" || len(ev.Data.Errors) == 0 || ev.Data.code() != "TOO_MANY_REQUESTS" {
			t.Fatalf("third stream of one user over SSE: %q %+v, want TOO_MANY_REQUESTS", ev.Event, ev.Data)
		}
		if _, err := dialWS(t, srv.URL, other.Token); err != nil {
			t.Fatalf("another user's stream: %v", err)
		}
		ws.close()
		eventually(t, 5*time.Second, "a closed connection frees its place", func() bool {
			c, err := dialWS(t, srv.URL, host.Token)
			if err == nil {
				c.close()
			}
			return err == nil
		})
	})
	t.Run("per address", func(t *testing.T) {
		srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"STREAMS_PER_ADDRESS": "2"})
		for range 2 {
			if _, err := dialWS(t, srv.URL, ""); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/query",
			&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("third websocket from one address: %v (%+v), want 429 with Retry-After", err, resp)
		}
	})
}

// A websocket's queries and mutations wait their turn in the admission
// gate like plain requests, and one connection has at most
// OPERATIONS_PER_CONNECTION of them in flight.
func TestStreams_WebsocketOperationsPassTheGate(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{
		"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "1s", "OPERATIONS_PER_CONNECTION": "1",
	})
	ws, err := dialWS(t, srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	holdGate(t, srv)
	queued := ws.subscribe(`{ __typename }`, nil)
	time.Sleep(100 * time.Millisecond) // let it take its place in the queue
	if code, reason := ws.subscribe(`{ __typename }`, nil).refused(5 * time.Second); code != "TOO_MANY_REQUESTS" || reason != "OPERATIONS_PER_CONNECTION" {
		t.Errorf("second operation in flight: %s %s, want TOO_MANY_REQUESTS OPERATIONS_PER_CONNECTION", code, reason)
	}
	if code, _ := queued.refused(5 * time.Second); code != "SERVICE_UNAVAILABLE" {
		t.Errorf("an operation that waited ADMISSION_MAX_WAIT for the full gate: %s, want SERVICE_UNAVAILABLE", code)
	}
}

// The legacy graphql-ws protocol has no pong: a peer that has gone (it
// answers no websocket ping) is dropped after two keep-alive intervals
// instead of being kept forever.
func TestStreams_SilentLegacyPeersAreDropped(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"), map[string]string{"SUBSCRIPTION_KEEPALIVE": "100ms"})
	conn := dialRaw(t, srv.URL, "graphql-ws")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		t.Fatal(err)
	}
	// Not reading is not answering pings (coder/websocket answers them
	// from Read).
	time.Sleep(time.Second)
	if _, closed := readUntilClosed(conn, 2*time.Second); !closed {
		t.Fatal("a legacy peer that answered no ping for 1s (100ms keep-alives) is still connected")
	}
}
