package ratelimit

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// A Bucket is one token bucket an attempt falls in: an operation's limit
// in one scope, for one key (an address, an account, or both).
type Bucket struct {
	Op    Op
	Scope string
	Key   string
	Rate  Rate
	// Known, on a bucket Check only looks at, names an account and
	// address (see Succeeded) whose recent success exempts the attempt
	// from it; "" for none.
	Known string
}

// Store holds the buckets' state. The Guard decides which buckets an
// attempt falls in; the store makes each decision atomic.
type Store interface {
	// Check spends one token from each of take's buckets and looks at
	// each of peek's (spending nothing), at now, all or nothing: when
	// every bucket holds a token it returns 0 and the tokens of take are
	// spent; otherwise it spends nothing and returns how long until the
	// bucket furthest from a token holds one, and that bucket.
	Check(ctx context.Context, now time.Time, take, peek []Bucket) (time.Duration, Bucket, error)
	// Spend spends one token from each bucket, going into debt below
	// empty.
	Spend(ctx context.Context, now time.Time, buckets []Bucket) error
	// Remember records that the Known key succeeded at now; peeks naming
	// it pass for knownFor.
	Remember(ctx context.Context, known string, now time.Time) error
}

// MemoryStore keeps the buckets in this process: behind a load balancer
// each instance limits on its own, which bounds an attacker to N times
// the rate for N instances and needs no shared store.
type MemoryStore struct {
	mu      sync.Mutex
	buckets map[bucketKey]*buckets
	known   *known
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty in-process store.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{buckets: map[bucketKey]*buckets{}, known: newKnown()}
}

// of returns the buckets of b's operation and scope, made at b's rate on
// first use (a Guard's rates never change).
func (m *MemoryStore) of(b Bucket) *buckets {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := bucketKey{b.Op, b.Scope}
	bs := m.buckets[k]
	if bs == nil {
		bs = newBuckets(b.Rate)
		m.buckets[k] = bs
	}
	return bs
}

// Check implements Store with reservations, cancelled when any bucket
// refuses.
func (m *MemoryStore) Check(_ context.Context, now time.Time, take, peek []Bucket) (time.Duration, Bucket, error) {
	var wait time.Duration
	var worst Bucket
	reservations := make([]*rate.Reservation, 0, len(take))
	for _, b := range take {
		res := m.of(b).reserve(b.Key, now)
		reservations = append(reservations, res)
		if d := res.DelayFrom(now); d > wait {
			wait, worst = d, b
		}
	}
	for _, b := range peek {
		if b.Known != "" && m.known.has(b.Known, now) {
			continue
		}
		if d := m.of(b).peek(b.Key, now); d > wait {
			wait, worst = d, b
		}
	}
	if wait > 0 {
		for _, res := range reservations {
			res.CancelAt(now)
		}
	}
	return wait, worst, nil
}

// Spend implements Store.
func (m *MemoryStore) Spend(_ context.Context, now time.Time, bs []Bucket) error {
	for _, b := range bs {
		m.of(b).reserve(b.Key, now)
	}
	return nil
}

// Remember implements Store.
func (m *MemoryStore) Remember(_ context.Context, known string, now time.Time) error {
	m.known.add(known, now)
	return nil
}

// buckets is one token bucket per key at one rate. Buckets that have
// refilled completely are dropped in periodic sweeps: a full bucket is
// the same as none, so memory follows recent callers, not all callers.
type buckets struct {
	limit rate.Limit
	burst int
	// refill is how long an empty bucket takes to fill up.
	refill time.Duration

	mu        sync.Mutex
	m         map[string]*rate.Limiter
	lastSweep time.Time
}

func newBuckets(r Rate) *buckets {
	return &buckets{
		limit:  rate.Limit(float64(r.N) / r.Per.Seconds()),
		burst:  r.N,
		refill: r.Per,
		m:      map[string]*rate.Limiter{},
	}
}

// sweepEvery bounds how often a sweep may run; sweeps are O(keys).
const sweepEvery = time.Minute

func (b *buckets) reserve(key string, now time.Time) *rate.Reservation {
	b.mu.Lock()
	defer b.mu.Unlock()
	if now.Sub(b.lastSweep) >= sweepEvery {
		b.lastSweep = now
		for k, l := range b.m {
			if l.TokensAt(now) >= float64(b.burst) {
				delete(b.m, k)
			}
		}
	}
	l := b.m[key]
	if l == nil {
		l = rate.NewLimiter(b.limit, b.burst)
		b.m[key] = l
	}
	return l.ReserveN(now, 1)
}

// peek returns how long until key's bucket holds a token, spending
// nothing (and creating nothing: a missing bucket is a full one).
func (b *buckets) peek(key string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.m[key]
	if l == nil {
		return 0
	}
	tokens := l.TokensAt(now)
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) / float64(b.limit) * float64(time.Second))
}

// size is the number of buckets held (for tests).
func (b *buckets) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

// known remembers, per account, the addresses it recently succeeded from.
type known struct {
	mu        sync.Mutex
	m         map[string]time.Time
	lastSweep time.Time
}

func newKnown() *known { return &known{m: map[string]time.Time{}} }

func (k *known) add(key string, now time.Time) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if now.Sub(k.lastSweep) >= sweepEvery {
		k.lastSweep = now
		for key, at := range k.m {
			if now.Sub(at) >= knownFor {
				delete(k.m, key)
			}
		}
	}
	k.m[key] = now
}

func (k *known) has(key string, now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.m[key]
	return ok && now.Sub(at) < knownFor
}
