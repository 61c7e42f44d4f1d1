package e2e

// The live dashboard, Subscription.myRooms: every change to every room a
// user hosts, rooms created after subscribing included, from any instance,
// each room's in commit order, over graphql-transport-ws (the harness's
// client and the graphql-ws npm package) and SSE; to the host only; for as
// long as the token lasts.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/test/harness"
)

// myRoomsInstances runs fn on each dialect: on SQLite with one instance
// (a and b are the same), on PostgreSQL with two sharing the database,
// where a makes the changes and b serves the subscribers.
func myRoomsInstances(t *testing.T, fn func(t *testing.T, a, b *harness.Server)) {
	t.Run("sqlite", func(t *testing.T) {
		srv := harness.Start(t, harness.WithDB(dbtest.Open(t, "sqlite")))
		fn(t, srv, srv)
	})
	t.Run("postgres, two instances", func(t *testing.T) {
		a, b, _ := harness.TwoInstances(t)
		fn(t, a, b)
	})
}

const updateProfileMutation = `mutation($in: UpdateProfileInput!) { updateProfile(input: $in) { id displayName avatarUrl } }`

// The host follows their rooms on instance b, over a websocket and over
// SSE, while everything happens through instance a: each change arrives
// once, in order, with the count of who is present and the room read
// afresh; chat messages and profile edits are no room changes; a room's
// end does not end the feed. A participant of the host's room and another
// user, following their own rooms, get none of it.
func TestMyRooms_EveryChangeOfEveryHostedRoom(t *testing.T) {
	myRoomsInstances(t, func(t *testing.T, a, b *harness.Server) {
		hostUser := a.Register("host@example.com", "Hosting Hana")
		adaUser := a.Register("ada@example.com", "Ada")
		eveUser := a.Register("eve@example.com", "Eve")
		host, ada, eve := a.WithToken(hostUser.Token), a.WithToken(adaUser.Token), a.WithToken(eveUser.Token)
		old := host.CreateRoom(map[string]any{"name": "Old"}) // before subscribing: its changes count all the same

		feeds := b.SubscribeBoth(hostUser.Token, harness.MyRoomsQuery, nil)
		adaWS := harness.DialWS(t, b.URL, adaUser.Token)
		adaFeed := adaWS.Subscribe(harness.MyRoomsQuery, nil)
		eveWS := harness.DialWS(t, b.URL, eveUser.Token)
		eveFeed := eveWS.Subscribe(harness.MyRoomsQuery, nil)
		b.WaitSubscribers(4)

		// expect takes the next event from both of the host's streams,
		// which must agree, and checks what every event must say.
		expect := func(typ, roomID string, active int) harness.MyRoomsEvent {
			t.Helper()
			e := feeds.Op.MyRoomsEvent(5 * time.Second)
			if s := feeds.SSE.MyRoomsEvent(5 * time.Second); !reflect.DeepEqual(s, e) {
				t.Fatalf("SSE and websocket disagree:\n%+v\n%+v", s, e)
			}
			if e.Type != typ || e.RoomID != roomID || e.Room.ID != roomID || e.Time == "" {
				t.Fatalf("got %s for room %s (room %s) at %q, want %s for %s", e.Type, e.RoomID, e.Room.ID, e.Time, typ, roomID)
			}
			switch {
			case active < 0 && e.ActiveParticipants != nil:
				t.Fatalf("%s carries activeParticipants %d, want null", typ, *e.ActiveParticipants)
			case active >= 0 && (e.ActiveParticipants == nil || *e.ActiveParticipants != active):
				t.Fatalf("%s carries activeParticipants %v, want %d", typ, e.ActiveParticipants, active)
			}
			return e
		}
		const noCount = -1

		// A room created after subscribing is in the feed.
		room := host.CreateRoom(map[string]any{"name": "Standup", "maxParticipants": 10})
		if e := expect("ROOM_CREATED", room.ID, 0); e.Room.Name != "Standup" || !e.Room.IsActive || len(e.Room.Participants) != 0 || e.Participant != nil {
			t.Fatalf("created: %+v", e)
		}

		adaIn, res := ada.Join(room.Code, nil)
		harness.MustSucceed(t, "ada joins", res)
		e := expect("PARTICIPANT_JOINED", room.ID, 1)
		if e.Participant == nil || e.Participant.ID != adaIn.ParticipantID || e.Participant.User == nil || e.Participant.User.DisplayName != "Ada" ||
			len(e.Room.Participants) != 1 || e.Room.Participants[0].ID != adaIn.ParticipantID {
			t.Fatalf("ada's join: %+v", e)
		}
		guestIn, res := a.Join(room.Code, new("Grace"))
		harness.MustSucceed(t, "a guest joins", res)
		if e := expect("PARTICIPANT_JOINED", room.ID, 2); e.Participant.ID != guestIn.ParticipantID || e.Participant.User != nil ||
			e.Participant.DisplayName != "Grace" || len(e.Room.Participants) != 2 {
			t.Fatalf("the guest's join: %+v", e)
		}

		// Chat is not a room change: the next event is the next change.
		sendMessage(t, ada, room.ID, "hello")
		harness.MustSucceed(t, "chat off in the old room", host.UpdateSettings(old.ID, map[string]any{"allowChat": false}))
		if e := expect("SETTINGS_CHANGED", old.ID, noCount); e.Room.Settings.AllowChat || e.Room.Name != "Old" {
			t.Fatalf("old room's settings: %+v", e)
		}

		harness.MustSucceed(t, "rename and lock", host.UpdateSettings(room.ID, map[string]any{"name": "Daily", "isLocked": true}))
		if e := expect("ROOM_LOCKED", room.ID, noCount); !e.Room.IsLocked {
			t.Fatalf("locked: %+v", e)
		}
		if e := expect("SETTINGS_CHANGED", room.ID, noCount); e.Room.Name != "Daily" {
			t.Fatalf("renamed: %+v", e)
		}

		// A profile edit is no room change, but the next event naming Ada
		// reads her afresh.
		ada.GQL(updateProfileMutation, map[string]any{"in": map[string]any{"displayName": "Ada Lovelace"}}).Decode(t, new(any))
		harness.MustSucceed(t, "ada leaves", ada.Leave(adaIn.ParticipantID))
		e = expect("PARTICIPANT_LEFT", room.ID, 1)
		if e.Participant.ID != adaIn.ParticipantID || e.Participant.IsActive || e.Participant.User.DisplayName != "Ada Lovelace" ||
			len(e.Room.Participants) != 1 || e.Room.Participants[0].ID != guestIn.ParticipantID {
			t.Fatalf("ada's departure: %+v", e)
		}

		harness.MustSucceed(t, "unlock", host.UpdateSettings(room.ID, map[string]any{"isLocked": false}))
		expect("ROOM_UNLOCKED", room.ID, noCount)
		harness.MustSucceed(t, "end", host.EndRoom(room.ID))
		if e := expect("ROOM_ENDED", room.ID, 0); e.Room.IsActive || len(e.Room.Participants) != 0 {
			t.Fatalf("ended: %+v", e)
		}
		// The feed outlives the room.
		harness.MustSucceed(t, "end the old room", host.EndRoom(old.ID))
		expect("ROOM_ENDED", old.ID, 0)

		// Ada took part in the host's room and Eve watched: each one's
		// first event is her own room's creation, which committed after
		// every change above, so none of those reached them. Nor do
		// theirs reach the host, whose next event is their next room.
		for _, c := range []struct {
			who    string
			client *harness.Client
			feed   *harness.Operation
		}{{"ada", ada, adaFeed}, {"eve", eve, eveFeed}} {
			own := c.client.CreateRoom(map[string]any{"name": c.who + "'s"})
			if e := c.feed.MyRoomsEvent(5 * time.Second); e.Type != "ROOM_CREATED" || e.RoomID != own.ID {
				t.Fatalf("%s's first event is %s for room %s, want her own room's creation (%s)", c.who, e.Type, e.RoomID, own.ID)
			}
		}
		last := host.CreateRoom(nil)
		expect("ROOM_CREATED", last.ID, 0)
	})
}

// Only a signed-in user follows their rooms: without a token the answer is
// UNAUTHENTICATED, with a guest's participant token FORBIDDEN, and with
// the token of a user who no longer exists UNAUTHENTICATED; over both
// transports, leaving nothing open. A bad credential closes a websocket
// with 4403, as for every operation.
func TestMyRooms_RefusesAllButUsers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostUser := srv.Register("host@example.com", "Host")
		gone := srv.Register("gone@example.com", "Gone")
		room := srv.WithToken(hostUser.Token).CreateRoom(nil)
		guest, res := srv.Join(room.Code, new("Gus"))
		harness.MustSucceed(t, "a guest joins", res)
		dbtest.Exec(t, bdb, "DELETE FROM users WHERE id = ?", gone.ID)

		for _, c := range []struct{ who, token, code string }{
			{"no token", "", "UNAUTHENTICATED"},
			{"a participant token", guest.Token, "FORBIDDEN"},
			{"a deleted user's token", gone.Token, "UNAUTHENTICATED"},
		} {
			t.Run(c.who, func(t *testing.T) {
				ws := harness.DialWS(t, srv.URL, c.token)
				if code, _ := ws.Subscribe(harness.MyRoomsQuery, nil).Refused(5 * time.Second); code != c.code {
					t.Fatalf("websocket: %s, want %s", code, c.code)
				}
				s := harness.SubscribeSSE(t, srv.URL, c.token, harness.MyRoomsQuery, nil)
				ev, _ := s.Next(5 * time.Second)
				if ev.Event != "next" || ev.Data.Code() != c.code {
					t.Fatalf("SSE: %q %+v, want %s", ev.Event, ev.Data, c.code)
				}
				if ev, ok := s.Next(5 * time.Second); ok && ev.Event != "complete" {
					t.Fatalf("SSE then sent %q, want complete", ev.Event)
				}
			})
		}
		if _, err := harness.TryDialWS(t, srv.URL, hostUser.Token+"x"); websocket.CloseStatus(err) != 4403 {
			t.Fatalf("a bad token: %v, want close 4403", err)
		}
		// Each event is resolved for every subscriber, so a selection that
		// costs more than the subscription limit is refused before it runs.
		ws := harness.DialWS(t, srv.URL, hostUser.Token)
		deep := `subscription { myRooms { room { participants { user { rooms { participants { displayName } } } } } } }`
		if code, _ := ws.Subscribe(deep, nil).Refused(5 * time.Second); code != "QUERY_TOO_COMPLEX" {
			t.Fatalf("a costly selection: %s, want QUERY_TOO_COMPLEX", code)
		}
		srv.WaitSubscribers(0)
	})
}

// Many people join and leave several rooms at once, through both
// instances: every subscriber gets each room's events in commit order,
// which the counts they carry prove (each join one more than the event
// before it, each departure one fewer, from 0 back to 0), and every
// presence joins and leaves exactly once.
func TestMyRooms_EachRoomsEventsInCommitOrder(t *testing.T) {
	myRoomsInstances(t, eachRoomsEventsInCommitOrder)
}

// eachRoomsEventsInCommitOrder is that scenario on instances a and b of one
// database (a and b may be one; pgbouncer_test.go runs it behind PgBouncer).
func eachRoomsEventsInCommitOrder(t *testing.T, a, b *harness.Server) {
	const rooms, perRoom = 3, 8
	hostUser := a.Register("host@example.com", "Host")
	host := a.WithToken(hostUser.Token)
	var codes []string
	for range rooms {
		codes = append(codes, host.CreateRoom(map[string]any{"maxParticipants": perRoom}).Code)
	}
	feeds := b.SubscribeBoth(hostUser.Token, harness.MyRoomsQuery, nil)
	b.WaitSubscribers(2)
	onA := harness.SubscribeSSE(t, a.URL, hostUser.Token, harness.MyRoomsQuery, nil)
	if a == b {
		a.WaitSubscribers(3)
	} else {
		a.WaitSubscribers(1)
	}

	// via spreads the writes over both instances.
	via := func(i int) *harness.Server {
		if i%2 == 0 {
			return a
		}
		return b
	}
	joined := make([]string, rooms*perRoom)
	tally := a.Concurrently(rooms*perRoom, func(i int) string {
		res, err := via(i).TryGQL(`mutation($code: String!, $g: String) { joinRoom(code: $code, guestName: $g) { participant { id } } }`,
			map[string]any{"code": codes[i%rooms], "g": fmt.Sprint("Guest ", i)})
		if err != nil {
			return err.Error()
		}
		var data struct {
			JoinRoom struct{ Participant struct{ ID string } }
		}
		if len(res.Errors) == 0 && json.Unmarshal(res.Data, &data) == nil {
			joined[i] = data.JoinRoom.Participant.ID
		}
		return res.Outcome()
	})
	if tally["ok"] != rooms*perRoom {
		t.Fatalf("joins: %v", tally)
	}
	tally = a.Concurrently(rooms*perRoom, func(i int) string {
		res, err := via(i+1).WithToken(hostUser.Token).TryGQL(`mutation($p: ID!) { leaveRoom(participantId: $p) { id } }`, map[string]any{"p": joined[i]})
		if err != nil {
			return err.Error()
		}
		return res.Outcome()
	})
	if tally["ok"] != rooms*perRoom {
		t.Fatalf("departures: %v", tally)
	}

	type stream struct {
		name string
		next func() harness.MyRoomsEvent
	}
	for _, s := range []stream{
		{"websocket on b", func() harness.MyRoomsEvent { return feeds.Op.MyRoomsEvent(5 * time.Second) }},
		{"SSE on b", func() harness.MyRoomsEvent { return feeds.SSE.MyRoomsEvent(5 * time.Second) }},
		{"SSE on a", func() harness.MyRoomsEvent { return onA.MyRoomsEvent(5 * time.Second) }},
	} {
		count := map[string]int{}
		present := map[string]bool{}
		for range 2 * rooms * perRoom {
			e := s.next()
			if e.ActiveParticipants == nil || e.Participant == nil {
				t.Fatalf("%s: %s without a count or a participant: %+v", s.name, e.Type, e)
			}
			want := count[e.RoomID]
			switch e.Type {
			case "PARTICIPANT_JOINED":
				want++
				if present[e.Participant.ID] {
					t.Fatalf("%s: %s joined twice", s.name, e.Participant.ID)
				}
				present[e.Participant.ID] = true
			case "PARTICIPANT_LEFT":
				want--
				if !present[e.Participant.ID] {
					t.Fatalf("%s: %s left before joining, or twice", s.name, e.Participant.ID)
				}
				delete(present, e.Participant.ID)
			default:
				t.Fatalf("%s: unexpected %s", s.name, e.Type)
			}
			if *e.ActiveParticipants != want {
				t.Fatalf("%s: room %s: %s says %d present after %d: out of commit order, or miscounted", s.name, e.RoomID, e.Type, *e.ActiveParticipants, count[e.RoomID])
			}
			count[e.RoomID] = want
		}
		if len(present) != 0 || len(count) != rooms {
			t.Fatalf("%s: still present %v; counts %v", s.name, present, count)
		}
	}
}

// A stream lasts no longer than its token, as roomEvents' do: a websocket
// is closed with 4403 at the token's expiry, an SSE subscription ends with
// UNAUTHENTICATED and completes.
func TestMyRooms_StreamEndsWithItsToken(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), shortTokens)
		srv.Register("host@example.com", "Host")
		token := signIn(t, srv, "host@example.com")
		feeds := srv.SubscribeBoth(token, harness.MyRoomsQuery, nil)
		srv.WaitSubscribers(2)
		room := srv.WithToken(signIn(t, srv, "host@example.com")).CreateRoom(nil)
		for _, e := range []harness.MyRoomsEvent{feeds.Op.MyRoomsEvent(2 * time.Second), feeds.SSE.MyRoomsEvent(2 * time.Second)} {
			if e.Type != "ROOM_CREATED" || e.RoomID != room.ID {
				t.Fatalf("got %s for %s, want ROOM_CREATED for %s", e.Type, e.RoomID, room.ID)
			}
		}
		if status := feeds.WS.CloseStatus(5 * time.Second); status != 4403 {
			t.Fatalf("websocket closed with %d (%v), want 4403", status, feeds.WS.Err())
		}
		ev, ok := feeds.SSE.Next(5 * time.Second)
		if !ok || ev.Event != "next" || ev.Data.Code() != "UNAUTHENTICATED" {
			t.Fatalf("SSE after the token's expiry: %q %+v (open %v), want UNAUTHENTICATED", ev.Event, ev.Data, ok)
		}
		if ev, ok := feeds.SSE.Next(2 * time.Second); ok && ev.Event != "complete" {
			t.Fatalf("SSE then %q, want complete", ev.Event)
		}
		if exp := tokenExpiry(t, token); time.Now().Before(exp) {
			t.Fatalf("ended before the token's exp %v", exp)
		}
		srv.WaitSubscribers(0)
	})
}

// The README's client, the graphql-ws npm package, follows the host's rooms
// on one instance while another makes the changes.
func TestMyRooms_GraphQLWSPackageAcrossInstances(t *testing.T) {
	a, b, _ := harness.TwoInstances(t)
	hostUser := a.Register("host@example.com", "Host")
	host := a.WithToken(hostUser.Token)
	sub := harness.StartNPMSubscription(t, b.URL, hostUser.Token,
		`subscription { myRooms { type roomId activeParticipants room { name participants(activeOnly: true) { displayName } } } }`, nil)
	if l := sub.Next(10 * time.Second); !l.Connected {
		t.Fatalf("first report %+v, want connected", l)
	}
	b.WaitSubscribers(1)

	var room harness.Room
	steps := []struct {
		want   string
		active int
		do     func()
	}{
		{"ROOM_CREATED", 0, func() { room = host.CreateRoom(map[string]any{"name": "Standup"}) }},
		{"PARTICIPANT_JOINED", 1, func() { _, res := a.Join(room.Code, new("Grace")); harness.MustSucceed(t, "join", res) }},
		{"ROOM_ENDED", 0, func() { harness.MustSucceed(t, "end", host.EndRoom(room.ID)) }},
	}
	for _, step := range steps {
		step.do()
		l := sub.Next(5 * time.Second)
		if l.Next == nil {
			t.Fatalf("%s: graphql-ws reported %+v", step.want, l)
		}
		var data struct {
			MyRooms struct {
				Type, RoomID       string
				ActiveParticipants int
				Room               struct {
					Name         string
					Participants []struct{ DisplayName string }
				}
			}
		}
		l.Next.Decode(t, &data)
		got := data.MyRooms
		if got.Type != step.want || got.RoomID != room.ID || got.ActiveParticipants != step.active ||
			got.Room.Name != "Standup" || len(got.Room.Participants) != step.active {
			t.Fatalf("got %+v, want %s with %d present", got, step.want, step.active)
		}
	}
}

// The feed's streams give their admission slots back, and each of its
// events is resolved only once it has a slot, as roomEvents' are: with the
// one slot held, an event waits; once it is free, the event arrives.
func TestMyRooms_EventsPassTheAdmissionGate(t *testing.T) {
	srv := harness.Start(t, harness.WithEnv(map[string]string{"MAX_CONCURRENT_REQUESTS": "1", "ADMISSION_MAX_WAIT": "2s"}))
	hostUser := srv.Register("host@example.com", "Host")
	feeds := srv.SubscribeBoth(hostUser.Token, harness.MyRoomsQuery, nil)
	srv.WaitSubscribers(2)
	if res := srv.WithToken(hostUser.Token).GQL(`{ me { id } }`, nil, harness.Within(5*time.Second)); res.Status != http.StatusOK || len(res.Errors) > 0 {
		t.Fatalf("a query beside two open feeds: %d %+v", res.Status, res.Errors)
	}

	release, err := srv.App().Gate().Enter(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Straight through the service: an API request would wait for the
	// slot held here.
	ctx := auth.WithPrincipal(context.Background(), srv.App().Tokens().PrincipalFor("Bearer "+hostUser.Token))
	created, err := srv.App().Service().CreateRoom(ctx, service.CreateRoomInput{})
	if err != nil {
		t.Fatal(err)
	}
	feeds.Op.ExpectQuiet(300 * time.Millisecond)
	release()
	if e := feeds.Op.MyRoomsEvent(5 * time.Second); e.Type != "ROOM_CREATED" || e.RoomID != created.Room.ID {
		t.Fatalf("websocket got %s for %s", e.Type, e.RoomID)
	}
	if e := feeds.SSE.MyRoomsEvent(5 * time.Second); e.Type != "ROOM_CREATED" || e.RoomID != created.Room.ID {
		t.Fatalf("SSE got %s for %s", e.Type, e.RoomID)
	}
}
