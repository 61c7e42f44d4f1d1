package e2e

// Real concurrency and real failures, on PostgreSQL, through HTTP: rushes
// on one room, backends killed under traffic, SIGTERM under a write burst.
// The harness's concurrency runners (Concurrently, StartLoad) check the
// database's invariants (harness.CheckInvariants) after each.

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

const joinGuest = `mutation($c: String!, $g: String) { joinRoom(code: $c, guestName: $g) { participant { id } } }`

const endRoom = `mutation($id: ID!) { endRoom(roomId: $id) { id } }`

// 50 guests rush a room of 5 seats, five times over: exactly 5 get in,
// the other 45 are told the room is full, and nothing else happens.
func TestFault_FiftyJoinsOnFiveSeats(t *testing.T) {
	srv := harness.Start(t, harness.Dialect("postgres"))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	for round := 1; round <= 5; round++ {
		room := host.CreateRoom(map[string]any{"maxParticipants": 5})
		tally := srv.Concurrently(50, func(i int) string {
			return srv.GQL(joinGuest, map[string]any{"c": room.Code, "g": fmt.Sprintf("Guest %d", i)}).Outcome()
		})
		if tally["ok"] != 5 || tally["CONFLICT/ROOM_FULL"] != 45 {
			t.Errorf("round %d: %v; want 5 ok and 45 CONFLICT/ROOM_FULL", round, tally)
		}
	}
}

// 20 simultaneous endRoom calls: one ends the room, 19 are told it had
// already ended; the room ends once, at one instant.
func TestFault_TwentyConcurrentEnds(t *testing.T) {
	srv := harness.Start(t, harness.Dialect("postgres"))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	for round := 1; round <= 3; round++ {
		room := host.CreateRoom(map[string]any{})
		for i := 0; i < 3; i++ {
			if _, res := srv.Join(room.Code, new(fmt.Sprintf("Guest %d", i))); len(res.Errors) != 0 {
				t.Fatal(res.Errors)
			}
		}
		tally := srv.Concurrently(20, func(int) string {
			return host.GQL(endRoom, map[string]any{"id": room.ID}).Outcome()
		})
		if tally["ok"] != 1 || tally["CONFLICT/ROOM_ENDED"] != 19 {
			t.Errorf("round %d: %v; want 1 ok and 19 CONFLICT/ROOM_ENDED", round, tally)
		}
		var left []time.Time
		if err := srv.DB().NewRaw("SELECT DISTINCT left_at FROM participants WHERE room_id = ?", room.ID).Scan(context.Background(), &left); err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 {
			t.Errorf("round %d: participants left at %d different instants, want 1 (the end)", round, len(left))
		}
	}
}

// Joins racing an end: each join either happened before the end (and the
// end then removed it) or is refused because the room ended. None lands
// after the end.
func TestFault_JoinsRacingAnEnd(t *testing.T) {
	srv := harness.Start(t, harness.Dialect("postgres"))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	for round := 1; round <= 3; round++ {
		room := host.CreateRoom(map[string]any{"maxParticipants": 100})
		tally := srv.Concurrently(31, func(i int) string {
			if i == 15 {
				return "end:" + host.GQL(endRoom, map[string]any{"id": room.ID}).Outcome()
			}
			return srv.GQL(joinGuest, map[string]any{"c": room.Code, "g": fmt.Sprintf("Guest %d", i)}).Outcome()
		})
		if tally["end:ok"] != 1 || tally["ok"]+tally["CONFLICT/ROOM_ENDED"] != 30 {
			t.Errorf("round %d: %v; want the end to succeed and every join to be ok or CONFLICT/ROOM_ENDED", round, tally)
		}
		var active int
		if err := srv.DB().NewRaw("SELECT count(*) FROM participants WHERE room_id = ? AND is_active", room.ID).Scan(context.Background(), &active); err != nil {
			t.Fatal(err)
		}
		if active != 0 {
			t.Errorf("round %d: %d active participants in the ended room", round, active)
		}
	}
}

// PostgreSQL's backends are terminated (pg_terminate_backend) again and
// again while clients create rooms and join them: every answer is a
// success or a clean error (never an internal one), every acknowledged
// write is there, nothing is half-written, and the server recovers by
// itself.
func TestFault_BackendsTerminatedMidTraffic(t *testing.T) {
	dbURL := dbtest.NewPostgresDatabase(t)
	// A pool of 4 for 6 workers: requests wait for connections that die.
	bdb := harness.OpenDB(t, dbURL)
	if _, err := db.Migrate(context.Background(), bdb); err != nil {
		t.Fatal(err)
	}
	srv := harness.Start(t, harness.WithDB(bdb))
	killer := harness.OpenDB(t, dbURL)
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	seed := host.CreateRoom(map[string]any{"maxParticipants": 100})

	var (
		mu       sync.Mutex
		outcomes = map[string]int{}
		acked    []string // room ids whose creation was acknowledged
	)
	load := srv.StartLoad(6, func(w, i int) bool {
		var o string
		if i%2 == 0 {
			res := host.GQL(`mutation { createRoom(input: {maxParticipants: 3}) { id } }`, nil)
			o = res.Outcome()
			if o == "ok" {
				var data struct{ CreateRoom struct{ ID string } }
				_ = json.Unmarshal(res.Data, &data)
				mu.Lock()
				acked = append(acked, data.CreateRoom.ID)
				mu.Unlock()
			}
		} else {
			o = srv.GQL(joinGuest, map[string]any{"c": seed.Code, "g": fmt.Sprintf("W%d-%d", w, i)}).Outcome()
		}
		mu.Lock()
		outcomes[o]++
		mu.Unlock()
		return true
	})
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
	load.Stop()
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
	harness.Eventually(t, 10*time.Second, "serving again", func() bool {
		return host.GQL(`{ me { id } }`, nil).Outcome() == "ok"
	})
	var present int
	if err := bdb.NewRaw("SELECT count(*) FROM rooms WHERE id IN (?)", bun.In(acked)).Scan(context.Background(), &present); err != nil {
		t.Fatal(err)
	}
	if present != len(acked) {
		t.Errorf("%d of %d acknowledged rooms are in the database", present, len(acked))
	}
}

// SIGTERM in the middle of a burst of writes: the server stops taking
// connections, finishes what it accepted, and exits 0; every write it
// acknowledged is in the database, whole.
func TestFault_SIGTERMDuringWriteBurst(t *testing.T) {
	srv := harness.Start(t, harness.RealProcess(), harness.Dialect("postgres"), harness.WithEnv(map[string]string{"SHUTDOWN_TIMEOUT": "20s"}))
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)

	var (
		mu    sync.Mutex
		acked []string
		sent  int
	)
	load := srv.StartLoad(8, func(int, int) bool {
		mu.Lock()
		sent++
		mu.Unlock()
		res, err := host.TryGQL(`mutation { createRoom(input: {name: "Burst"}) { id } }`, nil)
		if err != nil && res.Status == 0 {
			return false // the server is gone: stop
		}
		var data struct{ CreateRoom struct{ ID string } }
		if len(res.Errors) == 0 && json.Unmarshal(res.Data, &data) == nil && data.CreateRoom.ID != "" {
			mu.Lock()
			acked = append(acked, data.CreateRoom.ID)
			mu.Unlock()
		}
		return true
	})
	time.Sleep(400 * time.Millisecond)
	if err := srv.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.Exited():
		if err != nil {
			t.Errorf("server exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server still running 30 s after SIGTERM")
	}
	load.Wait()
	t.Logf("%d requests sent, %d acknowledged before and during shutdown", sent, len(acked))
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged: the burst proved nothing")
	}
	var present int
	if err := srv.DB().NewRaw("SELECT count(*) FROM rooms r JOIN room_settings s ON s.room_id = r.id WHERE r.id IN (?)", bun.In(acked)).Scan(context.Background(), &present); err != nil {
		t.Fatal(err)
	}
	if present != len(acked) {
		t.Errorf("%d of %d acknowledged rooms are in the database with their settings", present, len(acked))
	}
}
