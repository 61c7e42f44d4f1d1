package graph

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/coder/websocket"

	"github.com/neuronmeet/api/internal/admission"
)

// A subscription's event waits for a slot in the gate before it is
// resolved, and holds it until its result is ready: one event fanned out
// to many subscribers never resolves outside the gate.
func TestAdmitEvents_EachEventWaitsForASlot(t *testing.T) {
	gate := admission.New(1, 0)
	turn := &eventTurn{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), eventTurnKey{}, turn))
	defer cancel()
	in := make(chan int, 2)
	out := admitEvents(ctx, gate, in)

	hold, _ := gate.Enter(context.Background())
	in <- 1
	select {
	case ev := <-out:
		t.Fatalf("event %d delivered while the gate was full", ev)
	case <-time.After(50 * time.Millisecond):
	}
	hold()
	if ev := <-out; ev != 1 {
		t.Fatalf("got event %d", ev)
	}
	// Resolving: the event holds the slot.
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if _, err := gate.Enter(short); err == nil {
		t.Fatal("the slot was free while an event was being resolved")
	}
	turn.done() // its result is ready
	release, err := gate.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	close(in)
	if _, open := <-out; open {
		t.Fatal("out stays open after in closed")
	}
}

// deadlineRecorder is a ResponseWriter that records the deadlines set on
// it through http.ResponseController.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	mu     sync.Mutex
	writes []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.writes = append(d.writes, t)
	return nil
}

func (d *deadlineRecorder) SetReadDeadline(time.Time) error { return nil }

// Queries over SSE keep the server's write timeout (8 slow readers of an
// 8 MB answer once held 360 MB for as long as they liked); only a
// subscription trades it for a deadline per write.
func TestSSE_OnlySubscriptionsLiftTheWriteTimeout(t *testing.T) {
	run := func(query string) []time.Time {
		tr := newSSETransport(SubscriptionConfig{Limits: StreamLimits{WriteTimeout: time.Second}})
		rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder()}
		req := httptest.NewRequest(http.MethodPost, "/query", strings.NewReader(`{"query":`+query+`}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "text/event-stream")
		exec, _ := fakeExec(t, req)
		tr.Do(rec, req.WithContext(graphql.StartOperationTrace(req.Context())), exec)
		return rec.writes
	}
	if got := run(`"{ __typename }"`); len(got) != 0 {
		t.Errorf("a query over SSE changed the write deadline %d times", len(got))
	}
	got := run(`"subscription { roomEvents(roomId: \"r\") { type } }"`)
	if len(got) < 2 || !got[0].IsZero() || got[1].IsZero() || time.Until(got[1]) > time.Second {
		t.Errorf("a subscription over SSE set write deadlines %v, want the request's lifted, then one per write within 1s", got)
	}
}

// fakeExec is the real executor with streamOps, answering every operation
// with one empty result instead of running resolvers.
func fakeExec(t *testing.T, _ *http.Request) (graphql.GraphExecutor, *streamCounts) {
	t.Helper()
	counts := newStreamCounts(StreamLimits{})
	exec := executor.New(NewExecutableSchema(Config{Resolvers: &Resolver{}}))
	exec.AroundOperations(streamOps(counts, nil, nil))
	exec.AroundOperations(func(ctx context.Context, _ graphql.OperationHandler) graphql.ResponseHandler {
		return graphql.OneShot(&graphql.Response{Data: []byte(`{}`)})
	})
	return exec, counts
}

// A websocket peer that stops reading is cut off after the write timeout
// instead of pinning whatever the server has to send it.
func TestWebsocket_BlockedWriterIsCutOff(t *testing.T) {
	impl := wsImplementation{writeTimeout: 200 * time.Millisecond}
	result := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := impl.Accept(w, r, transport.WebsocketAcceptOptions{})
		if err != nil {
			result <- err
			return
		}
		defer conn.Close()
		payload := strings.Repeat("x", 1<<20)
		for range 256 { // 256 MB: far more than any socket buffers
			if err := conn.WriteJSON(map[string]string{"type": "next", "payload": payload}); err != nil {
				result <- err
				return
			}
		}
		result <- nil
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("256 MB were written to a peer that reads nothing")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a write to a peer that reads nothing still blocks after 20s (write timeout 200ms)")
	}
}
