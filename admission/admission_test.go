package admission

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGate_NeverRunsMoreThanItsLimit(t *testing.T) {
	const limit = 3
	g := New(limit)
	var running, peak atomic.Int64
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	g := New(1)
	hold, _ := g.Enter(context.Background())
	defer hold()
	ran := false
	h := g.Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx))
	if ran {
		t.Fatal("a request whose client gave up while queued was run")
	}
}

func TestGate_NilAdmitsEverything(t *testing.T) {
	if New(0) != nil {
		t.Fatal("limit 0 must disable the gate")
	}
	var g *Gate
	release, err := g.Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	release()
}

func TestGate_StreamsBypassTheGate(t *testing.T) {
	g := New(1)
	hold, _ := g.Enter(context.Background())
	defer hold()
	h := g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, hdr := range [][2]string{{"Upgrade", "websocket"}, {"Accept", "text/event-stream"}} {
		req := httptest.NewRequest(http.MethodGet, "/query", nil)
		req.Header.Set(hdr[0], hdr[1])
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req) // would block forever if it queued behind hold
		if rec.Code != http.StatusTeapot {
			t.Fatalf("%s: %s was not served", hdr[0], hdr[1])
		}
	}
}
