package service_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
)

// The concurrency guarantees rest on PostgreSQL's row locks; SQLite runs one
// transaction at a time, so most of these tests run on PostgreSQL only.

// race runs n calls of fn at once (released together, as far as the
// scheduler allows) and returns their errors by index.
func race(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	wg.Wait()
	return errs
}

// warmPool opens n connections up front, so racing calls start together
// rather than one by one as each waits for a fresh connection.
func warmPool(t *testing.T, e *env, n int) {
	t.Helper()
	ctx := context.Background()
	conns := make([]*sql.Conn, n)
	for i := range conns {
		c, err := e.db.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.PingContext(ctx); err != nil {
			t.Fatal(err)
		}
		conns[i] = c
	}
	for _, c := range conns {
		_ = c.Close() // back to the idle pool
	}
}

// tally counts successes and checks every failure is the expected conflict
// (never an internal error).
func tally(t *testing.T, errs []error, reason apperr.Reason) (ok int) {
	t.Helper()
	for i, err := range errs {
		if err == nil {
			ok++
			continue
		}
		e, isApp := apperr.As(err)
		if !isApp || e.Code != apperr.Conflict || (reason != "" && e.Reason != reason) {
			t.Errorf("call %d: %v (code %q), want success or CONFLICT %s", i, err, apperr.CodeOf(err), reason)
		}
	}
	return ok
}

func TestJoinRoom_ConcurrentJoinsNeverExceedCapacity(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Open(t, "postgres"))
	const joiners, capacity = 50, 5
	host := e.user(t, "Host")
	users := make([]string, joiners)
	for i := range users {
		users[i] = e.user(t, fmt.Sprintf("User %d", i)).ID
	}
	warmPool(t, e, 20)
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(capacity)})
			joined := make([]*service.JoinResult, joiners)
			errs := race(joiners, func(i int) error {
				var err error
				// Signed-in users and guests compete for the same seats.
				if i%2 == 0 {
					joined[i], err = e.svc.JoinRoom(asUser(users[i]), room.Room.Code, nil)
				} else {
					joined[i], err = e.svc.JoinRoom(anon(), room.Room.Code, ptr(fmt.Sprintf("Guest %d", i)))
				}
				return err
			})
			if ok := tally(t, errs, "ROOM_FULL"); ok != capacity {
				t.Fatalf("%d joins succeeded, want exactly %d", ok, capacity)
			}
			if n := e.activeParticipants(t, room.Room.ID); n != capacity {
				t.Fatalf("%d active participants stored, want %d", n, capacity)
			}
			if n := e.count(t, "participants", "room_id = ?", room.Room.ID); n != capacity {
				t.Fatalf("%d participant rows stored, want %d", n, capacity)
			}
			stored := map[string]bool{}
			for _, p := range e.loadParticipants(t, room.Room.ID) {
				stored[p.ID] = true
			}
			for i, j := range joined {
				if (errs[i] == nil) != (j != nil) || (j != nil && !stored[j.Participant.ID]) {
					t.Fatalf("join %d: result %v error %v disagree with the stored rows", i, j, errs[i])
				}
			}
		})
	}
}

func TestRegister_ConcurrentSameEmailGivesOneAccountAndConflicts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Open(t, "postgres"))
	const callers = 10
	warmPool(t, e, callers)
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			email := fmt.Sprintf("race%d@example.com", round)
			errs := race(callers, func(i int) error {
				in := service.RegisterInput{Email: email, Password: "password1", DisplayName: fmt.Sprintf("Racer %d", i)}
				if i%2 == 1 {
					in.Email = strings.ToUpper(email) // the same address, typed differently
				}
				_, err := e.svc.Register(anon(), in)
				return err
			})
			if ok := tally(t, errs, "EMAIL_TAKEN"); ok != 1 {
				t.Fatalf("%d registrations succeeded, want exactly 1", ok)
			}
			if n := e.count(t, "users", "email = ?", email); n != 1 {
				t.Fatalf("%d users with %s, want 1", n, email)
			}
		})
	}
}

func TestEndRoom_ConcurrentEndsSucceedExactlyOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Open(t, "postgres"))
	host := e.user(t, "Host")
	const callers = 20
	warmPool(t, e, callers)
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			room := e.room(t, host.ID, service.CreateRoomInput{})
			for i := 0; i < 3; i++ {
				e.joinGuest(t, room.Room.Code, fmt.Sprintf("Guest %d", i))
			}
			errs := race(callers, func(int) error {
				_, err := e.svc.EndRoom(asUser(host.ID), room.Room.ID)
				return err
			})
			if ok := tally(t, errs, "ROOM_ENDED"); ok != 1 {
				t.Fatalf("%d EndRoom calls succeeded, want exactly 1", ok)
			}
			stored := e.loadRoom(t, room.Room.ID)
			if stored.IsActive || stored.EndedAt == nil {
				t.Fatalf("room not ended: %+v", stored)
			}
			for _, p := range e.loadParticipants(t, room.Room.ID) {
				if p.IsActive || p.LeftAt == nil || !p.LeftAt.Equal(*stored.EndedAt) {
					t.Fatalf("participant %+v not released at endedAt %v", p, stored.EndedAt)
				}
			}
		})
	}
}

// Joins racing the end of a room either get in before the end (and are
// released by it) or are refused: nobody is left inside an ended room, and
// nobody joined after it ended.
func TestJoinRoom_JoinsRacingTheEndLeaveNobodyInside(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Open(t, "postgres"))
	host := e.user(t, "Host")
	const joiners = 30
	users := make([]string, joiners+1) // indexed by call; the end takes one slot
	for i := range users {
		users[i] = e.user(t, fmt.Sprintf("User %d", i)).ID
	}
	warmPool(t, e, 20)
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(100)})
			errs := race(joiners+1, func(i int) error {
				if i == joiners/2 { // the end lands in the middle of the crowd
					_, err := e.svc.EndRoom(asUser(host.ID), room.Room.ID)
					return err
				}
				var err error
				if i%2 == 0 {
					_, err = e.svc.JoinRoom(asUser(users[i]), room.Room.Code, nil)
				} else {
					_, err = e.svc.JoinRoom(anon(), room.Room.Code, ptr(fmt.Sprintf("Guest %d", i)))
				}
				return err
			})
			if errs[joiners/2] != nil {
				t.Fatalf("EndRoom failed: %v", errs[joiners/2])
			}
			joined := tally(t, errs, "ROOM_ENDED") - 1
			stored := e.loadRoom(t, room.Room.ID)
			if stored.IsActive || stored.EndedAt == nil {
				t.Fatalf("room not ended: %+v", stored)
			}
			ps := e.loadParticipants(t, room.Room.ID)
			if len(ps) != joined {
				t.Fatalf("%d participants stored, %d joins succeeded", len(ps), joined)
			}
			for _, p := range ps {
				if p.IsActive {
					t.Errorf("participant %s still active in the ended room", p.ID)
				}
				if p.JoinedAt.After(*stored.EndedAt) {
					t.Errorf("participant %s joined at %v, after the room ended at %v", p.ID, p.JoinedAt, stored.EndedAt)
				}
				if p.LeftAt == nil || !p.LeftAt.Equal(*stored.EndedAt) {
					t.Errorf("participant %s left at %v, want endedAt %v", p.ID, p.LeftAt, stored.EndedAt)
				}
			}
			t.Logf("%d of %d joins got in before the end", joined, joiners)
		})
	}
}

func TestJoinRoom_SameUserJoiningConcurrentlyIsPresentOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Open(t, "postgres"))
	host, ann := e.user(t, "Host"), e.user(t, "Ann")
	const attempts = 10
	warmPool(t, e, attempts)
	for round := 1; round <= 3; round++ {
		t.Run(fmt.Sprintf("round %d", round), func(t *testing.T) {
			room := e.room(t, host.ID, service.CreateRoomInput{})
			ids := make([]string, attempts)
			errs := race(attempts, func(i int) error {
				j, err := e.svc.JoinRoom(asUser(ann.ID), room.Room.Code, nil)
				if err == nil {
					ids[i] = j.Participant.ID
				}
				return err
			})
			for i, err := range errs {
				if err != nil {
					t.Fatalf("join %d: %v", i, err)
				}
				if ids[i] != ids[0] {
					t.Fatalf("joins returned participants %s and %s", ids[0], ids[i])
				}
			}
			if n := e.count(t, "participants", "room_id = ? AND user_id = ?", room.Room.ID, ann.ID); n != 1 {
				t.Fatalf("%d participant rows for one user, want 1", n)
			}
			if n := e.activeParticipants(t, room.Room.ID); n != 1 {
				t.Fatalf("%d active participants, want 1", n)
			}
		})
	}
}

// The host lowering the cap while a crowd joins: whichever commits first,
// the room never holds more people than its maxParticipants. Nobody leaves
// during the race, so the active count only grows and the cap changes once:
// what holds when the race is over held at every commit before it.
// SQLite serialises the transactions itself; it runs too, since the rule
// must not depend on the dialect.
func TestUpdateRoomSettings_LoweringTheCapRacingJoinsNeverOverfillsTheRoom(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		const joiners, present, capacity = 20, 3, 20
		host := e.user(t, "Host")
		if db.IsPostgres(bdb) {
			warmPool(t, e, 20) // SQLite has one connection, which warmPool would wait on
		}
		outcomes := map[string]int{}
		// From a cap few joins fit under to one most do, so that rounds see
		// both the lowering refused and joins refused by the lowered cap.
		for _, lowered := range []int{5, 9, 13, 17, 19} {
			t.Run(fmt.Sprintf("lowered to %d", lowered), func(t *testing.T) {
				room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(capacity)})
				for i := range present {
					e.joinGuest(t, room.Room.Code, fmt.Sprintf("Early %d", i))
				}
				const lowerer = joiners / 2 // the update lands in the middle of the crowd
				errs := race(joiners+1, func(i int) error {
					if i == lowerer {
						_, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{MaxParticipants: ptr(lowered)})
						return err
					}
					_, err := e.svc.JoinRoom(anon(), room.Room.Code, ptr(fmt.Sprintf("Guest %d", i)))
					return err
				})
				lowering := errs[lowerer]
				errs[lowerer] = nil
				joined := tally(t, errs, apperr.RoomFull) - 1
				settings, active := e.loadSettings(t, room.Room.ID), e.activeParticipants(t, room.Room.ID)
				if active != present+joined {
					t.Fatalf("%d active participants, but %d were present and %d joins succeeded", active, present, joined)
				}
				if active > settings.MaxParticipants {
					t.Fatalf("%d active participants in a room of maxParticipants %d", active, settings.MaxParticipants)
				}
				if lowering == nil {
					outcomes["lowered"]++
					if settings.MaxParticipants != lowered {
						t.Fatalf("the lowering succeeded but maxParticipants is %d", settings.MaxParticipants)
					}
					return
				}
				outcomes["refused"]++
				if ev := wantInvalid(t, lowering, "maxParticipants"); ev.Reason != apperr.BelowActiveParticipants {
					t.Fatalf("lowering refused with reason %q, want %s", ev.Reason, apperr.BelowActiveParticipants)
				}
				if settings.MaxParticipants != capacity {
					t.Fatalf("the lowering was refused but maxParticipants is %d", settings.MaxParticipants)
				}
			})
		}
		t.Logf("lowering with %d present and %d joining: %v", present, joiners, outcomes)
	})
}
