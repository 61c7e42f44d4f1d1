package admission

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var refuse = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })

func TestGate_NeverRunsMoreThanItsLimit(t *testing.T) {
	const limit = 3
	g := New(limit, 0)
	var running, peak atomic.Int64
	h := g.Middleware(refuse)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(2 * time.Millisecond) // hold the slot so others queue
		running.Add(-1)
	}))
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
		}()
	}
	wg.Wait()
	if p := peak.Load(); p > limit || p < 1 {
		t.Fatalf("peak concurrency %d, want 1..%d", p, limit)
	}
}

func TestGate_GivenUpRequestsNeverRun(t *testing.T) {
	g := New(1, 0)
	hold, _ := g.Enter(context.Background())
	defer hold()
	ran := false
	h := g.Middleware(refuse)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if ran || rec.Code == http.StatusServiceUnavailable {
		t.Fatalf("a request whose client gave up while queued was run (%v) or answered (%d)", ran, rec.Code)
	}
}

// A request that waited the longest wait is answered busy and never runs:
// its client may already have been cut off by the write timeout, and its
// retry would repeat work that was never reported.
func TestGate_LongestWaitAnswersBusyWithoutRunning(t *testing.T) {
	g := New(1, 20*time.Millisecond)
	hold, _ := g.Enter(context.Background())
	defer hold()
	ran := false
	h := g.Middleware(refuse)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
	if ran || rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("after the longest wait: ran %v, status %d; want not run, 503", ran, rec.Code)
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Fatalf("waited %s for a 20ms limit", waited)
	}
	if _, err := g.Enter(context.Background()); !errors.Is(err, ErrBusy) {
		t.Fatalf("Enter on a full gate: %v, want ErrBusy", err)
	}
}

func TestGate_NilAdmitsEverything(t *testing.T) {
	if New(0, time.Second) != nil {
		t.Fatal("limit 0 must disable the gate")
	}
	var g *Gate
	release, err := g.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
	Leave(context.Background()) // no slot: nothing to give back
}

// Headers are the client's word, not what the server does: a request
// claiming to be a stream queues like any other.
func TestGate_HeadersDoNotSkipTheQueue(t *testing.T) {
	g := New(1, 30*time.Millisecond)
	hold, _ := g.Enter(context.Background())
	defer hold()
	h := g.Middleware(refuse)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, hdr := range [][2]string{{"Upgrade", "websocket"}, {"Accept", "text/event-stream"}} {
		req := httptest.NewRequest(http.MethodPost, "/query", nil)
		req.Header.Set(hdr[0], hdr[1])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s: %s skipped the full gate (status %d)", hdr[0], hdr[1], rec.Code)
		}
	}
}

// A request that became a stream gives its slot back while it lasts.
func TestGate_StreamsGiveTheirSlotBack(t *testing.T) {
	g := New(1, 0)
	streaming, done := make(chan struct{}), make(chan struct{})
	h := g.Middleware(refuse)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			Leave(r.Context())
			Leave(r.Context()) // twice must not free a second slot
			close(streaming)
			<-done
		}
	}))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/stream", nil))
	<-streaming
	defer close(done)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	release, err := g.Enter(ctx)
	if err != nil {
		t.Fatalf("a stream still holds its slot: %v", err)
	}
	// The stream left once: the one slot is now ours, and no other is free.
	short, cancelShort := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancelShort()
	if _, err := g.Enter(short); err == nil {
		t.Fatal("leaving twice freed two slots")
	}
	release()
}

// A body still arriving holds no slot: the gate only sees requests whose
// bodies are in.
func TestBufferBodies_SlowUploadsWaitOutsideTheGate(t *testing.T) {
	g := New(1, 0)
	entered := make(chan string, 2)
	h := BufferBodies(1 << 10)(g.Middleware(refuse)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		entered <- string(b)
	})))
	slowR, slowW := io.Pipe()
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", slowR))
	_, _ = slowW.Write([]byte(`{"half":`))
	go h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"whole":1}`)))
	select {
	case got := <-entered:
		if got != `{"whole":1}` {
			t.Fatalf("first through the gate: %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a complete request waited behind a body still arriving")
	}
	_, _ = slowW.Write([]byte(`2}`))
	_ = slowW.Close()
	if got := <-entered; got != `{"half":2}` {
		t.Fatalf("the slow body reached its handler as %q", got)
	}
}

// Bodies over the limit reach the handler whole, for it to refuse.
func TestBufferBodies_HandlersSeeTheWholeBody(t *testing.T) {
	body := strings.Repeat("x", 5000)
	var got string
	BufferBodies(100)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body)))
	if got != body {
		t.Fatalf("handler read %d bytes of %d", len(got), len(body))
	}
}
