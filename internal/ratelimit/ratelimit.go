// Package ratelimit throttles the operations worth guessing at or
// flooding (signing in, signing up, joining rooms), per client address and
// per account, with token buckets held in memory.
//
// Buckets live in this process: behind a load balancer each instance
// limits on its own, which bounds an attacker to N times the rate for N
// instances and needs no shared store.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/clientip"
)

// Rate allows N events per Per, in bursts of up to N. The zero Rate is no
// limit.
type Rate struct {
	N   int
	Per time.Duration
}

// Off reports whether r limits nothing.
func (r Rate) Off() bool { return r.N <= 0 || r.Per <= 0 }

func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.Itoa(r.N) + "/" + r.Per.String()
}

// ParseRate reads "N/period" (period a Go duration such as 1m or 15m, or a
// bare unit: s, m, h), or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return Rate{}, nil
	}
	n, per, ok := strings.Cut(s, "/")
	if !ok {
		return Rate{}, fmt.Errorf("rate %q: want N/period, e.g. 10/1m, or off", s)
	}
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if err != nil || count <= 0 {
		return Rate{}, fmt.Errorf("rate %q: N must be a positive integer", s)
	}
	per = strings.TrimSpace(per)
	if per == "s" || per == "m" || per == "h" {
		per = "1" + per
	}
	d, err := time.ParseDuration(per)
	if err != nil || d <= 0 {
		return Rate{}, fmt.Errorf("rate %q: period must be a positive duration such as 1m", s)
	}
	return Rate{N: count, Per: d}, nil
}

// Op is a guarded operation.
type Op string

// The guarded operations.
const (
	Login    Op = "login"
	Register Op = "register"
	JoinRoom Op = "joinRoom"
)

// Rates are one operation's limits.
type Rates struct {
	// PerIP limits each client address (IPv6 clients by their /64, which
	// one subscriber usually holds whole).
	PerIP Rate
	// PerAccount limits each account: the email signed in or up with, or
	// the user joining.
	PerAccount Rate
}

// Defaults are the limits unless configured. They let a person mistype a
// password a few times, and a meeting of a hundred people behind one
// office address join at once, while a guesser gets 10 tries per account
// per quarter hour.
func Defaults() map[Op]Rates {
	return map[Op]Rates{
		Login:    {PerIP: Rate{N: 30, Per: time.Minute}, PerAccount: Rate{N: 10, Per: 15 * time.Minute}},
		Register: {PerIP: Rate{N: 20, Per: time.Hour}, PerAccount: Rate{N: 5, Per: time.Hour}},
		JoinRoom: {PerIP: Rate{N: 120, Per: time.Minute}, PerAccount: Rate{N: 30, Per: time.Minute}},
	}
}

// Guard enforces Rates per operation. A nil *Guard allows everything.
type Guard struct {
	buckets map[bucketKey]*buckets
	now     func() time.Time
	// OnReject, when set, is told of every refusal (for metrics).
	OnReject func(op Op, scope string)
}

type bucketKey struct {
	op    Op
	scope string
}

// Scopes of a limit, as reported to OnReject.
const (
	ScopeIP      = "ip"
	ScopeAccount = "account"
)

// NewGuard returns a Guard applying rates.
func NewGuard(rates map[Op]Rates) *Guard {
	g := &Guard{buckets: map[bucketKey]*buckets{}, now: time.Now}
	for op, r := range rates {
		if !r.PerIP.Off() {
			g.buckets[bucketKey{op, ScopeIP}] = newBuckets(r.PerIP)
		}
		if !r.PerAccount.Off() {
			g.buckets[bucketKey{op, ScopeAccount}] = newBuckets(r.PerAccount)
		}
	}
	return g
}

// Check counts one attempt at op by the caller (its address from ctx, see
// clientip) on behalf of account ("" when there is none, e.g. a guest).
// It refuses with TOO_MANY_REQUESTS, carrying when to retry, when either
// limit is spent; a refused attempt uses up neither.
func (g *Guard) Check(ctx context.Context, op Op, account string) error {
	if g == nil {
		return nil
	}
	type taken struct {
		scope string
		res   *rate.Reservation
	}
	var all []taken
	now := g.now()
	if ip := clientip.FromContext(ctx); ip.IsValid() {
		if b := g.buckets[bucketKey{op, ScopeIP}]; b != nil {
			all = append(all, taken{ScopeIP, b.reserve(ipKey(ip), now)})
		}
	}
	if account != "" {
		if b := g.buckets[bucketKey{op, ScopeAccount}]; b != nil {
			all = append(all, taken{ScopeAccount, b.reserve(account, now)})
		}
	}
	var wait time.Duration
	scope := ""
	for _, t := range all {
		if d := t.res.DelayFrom(now); d > wait {
			wait, scope = d, t.scope
		}
	}
	if wait == 0 {
		return nil
	}
	for _, t := range all {
		t.res.CancelAt(now)
	}
	if g.OnReject != nil {
		g.OnReject(op, scope)
	}
	return TooMany(wait)
}

// TooMany is the refusal clients see: when to retry, not which limit
// (telling "this account" from "this address" would help the attacker).
func TooMany(retryAfter time.Duration) *apperr.Error {
	secs := int(math.Ceil(retryAfter.Seconds()))
	return &apperr.Error{
		Code:       apperr.TooManyRequests,
		Message:    fmt.Sprintf("too many attempts; retry in %d seconds", secs),
		RetryAfter: time.Duration(secs) * time.Second,
	}
}

// IsTooMany reports whether err is a rate-limit refusal.
func IsTooMany(err error) bool {
	var e *apperr.Error
	return errors.As(err, &e) && e.Code == apperr.TooManyRequests
}

// ipKey groups IPv6 clients by /64.
func ipKey(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
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

// size is the number of buckets held (for tests).
func (b *buckets) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}
