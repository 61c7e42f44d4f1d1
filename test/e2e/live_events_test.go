package e2e

// Live room events: Subscription.roomEvents over graphql-transport-ws (the
// harness's protocol client, and the graphql-ws npm package itself) and
// SSE, against the real wiring: across instances, in order, to whom they
// belong, and through timeouts, shutdowns and a lost LISTEN connection.

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/test/harness"
)

// The scenario: the host (and later a guest) subscribe on instance
// B while everything happens on instance A. Every event arrives, in order,
// within a second of its mutation, with nested fields resolved afresh; the
// refused and no-op mutations publish nothing; ending the room completes
// both subscriptions.
func TestLiveEvents_CrossInstanceInOrder(t *testing.T) {
	a, b, _ := harness.TwoInstances(t)
	crossInstanceInOrder(t, a, b)
}

// crossInstanceInOrder is the scenario, on instances a and b of
// one database (pgbouncer_test.go runs it behind PgBouncer too).
func crossInstanceInOrder(t *testing.T, a, b *harness.Server) {
	hostUser := a.Register("host@example.com", "Hosting Hana")
	adaUser := a.Register("ada@example.com", "Ada")
	host, ada, stranger := a.WithToken(hostUser.Token), a.WithToken(adaUser.Token), a.WithToken(a.Register("eve@example.com", "Eve").Token)
	room := host.CreateRoom(map[string]any{"name": "Standup", "maxParticipants": 10})
	vars := map[string]any{"room": room.ID}

	hostWS := harness.DialWS(t, b.URL, hostUser.Token)
	hostSub := hostWS.Subscribe(harness.RoomEventsQuery, vars)
	b.WaitSubscribers(1)

	// within is the bound: each event arrives within a second of
	// its mutation being sent.
	const within = time.Second
	expect := func(s *harness.Operation, typ string) harness.RoomEvent {
		t.Helper()
		e := s.Event(within)
		if e.Type != typ || e.RoomID != room.ID || e.Time == "" {
			t.Fatalf("got %s for room %s at %q, want %s for %s", e.Type, e.RoomID, e.Time, typ, room.ID)
		}
		return e
	}

	adaIn, res := ada.Join(room.Code, nil)
	harness.MustSucceed(t, "ada joins", res)
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
	b.WithToken(hostUser.Token).GQL(`query($id: ID!) { room(id: $id) { participants(activeOnly: true) { id } } }`,
		map[string]any{"id": room.ID}).Decode(t, &seen)
	if len(seen.Room.Participants) != 1 || seen.Room.Participants[0].ID != adaIn.ParticipantID {
		t.Fatalf("instance B reads participants %+v after delivering the join", seen.Room.Participants)
	}

	guestIn, res := a.Join(room.Code, new("Grace"))
	harness.MustSucceed(t, "guest joins", res)
	e = expect(hostSub, "PARTICIPANT_JOINED")
	if e.Participant.ID != guestIn.ParticipantID || e.Participant.User != nil || e.Participant.DisplayName != "Grace" {
		t.Fatalf("guest join event participant %+v", e.Participant)
	}

	// The guest follows the room with its participant token.
	guestWS := harness.DialWS(t, b.URL, guestIn.Token)
	guestSub := guestWS.Subscribe(harness.RoomEventsQuery, vars)
	b.WaitSubscribers(2)
	both := func(typ string) harness.RoomEvent {
		t.Helper()
		e := expect(hostSub, typ)
		if g := expect(guestSub, typ); g.Time != e.Time || (g.Participant == nil) != (e.Participant == nil) {
			t.Fatalf("guest and host got different %s events: %+v / %+v", typ, g, e)
		}
		return e
	}

	// Ada renames herself: no event, but the next one naming her must not
	// show the name cached from the first.
	if res := ada.REST(http.MethodPatch, "/users/me", map[string]any{"displayName": "Ada Lovelace"}); res.Status != http.StatusOK {
		t.Fatalf("rename: %d %s", res.Status, res.Body)
	}

	harness.MustSucceed(t, "chat off", host.UpdateSettings(room.ID, map[string]any{"allowChat": false}))
	e = both("SETTINGS_CHANGED")
	if e.Settings == nil || e.Settings.AllowChat || e.Settings.MaxParticipants != 10 || e.RoomName == nil || *e.RoomName != "Standup" {
		t.Fatalf("settings event %+v", e)
	}
	harness.MustSucceed(t, "lock", host.UpdateSettings(room.ID, map[string]any{"isLocked": true}))
	both("ROOM_LOCKED")
	if _, res := stranger.Join(room.Code, nil); res.Code() != "FORBIDDEN" {
		t.Fatalf("joining a locked room: %+v", res.Errors)
	}
	harness.MustSucceed(t, "unlock and grow", host.UpdateSettings(room.ID, map[string]any{"isLocked": false, "maxParticipants": 20}))
	both("ROOM_UNLOCKED")
	if e := both("SETTINGS_CHANGED"); e.Settings.MaxParticipants != 20 {
		t.Fatalf("settings after growing: %+v", e.Settings)
	}
	harness.MustSucceed(t, "no change", host.UpdateSettings(room.ID, map[string]any{"allowChat": false, "isLocked": false}))
	if res := stranger.EndRoom(room.ID); res.Code() != "FORBIDDEN" {
		t.Fatalf("a stranger ending the room: %+v", res.Errors)
	}

	harness.MustSucceed(t, "ada leaves", ada.Leave(adaIn.ParticipantID))
	e = both("PARTICIPANT_LEFT")
	if e.Participant.ID != adaIn.ParticipantID || e.Participant.IsActive || e.Participant.LeftAt == nil || *e.Participant.LeftAt != e.Time {
		t.Fatalf("leave event participant %+v at %s", e.Participant, e.Time)
	}
	if e.Participant.User.DisplayName != "Ada Lovelace" || e.Participant.DisplayName != "Ada Lovelace" {
		t.Fatalf("leave event shows %q / %q: a loader served the name cached at the join",
			e.Participant.User.DisplayName, e.Participant.DisplayName)
	}

	harness.MustSucceed(t, "end", host.EndRoom(room.ID))
	if e := both("ROOM_ENDED"); e.Participant != nil || e.Settings != nil {
		t.Fatalf("end event carries %+v", e)
	}
	hostSub.Completes(within)
	guestSub.Completes(within)
	b.WaitSubscribers(0)
}

// Only the host and active participants may follow a room; everyone else
// is refused, on both transports, and no subscription stays open.
func TestLiveEvents_RefusesOutsiders(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostUser := srv.Register("host@example.com", "Host")
		stranger := srv.Register("eve@example.com", "Eve")
		was := srv.Register("was@example.com", "Was")
		host := srv.WithToken(hostUser.Token)
		room := host.CreateRoom(nil)
		other := host.CreateRoom(nil)
		ended := host.CreateRoom(nil)
		harness.MustSucceed(t, "end", host.EndRoom(ended.ID))
		guest, res := srv.Join(other.Code, new("Gus"))
		harness.MustSucceed(t, "guest joins the other room", res)
		left, res := srv.WithToken(was.Token).Join(room.Code, nil)
		harness.MustSucceed(t, "join", res)
		harness.MustSucceed(t, "leave", srv.WithToken(was.Token).Leave(left.ParticipantID))

		refused := func(t *testing.T, token, roomID, wantCode, wantReason string) {
			t.Helper()
			ws := harness.DialWS(t, srv.URL, token)
			code, reason := ws.Subscribe(harness.RoomEventsQuery, map[string]any{"room": roomID}).Refused(5 * time.Second)
			if code != wantCode || reason != wantReason {
				t.Fatalf("got %s/%s, want %s/%s", code, reason, wantCode, wantReason)
			}
		}
		t.Run("a signed-in stranger", func(t *testing.T) { refused(t, stranger.Token, room.ID, "FORBIDDEN", "NOT_IN_ROOM") })
		t.Run("a room that does not exist looks the same", func(t *testing.T) {
			refused(t, stranger.Token, "cnotaroom000000000000000", "FORBIDDEN", "NOT_IN_ROOM")
		})
		t.Run("a participant who left", func(t *testing.T) { refused(t, was.Token, room.ID, "FORBIDDEN", "NOT_IN_ROOM") })
		t.Run("a guest in another room", func(t *testing.T) { refused(t, guest.Token, room.ID, "FORBIDDEN", "NOT_IN_ROOM") })
		t.Run("no token", func(t *testing.T) { refused(t, "", room.ID, "UNAUTHENTICATED", "") })
		t.Run("the host of an ended room", func(t *testing.T) { refused(t, hostUser.Token, ended.ID, "CONFLICT", "ROOM_ENDED") })
		t.Run("a bad token closes the connection with 4403", func(t *testing.T) {
			_, err := harness.TryDialWS(t, srv.URL, hostUser.Token+"x")
			if status := websocket.CloseStatus(err); status != 4403 {
				t.Fatalf("connection_init with a bad token: %v (close status %d), want 4403", err, status)
			}
		})
		t.Run("over SSE", func(t *testing.T) {
			s := harness.SubscribeSSE(t, srv.URL, stranger.Token, harness.RoomEventsQuery, map[string]any{"room": room.ID})
			ev, _ := s.Next(5 * time.Second)
			if ev.Event != "next" || ev.Data.Code() != "FORBIDDEN" {
				t.Fatalf("SSE stranger got %q %+v", ev.Event, ev.Data)
			}
			if ev, ok := s.Next(5 * time.Second); ok && ev.Event != "complete" {
				t.Fatalf("SSE then sent %q", ev.Event)
			}
		})
		srv.WaitSubscribers(0)
	})
}

// A participant's subscription ends with its own departure (even when the
// host removes it); the host's goes on.
func TestLiveEvents_RemovedParticipantStopsFollowing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostUser := srv.Register("host@example.com", "Host")
		adaUser := srv.Register("ada@example.com", "Ada")
		host := srv.WithToken(hostUser.Token)
		room := host.CreateRoom(nil)
		vars := map[string]any{"room": room.ID}
		adaIn, res := srv.WithToken(adaUser.Token).Join(room.Code, nil)
		harness.MustSucceed(t, "join", res)
		hostIn, res := host.Join(room.Code, nil)
		harness.MustSucceed(t, "host joins", res)
		hostWS := harness.DialWS(t, srv.URL, hostUser.Token)
		adaWS := harness.DialWS(t, srv.URL, adaUser.Token)
		hostSub, adaSub := hostWS.Subscribe(harness.RoomEventsQuery, vars), adaWS.Subscribe(harness.RoomEventsQuery, vars)
		srv.WaitSubscribers(2)
		// A subscription is registered before its caller is checked (so the
		// check cannot miss a departure); wait for both to be past it.
		harness.MustSucceed(t, "chat off", host.UpdateSettings(room.ID, map[string]any{"allowChat": false}))
		for _, s := range []*harness.Operation{hostSub, adaSub} {
			if e := s.Event(5 * time.Second); e.Type != "SETTINGS_CHANGED" {
				t.Fatalf("got %s", e.Type)
			}
		}

		harness.MustSucceed(t, "host removes ada", host.Leave(adaIn.ParticipantID))
		if e := adaSub.Event(5 * time.Second); e.Type != "PARTICIPANT_LEFT" || e.Participant.ID != adaIn.ParticipantID {
			t.Fatalf("ada got %+v", e)
		}
		adaSub.Completes(5 * time.Second)
		// The host stepping out does not end the host's subscription.
		harness.MustSucceed(t, "host steps out", host.Leave(hostIn.ParticipantID))
		harness.MustSucceed(t, "lock", host.UpdateSettings(room.ID, map[string]any{"isLocked": true}))
		for _, want := range []string{"PARTICIPANT_LEFT", "PARTICIPANT_LEFT", "ROOM_LOCKED"} {
			if e := hostSub.Event(5 * time.Second); e.Type != want {
				t.Fatalf("host got %s, want %s", e.Type, want)
			}
		}
		srv.WaitSubscribers(1)
	})
}

// Clients that can set headers on the upgrade request (not browsers) may
// authenticate with it instead of connection_init's payload; the payload
// wins when both are there.
func TestLiveEvents_TokenInTheUpgradeRequestHeader(t *testing.T) {
	srv := harness.Start(t)
	host := srv.Register("host@example.com", "Host")
	stranger := srv.Register("eve@example.com", "Eve")
	room := srv.WithToken(host.Token).CreateRoom(nil)
	vars := map[string]any{"room": room.ID}
	bearer := harness.WSHeader(http.Header{"Authorization": {"Bearer " + host.Token}})
	viaHeader := harness.DialWS(t, srv.URL, "", bearer)
	sub := viaHeader.Subscribe(harness.RoomEventsQuery, vars)
	overridden := harness.DialWS(t, srv.URL, stranger.Token, bearer)
	if code, _ := overridden.Subscribe(harness.RoomEventsQuery, vars).Refused(5 * time.Second); code != "FORBIDDEN" {
		t.Fatalf("payload token of a stranger over the host's header: %s, want FORBIDDEN", code)
	}
	srv.WaitSubscribers(1)
	harness.MustSucceed(t, "lock", srv.WithToken(host.Token).UpdateSettings(room.ID, map[string]any{"isLocked": true}))
	if e := sub.Event(5 * time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("got %s", e.Type)
	}
}

// Streams outlive the server's request timeouts and carry keep-alives; a
// websocket client that stops answering pings is dropped.
func TestLiveEvents_StreamsOutliveRequestTimeoutsWithKeepAlives(t *testing.T) {
	srv := harness.Start(t, harness.RealServer(), harness.WithEnv(map[string]string{
		"HTTP_READ_TIMEOUT": "300ms", "HTTP_WRITE_TIMEOUT": "300ms", "SUBSCRIPTION_KEEPALIVE": "100ms",
	}))
	hostUser := srv.Register("host@example.com", "Host")
	host := srv.WithToken(hostUser.Token)
	room := host.CreateRoom(nil)
	vars := map[string]any{"room": room.ID}

	streams := srv.SubscribeBoth(hostUser.Token, harness.RoomEventsQuery, vars)
	ws, wsSub, sse := streams.WS, streams.Op, streams.SSE
	mute := harness.DialWS(t, srv.URL, hostUser.Token, harness.NoPong())
	time.Sleep(time.Second) // three times the timeouts
	if sse.Pings() < 3 || ws.Pings() < 3 {
		t.Fatalf("keep-alives in 1s at 100ms: SSE %d, websocket %d", sse.Pings(), ws.Pings())
	}
	harness.MustSucceed(t, "lock", host.UpdateSettings(room.ID, map[string]any{"isLocked": true}))
	if e := sse.Event(5 * time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("SSE got %s", e.Type)
	}
	if e := wsSub.Event(5 * time.Second); e.Type != "ROOM_LOCKED" {
		t.Fatalf("websocket got %s", e.Type)
	}
	select {
	case <-mute.Done():
	default:
		t.Fatalf("a client that answered no ping for 1s (pings every 100ms) is still connected")
	}
	harness.MustSucceed(t, "end", host.EndRoom(room.ID))
	if e := sse.Event(5 * time.Second); e.Type != "ROOM_ENDED" {
		t.Fatalf("SSE got %s", e.Type)
	}
	if ev, ok := sse.Next(5 * time.Second); !ok || ev.Event != "complete" {
		t.Fatalf("SSE after the end: %q (open %v), want complete", ev.Event, ok)
	}
	wsSub.Event(5 * time.Second)
	wsSub.Completes(5 * time.Second)
}

// Shutting down ends every stream cleanly and promptly: websockets get a
// normal close frame (graphql-ws clients then reconnect, to another
// instance), SSE streams a last result saying why, then complete; the
// server does not wait out its shutdown timeout for them.
func TestLiveEvents_ShutdownClosesStreamsCleanly(t *testing.T) {
	srv := harness.Start(t, harness.RealServer(), harness.WithEnv(map[string]string{"SHUTDOWN_TIMEOUT": "20s"}))
	host := srv.Register("host@example.com", "Host")
	room := srv.WithToken(host.Token).CreateRoom(nil)
	streams := srv.SubscribeBoth(host.Token, harness.RoomEventsQuery, map[string]any{"room": room.ID})
	ws, sse := streams.WS, streams.SSE
	time.Sleep(100 * time.Millisecond) // let both subscriptions open

	start := time.Now()
	if err := srv.Stop(); err != nil {
		t.Fatalf("run returned %v (a shutdown that waited out its timeout fails)", err)
	}
	t.Logf("shutdown took %v", time.Since(start))
	if status := ws.CloseStatus(5 * time.Second); status != websocket.StatusNormalClosure {
		t.Fatalf("websocket closed with %d (%v), want a normal close frame", status, ws.Err())
	}
	ev, ok := sse.Next(5 * time.Second)
	if !ok || ev.Data.Code() != "SUBSCRIPTION_INTERRUPTED" || ev.Data.Errors[0].Extensions["reason"] != "SERVER_SHUTTING_DOWN" {
		t.Fatalf("SSE got %q %+v (open %v), want SUBSCRIPTION_INTERRUPTED/SERVER_SHUTTING_DOWN", ev.Event, ev.Data, ok)
	}
	if ev, ok := sse.Next(5 * time.Second); !ok || ev.Event != "complete" {
		t.Fatalf("SSE then got %q (open %v), want complete", ev.Event, ok)
	}
}

// Terminating an instance's LISTEN connection ends its subscriptions with
// SUBSCRIPTION_INTERRUPTED (they may have missed events); a new
// subscription waits for the reconnection and then gets events from the
// other instance again.
func TestLiveEvents_ListenConnectionReconnects(t *testing.T) {
	a, b, admin := harness.TwoInstances(t)
	host := a.Register("host@example.com", "Host")
	room := a.WithToken(host.Token).CreateRoom(nil)
	vars := map[string]any{"room": room.ID}
	ws := harness.DialWS(t, b.URL, host.Token)
	before := ws.Subscribe(harness.RoomEventsQuery, vars)
	b.WaitSubscribers(1)

	var killed int
	if err := admin.NewRaw("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = ?",
		events.ApplicationName).Scan(context.Background(), &killed); err != nil {
		t.Fatal(err)
	}
	if killed != 1 { // only B has a subscriber, so only B listens
		t.Fatalf("terminated %d LISTEN connections, want 1", killed)
	}
	if code, reason := before.Refused(5 * time.Second); code != "SUBSCRIPTION_INTERRUPTED" || reason != "EVENTS_INTERRUPTED" {
		t.Fatalf("subscription ended with %s/%s", code, reason)
	}

	after := ws.Subscribe(harness.RoomEventsQuery, vars) // same connection: it survives
	b.WaitSubscribers(1)
	harness.MustSucceed(t, "lock", a.WithToken(host.Token).UpdateSettings(room.ID, map[string]any{"isLocked": true}))
	if e := after.Event(time.Second); e.Type != "ROOM_LOCKED" {
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
			// The host follows the room on 101 connections: no person
			// does, so the per-user stream cap is lifted here.
			env := harness.WithEnv(map[string]string{"STREAMS_PER_USER": "0"})
			var a, b *harness.Server
			if dialect == "postgres" {
				a, b, _ = harness.TwoInstances(t, env)
			} else {
				a = harness.Start(t, harness.Dialect(dialect), env)
				b = a
			}
			hostUser := a.Register("host@example.com", "Host")
			host := a.WithToken(hostUser.Token)
			room := host.CreateRoom(map[string]any{"maxParticipants": 100})
			tokens := []string{}
			for i := range 99 {
				g, res := a.Join(room.Code, new("Guest "+string(rune('A'+i%26))+string(rune('a'+i/26))))
				harness.MustSucceed(t, "guest joins", res)
				tokens = append(tokens, g.Token)
			}
			for len(tokens) < subscribers {
				tokens = append(tokens, hostUser.Token)
			}
			subs := make([]*harness.Operation, subscribers)
			var mu sync.Mutex
			tally := b.Concurrently(subscribers, func(i int) string {
				ws, err := harness.TryDialWS(t, b.URL, tokens[i])
				if err != nil {
					return err.Error()
				}
				sub := ws.Subscribe(`subscription($room: ID!) { roomEvents(roomId: $room) { type settings { allowChat } } }`,
					map[string]any{"room": room.ID})
				mu.Lock()
				subs[i] = sub
				mu.Unlock()
				return "subscribed"
			})
			if tally["subscribed"] != subscribers {
				t.Fatalf("subscribing %d clients at once: %v", subscribers, tally)
			}
			b.WaitSubscribers(subscribers)

			sent := make([]time.Time, burst)
			for k := range burst {
				sent[k] = time.Now()
				harness.MustSucceed(t, "toggle chat", host.UpdateSettings(room.ID, map[string]any{"allowChat": k%2 == 1}))
			}
			latencies := make([]time.Duration, 0, subscribers*burst)
			for i, s := range subs {
				for k := range burst {
					m, ok := s.Next(10 * time.Second)
					if !ok || m.Type != "next" {
						t.Fatalf("subscriber %d, event %d: %q %s", i, k, m.Type, m.Payload)
					}
					var data struct {
						RoomEvents struct {
							Type     string
							Settings struct{ AllowChat bool }
						}
					}
					m.Result().Decode(t, &data)
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

// The README's client, the graphql-ws npm package, follows a room on one
// instance while another makes the changes: every event, in order, within
// a second, then complete. A bad token is refused with 4403.
func TestLiveEvents_GraphQLWSPackageAcrossInstances(t *testing.T) {
	a, b, _ := harness.TwoInstances(t)
	hostUser := a.Register("host@example.com", "Host")
	host, ada := a.WithToken(hostUser.Token), a.WithToken(a.Register("ada@example.com", "Ada").Token)
	room := host.CreateRoom(nil)

	sub := harness.StartNPMSubscriber(t, b.URL, hostUser.Token, room.ID)
	if l := sub.Next(10 * time.Second); !l.Connected {
		t.Fatalf("first report %+v, want connected", l)
	}
	b.WaitSubscribers(1)

	steps := []struct {
		want string
		do   func() harness.GQLResponse
	}{
		{"PARTICIPANT_JOINED", func() harness.GQLResponse { _, res := ada.Join(room.Code, nil); return res }},
		{"SETTINGS_CHANGED", func() harness.GQLResponse { return host.UpdateSettings(room.ID, map[string]any{"allowChat": false}) }},
		{"ROOM_LOCKED", func() harness.GQLResponse { return host.UpdateSettings(room.ID, map[string]any{"isLocked": true}) }},
		{"ROOM_ENDED", func() harness.GQLResponse { return host.EndRoom(room.ID) }},
	}
	for _, step := range steps {
		sent := time.Now()
		harness.MustSucceed(t, step.want, step.do())
		l := sub.Next(time.Second)
		if l.Next == nil {
			t.Fatalf("%s: graphql-ws reported %+v", step.want, l)
		}
		var data struct {
			RoomEvents struct {
				Type        string
				Participant *struct{ User struct{ DisplayName string } }
			}
		}
		l.Next.Decode(t, &data)
		if data.RoomEvents.Type != step.want {
			t.Fatalf("got %s, want %s", data.RoomEvents.Type, step.want)
		}
		if step.want == "PARTICIPANT_JOINED" && data.RoomEvents.Participant.User.DisplayName != "Ada" {
			t.Fatalf("joined: %+v", data.RoomEvents.Participant)
		}
		t.Logf("%s received %v after its mutation was sent", step.want, l.At.Sub(sent).Round(100*time.Microsecond))
	}
	if l := sub.Next(time.Second); !l.Complete {
		t.Fatalf("after ROOM_ENDED graphql-ws reported %+v, want complete", l)
	}

	refused := harness.StartNPMSubscriber(t, b.URL, hostUser.Token+"x", room.ID)
	if l := refused.Next(10 * time.Second); string(l.Error) != "4403" {
		t.Fatalf("bad token: graphql-ws reported %+v, want error 4403", l)
	}
}
