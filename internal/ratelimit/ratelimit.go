// Package ratelimit throttles the operations worth guessing at or
// flooding (signing in, signing up, looking rooms up by code, joining and
// creating rooms), per client address, per account and per both,
// with token buckets held in memory.
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
	// RoomCode is looking a room up by its code, which is all that keeps
	// a room private: roomByCode, the REST code routes, and joinRoom.
	RoomCode   Op = "roomCode"
	CreateRoom Op = "createRoom"
)

// Rates are one operation's limits.
type Rates struct {
	// PerIP limits each client address (IPv6 clients by their /64, which
	// one subscriber usually holds whole).
	PerIP Rate
	// PerAccount limits each account: the email signed in or up with, or
	// the user joining or creating.
	PerAccount Rate
	// PerAccountIP limits each account from each address.
	PerAccountIP Rate
	// FailuresOnly makes PerAccount and PerAccountIP count only the
	// attempts reported to Failed, so that nobody but the account's owner
	// can spend them from the owner's address. Check still refuses once
	// either is spent. PerAccount then does not hold an address the
	// account succeeded from (Succeeded) in the last knownFor: a stranger
	// spending the account's whole allowance does not lock its owner out
	// where they usually sign in.
	FailuresOnly bool
}

// knownFor is how long an address the account succeeded from is exempt
// from a FailuresOnly PerAccount limit. Long enough to cover an office or
// home address used now and then; memory follows successful sign-ins,
// which only people who know the password can add.
const knownFor = 30 * 24 * time.Hour

// Defaults are the limits unless configured.
//
// Login: 10 wrong passwords per account per address per quarter hour let
// a person mistype a few times; the account as a whole takes 100 wrong
// passwords an hour from everywhere, so a guesser with many addresses
// still gets 2,400 a day at most; correct passwords spend neither.
// Register bounds sign-up floods. Joins let a meeting of a hundred people
// behind one office address join at once.
//
// Room codes: each of a hundred people behind one address may open the
// room by its code, list who is there and join (3 lookups), so 300 a
// minute; a guesser gets 5 a second after that burst instead of the
// thousands an unlimited lookup allowed, against 26^9 codes.
//
// Rooms: 30 at once (a script setting up a week of meetings), then one
// every two minutes per user.
func Defaults() map[Op]Rates {
	return map[Op]Rates{
		Login: {
			PerIP:        Rate{N: 30, Per: time.Minute},
			PerAccountIP: Rate{N: 10, Per: 15 * time.Minute},
			PerAccount:   Rate{N: 100, Per: time.Hour},
			FailuresOnly: true,
		},
		Register:   {PerIP: Rate{N: 20, Per: time.Hour}, PerAccount: Rate{N: 5, Per: time.Hour}},
		JoinRoom:   {PerIP: Rate{N: 120, Per: time.Minute}, PerAccount: Rate{N: 30, Per: time.Minute}},
		RoomCode:   {PerIP: Rate{N: 300, Per: time.Minute}},
		CreateRoom: {PerAccount: Rate{N: 30, Per: time.Hour}},
	}
}

// Guard enforces Rates per operation. A nil *Guard allows everything.
type Guard struct {
	buckets      map[bucketKey]*buckets
	failuresOnly map[Op]bool
	known        *known
	now          func() time.Time
	// OnReject, when set, is told of every refusal (for metrics).
	OnReject func(op Op, scope string)
}

type bucketKey struct {
	op    Op
	scope string
}

// Scopes of a limit, as reported to OnReject.
const (
	ScopeIP        = "ip"
	ScopeAccount   = "account"
	ScopeAccountIP = "account_ip"
)

// NewGuard returns a Guard applying rates.
func NewGuard(rates map[Op]Rates) *Guard {
	g := &Guard{buckets: map[bucketKey]*buckets{}, failuresOnly: map[Op]bool{}, known: newKnown(), now: time.Now}
	for op, r := range rates {
		for scope, rate := range map[string]Rate{ScopeIP: r.PerIP, ScopeAccount: r.PerAccount, ScopeAccountIP: r.PerAccountIP} {
			if !rate.Off() {
				g.buckets[bucketKey{op, scope}] = newBuckets(rate)
			}
		}
		g.failuresOnly[op] = r.FailuresOnly
	}
	return g
}

// Check counts one attempt at op, and at each of also, by the caller (its
// address from ctx, see clientip) on behalf of account ("" when there is
// none, e.g. a guest). It refuses with TOO_MANY_REQUESTS, carrying when to
// retry, when any limit is spent; a refused attempt uses up none. For a
// FailuresOnly op the account limits are only looked at: see Failed.
func (g *Guard) Check(ctx context.Context, op Op, account string, also ...Op) error {
	if g == nil {
		return nil
	}
	type taken struct {
		scope string
		res   *rate.Reservation
	}
	var all []taken
	now := g.now()
	ip := clientip.FromContext(ctx)
	var wait time.Duration
	worst := bucketKey{}
	for _, op := range append([]Op{op}, also...) {
		for _, k := range g.keys(op, ip, account) {
			b := g.buckets[k.bucketKey]
			if b == nil {
				continue
			}
			var d time.Duration
			if k.scope != ScopeIP && g.failuresOnly[op] {
				if k.scope == ScopeAccount && g.known.has(account, ip, now) {
					continue
				}
				d = b.peek(k.key, now)
			} else {
				res := b.reserve(k.key, now)
				all = append(all, taken{k.scope, res})
				d = res.DelayFrom(now)
			}
			if d > wait {
				wait, worst = d, k.bucketKey
			}
		}
	}
	if wait == 0 {
		return nil
	}
	for _, t := range all {
		t.res.CancelAt(now)
	}
	if g.OnReject != nil {
		g.OnReject(worst.op, worst.scope)
	}
	return TooMany(wait)
}

// Failed counts a failed attempt at a FailuresOnly op (a wrong password)
// against the account's limits. Attempts that passed Check concurrently
// may take them below empty; the debt is paid back before the next
// attempt passes, so the rate holds exactly over time.
func (g *Guard) Failed(ctx context.Context, op Op, account string) {
	if g == nil || account == "" {
		return
	}
	now := g.now()
	for _, k := range g.keys(op, clientip.FromContext(ctx), account) {
		if b := g.buckets[k.bucketKey]; b != nil && k.scope != ScopeIP {
			b.reserve(k.key, now)
		}
	}
}

// Succeeded records that account succeeded at op from the caller's
// address, which the account's FailuresOnly PerAccount limit then lets
// through for knownFor.
func (g *Guard) Succeeded(ctx context.Context, op Op, account string) {
	if g == nil || account == "" || !g.failuresOnly[op] {
		return
	}
	if ip := clientip.FromContext(ctx); ip.IsValid() {
		g.known.add(account, ip, g.now())
	}
}

type scopedKey struct {
	bucketKey
	key string
}

// keys are the buckets an attempt at op from ip for account falls in.
func (g *Guard) keys(op Op, ip netip.Addr, account string) []scopedKey {
	var out []scopedKey
	if ip.IsValid() {
		out = append(out, scopedKey{bucketKey{op, ScopeIP}, ipKey(ip)})
	}
	if account != "" {
		out = append(out, scopedKey{bucketKey{op, ScopeAccount}, account})
		if ip.IsValid() {
			out = append(out, scopedKey{bucketKey{op, ScopeAccountIP}, account + "\x00" + ipKey(ip)})
		}
	}
	return out
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

func knownKey(account string, ip netip.Addr) string { return account + "\x00" + ipKey(ip) }

func (k *known) add(account string, ip netip.Addr, now time.Time) {
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
	k.m[knownKey(account, ip)] = now
}

func (k *known) has(account string, ip netip.Addr, now time.Time) bool {
	if !ip.IsValid() {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	at, ok := k.m[knownKey(account, ip)]
	return ok && now.Sub(at) < knownFor
}
