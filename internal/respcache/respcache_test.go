package respcache

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCache_StaysWithinItsBytesLeastRecentlyUsedFirst(t *testing.T) {
	const maxBytes = 1 << 20
	c := New(maxBytes)
	body := bytes.Repeat([]byte("x"), 100<<10) // ten fit, with their overhead
	key := func(i int) Key { return Key{Edge: REST, Viewer: fmt.Sprint("viewer-", i), Request: "status="} }
	for i := range 10 {
		c.Put(key(i), 1, body)
	}
	if _, ok := c.Get(key(0), 1); !ok { // 0 is now the most recently used
		t.Fatal("entry 0 gone before the cache was full")
	}
	c.Put(key(10), 1, body)
	if _, ok := c.Get(key(1), 1); ok {
		t.Error("the least recently used entry (1) survived an insert into a full cache")
	}
	for _, i := range []int{0, 2, 10} {
		if _, ok := c.Get(key(i), 1); !ok {
			t.Errorf("entry %d evicted, though more recently used than 1", i)
		}
	}
	s := c.Stats()
	if s.Bytes > maxBytes || s.Evictions != 1 || s.Entries != 10 {
		t.Errorf("stats %+v: want at most %d bytes, 1 eviction, 10 entries", s, maxBytes)
	}

	// A newer version replaces the entry, and its bytes with it.
	c.Put(key(0), 2, []byte("small"))
	if _, ok := c.Get(key(0), 1); ok {
		t.Error("the old version is still served")
	}
	if e, ok := c.Get(key(0), 2); !ok || string(e.Body) != "small" {
		t.Error("the new version is not served")
	}
	if after := c.Stats(); after.Entries != 10 || after.Bytes != s.Bytes-int64(len(body))+int64(len("small")) {
		t.Errorf("after a replacement: %+v, want 10 entries and the old body's bytes returned (from %d)", after, s.Bytes)
	}

	// One answer over an eighth of the cache is served but not kept.
	huge := c.Put(key(99), 1, bytes.Repeat([]byte("y"), maxBytes/8))
	if huge.ETag == "" {
		t.Error("a huge answer got no ETag")
	}
	if _, ok := c.Get(key(99), 1); ok {
		t.Error("a huge answer was kept")
	}
}

func TestCache_WriteRevalidates(t *testing.T) {
	c := New(DefaultMaxBytes)
	e := c.Put(Key{Viewer: "v"}, 1, []byte(`{"data":{}}`))
	for _, tc := range []struct {
		ifNoneMatch string
		want        int
	}{
		{"", http.StatusOK},
		{e.ETag, http.StatusNotModified},
		{`"nope", ` + e.ETag, http.StatusNotModified},
		{"W/" + e.ETag, http.StatusNotModified}, // If-None-Match compares weakly
		{"*", http.StatusNotModified},
		{`"nope"`, http.StatusOK},
		{e.ETag[1:], http.StatusOK}, // unquoted: not the same tag
	} {
		r := httptest.NewRequest(http.MethodGet, "/users/me/rooms", nil)
		if tc.ifNoneMatch != "" {
			r.Header.Set("If-None-Match", tc.ifNoneMatch)
		}
		w := httptest.NewRecorder()
		c.Write(w, r, REST, e, "application/json")
		if w.Code != tc.want {
			t.Errorf("If-None-Match %q: HTTP %d, want %d", tc.ifNoneMatch, w.Code, tc.want)
		}
		if tc.want == http.StatusNotModified && (w.Body.Len() != 0 || w.Header().Get("Content-Type") != "") {
			t.Errorf("If-None-Match %q: a 304 with a body or a Content-Type", tc.ifNoneMatch)
		}
		if w.Header().Get("ETag") != e.ETag || w.Header().Get("Cache-Control") != "private, no-cache" || w.Header().Get("Vary") != "Authorization" {
			t.Errorf("If-None-Match %q: headers %v", tc.ifNoneMatch, w.Header())
		}
	}
	if s := c.Stats(); s.NotModified[REST] != 4 {
		t.Errorf("%d 304s counted, want 4", s.NotModified[REST])
	}
}

// Pollers of one answer that a write just invalidated make it once.
func TestCache_AnswerMakesOnceForConcurrentCallers(t *testing.T) {
	c := New(DefaultMaxBytes)
	key := Key{Viewer: "v", Request: "q"}
	release := make(chan struct{})
	var makes atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			e, ok := c.Answer(key, 7, func() ([]byte, bool) {
				makes.Add(1)
				<-release
				return []byte("answer"), true
			})
			if !ok || string(e.Body) != "answer" {
				t.Errorf("Answer = %v, %v", e, ok)
			}
		})
	}
	// Let the callers pile up behind the first make, then let it finish.
	for c.Stats().Misses[GraphQL] < 8 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if n := makes.Load(); n != 1 {
		t.Errorf("%d makes for 8 concurrent callers, want 1", n)
	}

	// A make whose answer may not be kept: its caller is told, once, and
	// nothing is kept.
	var calls atomic.Int64
	unkept := func() ([]byte, bool) { calls.Add(1); return nil, false }
	if _, ok := c.Answer(Key{Viewer: "v", Request: "errors"}, 1, unkept); ok {
		t.Error("an answer that may not be kept came back as an entry")
	}
	if calls.Load() != 1 {
		t.Errorf("the maker made %d times, want once", calls.Load())
	}
	if _, ok := c.Get(Key{Viewer: "v", Request: "errors"}, 1); ok {
		t.Error("an answer that may not be kept was kept")
	}
}
