// Package respcache keeps whole answers to a viewer's own reads (GraphQL
// me { … }, REST GET /users/me/rooms) in memory, and serves one again only
// while nothing it shows has changed.
//
// Freshness comes from the database, not from this package: every write
// that can change what a user's own answers show (their rooms, the rooms'
// settings and participants, the users shown in them) gives that user a new
// answers version in the same transaction (database triggers, see
// db/migrations), and the edges read the version in the statement that
// loads the viewer. An entry is served only when it was made at the version
// the database holds now, so it is never stale, whichever instance or plain
// SQL wrote last.
//
// Each entry carries a strong ETag of its bytes: a client that sends it
// back in If-None-Match is answered 304 with no body.
package respcache

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/sync/singleflight"
)

// DefaultMaxBytes is RESPONSE_CACHE_MAX_BYTES's default: about 1,000
// dashboards of 50 rooms (a 67 kB answer).
const DefaultMaxBytes = 64 << 20

// Edge is which API an answer was made for; the metrics count each apart.
type Edge int

const (
	GraphQL Edge = iota
	REST
	edges
)

func (e Edge) String() string {
	if e == REST {
		return "rest"
	}
	return "graphql"
}

// Key is what an answer depends on besides the viewer's answers version:
// who asked, on which edge, and the request itself, normalised by the edge
// (the same question asked twice must make the same Request).
type Key struct {
	Edge    Edge
	Viewer  string
	Request string
}

func (k Key) String() string {
	var b strings.Builder
	b.Grow(len(k.Viewer) + len(k.Request) + 4)
	b.WriteString(k.Edge.String())
	b.WriteByte(0)
	b.WriteString(k.Viewer)
	b.WriteByte(0)
	b.WriteString(k.Request)
	return b.String()
}

// Entry is one answer: its bytes, made at Version.
type Entry struct {
	Version int64
	Body    []byte
	// ETag is a strong entity tag of Body, quoted.
	ETag string
	key  string
}

// entryOverhead approximates what an entry costs besides its key and body
// (the list element, the map slot, the Entry, the ETag).
const entryOverhead = 200

func (e *Entry) size() int64 { return int64(len(e.key) + len(e.Body) + entryOverhead) }

// Cache is a least-recently-used set of entries bounded in bytes. One entry
// per Key: an entry made at a newer version replaces the older one, so a
// host's writes do not pile up dead answers.
type Cache struct {
	max int64

	mu    sync.Mutex
	lru   *simplelru.LRU[string, *Entry]
	bytes int64
	// making runs one make per key and version at a time (see Answer).
	making singleflight.Group

	hits, misses, notModified [edges]atomic.Int64
	evictions                 atomic.Int64
}

// New returns an empty cache holding at most maxBytes.
func New(maxBytes int64) *Cache {
	c := &Cache{max: maxBytes}
	// The size bound is ours (bytes); the list's own is only a ceiling no
	// byte budget reaches (an entry is at least entryOverhead bytes).
	lru, err := simplelru.NewLRU[string, *Entry](int(maxBytes/entryOverhead)+1, func(_ string, e *Entry) {
		c.bytes -= e.size()
	})
	if err != nil {
		panic(err) // only for a size below 1, which the +1 rules out
	}
	c.lru = lru
	return c
}

// Get returns key's entry if it was made at version, counting a hit or a
// miss.
func (c *Cache) Get(key Key, version int64) (*Entry, bool) {
	return c.get(key.String(), key.Edge, version)
}

func (c *Cache) get(k string, edge Edge, version int64) (*Entry, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(k)
	c.mu.Unlock()
	if ok && e.Version == version {
		c.hits[edge].Add(1)
		return e, true
	}
	c.misses[edge].Add(1)
	return nil, false
}

// Current is Get counting only a hit: for a caller that, on a miss, goes
// on to Answer, which counts the miss itself.
func (c *Cache) Current(key Key, version int64) (*Entry, bool) {
	c.mu.Lock()
	e, ok := c.lru.Get(key.String())
	c.mu.Unlock()
	if ok && e.Version == version {
		c.hits[key.Edge].Add(1)
		return e, true
	}
	return nil, false
}

// peek is get without counting or refreshing the entry's use.
func (c *Cache) peek(k string, version int64) (*Entry, bool) {
	c.mu.Lock()
	e, ok := c.lru.Peek(k)
	c.mu.Unlock()
	return e, ok && e.Version == version
}

// Put stores body as key's answer at version and returns its entry. An
// answer larger than an eighth of the cache is not kept (it would push out
// many others for one caller), but still gets its entry and ETag.
func (c *Cache) Put(key Key, version int64, body []byte) *Entry {
	return c.put(key.String(), version, body)
}

func (c *Cache) put(k string, version int64, body []byte) *Entry {
	e := &Entry{Version: version, Body: body, ETag: etag(body), key: k}
	if e.size() > c.max/8 {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.lru.Peek(e.key); ok {
		// Add replaces without calling the eviction callback.
		c.bytes -= old.size()
	}
	c.lru.Add(e.key, e)
	c.bytes += e.size()
	for c.bytes > c.max {
		c.lru.RemoveOldest()
		c.evictions.Add(1)
	}
	return e
}

// Answer returns key's entry at version: the one kept, or the one make
// makes, kept. make returns the answer's bytes, or false when the answer
// may not be kept (it has errors, say), having then answered its caller
// itself; Answer then returns false.
//
// Concurrent callers asking for the same key and version wait for one
// make: a dashboard's write invalidates an answer that every poller of it
// asks for again at once, and one of them making it is enough. A caller
// whose wait ends without an entry (the maker's answer could not be kept,
// or its client went away) makes its own.
func (c *Cache) Answer(key Key, version int64, make func() ([]byte, bool)) (*Entry, bool) {
	k := key.String()
	if e, ok := c.get(k, key.Edge, version); ok {
		return e, true
	}
	maker := false
	v, _, _ := c.making.Do(k+"\x00"+strconv.FormatInt(version, 10), func() (any, error) {
		// A make that ended between this caller's get and here has kept
		// the entry already.
		if e, ok := c.peek(k, version); ok {
			return e, nil
		}
		maker = true
		body, ok := make()
		if !ok {
			return (*Entry)(nil), nil
		}
		return c.put(k, version, body), nil
	})
	if e := v.(*Entry); e != nil {
		return e, true
	}
	if maker {
		return nil, false
	}
	body, ok := make()
	if !ok {
		return nil, false
	}
	return c.put(k, version, body), true
}

func etag(body []byte) string {
	return `"` + strconv.FormatUint(xxhash.Sum64(body), 36) + `"`
}

// Write answers r with e: 304 with no body when r's If-None-Match names
// e's ETag, else 200 with the body as contentType. Either way the answer
// tells caches to revalidate every reuse (no-cache) and keep it to the one
// user (private, Vary: Authorization).
//
// A 304 is given to POSTed GraphQL queries too: a query changes nothing,
// so answering its revalidation is as safe as a GET's.
func (c *Cache) Write(w http.ResponseWriter, r *http.Request, edge Edge, e *Entry, contentType string) {
	h := w.Header()
	h.Set("ETag", e.ETag)
	h.Set("Cache-Control", "private, no-cache")
	h.Add("Vary", "Authorization")
	if noneMatch := r.Header.Get("If-None-Match"); noneMatch != "" && matchesETag(noneMatch, e.ETag) {
		h.Del("Content-Type")
		c.notModified[edge].Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(e.Body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(e.Body)
}

// matchesETag applies If-None-Match's weak comparison (RFC 9110 13.1.2):
// a list of tags, each possibly weak (W/), or *.
func matchesETag(header, tag string) bool {
	for part := range strings.SplitSeq(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || strings.TrimPrefix(part, "W/") == tag {
			return true
		}
	}
	return false
}

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits, Misses, NotModified [edges]int64
	Evictions                 int64
	Entries                   int
	Bytes                     int64
}

// Stats reads the counters.
func (c *Cache) Stats() Stats {
	var s Stats
	for e := range edges {
		s.Hits[e], s.Misses[e], s.NotModified[e] = c.hits[e].Load(), c.misses[e].Load(), c.notModified[e].Load()
	}
	s.Evictions = c.evictions.Load()
	c.mu.Lock()
	s.Entries, s.Bytes = c.lru.Len(), c.bytes
	c.mu.Unlock()
	return s
}

// Edges lists the edges, for reporting Stats.
func Edges() []Edge { return []Edge{GraphQL, REST} }
