package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

const meQuery = `{ me { id } }`

// The server starts while PostgreSQL is unreachable: alive, not ready, and
// every API route a clean 503. Once the database answers, it migrates and
// serves. When the database restarts under it, requests fail cleanly
// (SERVICE_UNAVAILABLE, never an internal error) and it recovers by itself.
func TestServer_StartsWhileDatabaseDownAndRecoversFromRestarts(t *testing.T) {
	proxy := newFaultProxy(t, "127.0.0.1:5432", false)
	dbURL := proxy.proxied(dbtest.NewPostgresDatabase(t))
	srv := startLiveServer(t, map[string]string{"DATABASE_URL": dbURL, "DB_CONNECT_TIMEOUT": "1s", "DB_MAX_OPEN_CONNS": "4"})

	eventually(t, 5*time.Second, "liveness while the database is down", func() bool {
		status, _ := srv.get(t, "/healthz")
		return status == http.StatusOK
	})
	if status, _ := srv.get(t, "/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("readyz while the database is down: HTTP %d, want 503", status)
	}
	status, res := srv.gql(t, "", `mutation { register(input: {email: "ada@example.com", password: "correct-horse", displayName: "Ada"}) { accessToken } }`, nil)
	if status != http.StatusServiceUnavailable || res.code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("API while the database is down: HTTP %d %+v, want 503 SERVICE_UNAVAILABLE", status, res.Errors)
	}

	proxy.setUp(true)
	eventually(t, 15*time.Second, "readiness once the database is up", func() bool {
		status, _ := srv.get(t, "/readyz")
		return status == http.StatusOK
	})
	_, res = srv.gql(t, "", `mutation { register(input: {email: "ada@example.com", password: "correct-horse", displayName: "Ada"}) { accessToken } }`, nil)
	var reg struct{ Register struct{ AccessToken string } }
	res.decode(t, &reg)
	token := reg.Register.AccessToken

	for restart := 1; restart <= 2; restart++ {
		proxy.setUp(false)
		start := time.Now()
		_, res = srv.gql(t, token, meQuery, nil)
		if res.code() != "SERVICE_UNAVAILABLE" {
			t.Errorf("restart %d: query while the database is down: %+v, want SERVICE_UNAVAILABLE", restart, res.Errors)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("restart %d: the failing query took %v; it should fail fast", restart, d)
		}
		if status, _ := srv.get(t, "/readyz"); status != http.StatusServiceUnavailable {
			t.Errorf("restart %d: readyz while down: HTTP %d", restart, status)
		}
		// REST says the same in its legacy shape: 503, worth a retry.
		status, header, body := srv.getAs(t, token, "/api/users/me/rooms")
		if status != http.StatusServiceUnavailable || header.Get("Retry-After") == "" ||
			body != `{"message":"Service temporarily unavailable","error":"Service Unavailable","statusCode":503}` {
			t.Errorf("restart %d: REST while down: HTTP %d %q (Retry-After %q)", restart, status, body, header.Get("Retry-After"))
		}
		proxy.setUp(true)
		eventually(t, 10*time.Second, "serving again after the database came back", func() bool {
			_, res := srv.gql(t, token, meQuery, nil)
			return len(res.Errors) == 0
		})
	}
	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// A client that gives up cancels its request's queries: a join stuck
// behind a row lock stops waiting in PostgreSQL when the client hangs up,
// and never happens.
func TestRequestCancellation_ReachesTheDatabase(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	srv := newTestServer(t, bdb)
	host := srv.register("host@example.com", "Host")
	guest := srv.register("guest@example.com", "Guest")
	room := srv.createRoom(host.Token, map[string]any{})
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
	impatient := *srv
	impatient.http = &http.Client{Timeout: 700 * time.Millisecond}
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/query", jsonReader(t, map[string]any{
			"query": `mutation($c: String!) { joinRoom(code: $c) { participant { id } } }`, "variables": map[string]any{"c": room.Code},
		}))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+guest.Token)
		resp, err := impatient.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	eventually(t, 5*time.Second, "the join waits on the lock", func() bool { return waiting() == 1 })
	if err := <-done; err == nil {
		t.Fatal("the join answered while its room was locked")
	}
	eventually(t, 3*time.Second, "the cancelled join stops waiting in PostgreSQL", func() bool { return waiting() == 0 })
	_ = tx.Rollback()
	time.Sleep(200 * time.Millisecond)
	var n int
	if err := bdb.NewRaw("SELECT count(*) FROM participants").Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d participants after a cancelled join, want 0", n)
	}
}

// DB_STATEMENT_TIMEOUT bounds how long a request waits on PostgreSQL (lock
// waits included): the client gets SERVICE_UNAVAILABLE, nothing is
// written, and the next request is served.
func TestStatementTimeout_StuckJoinFailsCleanly(t *testing.T) {
	dbURL := dbtest.NewPostgresDatabase(t)
	srv := startLiveServer(t, map[string]string{"DATABASE_URL": dbURL, "DB_STATEMENT_TIMEOUT": "300ms"})
	eventually(t, 15*time.Second, "ready", func() bool { status, _ := srv.get(t, "/readyz"); return status == http.StatusOK })
	_, res := srv.gql(t, "", `mutation { register(input: {email: "host@example.com", password: "correct-horse", displayName: "Host"}) { accessToken } }`, nil)
	var reg struct{ Register struct{ AccessToken string } }
	res.decode(t, &reg)
	_, res = srv.gql(t, reg.Register.AccessToken, `mutation { createRoom { code } }`, nil)
	var created struct{ CreateRoom struct{ Code string } }
	res.decode(t, &created)

	bdb := openForTest(t, dbURL)
	ctx := context.Background()
	tx, err := bdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM rooms FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, res = srv.gql(t, "", `mutation($c: String!) { joinRoom(code: $c, guestName: "Gus") { participant { id } } }`, map[string]any{"c": created.CreateRoom.Code})
	if res.code() != "SERVICE_UNAVAILABLE" {
		t.Errorf("join behind a lock: %+v, want SERVICE_UNAVAILABLE", res.Errors)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("join behind a lock answered after %v, want about 300ms", d)
	}
	_ = tx.Rollback()
	var n int
	if err := bdb.NewRaw("SELECT count(*) FROM participants").Scan(ctx, &n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d participants after the timed-out join", n)
	}
	_, res = srv.gql(t, "", `mutation($c: String!) { joinRoom(code: $c, guestName: "Gus") { participant { id } } }`, map[string]any{"c": created.CreateRoom.Code})
	if len(res.Errors) != 0 {
		t.Errorf("join after the lock is gone: %+v", res.Errors)
	}
}

// Text with a NUL byte is bad input on both edges, never an internal error.
func TestNULBytes_AreBadInput(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		room := srv.createRoom(host.Token, map[string]any{})
		for name, doc := range map[string]struct {
			q    string
			vars map[string]any
		}{
			"room name":  {`mutation($n: String) { createRoom(input: {name: $n}) { id } }`, map[string]any{"n": "a\x00b"}},
			"guest name": {`mutation($c: String!) { joinRoom(code: $c, guestName: "G\u0000s") { participantToken } }`, map[string]any{"c": room.Code}},
			"room code":  {`query($c: String!) { roomByCode(code: $c) { id } }`, map[string]any{"c": room.Code + "\x00"}},
			"login":      {loginMutation, loginVars("host@example.com\x00", "correct-horse")},
		} {
			if res := srv.gql(host.Token, doc.q, doc.vars); res.code() != "BAD_USER_INPUT" {
				t.Errorf("GraphQL %s with NUL: %+v, want BAD_USER_INPUT", name, res.Errors)
			}
		}
		status, _, body := srv.do(http.MethodPost, "/auth/register", "", `{"email":"nul@example.com","password":"correct-horse","displayName":"Nu\u0000l"}`)
		if status != http.StatusBadRequest {
			t.Errorf("REST register with NUL: HTTP %d %s, want 400", status, body)
		}
		status, _, body = srv.do(http.MethodPost, "/auth/login", "", `{"email":"host@example.com\u0000","password":"correct-horse"}`)
		if status != http.StatusBadRequest && status != http.StatusUnauthorized {
			t.Errorf("REST login with NUL: HTTP %d %s, want 400 or 401", status, body)
		}
	})
}
