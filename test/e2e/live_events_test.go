package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/events"
)

// Live room events: Subscription.roomEvents over graphql-transport-ws (a
// real protocol client, wsclient_test.go) and SSE, against the real wiring.

// twoInstances serves two app instances over one fresh PostgreSQL database,
// each with its own connection pool and its own LISTEN connection, as two
// servers behind a load balancer.
func twoInstances(t *testing.T, env ...map[string]string) (a, b *testServer, admin *bun.DB) {
	t.Helper()
	url := dbtest.NewPostgresDatabase(t)
	open := func() *bun.DB {
		bdb, err := db.Open(context.Background(), db.Config{URL: url, MaxOpenConns: 20})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = bdb.Close() })
		return bdb
	}
	dbA, dbB, admin := open(), open(), open()
	if _, err := db.Migrate(context.Background(), dbA); err != nil {
		t.Fatal(err)
	}
	return newTestServer(t, dbA, env...), newTestServer(t, dbB, env...), admin
}

// waitSubscribers waits until srv has n open subscriptions: a client cannot
// tell when its subscribe message has been acted on, and events published
// before that are not its to receive. (A subscription counts from when it
// is registered, just before its caller's right to it is checked.)
func waitSubscribers(t *testing.T, srv *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for srv.app.Events().Subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscriptions open, want %d", srv.app.Events().Subscribers(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (s *testServer) updateSettings(token, roomID string, in map[string]any) gqlResponse {
	s.t.Helper()
	return s.gql(token, `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`,
		map[string]any{"id": roomID, "in": in})
}

func (s *testServer) leave(token, participantID string) gqlResponse {
	s.t.Helper()
	return s.gql(token, `mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": participantID})
}

func (s *testServer) endRoom(token, roomID string) gqlResponse {
	s.t.Helper()
	return s.gql(token, `mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": roomID})
}

func mustSucceed(t *testing.T, what string, res gqlResponse) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Fatalf("%s: %+v", what, res.Errors)
	}
}

// The scenario: the host (and later a guest) subscribe on instance
// B while everything happens on instance A. Every event arrives, in order,
// within a second of its mutation, with nested fields resolved afresh; the
// refused and no-op mutations publish nothing; ending the room completes
// both subscriptions.
func TestLiveEvents_CrossInstanceInOrder(t *testing.T) {
	a, b, _ := twoInstances(t)
	host := a.register("host@example.com", "Hosting Hana")
	ada := a.register("ada@example.com", "Ada")
	stranger := a.register("eve@example.com", "Eve")
	room := a.createRoom(host.Token, map[string]any{"name": "Standup", "maxParticipants": 10})
	vars := map[string]any{"room": room.ID}

	hostWS, err := dialWS(t, b.URL, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	hostSub := hostWS.subscribe(roomEventsQuery, vars)
	waitSubscribers(t, b, 1)

	// within is the bound: each event arrives within a second of
	// its mutation being sent.
	const within = time.Second
	expect := func(s *wsSub, typ string) roomEvent {
		t.Helper()
		e := s.event(within)
		if e.Type != typ || e.RoomID != room.ID || e.Time == "" {
			t.Fatalf("got %s for room %s at %q, want %s for %s", e.Type, e.RoomID, e.Time, typ, room.ID)
		}
		return e
	}

	adaIn, res := a.join(ada.Token, room.Code, nil)
	mustSucceed(t, "ada joins", res)
	e := expect(hostSub, "PARTICIPANT_JOINED")
	if e.Participant == nil || e.Participant.ID != adaIn.ParticipantID || e.Participant.User == nil ||
		e.Participant.User.DisplayName != "Ada" || e.Participant.DisplayName != "Ada" || !e.Participant.IsActive {
		t.Fatalf("join event participant %+v", e.Participant)
	}
	// Published after commit: the instance that delivered the event already
	// reads the new participant.
	var seen struct {
		Room struct{ Participants []struct{ ID string } }
	}
	b.gql(host.Token, `query($id: ID!) { room(id: $id) { participants(activeOnly: true) { id } } }`,
		map[string]any{"id": room.ID}).decode(t, &seen)
	if len(seen.Room.Participants) != 1 || seen.Room.Participants[0].ID != adaIn.ParticipantID {
		t.Fatalf("instance B reads participants %+v after delivering the join", seen.Room.Participants)
	}

	guestIn, res := a.join("", room.Code, strPtr("Grace"))
	mustSucceed(t, "guest joins", res)
	e = expect(hostSub, "PARTICIPANT_JOINED")
	if e.Participant.ID != guestIn.ParticipantID || e.Participant.User != nil || e.Participant.DisplayName != "Grace" {
		t.Fatalf("guest join event participant %+v", e.Participant)
	}

	// The guest follows the room with its participant token.
	guestWS, err := dialWS(t, b.URL, guestIn.Token)
	if err != nil {
		t.Fatal(err)
	}
	guestSub := guestWS.subscribe(roomEventsQuery, vars)
	waitSubscribers(t, b, 2)
	both := func(typ string) roomEvent {
		t.Helper()
		e := expect(hostSub, typ)
		if g := expect(guestSub, typ); g.Time != e.Time || (g.Participant == nil) != (e.Participant == nil) {
			t.Fatalf("guest and host got different %s events: %+v / %+v", typ, g, e)
		}
		return e
	}

	// Ada renames herself: no event, but the next one naming her must not
	// show the name cached from the first.
	if status, _, body := a.do(http.MethodPatch, "/users/me", ada.Token, map[string]any{"displayName": "Ada Lovelace"}); status != http.StatusOK {
		t.Fatalf("rename: %d %s", status, body)
	}

	mustSucceed(t, "chat off", a.updateSettings(host.Token, room.ID, map[string]any{"allowChat": false}))
	e = both("SETTINGS_CHANGED")
	if e.Settings == nil || e.Settings.AllowChat || e.Settings.MaxParticipants != 10 || e.RoomName == nil || *e.RoomName != "Standup" {
		t.Fatalf("settings event %+v", e)
	}
	mustSucceed(t, "lock", a.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}))
	both("ROOM_LOCKED")
	if _, res := a.join(stranger.Token, room.Code, nil); res.code() != "FORBIDDEN" {
		t.Fatalf("joining a locked room: %+v", res.Errors)
	}
	mustSucceed(t, "unlock and grow", a.updateSettings(host.Token, room.ID, map[string]any{"isLocked": false, "maxParticipants": 20}))
	both("ROOM_UNLOCKED")
	if e := both("SETTINGS_CHANGED"); e.Settings.MaxParticipants != 20 {
		t.Fatalf("settings after growing: %+v", e.Settings)
	}
	mustSucceed(t, "no change", a.updateSettings(host.Token, room.ID, map[string]any{"allowChat": false, "isLocked": false}))
	if res := a.endRoom(stranger.Token, room.ID); res.code() != "FORBIDDEN" {
		t.Fatalf("a stranger ending the room: %+v", res.Errors)
	}

	mustSucceed(t, "ada leaves", a.leave(ada.Token, adaIn.ParticipantID))
	e = both("PARTICIPANT_LEFT")
	if e.Participant.ID != adaIn.ParticipantID || e.Participant.IsActive || e.Participant.LeftAt == nil || *e.Participant.LeftAt != e.Time {
		t.Fatalf("leave event participant %+v at %s", e.Participant, e.Time)
	}
	if e.Participant.User.DisplayName != "Ada Lovelace" || e.Participant.DisplayName != "Ada Lovelace" {
		t.Fatalf("leave event shows %q / %q: a loader served the name cached at the join",
			e.Participant.User.DisplayName, e.Participant.DisplayName)
	}

	mustSucceed(t, "end", a.endRoom(host.Token, room.ID))
	if e := both("ROOM_ENDED"); e.Participant != nil || e.Settings != nil {
		t.Fatalf("end event carries %+v", e)
	}
	hostSub.completes(within)
	guestSub.completes(within)
	waitSubscribers(t, b, 0)
}

// Only the host and active participants may follow a room; everyone else
// is refused, on both transports, and no subscription stays open.
func TestLiveEvents_RefusesOutsiders(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		stranger := srv.register("eve@example.com", "Eve")
		was := srv.register("was@example.com", "Was")
		room := srv.createRoom(host.Token, nil)
		other := srv.createRoom(host.Token, nil)
		ended := srv.createRoom(host.Token, nil)
		mustSucceed(t, "end", srv.endRoom(host.Token, ended.ID))
		guest, res := srv.join("", other.Code, strPtr("Gus"))
		mustSucceed(t, "guest joins the other room", res)
		left, res := srv.join(was.Token, room.Code, nil)
		mustSucceed(t, "join", res)
		mustSucceed(t, "leave", srv.leave(was.Token, left.ParticipantID))

		refused := func(token, roomID, wantCode, wantReason string) {
			t.Helper()
			ws, err := dialWS(t, srv.URL, token)
			if err != nil {
				t.Fatal(err)
			}
			code, reason := ws.subscribe(roomEventsQuery, map[string]any{"room": roomID}).refused(5 * time.Second)
			if code != wantCode || reason != wantReason {
				t.Fatalf("got %s/%s, want %s/%s", code, reason, wantCode, wantReason)
			}
		}
		t.Run("a signed-in stranger", func(t *testing.T) { refused(stranger.Token, room.ID, "FORBIDDEN", "NOT_IN_ROOM") })
		t.Run("a room that does not exist looks the same", func(t *testing.T) {
			refused(stranger.Token, "cnotaroom000000000000000", "FORBIDDEN", "NOT_IN_ROOM")
		})
		t.Run("a participant who left", func(t *testing.T) { refused(was.Token, room.ID, "FORBIDDEN", "NOT_IN_ROOM") })
		t.Run("a guest in another room", func(t *testing.T) { refused(guest.Token, room.ID, "FORBIDDEN", "NOT_IN_ROOM") })
		t.Run("no token", func(t *testing.T) { refused("", room.ID, "UNAUTHENTICATED", "") })
		t.Run("the host of an ended room", func(t *testing.T) { refused(host.Token, ended.ID, "CONFLICT", "ROOM_ENDED") })
		t.Run("a bad token closes the connection with 4403", func(t *testing.T) {
			_, err := dialWS(t, srv.URL, host.Token+"x")
			if status := websocket.CloseStatus(err); status != 4403 {
				t.Fatalf("connection_init with a bad token: %v (close status %d), want 4403", err, status)
			}
		})
		t.Run("over SSE", func(t *testing.T) {
			s := subscribeSSE(t, srv.URL, stranger.Token, roomEventsQuery, map[string]any{"room": room.ID})
			ev, _ := s.next(5 * time.Second)
			if ev.Event != "next" || ev.Data.code() != "FORBIDDEN" {
				t.Fatalf("SSE stranger got %q %+v", ev.Event, ev.Data)
			}
			if ev, ok := s.next(5 * time.Second); ok && ev.Event != "complete" {
				t.Fatalf("SSE then sent %q", ev.Event)
			}
		})
		waitSubscribers(t, srv, 0)
	})
}

// A participant's subscription ends with its own departure (even when the
// host removes it); the host's goes on.
func TestLiveEvents_RemovedParticipantStopsFollowing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		ada := srv.register("ada@example.com", "Ada")
		room := srv.createRoom(host.Token, nil)
		vars := map[string]any{"room": room.ID}
		adaIn, res := srv.join(ada.Token, room.Code, nil)
		mustSucceed(t, "join", res)
		hostIn, res := srv.join(host.Token, room.Code, nil)
		mustSucceed(t, "host joins", res)
		hostWS, _ := dialWS(t, srv.URL, host.Token)
		adaWS, _ := dialWS(t, srv.URL, ada.Token)
		hostSub, adaSub := hostWS.subscribe(roomEventsQuery, vars), adaWS.subscribe(roomEventsQuery, vars)
		waitSubscribers(t, srv, 2)
		// A subscription is registered before its caller is checked (so the
		// check cannot miss a departure); wait for both to be past it.
		mustSucceed(t, "chat off", srv.updateSettings(host.Token, room.ID, map[string]any{"allowChat": false}))
		for _, s := range []*wsSub{hostSub, adaSub} {
			if e := s.event(5 * time.Second); e.Type != "SETTINGS_CHANGED" {
				t.Fatalf("got %s", e.Type)
			}
		}

		mustSucceed(t, "host removes ada", srv.leave(host.Token, adaIn.ParticipantID))
		if e := adaSub.event(5 * time.Second); e.Type != "PARTICIPANT_LEFT" || e.Participant.ID != adaIn.ParticipantID {
			t.Fatalf("ada got %+v", e)
		}
		adaSub.completes(5 * time.Second)
		// The host stepping out does not end the host's subscription.
		mustSucceed(t, "host steps out", srv.leave(host.Token, hostIn.ParticipantID))
		mustSucceed(t, "lock", srv.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}))
		for _, want := range []string{"PARTICIPANT_LEFT", "PARTICIPANT_LEFT", "ROOM_LOCKED"} {
			if e := hostSub.event(5 * time.Second); e.Type != want {
				t.Fatalf("host got %s, want %s", e.Type, want)
			}
		}
		waitSubscribers(t, srv, 1)
	})
}

// Clients that can set headers on the upgrade request (not browsers) may
// authenticate with it instead of connection_init's payload; the payload
// wins when both are there.
func TestLiveEvents_TokenInTheUpgradeRequestHeader(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	host := srv.register("host@example.com", "Host")
	stranger := srv.register("eve@example.com", "Eve")
	room := srv.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}
	bearer := func(token string) func(*wsClient) {
		return func(c *wsClient) { c.header = http.Header{"Authorization": {"Bearer " + token}} }
	}
	viaHeader, err := dialWS(t, srv.URL, "", bearer(host.Token))
	if err != nil {
		t.Fatal(err)
	}
	sub := viaHeader.subscribe(roomEventsQuery, vars)
	overridden, err := dialWS(t, srv.URL, stranger.Token, bearer(host.Token))
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := overridden.subscribe(roomEventsQuery, vars).refused(5 * time.Second); code != "FORBIDDEN" {
		t.Fatalf("payload token of a stranger over the host's header: %s, want FORBIDDEN", code)
	}
	waitSubscribers(t, srv, 1)
	mustSucceed(t, "lock", srv.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}))
	if e := sub.event(5 * time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("got %s", e.Type)
	}
}

// What the subscription machinery adds to every response (fresh loaders
// per event) must leave requests that fail before an operation exists
// alone: a body that is not JSON is still described, not an internal error.
func TestLiveEvents_MachineryLeavesMalformedRequestsAlone(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	status, _, body := srv.do(http.MethodPost, "/query", "", "{not json")
	var res gqlResponse
	if err := json.Unmarshal(body, &res); err != nil || status != http.StatusBadRequest || len(res.Errors) != 1 ||
		!strings.Contains(res.Errors[0].Message, "could not be decoded") {
		t.Fatalf("malformed body: %d %s", status, body)
	}
}

// startRealServer runs the whole server (run: its own database, HTTP
// server with its timeouts, shutdown) on SQLite, ready to serve.
func startRealServer(t *testing.T, env map[string]string) *liveServer {
	t.Helper()
	vars := map[string]string{"SQLITE_PATH": filepath.Join(t.TempDir(), "live.db")}
	for k, v := range env {
		vars[k] = v
	}
	s := startLiveServer(t, vars)
	eventually(t, 10*time.Second, "server ready", func() bool {
		code, _ := s.get(t, "/readyz")
		return code == http.StatusOK
	})
	return s
}

// clientOf wraps a running server's URL in the test helpers.
func clientOf(t *testing.T, url string) *testServer {
	return &testServer{t: t, URL: url, http: &http.Client{Timeout: 10 * time.Second}}
}

// Streams outlive the server's request timeouts and carry keep-alives; a
// websocket client that stops answering pings is dropped.
func TestLiveEvents_StreamsOutliveRequestTimeoutsWithKeepAlives(t *testing.T) {
	url := startRealServer(t, map[string]string{
		"HTTP_READ_TIMEOUT": "300ms", "HTTP_WRITE_TIMEOUT": "300ms", "SUBSCRIPTION_KEEPALIVE": "100ms",
	}).URL
	c := clientOf(t, url)
	host := c.register("host@example.com", "Host")
	room := c.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}

	sse := subscribeSSE(t, url, host.Token, roomEventsQuery, vars)
	ws, err := dialWS(t, url, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	wsSub := ws.subscribe(roomEventsQuery, vars)
	mute, err := dialWS(t, url, host.Token, func(c *wsClient) { c.noPong = true })
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // three times the timeouts
	if sse.pings.Load() < 3 || ws.pings.Load() < 3 {
		t.Fatalf("keep-alives in 1s at 100ms: SSE %d, websocket %d", sse.pings.Load(), ws.pings.Load())
	}
	mustSucceed(t, "lock", c.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}))
	if e := sse.event(5 * time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("SSE got %s", e.Type)
	}
	if e := wsSub.event(5 * time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("websocket got %s", e.Type)
	}
	select {
	case <-mute.done:
	default:
		t.Fatalf("a client that answered no ping for 1s (pings every 100ms) is still connected")
	}
	mustSucceed(t, "end", c.endRoom(host.Token, room.ID))
	if e := sse.event(5 * time.Second); e.Type != "ROOM_ENDED" {
		t.Fatalf("SSE got %s", e.Type)
	}
	if ev, ok := sse.next(5 * time.Second); !ok || ev.Event != "complete" {
		t.Fatalf("SSE after the end: %q (open %v), want complete", ev.Event, ok)
	}
	wsSub.event(5 * time.Second)
	wsSub.completes(5 * time.Second)
}

// Shutting down ends every stream cleanly and promptly: websockets get a
// normal close frame (graphql-ws clients then reconnect, to another
// instance), SSE streams a last result saying why, then complete; the
// server does not wait out its shutdown timeout for them.
func TestLiveEvents_ShutdownClosesStreamsCleanly(t *testing.T) {
	srv := startRealServer(t, map[string]string{"SHUTDOWN_TIMEOUT": "20s"})
	url := srv.URL
	c := clientOf(t, url)
	host := c.register("host@example.com", "Host")
	room := c.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}
	ws, err := dialWS(t, url, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	ws.subscribe(roomEventsQuery, vars)
	sse := subscribeSSE(t, url, host.Token, roomEventsQuery, vars)
	time.Sleep(100 * time.Millisecond) // let both subscriptions open

	start := time.Now()
	if err := srv.stop(); err != nil {
		t.Fatalf("run returned %v (a shutdown that waited out its timeout fails)", err)
	}
	t.Logf("shutdown took %v", time.Since(start))
	if status := ws.closeStatus(5 * time.Second); status != websocket.StatusNormalClosure {
		t.Fatalf("websocket closed with %d (%v), want a normal close frame", status, ws.closeErr)
	}
	ev, ok := sse.next(5 * time.Second)
	if !ok || ev.Data.code() != "SUBSCRIPTION_INTERRUPTED" || ev.Data.Errors[0].Extensions["reason"] != "SERVER_SHUTTING_DOWN" {
		t.Fatalf("SSE got %q %+v (open %v), want SUBSCRIPTION_INTERRUPTED/SERVER_SHUTTING_DOWN", ev.Event, ev.Data, ok)
	}
	if ev, ok := sse.next(5 * time.Second); !ok || ev.Event != "complete" {
		t.Fatalf("SSE then got %q (open %v), want complete", ev.Event, ok)
	}
}

// Terminating an instance's LISTEN connection ends its subscriptions with
// SUBSCRIPTION_INTERRUPTED (they may have missed events); a new
// subscription waits for the reconnection and then gets events from the
// other instance again.
func TestLiveEvents_ListenConnectionReconnects(t *testing.T) {
	a, b, admin := twoInstances(t)
	host := a.register("host@example.com", "Host")
	room := a.createRoom(host.Token, nil)
	vars := map[string]any{"room": room.ID}
	ws, err := dialWS(t, b.URL, host.Token)
	if err != nil {
		t.Fatal(err)
	}
	before := ws.subscribe(roomEventsQuery, vars)
	waitSubscribers(t, b, 1)

	var killed int
	if err := admin.NewRaw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?",
		events.ApplicationName).Scan(context.Background(), &killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 { // only B has a subscriber, so only B listens
		t.Fatalf("terminated %d LISTEN connections, want 1", killed)
	}
	if code, reason := before.refused(5 * time.Second); code != "SUBSCRIPTION_INTERRUPTED" || reason != "EVENTS_INTERRUPTED" {
		t.Fatalf("subscription ended with %s/%s", code, reason)
	}

	after := ws.subscribe(roomEventsQuery, vars) // same connection: it survives
	waitSubscribers(t, b, 1)
	mustSucceed(t, "lock", a.updateSettings(host.Token, room.ID, map[string]any{"isLocked": true}))
	if e := after.event(time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("after reconnecting: %s", e.Type)
	}
}

// 200 subscribers (the host on 101 connections, 99 guests on their own) on
// one room all receive a burst of 25 events, in order. Latency, from
// sending each mutation to each subscriber receiving its event, is logged:
// on PostgreSQL across two instances, on SQLite within one.
func TestLiveEvents_TwoHundredSubscribersReceiveABurst(t *testing.T) {
	const subscribers, burst = 200, 25
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			var a, b *testServer
			// The host follows the room on 101 connections: no person
			// does, so the per-user stream cap is lifted here.
			env := map[string]string{"STREAMS_PER_USER": "0"}
			if dialect == "postgres" {
				a, b, _ = twoInstances(t, env)
			} else {
				a = newTestServer(t, dbtest.Open(t, dialect), env)
				b = a
			}
			host := a.register("host@example.com", "Host")
			room := a.createRoom(host.Token, map[string]any{"maxParticipants": 100})
			tokens := []string{}
			for i := range 99 {
				g, res := a.join("", room.Code, strPtr("Guest "+string(rune('A'+i%26))+string(rune('a'+i/26))))
				mustSucceed(t, "guest joins", res)
				tokens = append(tokens, g.Token)
			}
			for len(tokens) < subscribers {
				tokens = append(tokens, host.Token)
			}
			subs := make([]*wsSub, subscribers)
			var wg sync.WaitGroup
			for i, tok := range tokens {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ws, err := dialWS(t, b.URL, tok)
					if err != nil {
						t.Error(err)
						return
					}
					subs[i] = ws.subscribe(`subscription($room: ID!) { roomEvents(roomId: $room) { type settings { allowChat } } }`,
						map[string]any{"room": room.ID})
				}()
			}
			wg.Wait()
			if t.Failed() {
				t.FailNow()
			}
			waitSubscribers(t, b, subscribers)

			sent := make([]time.Time, burst)
			for k := range burst {
				sent[k] = time.Now()
				mustSucceed(t, "toggle chat", a.updateSettings(host.Token, room.ID, map[string]any{"allowChat": k%2 == 1}))
			}
			latencies := make([]time.Duration, 0, subscribers*burst)
			for i, s := range subs {
				for k := range burst {
					m, ok := s.next(10 * time.Second)
					if !ok || m.Type != "next" {
						t.Fatalf("subscriber %d, event %d: %q %s", i, k, m.Type, m.Payload)
					}
					var data struct {
						RoomEvents struct {
							Type     string
							Settings struct{ AllowChat bool }
						}
					}
					m.result().decode(t, &data)
					if data.RoomEvents.Type != "SETTINGS_CHANGED" || data.RoomEvents.Settings.AllowChat != (k%2 == 1) {
						t.Fatalf("subscriber %d, event %d: %+v (out of order?)", i, k, data.RoomEvents)
					}
					latencies = append(latencies, m.At.Sub(sent[k]))
				}
			}
			slices.Sort(latencies)
			pct := func(p float64) time.Duration { return latencies[int(p*float64(len(latencies)-1))] }
			t.Logf("delivery latency (%s, %d subscribers x %d events, mutation sent -> event received): p50 %v, p99 %v, max %v",
				dialect, subscribers, burst, pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), latencies[len(latencies)-1].Round(10*time.Microsecond))
		})
	}
}
