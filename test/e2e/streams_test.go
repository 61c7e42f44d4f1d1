package e2e

// Long-lived requests (websockets, SSE) and the admission gate: what may
// hold a slot, what must wait, how many streams a connection, a user and an
// address may hold, and how the websocket protocol's misuses are closed.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// A subscription over a plain POST, which answers once, is refused at
// once: held open, four of them filled the admission gate and stalled the
// whole API while the probes stayed green.
func TestStreams_SubscriptionOverPlainPOSTIsRefusedAtOnce(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"MAX_CONCURRENT_REQUESTS": "1"}))
		host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
		room := host.CreateRoom(nil)
		vars := map[string]any{"room": room.ID}
		tally := srv.Concurrently(4, func(int) string {
			res, err := host.TryGQL(harness.RoomEventsQuery, vars, harness.Within(5*time.Second))
			switch {
			case err != nil:
				return err.Error()
			case res.Status != http.StatusUnprocessableEntity || res.Data != nil && string(res.Data) != "null":
				return fmt.Sprintf("HTTP %d %+v", res.Status, res)
			}
			return res.Code()
		})
		if tally["STREAMING_TRANSPORT_REQUIRED"] != 4 {
			t.Errorf("subscriptions over POST: %v, want 4 × 422 STREAMING_TRANSPORT_REQUIRED without data", tally)
		}
		res := host.GQL(harness.RoomEventsQuery, vars, harness.Within(5*time.Second), harness.Header("Accept", "application/graphql-response+json"))
		if res.Status != http.StatusBadRequest || res.Code() != "STREAMING_TRANSPORT_REQUIRED" {
			t.Errorf("subscription over POST asking for graphql-response+json: %d %+v, want 400", res.Status, res)
		}
		if res := host.GQL(`{ me { id } }`, nil, harness.Within(5*time.Second)); len(res.Errors) > 0 {
			t.Fatalf("a query after the refused subscriptions: %+v", res.Errors)
		}
		if n := srv.App().Events().Subscribers(); n != 0 {
			t.Fatalf("%d subscriptions were opened by refused requests", n)
		}
	})
}

// holdGate takes srv's only admission slot until the test ends.
func holdGate(t *testing.T, srv *harness.Server) {
	t.Helper()
	release, err := srv.App().Gate().Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
}

// A body still arriving holds no admission slot: the gate admits requests
// whose bodies are in. Before, a few clients uploading slowly held every
// slot for as long as HTTP_READ_TIMEOUT allowed.
func TestStreams_SlowUploadsDoNotHoldTheGate(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "500ms"}))
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
	if res := srv.GQL(`{ __typename }`, nil, harness.Within(5*time.Second)); res.Status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("a query beside three slow uploads: %d %+v", res.Status, res.Errors)
	}
}

// No header lets a request skip the admission queue: a request claiming
// to be a stream (Accept: text/event-stream, Upgrade) that the server does
// not make one waits like any other, and is answered 503 with Retry-After
// once it has waited ADMISSION_MAX_WAIT. Before, 30 joinRoom requests with
// the header emptied the database pool.
func TestStreams_HeadersDoNotSkipTheAdmissionGate(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "200ms"}))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	holdGate(t, srv)

	res := host.GQL(`{ me { id } }`, nil, harness.Within(5*time.Second), harness.Header("Accept", "text/event-stream"))
	if res.Status != http.StatusServiceUnavailable || res.Code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("query over SSE with the gate full: %d %+v, want 503 SERVICE_UNAVAILABLE", res.Status, res)
	}
	for _, path := range []string{"/query", "/users/me/rooms", "/api/users/me/rooms"} {
		res := host.REST(http.MethodGet, path+"?query=%7B__typename%7D", nil, harness.Header("Upgrade", "websocket"))
		if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s with Upgrade: websocket and the gate full: %d (Retry-After %q), want 503 with Retry-After",
				path, res.Status, res.Header.Get("Retry-After"))
		}
	}
	if res := srv.REST(http.MethodGet, "/healthz", nil); res.Status != http.StatusOK {
		t.Errorf("/healthz with the gate full: %d, probes must not queue", res.Status)
	}
}

// Streams the server has made streams give their admission slot back:
// with one slot, three websocket and three SSE subscriptions leave the
// API answering.
func TestStreams_OpenStreamsLeaveTheGateFree(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "2s"}))
	host := srv.Register("host@example.com", "Host")
	room := srv.WithToken(host.Token).CreateRoom(nil)
	for range 3 {
		srv.SubscribeBoth(host.Token, harness.RoomEventsQuery, map[string]any{"room": room.ID})
	}
	srv.WaitSubscribers(6)
	if res := srv.WithToken(host.Token).GQL(`{ me { id } }`, nil, harness.Within(5*time.Second)); res.Status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("a query beside six open streams: %d %+v", res.Status, res.Errors)
	}
}

// A websocket that never sends connection_init is closed with 4408, as
// graphql-transport-ws asks.
func TestStreams_WebsocketWithoutInitClosesWith4408(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"WEBSOCKET_INIT_TIMEOUT": "200ms"}))
	conn := harness.DialRawWS(t, srv.URL, "graphql-transport-ws")
	if code, closed := harness.ReadUntilClosed(conn, 5*time.Second); !closed || code != 4408 {
		t.Fatalf("silent connection: closed %v with %d, want 4408", closed, code)
	}
}

// A websocket message is held to GRAPHQL_MAX_BODY_BYTES like a POST body:
// a larger one closes the connection with 1009 (message too big).
func TestStreams_WebsocketMessagesObeyTheBodyLimit(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"GRAPHQL_MAX_BODY_BYTES": "4096"}))
	ws := harness.DialWS(t, srv.URL, "")
	if m, _ := ws.Subscribe(`{ __typename }`, nil).Next(5 * time.Second); m.Type != "next" {
		t.Fatalf("a small document: %s %s", m.Type, m.Payload)
	}
	ws.Subscribe(`{ __typename }`+"#"+strings.Repeat("x", 8192), nil)
	if code := ws.CloseStatus(5 * time.Second); code != websocket.StatusMessageTooBig {
		t.Fatalf("an 8 KiB document with a 4 KiB limit: close %d, want 1009", code)
	}
}

// A second subscribe with an id in use closes the socket with 4409; the
// first could otherwise never be stopped.
func TestStreams_DuplicateOperationIDClosesWith4409(t *testing.T) {
	srv := harness.Start(t)
	host := srv.Register("host@example.com", "Host")
	room := srv.WithToken(host.Token).CreateRoom(nil)
	ws := harness.DialWS(t, srv.URL, host.Token)
	sub := ws.Subscribe(harness.RoomEventsQuery, map[string]any{"room": room.ID})
	srv.WaitSubscribers(1)
	if err := ws.Send(harness.WSMessage{Type: "subscribe", ID: sub.ID(), Payload: []byte(`{"query":"{ __typename }"}`)}); err != nil {
		t.Fatal(err)
	}
	if code := ws.CloseStatus(5 * time.Second); code != 4409 {
		t.Fatalf("duplicate id: close %d, want 4409", code)
	}
	srv.WaitSubscribers(0)

	// An id may be reused once its operation has completed.
	ws2 := harness.DialWS(t, srv.URL, "")
	for range 2 {
		op := ws2.SubscribeID("again", `{ __typename }`, nil)
		if m, ok := op.Next(5 * time.Second); !ok || m.Type != "next" {
			t.Fatalf("operation again: got %q %s, want a result", m.Type, m.Payload)
		}
		op.Completes(5 * time.Second)
	}
}

// One websocket holds at most SUBSCRIPTIONS_PER_CONNECTION subscriptions;
// one over is refused with TOO_MANY_REQUESTS, and a stopped one frees its
// place.
func TestStreams_SubscriptionsPerConnectionAreCapped(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"SUBSCRIPTIONS_PER_CONNECTION": "2"}))
	host := srv.Register("host@example.com", "Host")
	room := srv.WithToken(host.Token).CreateRoom(nil)
	vars := map[string]any{"room": room.ID}
	ws := harness.DialWS(t, srv.URL, host.Token)
	first := ws.Subscribe(harness.RoomEventsQuery, vars)
	second := ws.Subscribe(harness.RoomEventsQuery, vars)
	srv.WaitSubscribers(2)
	// An event reaching both shows both are set up (a subscription is
	// counted just before the caller's right to it is checked).
	harness.MustSucceed(t, "lock", srv.WithToken(host.Token).UpdateSettings(room.ID, map[string]any{"isLocked": true}))
	first.Event(5 * time.Second)
	second.Event(5 * time.Second)
	if code, reason := ws.Subscribe(harness.RoomEventsQuery, vars).Refused(5 * time.Second); code != "TOO_MANY_REQUESTS" || reason != "SUBSCRIPTIONS_PER_CONNECTION" {
		t.Fatalf("third subscription: %s %s, want TOO_MANY_REQUESTS SUBSCRIPTIONS_PER_CONNECTION", code, reason)
	}
	first.Stop()
	first.Completes(5 * time.Second)
	srv.WaitSubscribers(1)
	ws.Subscribe(harness.RoomEventsQuery, vars)
	srv.WaitSubscribers(2)
	// Another connection has places of its own.
	other := harness.DialWS(t, srv.URL, host.Token)
	other.Subscribe(harness.RoomEventsQuery, vars)
	srv.WaitSubscribers(3)
}

// A user holds at most STREAMS_PER_USER streams (websocket connections and
// SSE subscriptions together), an address at most STREAMS_PER_ADDRESS.
func TestStreams_StreamsPerUserAndPerAddressAreCapped(t *testing.T) {
	t.Run("per user", func(t *testing.T) {
		srv := harness.Start(t, harness.WithEnv(map[string]string{"STREAMS_PER_USER": "2"}))
		host := srv.Register("host@example.com", "Host")
		other := srv.Register("other@example.com", "Other")
		room := srv.WithToken(host.Token).CreateRoom(nil)
		vars := map[string]any{"room": room.ID}
		streams := srv.SubscribeBoth(host.Token, harness.RoomEventsQuery, vars)
		srv.WaitSubscribers(2)
		_, err := harness.TryDialWS(t, srv.URL, host.Token)
		if code := websocket.CloseStatus(err); code != 4429 {
			t.Fatalf("third stream of one user over a websocket: %v, want close 4429", err)
		}
		sse := harness.SubscribeSSE(t, srv.URL, host.Token, harness.RoomEventsQuery, vars)
		if ev, ok := sse.Next(5 * time.Second); !ok || ev.Event != "next" || len(ev.Data.Errors) == 0 || ev.Data.Code() != "TOO_MANY_REQUESTS" {
			t.Fatalf("third stream of one user over SSE: %q %+v, want TOO_MANY_REQUESTS", ev.Event, ev.Data)
		}
		if _, err := harness.TryDialWS(t, srv.URL, other.Token); err != nil {
			t.Fatalf("another user's stream: %v", err)
		}
		streams.WS.Close()
		harness.Eventually(t, 5*time.Second, "a closed connection frees its place", func() bool {
			c, err := harness.TryDialWS(t, srv.URL, host.Token)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	})
	t.Run("per address", func(t *testing.T) {
		srv := harness.Start(t, harness.WithEnv(map[string]string{"STREAMS_PER_ADDRESS": "2"}))
		for range 2 {
			harness.DialWS(t, srv.URL, "")
		}
		resp, err := harness.DialWSResponse(srv.URL)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("third websocket from one address: %v (%+v), want 429 with Retry-After", err, resp)
		}
	})
}

// A websocket's queries and mutations wait their turn in the admission
// gate like plain requests, and one connection has at most
// OPERATIONS_PER_CONNECTION of them in flight.
func TestStreams_WebsocketOperationsPassTheGate(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{
		"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "1s", "OPERATIONS_PER_CONNECTION": "1",
	}))
	ws := harness.DialWS(t, srv.URL, "")
	holdGate(t, srv)
	queued := ws.Subscribe(`{ __typename }`, nil)
	time.Sleep(100 * time.Millisecond) // let it take its place in the queue
	if code, reason := ws.Subscribe(`{ __typename }`, nil).Refused(5 * time.Second); code != "TOO_MANY_REQUESTS" || reason != "OPERATIONS_PER_CONNECTION" {
		t.Errorf("second operation in flight: %s %s, want TOO_MANY_REQUESTS OPERATIONS_PER_CONNECTION", code, reason)
	}
	if code, _ := queued.Refused(5 * time.Second); code != "SERVICE_UNAVAILABLE" {
		t.Errorf("an operation that waited ADMISSION_MAX_WAIT for the full gate: %s, want SERVICE_UNAVAILABLE", code)
	}
}

// The legacy graphql-ws protocol has no pong: a peer that has gone (it
// answers no websocket ping) is dropped after two keep-alive intervals
// instead of being kept forever.
func TestStreams_SilentLegacyPeersAreDropped(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"SUBSCRIPTION_KEEPALIVE": "100ms"}))
	conn := harness.DialRawWS(t, srv.URL, "graphql-ws")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Write(ctx, websocket.MessageText, []byte(`{"type":"connection_init","payload":{}}`)); err != nil {
		t.Fatal(err)
	}
	// Not reading is not answering pings (coder/websocket answers them
	// from Read).
	time.Sleep(time.Second)
	if _, closed := harness.ReadUntilClosed(conn, 2*time.Second); !closed {
		t.Fatal("a legacy peer that answered no ping for 1s (100ms keep-alives) is still connected")
	}
}
