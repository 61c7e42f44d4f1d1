package e2e

// Streams and the credentials they were opened with: a stream never
// outlives its token (a websocket closes with 4403, an SSE subscription
// ends with UNAUTHENTICATED), and a participant token stops showing the
// room once its participant has left.

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// shortTokens makes tokens that expire within seconds, exactly at their exp
// (tokens run on real time, not the harness's clock).
var shortTokens = harness.WithEnv(map[string]string{"JWT_TTL": "3s", "JWT_LEEWAY": "0s"})

// tokenExpiry reads a token's exp claim.
func tokenExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Exp int64 }
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return time.Unix(claims.Exp, 0)
}

// A websocket streams while its token verifies and is closed with 4403 (a
// refused credential, which graphql-ws clients answer by reconnecting with
// fresh connectionParams) once it expires: for a user's token and for a
// guest's participant token alike. A fresh token subscribes again.
func TestStreamCredentials_WebsocketClosesWhenItsTokenExpires(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), shortTokens)
		srv.Register("host@example.com", "Host")
		room := srv.WithToken(signIn(t, srv, "host@example.com")).CreateRoom(nil)
		vars := map[string]any{"room": room.ID}
		// Each token is made when it is used: they all live 3 s.
		tokens := []struct {
			who   string
			token func() string
		}{
			{"host", func() string { return signIn(t, srv, "host@example.com") }},
			{"guest", func() string {
				g, res := srv.Join(room.Code, new("Gus"))
				harness.MustSucceed(t, "a guest joins", res)
				return g.Token
			}},
		}
		for i, c := range tokens {
			t.Run(c.who, func(t *testing.T) {
				token := c.token()
				ws := harness.DialWS(t, srv.URL, token)
				sub := ws.Subscribe(harness.RoomEventsQuery, vars)
				srv.WaitSubscribers(1)
				harness.MustSucceed(t, "toggle chat", srv.WithToken(signIn(t, srv, "host@example.com")).UpdateSettings(room.ID, map[string]any{"allowChat": i%2 == 1}))
				if e := sub.EventAfterJoins(2 * time.Second); e.Type != "SETTINGS_CHANGED" {
					t.Fatalf("got %s, want SETTINGS_CHANGED", e.Type)
				}
				if status := ws.CloseStatus(5 * time.Second); status != 4403 {
					t.Fatalf("closed with %d (%v), want 4403", status, ws.Err())
				}
				if exp := tokenExpiry(t, token); time.Now().Before(exp) {
					t.Fatalf("closed before the token's exp %v", exp)
				}
				srv.WaitSubscribers(0)
				// The expired token is refused a new connection as well.
				if _, err := harness.TryDialWS(t, srv.URL, token); websocket.CloseStatus(err) != 4403 {
					t.Fatalf("a new connection with the expired token: %v, want 4403", err)
				}
			})
		}
		// A fresh token follows the room again.
		fresh := harness.DialWS(t, srv.URL, signIn(t, srv, "host@example.com"))
		fresh.Subscribe(harness.RoomEventsQuery, vars)
		srv.WaitSubscribers(1)
	})
}

// signIn signs in with the harness's password and returns a fresh token.
func signIn(t *testing.T, srv *harness.Server, email string) string {
	t.Helper()
	var data struct{ Login struct{ AccessToken string } }
	srv.For(t).GQL(`mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": email, "password": harness.Password}}).Decode(t, &data)
	return data.Login.AccessToken
}

// An SSE subscription ends once its token expires, with a last result
// carrying UNAUTHENTICATED, then completes.
func TestStreamCredentials_SSEEndsWhenItsTokenExpires(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), shortTokens)
		srv.Register("host@example.com", "Host")
		token := signIn(t, srv, "host@example.com")
		room := srv.WithToken(token).CreateRoom(nil)
		s := harness.SubscribeSSE(t, srv.URL, token, harness.RoomEventsQuery, map[string]any{"room": room.ID})
		srv.WaitSubscribers(1)
		harness.MustSucceed(t, "lock", srv.WithToken(signIn(t, srv, "host@example.com")).UpdateSettings(room.ID, map[string]any{"isLocked": true}))
		if e := s.Event(2 * time.Second); e.Type != "ROOM_LOCKED" {
			t.Fatalf("got %s, want ROOM_LOCKED", e.Type)
		}
		ev, ok := s.Next(5 * time.Second)
		if !ok || ev.Event != "next" || ev.Data.Code() != "UNAUTHENTICATED" {
			t.Fatalf("after the token's expiry: %q %+v (open %v), want next with UNAUTHENTICATED", ev.Event, ev.Data, ok)
		}
		if exp := tokenExpiry(t, token); time.Now().Before(exp) {
			t.Fatalf("ended before the token's exp %v", exp)
		}
		if ev, ok := s.Next(2 * time.Second); ok && ev.Event != "complete" {
			t.Fatalf("then %q, want complete", ev.Event)
		}
		srv.WaitSubscribers(0)
	})
}

// A participant token is a presence in one room, not an account: once its
// participant has left (by itself, removed by the host, or with the room's
// end) it no longer reads the room, its roster or its events (FORBIDDEN,
// NOT_IN_ROOM); it never saw other rooms. Signed-in users keep their rooms'
// history (room(id)) but follow only rooms they are in.
func TestStreamCredentials_DepartedParticipantTokenReadsNothing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
		room := host.CreateRoom(nil)
		vars := map[string]any{"room": room.ID}
		const roster = `query($room: ID!) { room(id: $room) { id participants { displayName } } }`
		readsRoom := func(t *testing.T, token string) {
			t.Helper()
			harness.MustSucceed(t, "room(id)", srv.WithToken(token).GQL(roster, vars))
			if r := srv.WithToken(token).REST(http.MethodGet, "/rooms/"+room.ID+"/participants", nil); r.Status != http.StatusOK {
				t.Fatalf("GET /rooms/:id/participants: HTTP %d %s", r.Status, r.Body)
			}
		}
		refused := func(t *testing.T, token string) {
			t.Helper()
			res := srv.WithToken(token).GQL(roster, vars)
			if res.Outcome() != "FORBIDDEN/NOT_IN_ROOM" {
				t.Errorf("room(id): %s %+v, want FORBIDDEN/NOT_IN_ROOM", res.Outcome(), res.Errors)
			}
			for _, path := range []string{"/rooms/" + room.ID, "/rooms/" + room.ID + "/participants"} {
				if r := srv.WithToken(token).REST(http.MethodGet, path, nil); r.Status != http.StatusForbidden {
					t.Errorf("GET %s: HTTP %d %s, want 403", path, r.Status, r.Body)
				}
			}
			if code, reason := harness.DialWS(t, srv.URL, token).Subscribe(harness.RoomEventsQuery, vars).Refused(5 * time.Second); code != "FORBIDDEN" || reason != "NOT_IN_ROOM" {
				t.Errorf("roomEvents over websocket: %s/%s, want FORBIDDEN/NOT_IN_ROOM", code, reason)
			}
			s := harness.SubscribeSSE(t, srv.URL, token, harness.RoomEventsQuery, vars)
			if ev, _ := s.Next(5 * time.Second); ev.Event != "next" || ev.Data.Outcome() != "FORBIDDEN/NOT_IN_ROOM" {
				t.Errorf("roomEvents over SSE: %q %+v, want FORBIDDEN/NOT_IN_ROOM", ev.Event, ev.Data)
			}
			if res := srv.WithToken(token).GQL(`mutation($p: ID!) { leaveRoom(participantId: $p) { id } }`, map[string]any{"p": participantOf(t, token)}); res.Outcome() != "CONFLICT/ALREADY_LEFT" {
				t.Errorf("leaveRoom again: %s, want CONFLICT/ALREADY_LEFT", res.Outcome())
			}
		}

		t.Run("left by itself", func(t *testing.T) {
			g, res := srv.Join(room.Code, new("Gus"))
			harness.MustSucceed(t, "join", res)
			readsRoom(t, g.Token)
			harness.MustSucceed(t, "leave", srv.WithToken(g.Token).Leave(g.ParticipantID))
			refused(t, g.Token)
		})
		t.Run("removed by the host", func(t *testing.T) {
			g, res := srv.Join(room.Code, new("Gil"))
			harness.MustSucceed(t, "join", res)
			ws := harness.DialWS(t, srv.URL, g.Token)
			sub := ws.Subscribe(harness.RoomEventsQuery, vars)
			srv.WaitSubscribers(1)
			harness.MustSucceed(t, "the host removes the guest", host.Leave(g.ParticipantID))
			if e := sub.EventAfterJoins(5 * time.Second); e.Type != "PARTICIPANT_LEFT" {
				t.Fatalf("got %s, want PARTICIPANT_LEFT", e.Type)
			}
			sub.Completes(5 * time.Second)
			refused(t, g.Token)
		})
		t.Run("the room ended", func(t *testing.T) {
			other := host.CreateRoom(nil)
			g, res := srv.Join(other.Code, new("Gwen"))
			harness.MustSucceed(t, "join", res)
			harness.MustSucceed(t, "end", host.EndRoom(other.ID))
			if res := srv.WithToken(g.Token).GQL(roster, map[string]any{"room": other.ID}); res.Outcome() != "FORBIDDEN/NOT_IN_ROOM" {
				t.Errorf("room(id) after the end: %s, want FORBIDDEN/NOT_IN_ROOM", res.Outcome())
			}
		})
		srv.WaitSubscribers(0)
	})
}

// participantOf reads the participant id a participant token is scoped to.
func participantOf(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct{ Sub string }
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims.Sub
}
