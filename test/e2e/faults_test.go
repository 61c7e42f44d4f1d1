package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
)

// Fault tests: real concurrency and real failures, on PostgreSQL, through
// HTTP. Each ends with checkInvariants.

// checkInvariants fails the test if the data breaks a rule the product
// promises whatever happened: a room never holds more active participants
// than its capacity, an ended room holds none and nobody joined it after
// it ended, every room has its settings, and a participant is active
// exactly when it has not left.
func checkInvariants(t *testing.T, bdb *bun.DB) {
	t.Helper()
	checks := map[string]string{
		"rooms over capacity": `SELECT r.id FROM rooms r JOIN room_settings s ON s.room_id = r.id
			WHERE (SELECT count(*) FROM participants p WHERE p.room_id = r.id AND p.is_active) > s.max_participants`,
		"ended rooms with active participants": `SELECT DISTINCT r.id FROM rooms r JOIN participants p ON p.room_id = r.id
			WHERE NOT r.is_active AND p.is_active`,
		"joins after the end": `SELECT p.id FROM rooms r JOIN participants p ON p.room_id = r.id
			WHERE r.ended_at IS NOT NULL AND p.joined_at > r.ended_at`,
		"ended rooms without endedAt": `SELECT id FROM rooms WHERE NOT is_active AND ended_at IS NULL`,
		"rooms without settings":      `SELECT r.id FROM rooms r WHERE NOT EXISTS (SELECT 1 FROM room_settings s WHERE s.room_id = r.id)`,
		"active participants that left or inactive ones that did not": `SELECT id FROM participants
			WHERE is_active = (left_at IS NOT NULL)`,
	}
	for name, q := range checks {
		var ids []string
		if err := bdb.NewRaw(q).Scan(context.Background(), &ids); err != nil {
			t.Fatalf("invariant %q: %v", name, err)
		}
		if len(ids) > 0 {
			t.Errorf("invariant broken: %s: %v", name, ids)
		}
	}
}

// outcome classifies a GraphQL response: "ok", or its error code (with
// the reason, when there is one).
func outcome(res gqlResponse) string {
	if len(res.Errors) == 0 {
		return "ok"
	}
	code := res.code()
	if reason, _ := res.Errors[0].Extensions["reason"].(string); reason != "" {
		code += "/" + reason
	}
	return code
}

// concurrently runs n calls of fn at once and tallies their outcomes.
func concurrently(n int, fn func(i int) string) map[string]int {
	var mu sync.Mutex
	tally := map[string]int{}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			o := fn(i)
			mu.Lock()
			tally[o]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return tally
}

// A client per goroutine: the shared one would queue them on two idle
// connections.
func newClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
}

const joinGuest = `mutation($c: String!, $g: String) { joinRoom(code: $c, guestName: $g) { participant { id } } }`

// 50 guests rush a room of 5 seats, five times over: exactly 5 get in,
// the other 45 are told the room is full, and nothing else happens.
func TestFault_FiftyJoinsOnFiveSeats(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	srv := newTestServer(t, bdb)
	srv.http = newClient()
	host := srv.register("host@example.com", "Host")
	for round := 1; round <= 5; round++ {
		room := srv.createRoom(host.Token, map[string]any{"maxParticipants": 5})
		tally := concurrently(50, func(i int) string {
			return outcome(srv.gql("", joinGuest, map[string]any{"c": room.Code, "g": fmt.Sprintf("Guest %d", i)}))
		})
		if tally["ok"] != 5 || tally["CONFLICT/ROOM_FULL"] != 45 {
			t.Errorf("round %d: %v; want 5 ok and 45 CONFLICT/ROOM_FULL", round, tally)
		}
		checkInvariants(t, bdb)
	}
}

// 20 simultaneous endRoom calls: one ends the room, 19 are told it had
// already ended; the room ends once, at one instant.
func TestFault_TwentyConcurrentEnds(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	srv := newTestServer(t, bdb)
	srv.http = newClient()
	host := srv.register("host@example.com", "Host")
	for round := 1; round <= 3; round++ {
		room := srv.createRoom(host.Token, map[string]any{})
		for i := 0; i < 3; i++ {
			if _, res := srv.join("", room.Code, strPtr(fmt.Sprintf("Guest %d", i))); len(res.Errors) != 0 {
				t.Fatal(res.Errors)
			}
		}
		tally := concurrently(20, func(int) string {
			return outcome(srv.gql(host.Token, `mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": room.ID}))
		})
		if tally["ok"] != 1 || tally["CONFLICT/ROOM_ENDED"] != 19 {
			t.Errorf("round %d: %v; want 1 ok and 19 CONFLICT/ROOM_ENDED", round, tally)
		}
		var left []time.Time
		if err := bdb.NewRaw("SELECT DISTINCT left_at FROM participants WHERE room_id = ?", room.ID).Scan(context.Background(), &left); err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 {
			t.Errorf("round %d: participants left at %d different instants, want 1 (the end)", round, len(left))
		}
		checkInvariants(t, bdb)
	}
}

// Joins racing an end: each join either happened before the end (and the
// end then removed it) or is refused because the room ended. None lands
// after the end.
func TestFault_JoinsRacingAnEnd(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	srv := newTestServer(t, bdb)
	srv.http = newClient()
	host := srv.register("host@example.com", "Host")
	for round := 1; round <= 3; round++ {
		room := srv.createRoom(host.Token, map[string]any{"maxParticipants": 100})
		tally := concurrently(31, func(i int) string {
			if i == 15 {
				return "end:" + outcome(srv.gql(host.Token, `mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": room.ID}))
			}
			return outcome(srv.gql("", joinGuest, map[string]any{"c": room.Code, "g": fmt.Sprintf("Guest %d", i)}))
		})
		if tally["end:ok"] != 1 || tally["ok"]+tally["CONFLICT/ROOM_ENDED"] != 30 {
			t.Errorf("round %d: %v; want the end to succeed and every join to be ok or CONFLICT/ROOM_ENDED", round, tally)
		}
		var active int
		if err := bdb.NewRaw("SELECT count(*) FROM participants WHERE room_id = ? AND is_active", room.ID).Scan(context.Background(), &active); err != nil {
			t.Fatal(err)
		}
		if active != 0 {
			t.Errorf("round %d: %d active participants in the ended room", round, active)
		}
		checkInvariants(t, bdb)
	}
}

// PostgreSQL's backends are terminated (pg_terminate_backend) again and
// again while clients create rooms and join them: every answer is a
// success or a clean error (never an internal one), every acknowledged
// write is there, nothing is half-written, and the server recovers by
// itself.
func TestFault_BackendsTerminatedMidTraffic(t *testing.T) {
	dbURL := dbtest.NewPostgresDatabase(t)
	bdb := openForTest(t, dbURL)
	if _, err := db.Migrate(context.Background(), bdb); err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, bdb)
	srv.http = newClient()
	killer := openForTest(t, dbURL)
	host := srv.register("host@example.com", "Host")
	seed := srv.createRoom(host.Token, map[string]any{"maxParticipants": 100})

	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		acked    []string // room ids whose creation was acknowledged
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var o string
				if i%2 == 0 {
					res := srv.gql(host.Token, `mutation { createRoom(input: {maxParticipants: 3}) { id } }`, nil)
					o = outcome(res)
					if o == "ok" {
						var data struct{ CreateRoom struct{ ID string } }
						_ = json.Unmarshal(res.Data, &data)
						mu.Lock()
						acked = append(acked, data.CreateRoom.ID)
						mu.Unlock()
					}
				} else {
					o = outcome(srv.gql("", joinGuest, map[string]any{"c": seed.Code, "g": fmt.Sprintf("W%d-%d", w, i)}))
				}
				mu.Lock()
				outcomes[o]++
				mu.Unlock()
			}
		}()
	}
	var killed int64
	for round := 0; round < 5; round++ {
		time.Sleep(150 * time.Millisecond)
		var n int64
		if err := killer.NewRaw(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		killed += n
	}
	time.Sleep(150 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("terminated %d backends; outcomes %v", killed, outcomes)
	if killed == 0 {
		t.Fatal("no backend was terminated: the test proved nothing")
	}
	for o, n := range outcomes {
		switch o {
		case "ok", "SERVICE_UNAVAILABLE", "CONFLICT/ROOM_FULL":
		default:
			t.Errorf("%d requests answered %s", n, o)
		}
	}
	if outcomes["SERVICE_UNAVAILABLE"] == 0 {
		t.Log("no request failed: the terminations fell between statements")
	}
	eventually(t, 10*time.Second, "serving again", func() bool {
		return outcome(srv.gql(host.Token, `{ me { id } }`, nil)) == "ok"
	})
	var present int
	if err := bdb.NewRaw("SELECT count(*) FROM rooms WHERE id IN (?)", bun.In(acked)).Scan(context.Background(), &present); err != nil {
		t.Fatal(err)
	}
	if present != len(acked) {
		t.Errorf("%d of %d acknowledged rooms are in the database", present, len(acked))
	}
	checkInvariants(t, bdb)
}

// serverLog collects a child server's stderr and reports the address from
// its "listening" line.
type serverLog struct {
	mu    sync.Mutex
	lines []string
	addr  chan string
	done  chan struct{} // closed once stderr has ended
}

func readServerLog(r io.Reader) *serverLog {
	l := &serverLog{addr: make(chan string, 1), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.lines = append(l.lines, line)
			l.mu.Unlock()
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "listening" && entry.Addr != "" {
				select {
				case l.addr <- strings.Replace(entry.Addr, "[::]", "127.0.0.1", 1):
				default:
				}
			}
		}
	}()
	return l
}

func (l *serverLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// SIGTERM in the middle of a burst of writes: the server stops taking
// connections, finishes what it accepted, and exits 0; every write it
// acknowledged is in the database, whole.
func TestFault_SIGTERMDuringWriteBurst(t *testing.T) {
	dbURL := dbtest.NewPostgresDatabase(t)
	// The server binds port 0 itself and logs the address it got: a port
	// picked here and handed over could be taken by another process first.
	cmd := exec.Command(serverBinary(t), "serve")
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL, "PORT=0",
		"JWT_SECRET="+testSecret, "BCRYPT_COST=4", "RATE_LIMITS=off", "LOG_LEVEL=info", "SHUTDOWN_TIMEOUT=20s")
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stderr := readServerLog(stderrPipe)
	exited := make(chan error, 1)
	go func() {
		<-stderr.done // Wait closes the pipe: read it all first
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		if t.Failed() {
			t.Logf("server stderr:\n%s", stderr.String())
		}
	})
	var addr string
	select {
	case addr = <-stderr.addr:
	case <-time.After(20 * time.Second):
		t.Fatal("the server logged no listening address within 20s")
	}
	srv := &liveServer{URL: "http://" + addr, http: newClient()}
	eventually(t, 20*time.Second, "the server is ready", func() bool {
		resp, err := srv.http.Get(srv.URL + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	_, res := srv.gql(t, "", `mutation { register(input: {email: "host@example.com", password: "correct-horse", displayName: "Host"}) { accessToken } }`, nil)
	var reg struct{ Register struct{ AccessToken string } }
	res.decode(t, &reg)

	var (
		mu    sync.Mutex
		acked []string
		sent  atomic.Int64
	)
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				body := jsonReader(t, map[string]any{"query": `mutation { createRoom(input: {name: "Burst"}) { id } }`})
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/query", body)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+reg.Register.AccessToken)
				sent.Add(1)
				resp, err := srv.http.Do(req)
				if err != nil {
					return // the server is gone: stop
				}
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var out gqlResponse
				if json.Unmarshal(raw, &out) == nil && len(out.Errors) == 0 {
					var data struct{ CreateRoom struct{ ID string } }
					if json.Unmarshal(out.Data, &data) == nil && data.CreateRoom.ID != "" {
						mu.Lock()
						acked = append(acked, data.CreateRoom.ID)
						mu.Unlock()
					}
				}
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("server exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server still running 30 s after SIGTERM")
	}
	wg.Wait()
	t.Logf("%d requests sent, %d acknowledged before and during shutdown", sent.Load(), len(acked))
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged: the burst proved nothing")
	}
	bdb := openForTest(t, dbURL)
	var present int
	if err := bdb.NewRaw("SELECT count(*) FROM rooms r JOIN room_settings s ON s.room_id = r.id WHERE r.id IN (?)", bun.In(acked)).Scan(context.Background(), &present); err != nil {
		t.Fatal(err)
	}
	if present != len(acked) {
		t.Errorf("%d of %d acknowledged rooms are in the database with their settings", present, len(acked))
	}
	checkInvariants(t, bdb)
}
