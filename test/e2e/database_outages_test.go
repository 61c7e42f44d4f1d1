package e2e

// The database failing under a running server: down at start, restarting,
// a client hanging up mid-query, a statement stuck behind a lock. Each ends
// in a clean answer and a server that recovers by itself.

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

const meQuery = `{ me { id } }`

// The server starts while PostgreSQL is unreachable: alive, not ready, and
// every API route a clean 503. Once the database answers, it migrates and
// serves. When the database restarts under it, requests fail cleanly
// (SERVICE_UNAVAILABLE, never an internal error) and it recovers by itself.
func TestServer_StartsWhileDatabaseDownAndRecoversFromRestarts(t *testing.T) {
	proxy := harness.NewFaultProxy(t, "127.0.0.1:5432", false)
	dbURL := proxy.Proxied(dbtest.NewPostgresDatabase(t))
	srv := harness.Start(t, harness.RealServer(), harness.DontWaitForReady(),
		harness.WithEnv(map[string]string{"DATABASE_URL": dbURL, "DB_CONNECT_TIMEOUT": "1s", "DB_MAX_OPEN_CONNS": "4"}))
	const register = `mutation { register(input: {email: "ada@example.com", password: "correct-horse", displayName: "Ada"}) { accessToken } }`

	harness.Eventually(t, 5*time.Second, "liveness while the database is down", func() bool {
		return srv.REST(http.MethodGet, "/healthz", nil).Status == http.StatusOK
	})
	if res := srv.REST(http.MethodGet, "/readyz", nil); res.Status != http.StatusServiceUnavailable {
		t.Errorf("readyz while the database is down: HTTP %d, want 503", res.Status)
	}
	if res := srv.GQL(register, nil); res.Status != http.StatusServiceUnavailable || res.Code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("API while the database is down: HTTP %d %+v, want 503 SERVICE_UNAVAILABLE", res.Status, res.Errors)
	}

	proxy.SetUp(true)
	harness.Eventually(t, 15*time.Second, "readiness once the database is up", func() bool {
		return srv.REST(http.MethodGet, "/readyz", nil).Status == http.StatusOK
	})
	var reg struct{ Register struct{ AccessToken string } }
	srv.GQL(register, nil).Decode(t, &reg)
	ada := srv.WithToken(reg.Register.AccessToken)

	for restart := 1; restart <= 2; restart++ {
		proxy.SetUp(false)
		start := time.Now()
		if res := ada.GQL(meQuery, nil); res.Code() != "SERVICE_UNAVAILABLE" {
			t.Errorf("restart %d: query while the database is down: %+v, want SERVICE_UNAVAILABLE", restart, res.Errors)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("restart %d: the failing query took %v; it should fail fast", restart, d)
		}
		if res := srv.REST(http.MethodGet, "/readyz", nil); res.Status != http.StatusServiceUnavailable {
			t.Errorf("restart %d: readyz while down: HTTP %d", restart, res.Status)
		}
		// REST says the same in its legacy shape: 503, worth a retry.
		res := ada.REST(http.MethodGet, "/api/users/me/rooms", nil)
		if res.Status != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" ||
			string(res.Body) != `{"message":"Service temporarily unavailable","error":"Service Unavailable","statusCode":503}` {
			t.Errorf("restart %d: REST while down: HTTP %d %q (Retry-After %q)", restart, res.Status, res.Body, res.Header.Get("Retry-After"))
		}
		proxy.SetUp(true)
		harness.Eventually(t, 10*time.Second, "serving again after the database came back", func() bool {
			return len(ada.GQL(meQuery, nil).Errors) == 0
		})
	}
	if err := srv.Stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// A client that gives up cancels its request's queries: a join stuck
// behind a row lock stops waiting in PostgreSQL when the client hangs up,
// and never happens.
func TestRequestCancellation_ReachesTheDatabase(t *testing.T) {
	srv := harness.Start(t, harness.Dialect("postgres"))
	bdb := srv.DB()
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	guest := srv.WithToken(srv.Register("guest@example.com", "Guest").Token)
	room := host.CreateRoom(map[string]any{})
	ctx := context.Background()
	tx, err := bdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM rooms WHERE code = ? FOR UPDATE", room.Code); err != nil {
		t.Fatal(err)
	}
	waiting := func() int {
		var n int
		if err := bdb.NewRaw("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	done := make(chan error, 1)
	go func() {
		_, err := guest.TryGQL(`mutation($c: String!) { joinRoom(code: $c) { participant { id } } }`, map[string]any{"c": room.Code},
			harness.Within(700*time.Millisecond))
		done <- err
	}()
	harness.Eventually(t, 5*time.Second, "the join waits on the lock", func() bool { return waiting() == 1 })
	if err := <-done; err == nil {
		t.Fatal("the join answered while its room was locked")
	}
	harness.Eventually(t, 3*time.Second, "the cancelled join stops waiting in PostgreSQL", func() bool { return waiting() == 0 })
	_ = tx.Rollback()
	time.Sleep(200 * time.Millisecond)
	if n := harness.CountRows(t, bdb, "participants"); n != 0 {
		t.Errorf("%d participants after a cancelled join, want 0", n)
	}
}

// DB_STATEMENT_TIMEOUT bounds how long a request waits on PostgreSQL (lock
// waits included): the client gets SERVICE_UNAVAILABLE, nothing is
// written, and the next request is served.
func TestStatementTimeout_StuckJoinFailsCleanly(t *testing.T) {
	srv := harness.Start(t, harness.RealServer(), harness.Dialect("postgres"), harness.WithEnv(map[string]string{"DB_STATEMENT_TIMEOUT": "300ms"}))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	room := host.CreateRoom(nil)

	bdb := srv.DB()
	ctx := context.Background()
	tx, err := bdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM rooms FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	const join = `mutation($c: String!) { joinRoom(code: $c, guestName: "Gus") { participant { id } } }`
	start := time.Now()
	if res := srv.GQL(join, map[string]any{"c": room.Code}); res.Code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("join behind a lock: %+v, want SERVICE_UNAVAILABLE", res.Errors)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("join behind a lock answered after %v, want about 300ms", d)
	}
	_ = tx.Rollback()
	if n := harness.CountRows(t, bdb, "participants"); n != 0 {
		t.Errorf("%d participants after the timed-out join", n)
	}
	if res := srv.GQL(join, map[string]any{"c": room.Code}); len(res.Errors) != 0 {
		t.Errorf("join after the lock is gone: %+v", res.Errors)
	}
}
