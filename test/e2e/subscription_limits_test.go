package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

// Every event of a subscription is resolved once per subscriber, so a
// subscription's selection is held to GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY
// (1,000), and each event's resolution to what that leaves.

// The red team's selection: every subscriber resolving its user's rooms and
// their participants for every event. roomEvents 1 + participant (1 + user
// (1 + rooms (1 + 100 × (id, name 2 + participants (1 + 100 × 4))))):
// 40,304 (TestLimits_SubscriptionCosts).
const nestedRoomEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	participant { user { rooms { id name participants { id displayName user { displayName } } } } }
} }`

// Everything a client could want from an event: 28 (TestLimits_SubscriptionCosts).
const fullRoomEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	roomId type time roomName
	participant { id roomId userId guestName displayName isActive isHost joinedAt leftAt user { id displayName avatarUrl } }
	settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants allowParticipantVideo allowParticipantAudio }
} }`

func TestSubscriptionLimits_NestedSelectionRefusedBeforeAnySQL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		room := srv.createRoom(host.Token, nil)
		vars := map[string]any{"room": room.ID}

		ws, err := dialWS(t, srv.URL, host.Token)
		if err != nil {
			t.Fatal(err)
		}
		before := srv.stmts.Total()
		if code, _ := ws.subscribe(nestedRoomEventsQuery, vars).refused(5 * time.Second); code != "QUERY_TOO_COMPLEX" {
			t.Errorf("over a websocket: %s, want QUERY_TOO_COMPLEX", code)
		}

		s := subscribeSSE(t, srv.URL, host.Token, nestedRoomEventsQuery, vars)
		ev, _ := s.next(5 * time.Second)
		if ev.Event != "next" || ev.Data.code() != "QUERY_TOO_COMPLEX" || ev.Data.Errors[0].Extensions["limit"] != 1000.0 {
			t.Errorf("over SSE: %q %+v, want QUERY_TOO_COMPLEX with the limit of 1000", ev.Event, ev.Data)
		}
		if ev, ok := s.next(5 * time.Second); ok && ev.Event != "complete" {
			t.Errorf("SSE then sent %q", ev.Event)
		}
		if n := srv.stmts.Total() - before; n != 0 {
			t.Errorf("the refused subscriptions cost %d SQL statements, want 0", n)
		}
		waitSubscribers(t, srv, 0)
	})
}

func TestSubscriptionLimits_FullSelectionIsServed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		ada := srv.register("ada@example.com", "Ada")
		room := srv.createRoom(host.Token, nil)
		vars := map[string]any{"room": room.ID}

		ws, err := dialWS(t, srv.URL, host.Token)
		if err != nil {
			t.Fatal(err)
		}
		sub := ws.subscribe(fullRoomEventsQuery, vars)
		sse := subscribeSSE(t, srv.URL, host.Token, fullRoomEventsQuery, vars)
		waitSubscribers(t, srv, 2)
		_, res := srv.join(ada.Token, room.Code, nil)
		mustSucceed(t, "ada joins", res)
		mustSucceed(t, "chat off", srv.updateSettings(host.Token, room.ID, map[string]any{"allowChat": false}))
		for _, next := range []func() roomEvent{
			func() roomEvent { return sub.event(5 * time.Second) },
			func() roomEvent { return sse.event(5 * time.Second) },
		} {
			if e := next(); e.Type != "PARTICIPANT_JOINED" || e.Participant == nil || e.Participant.User == nil || e.Participant.User.DisplayName != "Ada" {
				t.Fatalf("got %+v, want Ada's PARTICIPANT_JOINED with her user", e)
			}
			if e := next(); e.Type != "SETTINGS_CHANGED" || e.Settings == nil || e.Settings.AllowChat {
				t.Fatalf("got %+v, want SETTINGS_CHANGED with chat off", e)
			}
		}
	})
}

// Each event is resolved within a budget of its own. roomEvents 1 + type 1
// + participant (1 + user (1 + rooms (1 + 5 × id))) costs 10 of the 20
// allowed: each event may spend 10 more, 1 per room beyond 5. The host
// steps in and out of a room four times with 8 rooms (3 each, 12 in all,
// more than one budget), then once with 16 (11: over).
func TestSubscriptionLimits_EachEventHasItsOwnBudget(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb, map[string]string{"GRAPHQL_DEFAULT_LIST_SIZE": "5", "GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY": "20"})
		host := srv.register("host@example.com", "Host")
		room := srv.createRoom(host.Token, nil)
		for range 7 {
			srv.createRoom(host.Token, nil)
		}
		ws, err := dialWS(t, srv.URL, host.Token)
		if err != nil {
			t.Fatal(err)
		}
		sub := ws.subscribe(`subscription($room: ID!) { roomEvents(roomId: $room) { type participant { user { rooms { id } } } } }`,
			map[string]any{"room": room.ID})
		waitSubscribers(t, srv, 1)

		type event struct {
			RoomEvents struct {
				Type        string
				Participant struct {
					User *struct{ Rooms []struct{ ID string } }
				}
			}
		}
		next := func() (event, gqlResponse) {
			t.Helper()
			m, ok := sub.next(5 * time.Second)
			if !ok || m.Type != "next" {
				t.Fatalf("got %q %s, want an event", m.Type, m.Payload)
			}
			var e event
			res := m.result()
			if err := json.Unmarshal(res.Data, &e); err != nil {
				t.Fatalf("event %s: %v", res.Data, err)
			}
			return e, res
		}
		stepInAndOut := func() {
			t.Helper()
			in, res := srv.join(host.Token, room.Code, nil)
			mustSucceed(t, "host steps in", res)
			mustSucceed(t, "host steps out", srv.leave(host.Token, in.ParticipantID))
		}
		for range 2 {
			stepInAndOut()
		}
		for i := range 4 {
			e, res := next()
			if len(res.Errors) != 0 || e.RoomEvents.Participant.User == nil || len(e.RoomEvents.Participant.User.Rooms) != 8 {
				t.Fatalf("event %d: %s %+v; want the host's 8 rooms", i+1, res.Data, res.Errors)
			}
		}

		for range 8 {
			srv.createRoom(host.Token, nil)
		}
		stepInAndOut()
		e, res := next()
		if res.code() != "QUERY_TOO_COMPLEX" || e.RoomEvents.Type != "PARTICIPANT_JOINED" || e.RoomEvents.Participant.User != nil ||
			!strings.Contains(res.Errors[0].Message, "limit of 20") {
			t.Fatalf("with 16 rooms: %s %+v; want the event with QUERY_TOO_COMPLEX in place of the user", res.Data, res.Errors)
		}
	})
}
