package service_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/service"
)

// withBroker gives the service an in-process broker, closed after the test.
func withBroker(t *testing.T) func(*service.Deps) {
	broker := events.NewLocal(events.Options{Buffer: 1000})
	t.Cleanup(func() { _ = broker.Close() })
	return func(d *service.Deps) { d.Events = broker }
}

func nextEvent(t *testing.T, s *events.Subscription) *events.Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatalf("the feed ended (%v), want an event", s.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return nil
}

// The host's feed: each room's changes with the count present after each
// join and departure; a repeated join and a refused one announce nothing.
func TestMyRooms_CarriesTheHostsRoomsWithTheirCounts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb, withBroker(t))
		host, ada := e.user(t, "Host"), e.user(t, "Ada")
		feed, err := e.svc.MyRooms(asUser(host.ID))
		mustNoErr(t, err)
		defer feed.Close()
		expect := func(typ events.Type, roomID string, active int) *events.Event {
			t.Helper()
			ev := nextEvent(t, feed)
			if ev.Type != typ || ev.RoomID != roomID || ev.HostID != host.ID {
				t.Fatalf("got %s for room %s of %s, want %s for %s", ev.Type, ev.RoomID, ev.HostID, typ, roomID)
			}
			if (active < 0) != (ev.ActiveParticipants == nil) || (active >= 0 && *ev.ActiveParticipants != active) {
				t.Fatalf("%s carries %v present, want %d", typ, ev.ActiveParticipants, active)
			}
			return ev
		}

		room := e.room(t, host.ID, service.CreateRoomInput{})
		if ev := expect(events.RoomCreated, room.Room.ID, 0); !ev.Time.Equal(room.Room.CreatedAt) {
			t.Fatalf("created at %v, want %v", ev.Time, room.Room.CreatedAt)
		}
		in := e.join(t, asUser(ada.ID), room.Room.Code, nil)
		e.join(t, asUser(ada.ID), room.Room.Code, nil) // already present: no event
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		expect(events.ParticipantJoined, room.Room.ID, 1)
		expect(events.ParticipantJoined, room.Room.ID, 2)
		_, err = e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{IsLocked: ptr(true)})
		mustNoErr(t, err)
		expect(events.RoomLocked, room.Room.ID, -1)
		_, err = e.svc.JoinRoom(asUser(e.user(t, "Eve").ID), room.Room.Code, nil)
		wantErr(t, err, apperr.Forbidden, apperr.RoomLocked)
		_, err = e.svc.SendMessage(asGuest(guest), room.Room.ID, "hi") // chat is not in the feed
		mustNoErr(t, err)
		e.leave(t, asUser(host.ID), in.Participant.ID)
		if ev := expect(events.ParticipantLeft, room.Room.ID, 1); ev.Participant.ID != in.Participant.ID {
			t.Fatalf("left: %+v", ev.Participant)
		}
		e.end(t, host.ID, room.Room.ID)
		expect(events.RoomEnded, room.Room.ID, 0)
		// Still open after the end: the next room is in it too.
		next := e.room(t, host.ID, service.CreateRoomInput{})
		expect(events.RoomCreated, next.Room.ID, 0)
	})
}

// Only a user's token opens a feed.
func TestMyRooms_UsersOnly(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb, withBroker(t))
		host := e.user(t, "Host")
		guest := e.joinGuest(t, e.room(t, host.ID, service.CreateRoomInput{}).Room.Code, "Gus")
		_, err := e.svc.MyRooms(anon())
		wantErr(t, err, apperr.Unauthenticated, "")
		_, err = e.svc.MyRooms(asBadToken())
		wantErr(t, err, apperr.Unauthenticated, "")
		_, err = e.svc.MyRooms(asGuest(guest))
		wantErr(t, err, apperr.Forbidden, "")
		_, err = e.svc.MyRooms(asUser("cnosuchuser0000000000000"))
		wantErr(t, err, apperr.Unauthenticated, "")
	})
}

// slowFirstPublish is an in-process broker that, once armed, holds its
// first publication until release is closed or a bound passes: the widest
// window there is for a later change to overtake an earlier one's event.
type slowFirstPublish struct {
	events.Broker
	armed   atomic.Bool
	entered chan struct{}
	release chan struct{}
}

func (b *slowFirstPublish) Publish(ctx context.Context, evs ...*events.Event) error {
	// Only the first holds: later ones go straight through (a sync.Once
	// would make them wait for it, and hide what this is for).
	if b.armed.CompareAndSwap(true, false) {
		close(b.entered)
		select {
		case <-b.release:
		case <-time.After(300 * time.Millisecond):
		}
	}
	return b.Broker.Publish(ctx, evs...)
}

// With a broker published to after the commit, a change that commits
// while an earlier one's event is still on its way waits for it: the feed
// hears joins in the order they committed, each count one more than the
// last. Were the second join to commit and publish meanwhile, it would
// return (releasing the first) and its count of 2 would come first.
func TestMyRooms_EventsKeepCommitOrderWhenPublishedAfterCommit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		local := events.NewLocal(events.Options{})
		t.Cleanup(func() { _ = local.Close() })
		broker := &slowFirstPublish{Broker: local, entered: make(chan struct{}), release: make(chan struct{})}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Events = broker })
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		feed, err := e.svc.MyRooms(asUser(host.ID))
		mustNoErr(t, err)
		defer feed.Close()

		broker.armed.Store(true)
		join := func(name string) {
			if _, err := e.svc.JoinRoom(anon(), room.Room.Code, &name); err != nil {
				t.Error(err)
			}
		}
		var wg sync.WaitGroup
		wg.Go(func() { join("First") })
		<-broker.entered // the first join has committed; its event is held
		wg.Go(func() {
			join("Second")
			close(broker.release)
		})
		wg.Wait()
		for want := 1; want <= 2; want++ {
			ev := nextEvent(t, feed)
			if ev.Type != events.ParticipantJoined || *ev.ActiveParticipants != want {
				t.Fatalf("event %d: %s with %d present, want PARTICIPANT_JOINED with %d", want, ev.Type, *ev.ActiveParticipants, want)
			}
		}
	})
}
