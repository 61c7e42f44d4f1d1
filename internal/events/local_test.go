package events

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func ev(room string, t Type, n int) *Event {
	name := fmt.Sprint(n)
	return &Event{RoomID: room, Type: t, Time: time.Unix(int64(n), 0), RoomName: &name}
}

// next receives one event, failing the test if none comes in time.
func next(t *testing.T, s *Subscription) *Event {
	t.Helper()
	select {
	case e, ok := <-s.Events():
		if !ok {
			t.Fatalf("subscription ended (err %v), want an event", s.Err())
		}
		return e
	case <-time.After(5 * time.Second):
		t.Fatal("no event within 5s")
	}
	return nil
}

// ended waits for the subscription to end and returns why.
func ended(t *testing.T, s *Subscription) error {
	t.Helper()
	for {
		select {
		case e, ok := <-s.Events():
			if !ok {
				return s.Err()
			}
			t.Fatalf("got event %s %s, want the end", e.Type, *e.RoomName)
		case <-time.After(5 * time.Second):
			t.Fatal("subscription did not end within 5s")
		}
	}
}

func TestLocal_DeliversEachRoomsEventsInOrderToItsSubscribers(t *testing.T) {
	b := NewLocal(Options{})
	defer b.Close()
	ctx := context.Background()
	a1, _ := b.Subscribe(ctx, "a", nil)
	a2, _ := b.Subscribe(ctx, "a", nil)
	other, _ := b.Subscribe(ctx, "b", nil)
	if n := b.Subscribers(); n != 3 {
		t.Fatalf("Subscribers = %d, want 3", n)
	}
	for i := range 10 {
		if err := b.Publish(ctx, ev("a", SettingsChanged, i)); err != nil {
			t.Fatal(err)
		}
	}
	_ = b.Publish(ctx, ev("b", RoomLocked, 99))
	for _, s := range []*Subscription{a1, a2} {
		for i := range 10 {
			if got := *next(t, s).RoomName; got != fmt.Sprint(i) {
				t.Fatalf("event %d is %s: out of order", i, got)
			}
		}
	}
	if got := next(t, other); got.Type != RoomLocked || got.RoomID != "b" {
		t.Fatalf("room b got %+v", got)
	}
	select {
	case e := <-other.Events():
		t.Fatalf("room b got room a's event %+v", e)
	default:
	}
}

func TestLocal_SlowSubscriberOverflowsWithoutBlockingOthers(t *testing.T) {
	b := NewLocal(Options{Buffer: 4})
	defer b.Close()
	ctx := context.Background()
	slow, _ := b.Subscribe(ctx, "r", nil) // never reads until the end
	fast, _ := b.Subscribe(ctx, "r", nil)
	got := make(chan int, 100)
	go func() {
		for e := range fast.Events() {
			got <- len(got)
			_ = e
		}
	}()
	published := make(chan struct{})
	go func() {
		for i := range 100 {
			_ = b.Publish(ctx, ev("r", SettingsChanged, i))
			// Let the fast reader keep up, as a live client does: only
			// the slow one falls behind.
			for len(got) < i+1 {
				time.Sleep(10 * time.Microsecond)
			}
		}
		close(published)
	}()
	select {
	case <-published:
	case <-time.After(10 * time.Second):
		t.Fatal("publishing blocked on a subscriber that does not read")
	}
	if len(got) != 100 {
		t.Fatalf("the reading subscriber got %d of 100 events", len(got))
	}
	// The slow one keeps what fitted in its buffer, then learns it fell behind.
	for i := range 4 {
		if e := next(t, slow); *e.RoomName != fmt.Sprint(i) {
			t.Fatalf("slow subscriber's event %d is %s", i, *e.RoomName)
		}
	}
	if err := ended(t, slow); !errors.Is(err, ErrOverflow) {
		t.Fatalf("slow subscriber ended with %v, want ErrOverflow", err)
	}
	if n := b.Subscribers(); n != 1 {
		t.Fatalf("Subscribers = %d after the overflow, want 1", n)
	}
}

func TestLocal_RoomEndedIsTheLastEvent(t *testing.T) {
	b := NewLocal(Options{})
	defer b.Close()
	ctx := context.Background()
	s, _ := b.Subscribe(ctx, "r", nil)
	_ = b.Publish(ctx, ev("r", ParticipantLeft, 1), ev("r", RoomEnded, 2), ev("r", SettingsChanged, 3))
	if e := next(t, s); e.Type != ParticipantLeft {
		t.Fatalf("first event %s", e.Type)
	}
	if e := next(t, s); e.Type != RoomEnded {
		t.Fatalf("second event %s", e.Type)
	}
	if err := ended(t, s); err != nil {
		t.Fatalf("ended with %v, want a normal end", err)
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("Subscribers = %d, want 0", n)
	}
}

func TestLocal_EndAfterEndsOnlyThatSubscription(t *testing.T) {
	b := NewLocal(Options{})
	defer b.Close()
	ctx := context.Background()
	me, _ := b.Subscribe(ctx, "r", func(e *Event) bool { return e.Type == ParticipantLeft && *e.RoomName == "me" })
	host, _ := b.Subscribe(ctx, "r", nil)
	name := "me"
	left := &Event{RoomID: "r", Type: ParticipantLeft, RoomName: &name}
	_ = b.Publish(ctx, ev("r", ParticipantLeft, 1), left, ev("r", RoomLocked, 2))
	next(t, me)
	if e := next(t, me); e != left {
		t.Fatalf("got %+v, want its own departure", e)
	}
	if err := ended(t, me); err != nil {
		t.Fatalf("ended with %v", err)
	}
	for _, want := range []Type{ParticipantLeft, ParticipantLeft, RoomLocked} {
		if e := next(t, host); e.Type != want {
			t.Fatalf("host got %s, want %s", e.Type, want)
		}
	}
}

func TestLocal_ContextEndsSubscription(t *testing.T) {
	b := NewLocal(Options{})
	defer b.Close()
	ctx, cancel := context.WithCancel(context.Background())
	s, _ := b.Subscribe(ctx, "r", nil)
	cancel()
	if err := ended(t, s); err != nil {
		t.Fatalf("ended with %v, want a normal end", err)
	}
	if n := b.Subscribers(); n != 0 {
		t.Fatalf("Subscribers = %d, want 0", n)
	}
}

func TestLocal_CloseEndsSubscriptionsAndRefusesNewOnes(t *testing.T) {
	b := NewLocal(Options{})
	s, _ := b.Subscribe(context.Background(), "r", nil)
	_ = b.Close()
	if err := ended(t, s); !errors.Is(err, ErrClosed) {
		t.Fatalf("ended with %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(context.Background(), "r", nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v, want ErrClosed", err)
	}
	_ = b.Close() // idempotent
}

func hostEv(host, room string, t Type, n int) *Event {
	e := ev(room, t, n)
	e.HostID = host
	return e
}

// A host's feed carries every state change of every room they host, rooms
// created after it opened included, in order; not their chat, not other
// hosts' rooms; a room's end does not end it. A room's own subscribers
// never see ROOM_CREATED (roomEvents has no such type).
func TestLocal_HostFeedCarriesEveryHostedRoomsChanges(t *testing.T) {
	b := NewLocal(Options{})
	defer b.Close()
	ctx := context.Background()
	feed, err := b.SubscribeHost(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	otherFeed, _ := b.SubscribeHost(ctx, "other")
	roomSub, _ := b.Subscribe(ctx, "new", nil)
	if n := b.Subscribers(); n != 3 {
		t.Fatalf("Subscribers = %d, want 3", n)
	}
	_ = b.Publish(ctx,
		hostEv("h", "new", RoomCreated, 0),
		hostEv("h", "new", ParticipantJoined, 1),
		hostEv("h", "new", MessageSent, 2),
		hostEv("h", "old", RoomLocked, 3),
		hostEv("other", "theirs", RoomLocked, 4),
		hostEv("h", "new", RoomEnded, 5),
		hostEv("h", "old", SettingsChanged, 6),
	)
	for _, want := range []string{"0", "1", "3", "5", "6"} {
		if got := next(t, feed); *got.RoomName != want {
			t.Fatalf("feed got event %s (%s), want %s", *got.RoomName, got.Type, want)
		}
	}
	if got := next(t, otherFeed); *got.RoomName != "4" {
		t.Fatalf("the other host's feed got %s", *got.RoomName)
	}
	for _, want := range []Type{ParticipantJoined, MessageSent, RoomEnded} {
		if got := next(t, roomSub); got.Type != want {
			t.Fatalf("the room's subscriber got %s, want %s", got.Type, want)
		}
	}
	if err := ended(t, roomSub); err != nil {
		t.Fatalf("room subscription ended with %v", err)
	}
	select {
	case e := <-feed.Events():
		t.Fatalf("feed got %+v after its last event, or ended with the room", e)
	default:
	}
	if n := b.Subscribers(); n != 2 {
		t.Fatalf("Subscribers = %d, want the 2 feeds", n)
	}
	b.Close()
	if err := ended(t, feed); !errors.Is(err, ErrClosed) {
		t.Fatalf("feed ended with %v at Close, want ErrClosed", err)
	}
}

// A feed that falls behind ends with ErrOverflow, as a room's does.
func TestLocal_HostFeedOverflows(t *testing.T) {
	b := NewLocal(Options{Buffer: 2})
	defer b.Close()
	feed, _ := b.SubscribeHost(context.Background(), "h")
	for i := range 3 {
		_ = b.Publish(context.Background(), hostEv("h", fmt.Sprint("r", i), RoomLocked, i))
	}
	next(t, feed)
	next(t, feed)
	if err := ended(t, feed); !errors.Is(err, ErrOverflow) {
		t.Fatalf("ended with %v, want ErrOverflow", err)
	}
}
