package ratelimit

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
)

// newPostgresGuard is newTestGuard with its buckets in a fresh PostgreSQL
// database.
func newPostgresGuard(t testing.TB, bdb *bun.DB, r map[Op]Rates, c *clock) *Guard {
	t.Helper()
	g := NewGuardWith(r, NewPostgresStore(bdb))
	g.now = c.now
	return g
}

// The PostgreSQL store decides as the memory store does: the same random
// attempts (checks, joined lookups, wrong passwords, sign-ins from known
// addresses) at the same times are refused alike, with the same wait to
// the second.
func TestPostgresStore_DecidesAsMemory(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	rates := map[Op]Rates{
		Login:    {PerIP: Rate{6, time.Minute}, PerAccountIP: Rate{3, 15 * time.Minute}, PerAccount: Rate{5, time.Hour}, FailuresOnly: true},
		JoinRoom: {PerIP: Rate{4, time.Minute}, PerAccount: Rate{3, time.Minute}},
		RoomCode: {PerIP: Rate{5, time.Minute}},
	}
	mem, c := newTestGuard(rates)
	pg := newPostgresGuard(t, bdb, rates, c)
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	ips := []string{"192.0.2.1", "192.0.2.2", "2001:db8::1", "2001:db8::2"}
	accounts := []string{"", "ada@example.com", "bob@example.com"}
	refused := 0
	for i := range 400 {
		ctx := from(ips[rng.IntN(len(ips))])
		account := accounts[rng.IntN(len(accounts))]
		var m, p error
		what := ""
		switch rng.IntN(5) {
		case 0, 1:
			what = "login"
			m, p = mem.Check(ctx, Login, account), pg.Check(ctx, Login, account)
		case 2:
			what = "failed login"
			mem.Failed(ctx, Login, account)
			pg.Failed(ctx, Login, account)
		case 3:
			what = "join"
			m, p = mem.Check(ctx, JoinRoom, account, RoomCode), pg.Check(ctx, JoinRoom, account, RoomCode)
		case 4:
			what = "sign-in"
			mem.Succeeded(ctx, Login, account)
			pg.Succeeded(ctx, Login, account)
		}
		if (m == nil) != (p == nil) {
			t.Fatalf("attempt %d (%s by %q): memory %v, postgres %v", i, what, account, m, p)
		}
		if m != nil {
			refused++
			if dm, dp := retryAfter(t, m), retryAfter(t, p); dm-dp > time.Second || dp-dm > time.Second {
				t.Fatalf("attempt %d (%s): retry after %v in memory, %v in postgres", i, what, dm, dp)
			}
		}
		c.advance(time.Duration(rng.IntN(4000)) * time.Millisecond)
	}
	if refused == 0 {
		t.Fatal("no attempt was refused: the test exercised nothing")
	}
	t.Logf("%d of 400 attempts refused", refused)
}

// Guards on two pools (two instances) spend one allowance, and under
// concurrency exactly the burst passes.
func TestPostgresStore_InstancesShareOneAllowance(t *testing.T) {
	url := dbtest.NewPostgresDatabase(t)
	open := func() *bun.DB {
		bdb, err := db.Open(context.Background(), db.Config{URL: url, MaxOpenConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bdb.Close() })
		return bdb
	}
	a, b := open(), open()
	if _, err := db.Migrate(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	rates := map[Op]Rates{Register: {PerIP: Rate{10, time.Hour}}}
	ga, gb := NewGuardWith(rates, NewPostgresStore(a)), NewGuardWith(rates, NewPostgresStore(b))
	var ok, rejected atomic.Int64
	for _, g := range []*Guard{ga, gb} {
		g.OnReject = func(Op, string) { rejected.Add(1) }
	}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := ga
			if i%2 == 1 {
				g = gb
			}
			switch err := g.Check(from("192.0.2.77"), Register, ""); {
			case err == nil:
				ok.Add(1)
			case !IsTooMany(err):
				t.Errorf("check failed: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 10 || rejected.Load() != 30 {
		t.Errorf("%d allowed, %d refused across two instances; want 10 and 30", ok.Load(), rejected.Load())
	}
}

// Refilled buckets and expired known addresses are deleted.
func TestPostgresStore_SweepsFullBuckets(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	g := newPostgresGuard(t, bdb, map[Op]Rates{Login: {PerIP: Rate{2, time.Minute}}}, c)
	for i := range 50 {
		_ = g.Check(from(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}).String()), Login, "")
	}
	count := func() int {
		var n int
		if err := bdb.NewRaw("SELECT count(*) FROM rate_limit_buckets").Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 50 {
		t.Fatalf("%d buckets after 50 callers", n)
	}
	c.advance(2 * time.Minute)
	_ = g.Check(from("192.0.2.200"), Login, "")
	if n := count(); n != 1 {
		t.Errorf("%d buckets after the others refilled, want 1", n)
	}
}

// What a check costs on PostgreSQL (the local server, one connection at a
// time): one statement when it passes. Login checks two buckets (the
// address's, and looks at the account's); joinRoom three (and a lookup's).
func BenchmarkPostgresStore_Check(b *testing.B) {
	bdb := dbtest.Open(b, "postgres")
	stmts := &db.StatementCounter{}
	bdb.AddQueryHook(stmts)
	huge := Rate{1 << 30, time.Hour}
	rates := map[Op]Rates{
		Login:    {PerIP: huge, PerAccount: huge, PerAccountIP: huge, FailuresOnly: true},
		JoinRoom: {PerIP: huge, PerAccount: huge},
		RoomCode: {PerIP: huge},
	}
	g := NewGuardWith(rates, NewPostgresStore(bdb))
	ctxs := make([]context.Context, 10000)
	for i := range ctxs {
		ctxs[i] = from(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}).String())
	}
	for _, bc := range []struct {
		name  string
		check func(ctx context.Context) error
	}{
		{"login", func(ctx context.Context) error { return g.Check(ctx, Login, "ada@example.com") }},
		{"joinRoom", func(ctx context.Context) error { return g.Check(ctx, JoinRoom, "ada@example.com", RoomCode) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			before := stmts.Total()
			i := 0
			for b.Loop() {
				if err := bc.check(ctxs[i%len(ctxs)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(stmts.Total()-before)/float64(i), "stmts/check")
		})
	}
}
