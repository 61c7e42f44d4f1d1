package harness

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// SSEStream is a subscription over SSE: POST /query accepting
// text/event-stream.
type SSEStream struct {
	t      testing.TB
	events chan SSEEvent // closed when the stream ends
	pings  atomic.Int64
	cancel context.CancelFunc
}

// SSEEvent is one event of a stream.
type SSEEvent struct {
	Event string // "next" or "complete"
	Data  GQLResponse
	At    time.Time
}

// SubscribeSSE starts a subscription over SSE to baseURL, with token as
// its bearer token ("" for none).
func SubscribeSSE(t testing.TB, baseURL, token, query string, vars map[string]any) *SSEStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/query",
		strings.NewReader(JSON(map[string]any{"query": query, "variables": vars})))
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
	s := &SSEStream{t: t, events: make(chan SSEEvent, 1024), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		var ev SSEEvent
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
				ev = SSEEvent{}
			}
		}
	}()
	return s
}

// Next returns the stream's next event; ok is false when it has ended.
func (s *SSEStream) Next(timeout time.Duration) (SSEEvent, bool) {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(timeout):
		s.t.Fatalf("SSE: nothing within %s", timeout)
	}
	return SSEEvent{}, false
}

// Event returns the next roomEvents result, failing on anything else.
func (s *SSEStream) Event(timeout time.Duration) RoomEvent {
	s.t.Helper()
	ev, ok := s.Next(timeout)
	if !ok || ev.Event != "next" {
		s.t.Fatalf("SSE: got %q (open %v), want an event", ev.Event, ok)
	}
	var data struct{ RoomEvents RoomEvent }
	ev.Data.Decode(s.t, &data)
	return data.RoomEvents
}

// Pings counts the keep-alive comments so far.
func (s *SSEStream) Pings() int64 { return s.pings.Load() }

// Cancel ends the stream from the client's side.
func (s *SSEStream) Cancel() { s.cancel() }
