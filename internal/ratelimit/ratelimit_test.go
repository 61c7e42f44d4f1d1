package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/clientip"
)

func TestParseRate(t *testing.T) {
	good := map[string]Rate{
		"10/1m": {10, time.Minute}, "5/15m": {5, 15 * time.Minute}, "3/s": {3, time.Second},
		" 60 / h ": {60, time.Hour}, "1/500ms": {1, 500 * time.Millisecond}, "off": {}, "0": {},
	}
	for in, want := range good {
		got, err := ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "x/1m", "-1/1m", "0/1m", "10/", "10/0s", "10/-1m", "10/fortnight"} {
		if r, err := ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", bad, r)
		}
	}
}

// clock is a hand-moved time source.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func from(ip string) context.Context {
	return clientip.With(context.Background(), netip.MustParseAddr(ip))
}
func newTestGuard(r map[Op]Rates) (*Guard, *clock) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := NewGuard(r)
	g.now = c.now
	return g, c
}

func retryAfter(t *testing.T, err error) time.Duration {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.TooManyRequests {
		t.Fatalf("error %v, want TOO_MANY_REQUESTS", err)
	}
	return e.RetryAfter
}

// A burst of N passes, the next is refused with the time until a token
// is back, and after that time one more passes.
func TestGuard_PerIPBurstThenRefill(t *testing.T) {
	g, c := newTestGuard(map[Op]Rates{Login: {PerIP: Rate{5, time.Minute}}})
	ctx := from("192.0.2.1")
	for i := 0; i < 5; i++ {
		if err := g.Check(ctx, Login, ""); err != nil {
			t.Fatalf("attempt %d refused: %v", i+1, err)
		}
	}
	err := g.Check(ctx, Login, "")
	if d := retryAfter(t, err); d != 12*time.Second {
		t.Errorf("retry after %v, want 12s (a minute / 5)", d)
	}
	// Other addresses and other operations are not affected.
	if err := g.Check(from("192.0.2.2"), Login, ""); err != nil {
		t.Errorf("another address refused: %v", err)
	}
	if err := g.Check(ctx, Register, ""); err != nil {
		t.Errorf("an unlimited operation refused: %v", err)
	}
	c.advance(11 * time.Second)
	if err := g.Check(ctx, Login, ""); err == nil {
		t.Error("allowed before the retry time")
	}
	c.advance(time.Second)
	if err := g.Check(ctx, Login, ""); err != nil {
		t.Errorf("refused at the retry time: %v", err)
	}
}

// An account is limited whatever addresses the attempts come from.
func TestGuard_PerAccountAcrossAddresses(t *testing.T) {
	g, _ := newTestGuard(map[Op]Rates{Login: {PerIP: Rate{100, time.Minute}, PerAccount: Rate{3, time.Hour}}})
	for i := 0; i < 3; i++ {
		if err := g.Check(from("198.51.100."+string(rune('1'+i))), Login, "ada@example.com"); err != nil {
			t.Fatalf("attempt %d refused: %v", i+1, err)
		}
	}
	if d := retryAfter(t, g.Check(from("198.51.100.9"), Login, "ada@example.com")); d != 20*time.Minute {
		t.Errorf("retry after %v, want 20m", d)
	}
	if err := g.Check(from("198.51.100.9"), Login, "bob@example.com"); err != nil {
		t.Errorf("another account refused: %v", err)
	}
}

// A refused attempt spends neither limit: being refused for one account
// does not use up the address's allowance for others.
func TestGuard_RefusalSpendsNothing(t *testing.T) {
	g, _ := newTestGuard(map[Op]Rates{Login: {PerIP: Rate{3, time.Hour}, PerAccount: Rate{1, time.Hour}}})
	ctx := from("203.0.113.5")
	if err := g.Check(ctx, Login, "x@example.com"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		if err := g.Check(ctx, Login, "x@example.com"); err == nil {
			t.Fatal("second attempt on a 1/h account allowed")
		}
	}
	for _, acct := range []string{"y@example.com", "z@example.com"} {
		if err := g.Check(ctx, Login, acct); err != nil {
			t.Errorf("%s refused: the refused attempts used the address's allowance (%v)", acct, err)
		}
	}
	if err := g.Check(ctx, Login, "w@example.com"); err == nil {
		t.Error("fourth account from a 3/h address allowed")
	}
}

// loginRates count wrong passwords only: 3 per account per address, 5 per
// account from everywhere.
var loginRates = map[Op]Rates{Login: {
	PerIP: Rate{100, time.Minute}, PerAccountIP: Rate{3, time.Hour}, PerAccount: Rate{5, time.Hour}, FailuresOnly: true,
}}

// wrongPassword is one login attempt that fails, as the service reports it.
func wrongPassword(g *Guard, ctx context.Context, account string) error {
	if err := g.Check(ctx, Login, account); err != nil {
		return err
	}
	g.Failed(ctx, Login, account)
	return nil
}

// A stranger's wrong passwords from one address spend that address's
// allowance for the account, not the owner's elsewhere; correct passwords
// spend nothing.
func TestGuard_FailuresOnlyLockOutTheGuesserNotTheOwner(t *testing.T) {
	g, _ := newTestGuard(loginRates)
	attacker, owner := from("198.51.100.1"), from("203.0.113.9")
	for i := 0; i < 3; i++ {
		if err := wrongPassword(g, attacker, "ada@example.com"); err != nil {
			t.Fatalf("wrong password %d refused: %v", i+1, err)
		}
	}
	if d := retryAfter(t, g.Check(attacker, Login, "ada@example.com")); d != 20*time.Minute {
		t.Errorf("the guesser's address retries after %v, want 20m (an hour / 3)", d)
	}
	for i := 0; i < 10; i++ {
		if err := g.Check(owner, Login, "ada@example.com"); err != nil {
			t.Fatalf("the owner's correct password %d refused: %v", i+1, err)
		}
		g.Succeeded(owner, Login, "ada@example.com")
	}
	if err := g.Check(attacker, Login, "bob@example.com"); err != nil {
		t.Errorf("another account from the guesser's address refused: %v", err)
	}
}

// Wrong passwords from many addresses stop at the account's ceiling, for
// every address but those the account signed in from lately.
func TestGuard_FailureCeilingBoundsManyAddresses(t *testing.T) {
	g, c := newTestGuard(loginRates)
	owner := from("203.0.113.9")
	if err := g.Check(owner, Login, "ada@example.com"); err != nil {
		t.Fatal(err)
	}
	g.Succeeded(owner, Login, "ada@example.com")
	for i := 0; i < 5; i++ {
		if err := wrongPassword(g, from(fmt.Sprintf("198.51.100.%d", i+1)), "ada@example.com"); err != nil {
			t.Fatalf("wrong password %d refused: %v", i+1, err)
		}
	}
	if d := retryAfter(t, g.Check(from("198.51.100.99"), Login, "ada@example.com")); d != 12*time.Minute {
		t.Errorf("a fresh address retries after %v, want 12m (an hour / 5)", d)
	}
	if err := g.Check(owner, Login, "ada@example.com"); err != nil {
		t.Errorf("the owner's known address refused under the ceiling: %v", err)
	}
	// Failures that passed together are all counted: the debt is paid
	// back before the next stranger passes.
	g.Failed(from("198.51.100.7"), Login, "ada@example.com")
	c.advance(12 * time.Minute)
	if err := g.Check(from("198.51.100.99"), Login, "ada@example.com"); err == nil {
		t.Error("a fresh address allowed while the ceiling was still in debt")
	}
	c.advance(12 * time.Minute)
	if err := g.Check(from("198.51.100.99"), Login, "ada@example.com"); err != nil {
		t.Errorf("a fresh address once the debt is paid: %v", err)
	}
}

// An address the account succeeded from is exempt from the ceiling only
// for knownFor.
func TestGuard_KnownAddressesAreForgotten(t *testing.T) {
	g, c := newTestGuard(loginRates)
	owner := from("203.0.113.9")
	g.Succeeded(owner, Login, "ada@example.com")
	c.advance(knownFor)
	for i := 0; i < 5; i++ {
		_ = wrongPassword(g, from(fmt.Sprintf("198.51.100.%d", i+1)), "ada@example.com")
	}
	if err := g.Check(owner, Login, "ada@example.com"); err == nil {
		t.Error("an address last known a month ago still exempt")
	}
}

// An attempt charged to two operations spends both or neither.
func TestGuard_AlsoSpendsBothOrNeither(t *testing.T) {
	g, _ := newTestGuard(map[Op]Rates{JoinRoom: {PerIP: Rate{2, time.Hour}}, RoomCode: {PerIP: Rate{3, time.Hour}}})
	ctx := from("192.0.2.5")
	for i := 0; i < 2; i++ {
		if err := g.Check(ctx, JoinRoom, "", RoomCode); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Check(ctx, JoinRoom, "", RoomCode); err == nil {
		t.Fatal("a third join on a 2/h limit allowed")
	}
	if err := g.Check(ctx, RoomCode, ""); err != nil {
		t.Errorf("the refused join spent a lookup: %v", err)
	}
	if err := g.Check(ctx, RoomCode, ""); err == nil {
		t.Error("a fourth lookup on a 3/h limit allowed: joins did not spend lookups")
	}
}

// IPv6 clients are limited by /64; IPv4 by address.
func TestGuard_IPv6By64(t *testing.T) {
	g, _ := newTestGuard(map[Op]Rates{JoinRoom: {PerIP: Rate{2, time.Hour}}})
	for _, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff::9"} {
		if err := g.Check(from(ip), JoinRoom, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Check(from("2001:db8:1:2::abcd"), JoinRoom, ""); err == nil {
		t.Error("a third address in the same /64 allowed")
	}
	if err := g.Check(from("2001:db8:1:3::1"), JoinRoom, ""); err != nil {
		t.Errorf("another /64 refused: %v", err)
	}
}

// Under concurrency exactly the burst passes.
func TestGuard_ConcurrentAttemptsNeverExceedTheBurst(t *testing.T) {
	g := NewGuard(map[Op]Rates{Register: {PerIP: Rate{10, time.Hour}}})
	var rejected atomic.Int64
	g.OnReject = func(op Op, scope string) {
		if op == Register && scope == ScopeIP {
			rejected.Add(1)
		}
	}
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if g.Check(from("192.0.2.77"), Register, "") == nil {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || rejected.Load() != 90 {
		t.Errorf("%d allowed, %d reported rejected; want 10 and 90", ok.Load(), rejected.Load())
	}
}

// Without a client address (in-process calls) only account limits apply;
// a nil Guard allows everything.
func TestGuard_NoAddressAndNilGuard(t *testing.T) {
	g, _ := newTestGuard(map[Op]Rates{Login: {PerIP: Rate{1, time.Hour}}})
	for i := 0; i < 3; i++ {
		if err := g.Check(context.Background(), Login, ""); err != nil {
			t.Fatalf("in-process call refused: %v", err)
		}
	}
	var none *Guard
	if err := none.Check(from("192.0.2.1"), Login, "a@example.com"); err != nil {
		t.Errorf("nil guard refused: %v", err)
	}
}

// Buckets that refilled are forgotten, so memory follows recent callers.
func TestGuard_SweepsFullBuckets(t *testing.T) {
	g, c := newTestGuard(map[Op]Rates{Login: {PerIP: Rate{2, time.Minute}}})
	for i := 0; i < 1000; i++ {
		_ = g.Check(from(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}).String()), Login, "")
	}
	b := g.store.(*MemoryStore).buckets[bucketKey{Login, ScopeIP}]
	if n := b.size(); n != 1000 {
		t.Fatalf("%d buckets after 1000 callers", n)
	}
	c.advance(2 * time.Minute)
	_ = g.Check(from("192.0.2.200"), Login, "")
	if n := b.size(); n != 1 {
		t.Errorf("%d buckets after the others refilled, want 1", n)
	}
}

// What a limited operation pays for its two checks, with 10,000 distinct
// callers in the buckets.
func BenchmarkGuard_Check(b *testing.B) {
	g := NewGuard(map[Op]Rates{Login: {PerIP: Rate{1 << 30, time.Hour}, PerAccount: Rate{1 << 30, time.Hour}}})
	ctxs := make([]context.Context, 10000)
	for i := range ctxs {
		ctxs[i] = from(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String())
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := g.Check(ctxs[i%len(ctxs)], Login, "ada@example.com"); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
