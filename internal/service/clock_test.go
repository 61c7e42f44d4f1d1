package service_test

import (
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/service"
)

// tickingClock moves one step further each time it is read, so that every
// change it times has a time of its own.
type tickingClock struct {
	mu   sync.Mutex
	next time.Time
	step time.Duration
}

func (c *tickingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.next
	c.next = c.next.Add(c.step)
	return t
}

// Every timestamp the service stores comes from Deps.Now, in UTC at
// millisecond precision, on both dialects: a test with a clock needs no
// sleeps to tell one change from the next.
func TestDepsNow_TimesEveryChange(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		// Years from now, off UTC, and with sub-millisecond digits: a time
		// taken from the wall clock, left in its zone or not truncated
		// cannot pass for one of these.
		start := time.Date(2031, 3, 4, 12, 0, 0, 123_456_789, time.FixedZone("UTC+2", 2*60*60))
		clock := &tickingClock{next: start, step: time.Second + 7*time.Microsecond}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		// tick is the time of the n-th change (counting from 0) as stored.
		tick := func(n int) time.Time {
			return start.Add(time.Duration(n) * clock.step).UTC().Truncate(time.Millisecond)
		}
		want := func(what string, got time.Time, n int) {
			t.Helper()
			if !got.Equal(tick(n)) {
				t.Errorf("%s is %s, want the clock's reading %d, %s", what, got.UTC().Format(time.RFC3339Nano), n, tick(n).Format(time.RFC3339Nano))
			}
		}

		host := e.user(t, "Hanna")                                                                              // 0
		_, err := e.svc.UpdateProfile(asUser(host.ID), service.UpdateProfileInput{DisplayName: ptr("Hanna H")}) // 1
		mustNoErr(t, err)
		room := e.room(t, host.ID, service.CreateRoomInput{})                                                                    // 2
		guest := e.joinGuest(t, room.Room.Code, "Gus")                                                                           // 3
		_, err = e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{AllowChat: ptr(false)}) // 4
		mustNoErr(t, err)
		want("room updatedAt after the settings change", e.loadRoom(t, room.Room.ID).UpdatedAt, 4)
		e.leave(t, asGuest(guest), guest.Participant.ID) // 5
		stayer := e.joinGuest(t, room.Room.Code, "Stay") // 6
		e.end(t, host.ID, room.Room.ID)                  // 7

		u, ok := e.loadUserByEmail(t, host.Email)
		if !ok {
			t.Fatal("the host is gone")
		}
		want("user createdAt", u.CreatedAt, 0)
		want("user updatedAt", u.UpdatedAt, 1)
		r := e.loadRoom(t, room.Room.ID)
		want("room createdAt", r.CreatedAt, 2)
		if r.StartedAt == nil || r.EndedAt == nil {
			t.Fatalf("room startedAt %v, endedAt %v: want both set", r.StartedAt, r.EndedAt)
		}
		want("room startedAt", *r.StartedAt, 3)
		want("room endedAt", *r.EndedAt, 7)
		want("room updatedAt", r.UpdatedAt, 7)
		left := e.loadParticipant(t, guest.Participant.ID)
		want("first guest's joinedAt", left.JoinedAt, 3)
		if left.LeftAt == nil {
			t.Fatal("the first guest has not left")
		}
		want("first guest's leftAt", *left.LeftAt, 5)
		ended := e.loadParticipant(t, stayer.Participant.ID)
		want("second guest's joinedAt", ended.JoinedAt, 6)
		if ended.LeftAt == nil {
			t.Fatal("the room ended with the second guest still in it")
		}
		want("second guest's leftAt (the room's end)", *ended.LeftAt, 7)
	})
}
