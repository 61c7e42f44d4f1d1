// Package ratelimit throttles the operations worth guessing at or
// flooding (signing in, signing up, looking rooms up by code, joining and
// creating rooms), per client address, per account and per both,
// with token buckets held in a Store: this process's memory (MemoryStore,
// the default), or PostgreSQL (PostgresStore), shared by every instance
// on the database.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

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
	// SendMessage is posting to a room's chat, per participant (the
	// account is the participant, or the host posting from outside).
	SendMessage Op = "sendMessage"
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
//
// Messages: a burst of 20 (pasting a few lines, a quick exchange), then
// one a second per participant: faster than anyone types, slow enough that
// a script cannot flood a room of a hundred.
func Defaults() map[Op]Rates {
	return map[Op]Rates{
		Login: {
			PerIP:        Rate{N: 30, Per: time.Minute},
			PerAccountIP: Rate{N: 10, Per: 15 * time.Minute},
			PerAccount:   Rate{N: 100, Per: time.Hour},
			FailuresOnly: true,
		},
		Register:    {PerIP: Rate{N: 20, Per: time.Hour}, PerAccount: Rate{N: 5, Per: time.Hour}},
		JoinRoom:    {PerIP: Rate{N: 120, Per: time.Minute}, PerAccount: Rate{N: 30, Per: time.Minute}},
		RoomCode:    {PerIP: Rate{N: 300, Per: time.Minute}},
		CreateRoom:  {PerAccount: Rate{N: 30, Per: time.Hour}},
		SendMessage: {PerAccount: Rate{N: 20, Per: 20 * time.Second}},
	}
}

// Guard enforces Rates per operation. A nil *Guard allows everything.
type Guard struct {
	rates        map[bucketKey]Rate
	failuresOnly map[Op]bool
	store        Store
	now          func() time.Time
	// OnReject, when set, is told of every refusal (for metrics).
	OnReject func(op Op, scope string)
	// OnStoreError, when set, is told of the store failures that Failed
	// and Succeeded cannot return (for the log). Check returns its own.
	OnStoreError func(op Op, err error)
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

// NewGuard returns a Guard applying rates, with its buckets in this
// process's memory.
func NewGuard(rates map[Op]Rates) *Guard { return NewGuardWith(rates, NewMemoryStore()) }

// NewGuardWith returns a Guard applying rates, with its buckets in store:
// a PostgresStore shares them with every instance on the database.
func NewGuardWith(rates map[Op]Rates, store Store) *Guard {
	g := &Guard{rates: map[bucketKey]Rate{}, failuresOnly: map[Op]bool{}, store: store, now: time.Now}
	for op, r := range rates {
		for scope, rate := range map[string]Rate{ScopeIP: r.PerIP, ScopeAccount: r.PerAccount, ScopeAccountIP: r.PerAccountIP} {
			if !rate.Off() {
				g.rates[bucketKey{op, scope}] = rate
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
// FailuresOnly op the account limits are only looked at: see Failed. A
// store that fails refuses the attempt with its error: a limit that
// cannot be checked is not waived.
func (g *Guard) Check(ctx context.Context, op Op, account string, also ...Op) error {
	if g == nil {
		return nil
	}
	ip := clientip.FromContext(ctx)
	var take, peek []Bucket
	for _, op := range append([]Op{op}, also...) {
		for _, b := range g.buckets(op, ip, account) {
			if b.Scope != ScopeIP && g.failuresOnly[op] {
				if b.Scope == ScopeAccount && ip.IsValid() {
					b.Known = knownKey(account, ip)
				}
				peek = append(peek, b)
			} else {
				take = append(take, b)
			}
		}
	}
	if len(take)+len(peek) == 0 {
		return nil
	}
	wait, worst, err := g.store.Check(ctx, g.now(), take, peek)
	if err != nil {
		return fmt.Errorf("rate limit %s: %w", op, err)
	}
	if wait == 0 {
		return nil
	}
	if g.OnReject != nil {
		g.OnReject(worst.Op, worst.Scope)
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
	var spend []Bucket
	for _, b := range g.buckets(op, clientip.FromContext(ctx), account) {
		if b.Scope != ScopeIP {
			spend = append(spend, b)
		}
	}
	if len(spend) == 0 {
		return
	}
	if err := g.store.Spend(context.WithoutCancel(ctx), g.now(), spend); err != nil {
		g.storeFailed(op, fmt.Errorf("count a failure: %w", err))
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
		if err := g.store.Remember(context.WithoutCancel(ctx), knownKey(account, ip), g.now()); err != nil {
			g.storeFailed(op, fmt.Errorf("remember a known address: %w", err))
		}
	}
}

func (g *Guard) storeFailed(op Op, err error) {
	if g.OnStoreError != nil {
		g.OnStoreError(op, err)
	}
}

// buckets are the limited buckets an attempt at op from ip for account
// falls in.
func (g *Guard) buckets(op Op, ip netip.Addr, account string) []Bucket {
	var out []Bucket
	for _, k := range g.keys(op, ip, account) {
		if rate, ok := g.rates[k.bucketKey]; ok {
			out = append(out, Bucket{Op: k.op, Scope: k.scope, Key: k.key, Rate: rate})
		}
	}
	return out
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

// knownKey names an account at an address, for Succeeded.
func knownKey(account string, ip netip.Addr) string { return account + "\x00" + ipKey(ip) }

// ipKey groups IPv6 clients by /64.
func ipKey(ip netip.Addr) string {
	if ip.Is6() && !ip.Is4In6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}
