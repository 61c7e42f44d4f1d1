package service_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

func (e *env) send(t testing.TB, ctx context.Context, roomID, content string) *models.Message {
	t.Helper()
	m, err := e.svc.SendMessage(ctx, roomID, content)
	if err != nil {
		t.Fatalf("send %q: %v", content, err)
	}
	return m
}

func (e *env) page(t testing.TB, roomID string, first int, before string) []*models.Message {
	t.Helper()
	key := service.MessagePageKey{RoomID: roomID, First: first, Before: before}
	pages, err := e.svc.MessagesByPages(context.Background(), []service.MessagePageKey{key})
	if err != nil {
		t.Fatal(err)
	}
	return pages[key]
}

func TestSendMessage_ActiveParticipantsAndTheHostMayPost(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		annIn := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		guest := e.joinGuest(t, room.Room.Code, "Gus")

		m := e.send(t, asUser(ann.ID), room.Room.ID, "  hello\n\tworld  ")
		if *m.Content != "hello\n\tworld" || *m.SenderName != "Ann" || m.Type != models.MessageText ||
			*m.ParticipantID != annIn.Participant.ID || *m.UserID != ann.ID {
			t.Fatalf("ann's message: %+v", m)
		}
		g := e.send(t, asGuest(guest), room.Room.ID, "hi from a guest")
		if *g.SenderName != "Gus" || g.UserID != nil || *g.ParticipantID != guest.Participant.ID {
			t.Fatalf("guest's message: %+v", g)
		}
		// The host posts without having joined: no participant.
		h := e.send(t, asUser(host.ID), room.Room.ID, "welcome")
		if *h.SenderName != "Host" || h.ParticipantID != nil || *h.UserID != host.ID {
			t.Fatalf("host's message: %+v", h)
		}
		if n := e.count(t, "messages", "room_id = ?", room.Room.ID); n != 3 {
			t.Fatalf("%d messages stored, want 3", n)
		}
	})
}

func TestSendMessage_OthersAreNotInTheRoom(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann, bob := e.user(t, "Host"), e.user(t, "Ann"), e.user(t, "Bob")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		other := e.room(t, host.ID, service.CreateRoomInput{})
		annIn := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		elsewhere := e.joinGuest(t, other.Room.Code, "Eve")
		e.leave(t, asUser(ann.ID), annIn.Participant.ID)
		e.leave(t, asGuest(guest), guest.Participant.ID)

		e.unchanged(t, func() {
			for name, ctx := range map[string]context.Context{
				"a stranger":                                asUser(bob.ID),
				"a user who left":                           asUser(ann.ID),
				"a guest who left":                          asGuest(guest),
				"a guest of another room":                   asGuest(elsewhere),
				"a guest's token on its room's id mismatch": asParticipant(elsewhere.Participant.ID, room.Room.ID),
			} {
				_, err := e.svc.SendMessage(ctx, room.Room.ID, "hello")
				t.Run(name, func(t *testing.T) { wantErr(t, err, apperr.Forbidden, apperr.NotInRoom) })
			}
			_, err := e.svc.SendMessage(asUser(bob.ID), "no-such-room", "hello")
			wantErr(t, err, apperr.Forbidden, apperr.NotInRoom) // whether or not it exists
			_, err = e.svc.SendMessage(anon(), room.Room.ID, "hello")
			wantErr(t, err, apperr.Unauthenticated, "")
		})
	})
}

func TestSendMessage_ChatOffLeavesOnlyTheHost(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{AllowChat: ptr(false)})
		e.join(t, asUser(ann.ID), room.Room.Code, nil)
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		hostIn := e.join(t, asUser(host.ID), room.Room.Code, nil)
		e.unchanged(t, func() {
			_, err := e.svc.SendMessage(asUser(ann.ID), room.Room.ID, "hello")
			wantErr(t, err, apperr.Forbidden, apperr.ChatDisabled)
			_, err = e.svc.SendMessage(asGuest(guest), room.Room.ID, "hello")
			wantErr(t, err, apperr.Forbidden, apperr.ChatDisabled)
		})
		e.send(t, asUser(host.ID), room.Room.ID, "only I may speak")
		e.send(t, asGuest(hostIn), room.Room.ID, "with my participant token too")
		if _, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{AllowChat: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		e.send(t, asUser(ann.ID), room.Room.ID, "now we may")
	})
}

func TestSendMessage_EndedRoomsTakeNoMessages(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.join(t, asUser(ann.ID), room.Room.Code, nil)
		e.end(t, host.ID, room.Room.ID)
		e.unchanged(t, func() {
			_, err := e.svc.SendMessage(asUser(host.ID), room.Room.ID, "hello?")
			wantErr(t, err, apperr.Conflict, apperr.RoomEnded)
			// Everyone else left with the end.
			_, err = e.svc.SendMessage(asUser(ann.ID), room.Room.ID, "hello?")
			wantErr(t, err, apperr.Forbidden, apperr.NotInRoom)
		})
	})
}

func TestSendMessage_ContentRules(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.unchanged(t, func() {
			for name, content := range map[string]string{
				"empty":             "",
				"only whitespace":   " \n\t ",
				"too long":          strings.Repeat("é", service.MaxMessageLength+1),
				"a NUL":             "a\x00b",
				"a carriage return": "a\rb",
				"an escape":         "\x1b[2Jcleared",
				"a bell":            "ding\a",
				"a C1 control":      "a\u0085b",
			} {
				_, err := e.svc.SendMessage(asUser(host.ID), room.Room.ID, content)
				t.Run(name, func(t *testing.T) { wantInvalid(t, err, "content") })
			}
		})
		longest := strings.Repeat("😀", service.MaxMessageLength)
		if m := e.send(t, asUser(host.ID), room.Room.ID, " "+longest+"\n"); *m.Content != longest {
			t.Fatal("the longest message was altered")
		}
	})
}

func TestSendMessage_RateLimitedPerParticipant(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb, withLimits(map[ratelimit.Op]ratelimit.Rates{
			ratelimit.SendMessage: {PerAccount: ratelimit.Rate{N: 3, Per: time.Hour}},
		}))
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.join(t, asUser(ann.ID), room.Room.Code, nil)
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		for i := range 3 {
			e.send(t, asUser(ann.ID), room.Room.ID, fmt.Sprint(i))
		}
		_, err := e.svc.SendMessage(asUser(ann.ID), room.Room.ID, "one more")
		if wantErr(t, err, apperr.TooManyRequests, "").RetryAfter <= 0 {
			t.Fatal("no retryAfter")
		}
		// Another participant has an allowance of its own.
		for i := range 3 {
			e.send(t, asGuest(guest), room.Room.ID, fmt.Sprint(i))
		}
		e.send(t, asUser(host.ID), room.Room.ID, "the host too")
	})
}

func TestDeleteMessage_SenderOrHostKeepsItsPlace(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann, bob := e.user(t, "Host"), e.user(t, "Ann"), e.user(t, "Bob")
		stranger := e.user(t, "Stranger")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.join(t, asUser(ann.ID), room.Room.Code, nil)
		e.join(t, asUser(bob.ID), room.Room.Code, nil)
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		first := e.send(t, asUser(ann.ID), room.Room.ID, "first")
		byAnn := e.send(t, asUser(ann.ID), room.Room.ID, "oops")
		byGuest := e.send(t, asGuest(guest), room.Room.ID, "spam")
		last := e.send(t, asUser(bob.ID), room.Room.ID, "last")

		e.unchanged(t, func() {
			_, err := e.svc.DeleteMessage(asUser(bob.ID), byAnn.ID)
			wantErr(t, err, apperr.Forbidden, apperr.NotSender)
			_, err = e.svc.DeleteMessage(asGuest(guest), byAnn.ID)
			wantErr(t, err, apperr.Forbidden, apperr.NotSender)
			_, err = e.svc.DeleteMessage(asUser(stranger.ID), byAnn.ID)
			wantErr(t, err, apperr.NotFound, "")
			_, err = e.svc.DeleteMessage(asUser(ann.ID), "no-such-message")
			wantErr(t, err, apperr.NotFound, "")
		})
		d, err := e.svc.DeleteMessage(asUser(ann.ID), byAnn.ID)
		mustNoErr(t, err)
		if d.Content != nil || d.DeletedAt == nil {
			t.Fatalf("deleted: %+v", d)
		}
		again, err := e.svc.DeleteMessage(asUser(ann.ID), byAnn.ID)
		mustNoErr(t, err)
		if !again.DeletedAt.Equal(*d.DeletedAt) {
			t.Fatal("deleting again changed the message")
		}
		_, err = e.svc.DeleteMessage(asUser(host.ID), byGuest.ID) // the host moderates
		mustNoErr(t, err)

		page := e.page(t, room.Room.ID, 10, "")
		var got []string
		for _, m := range page {
			c := "<deleted>"
			if m.Content != nil {
				c = *m.Content
			}
			got = append(got, m.ID+"="+c)
		}
		want := []string{last.ID + "=last", byGuest.ID + "=<deleted>", byAnn.ID + "=<deleted>", first.ID + "=first"}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("page:\n%v\nwant:\n%v", got, want)
		}

		// A guest who has left may no longer act in the room.
		mine := e.send(t, asGuest(guest), room.Room.ID, "bye")
		e.leave(t, asGuest(guest), guest.Participant.ID)
		_, err = e.svc.DeleteMessage(asGuest(guest), mine.ID)
		wantErr(t, err, apperr.Forbidden, apperr.NotInRoom)
	})
}

func TestRoomMessages_NewestFirstPagingBackByKeyset(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		e := newEnv(t, bdb, func(d *service.Deps) {
			d.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return at } // every message in one millisecond: ties go by id
		})
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		other := e.room(t, host.ID, service.CreateRoomInput{})
		var sent []*models.Message
		for i := range 7 {
			sent = append(sent, e.send(t, asUser(host.ID), room.Room.ID, fmt.Sprint(i)))
			e.send(t, asUser(host.ID), other.Room.ID, fmt.Sprint(i))
		}
		var all []string
		before := ""
		for {
			page := e.page(t, room.Room.ID, 3, before)
			if len(page) == 0 {
				break
			}
			for _, m := range page {
				if m.RoomID != room.Room.ID {
					t.Fatal("another room's message")
				}
				all = append(all, m.ID)
			}
			before = page[len(page)-1].ID
		}
		if len(all) != len(sent) {
			t.Fatalf("paged %d messages, want %d", len(all), len(sent))
		}
		seen := map[string]bool{}
		for i, id := range all {
			if seen[id] {
				t.Fatal("a message on two pages")
			}
			seen[id] = true
			if i > 0 && all[i-1] < id {
				t.Fatal("ties are not newest (highest id) first")
			}
		}
		// A cursor from another room is not this room's.
		key := service.MessagePageKey{RoomID: room.Room.ID, First: 3, Before: e.page(t, other.Room.ID, 1, "")[0].ID}
		_, err := e.svc.MessagesByPages(context.Background(), []service.MessagePageKey{key})
		wantInvalid(t, err, "before")
		if _, err := service.CheckMessagePage(room.Room.ID, service.MessagePage{First: ptr(101)}); err == nil {
			t.Fatal("a page of 101")
		}
	})
}

func TestRoomMessages_ManyRoomsInOneStatement(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		var keys []service.MessagePageKey
		for i := range 5 {
			room := e.room(t, host.ID, service.CreateRoomInput{})
			for j := range i {
				e.send(t, asUser(host.ID), room.Room.ID, fmt.Sprint(j))
			}
			keys = append(keys, service.MessagePageKey{RoomID: room.Room.ID, First: 2})
		}
		pages, err := e.svc.MessagesByPages(context.Background(), keys)
		mustNoErr(t, err)
		for i, k := range keys {
			if got, want := len(pages[k]), min(i, 2); got != want {
				t.Fatalf("room %d: %d messages, want %d", i, got, want)
			}
		}
	})
}

func TestSystemMessages_LockUnlockAndEnd(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.joinGuest(t, room.Room.Code, "Gus") // joins and leaves write none
		for _, locked := range []bool{true, true, false} {
			_, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{IsLocked: ptr(locked)})
			mustNoErr(t, err)
		}
		e.end(t, host.ID, room.Room.ID)
		var got []string
		for _, m := range e.page(t, room.Room.ID, 10, "") {
			if m.Type != models.MessageSystem || m.SenderName != nil || m.ParticipantID != nil || m.UserID != nil {
				t.Fatalf("not a system message: %+v", m)
			}
			got = append([]string{*m.Content}, got...)
		}
		want := "The host locked the room|The host unlocked the room|The meeting has ended"
		if strings.Join(got, "|") != want {
			t.Fatalf("system messages %q, want %q", strings.Join(got, "|"), want)
		}
	})
}

// Many participants posting at once: every message is stored once, and
// every subscriber hears them all, once each, in one order.
func TestSendMessage_ConcurrentSendersOneOrderForEverySubscriber(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		broker := events.NewLocal(events.Options{Buffer: 1000})
		t.Cleanup(func() { _ = broker.Close() })
		e := newEnv(t, bdb, func(d *service.Deps) { d.Events = broker })
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		const senders, each = 8, 5
		var guests []*service.JoinResult
		for i := range senders {
			guests = append(guests, e.joinGuest(t, room.Room.Code, fmt.Sprintf("G%d", i)))
		}
		var subs []*events.Subscription
		for _, g := range guests[:3] {
			s, err := e.svc.RoomEvents(asGuest(g), room.Room.ID)
			mustNoErr(t, err)
			subs = append(subs, s)
		}
		var wg sync.WaitGroup
		for i, g := range guests {
			wg.Go(func() {
				for j := range each {
					if _, err := e.svc.SendMessage(asGuest(g), room.Room.ID, fmt.Sprintf("%d-%d", i, j)); err != nil {
						t.Error(err)
					}
				}
			})
		}
		wg.Wait()
		if n := e.count(t, "messages", "room_id = ?", room.Room.ID); n != senders*each {
			t.Fatalf("%d messages stored, want %d", n, senders*each)
		}
		var orders [][]string
		for _, s := range subs {
			var order []string
			for range senders * each {
				select {
				case ev := <-s.Events():
					if ev.Type != events.MessageSent {
						t.Fatalf("event %s", ev.Type)
					}
					order = append(order, *ev.Message.Content)
				case <-time.After(5 * time.Second):
					t.Fatalf("heard %d messages, want %d", len(order), senders*each)
				}
			}
			orders = append(orders, order)
		}
		seen := map[string]bool{}
		for _, c := range orders[0] {
			if seen[c] {
				t.Fatalf("%s heard twice", c)
			}
			seen[c] = true
		}
		for _, o := range orders[1:] {
			if strings.Join(o, ",") != strings.Join(orders[0], ",") {
				t.Fatal("subscribers heard different orders")
			}
		}
	})
}
