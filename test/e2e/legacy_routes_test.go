package e2e

// Contract tests of the legacy REST routes beyond GET /users/me/rooms
// (issue 6): per route, a table of requests with the status, the body's
// exact key set and order, and the exact error bodies the legacy web client
// receives; then the legacy client's own flow over HTTP. Every test runs on
// SQLite and PostgreSQL, on both mounts (bare and /api). What the routes
// say to bad input is in input_rules_test.go, with the other edges.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// The legacy shapes' keys, in order.
var (
	legacyUserKeys        = []string{"id", "email", "name", "displayName", "avatarUrl", "createdAt"}
	legacyProfileKeys     = []string{"id", "displayName", "avatarUrl", "createdAt"}
	legacyOwnProfileKeys  = []string{"id", "email", "displayName", "avatarUrl", "createdAt"}
	legacyRoomKeys        = []string{"id", "code", "name", "hostId", "isActive", "isLocked", "startedAt", "endedAt", "createdAt", "updatedAt", "host", "settings"}
	legacyPublicUserKeys  = []string{"id", "displayName", "avatarUrl"}
	legacyPublicRoomKeys  = []string{"id", "code", "name", "isActive", "isLocked", "host", "settings"}
	legacyParticipantKeys = []string{"id", "roomId", "userId", "guestName", "isActive", "isHost", "joinedAt", "leftAt", "user"}
	legacyAttendeeKeys    = []string{"id", "displayName", "avatarUrl", "isHost"}
	legacySettingsKeys    = []string{"id", "roomId", "allowChat", "allowScreenShare", "allowGuestAccess", "waitingRoom",
		"muteParticipantsOnJoin", "maxParticipants", "allowParticipantVideo", "allowParticipantAudio"}
)

// rawBody sends body as it is, or no body at all for "".
func rawBody(body string) []harness.RequestOption {
	if body == "" {
		return nil
	}
	return []harness.RequestOption{harness.RawBody(body)}
}

// legacyCase is one request to a route and what must come back.
type legacyCase struct {
	name   string
	method string
	path   string // without the mount prefix
	token  string
	body   string // "" sends no body
	status int
	want   string // the exact body, when not ""
	check  func(t *testing.T, body []byte)
	// same renders state the request must leave as it was (refusals).
	same func(t *testing.T) string
}

// legacyRun sends each case in order under prefix, each a subtest. A 401
// must be the contract's.
func legacyRun(t *testing.T, srv *harness.Server, prefix string, cases []legacyCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before string
			if c.same != nil {
				before = c.same(t)
			}
			what := c.method + " " + prefix + c.path
			res := srv.For(t).WithToken(c.token).REST(c.method, prefix+c.path, nil, rawBody(c.body)...)
			if c.same != nil {
				if after := c.same(t); after != before {
					t.Errorf("%s changed what it must not:\nbefore: %s\nafter:  %s", what, before, after)
				}
			}
			if res.Status != c.status {
				t.Fatalf("%s: HTTP %d %s, want %d", what, res.Status, res.Body, c.status)
			}
			expectJSONContentType(t, what, res)
			if c.status == http.StatusUnauthorized {
				expectUnauthorized(t, what, res)
			}
			if c.want != "" && string(res.Body) != c.want {
				t.Fatalf("%s: body\n got: %s\nwant: %s", what, res.Body, c.want)
			}
			if c.check != nil {
				c.check(t, res.Body)
			}
		})
	}
}

// forEachMount runs fn on each dialect, once per mount as a subtest named
// after it, on one server per dialect; tag tells the mounts' data apart.
func forEachMount(t *testing.T, fn func(t *testing.T, srv *harness.Server, prefix string, tag int)) {
	t.Helper()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		for i, prefix := range restPrefixes {
			name := "bare"
			if prefix != "" {
				name = "api"
			}
			t.Run(name, func(t *testing.T) { fn(t, srv.For(t), prefix, i) })
		}
	})
}

// legacyShape parses raw as an object with exactly keys, in order, and
// checks every timestamp in it (keys ending in At) is null or
// YYYY-MM-DDTHH:MM:SS.mmmZ.
func legacyShape(t testing.TB, what string, raw []byte, keys ...string) harness.Object {
	t.Helper()
	o := harness.ParseObject(t, raw)
	expectKeys(t, what, o, keys...)
	for _, k := range o.Keys {
		if strings.HasSuffix(k, "At") && string(o.Vals[k]) != "null" {
			if s := o.Str(t, k); !timeRE.MatchString(s) {
				t.Errorf("%s %s = %q, want YYYY-MM-DDTHH:MM:SS.mmmZ", what, k, s)
			}
		}
	}
	return o
}

// legacyFullRoom checks the full room shape (POST /rooms, GET /rooms/:id,
// PATCH settings, DELETE) and returns the room and its settings.
func legacyFullRoom(t testing.TB, raw []byte) (room, settings harness.Object) {
	t.Helper()
	room = legacyShape(t, "room", raw, legacyRoomKeys...)
	host := legacyShape(t, "room host", room.Vals["host"], legacyPublicUserKeys...)
	if host.Str(t, "id") != room.Str(t, "hostId") {
		t.Errorf("host.id %s, want hostId %s", host.Str(t, "id"), room.Str(t, "hostId"))
	}
	settings = legacyShape(t, "room settings", room.Vals["settings"], legacySettingsKeys...)
	if settings.Str(t, "roomId") != room.Str(t, "id") || !cuidRE.MatchString(settings.Str(t, "id")) {
		t.Errorf("settings id %s roomId %s, want a cuid and the room's id %s", settings.Vals["id"], settings.Vals["roomId"], room.Vals["id"])
	}
	if !cuidRE.MatchString(room.Str(t, "id")) || !codeRE.MatchString(room.Str(t, "code")) {
		t.Errorf("room id %s code %s, want a cuid and xxx-xxx-xxx", room.Vals["id"], room.Vals["code"])
	}
	return room, settings
}

// legacyParticipants checks a participant array and returns its objects.
func legacyParticipants(t testing.TB, raw []byte, keys ...string) []harness.Object {
	t.Helper()
	var out []harness.Object
	for i, p := range harness.ParseArray(t, raw) {
		out = append(out, legacyShape(t, fmt.Sprintf("participant %d", i), p, keys...))
	}
	return out
}

// legacyExpectValues checks o's values (as raw JSON) for the keys in want.
func legacyExpectValues(t testing.TB, what string, o harness.Object, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := string(o.Vals[k]); got != v {
			t.Errorf("%s %s = %s, want %s", what, k, got, v)
		}
	}
}

// legacyJSONValue is the raw JSON of v as the server writes it (like
// JSON.stringify: no HTML escaping), for comparing one value.
func legacyJSONValue(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return strings.TrimSuffix(b.String(), "\n")
}

// legacyWorld is one host's room with people in it: the host joined first,
// then a member (who may leave), then the guest Gus. A stranger has no part
// in it.
type legacyWorld struct {
	host, member, stranger harness.User
	room                   harness.Room
	hostPID, memberPID     string
	guest                  harness.Joined
}

func legacySeed(t *testing.T, srv *harness.Server, tag int) legacyWorld {
	t.Helper()
	w := legacyWorld{
		host:     srv.Register(fmt.Sprintf("host%d@example.com", tag), "Hannah Host"),
		member:   srv.Register(fmt.Sprintf("member%d@example.com", tag), "Max Member"),
		stranger: srv.Register(fmt.Sprintf("stranger%d@example.com", tag), "Stan Stranger"),
	}
	w.room = srv.WithToken(w.host.Token).CreateRoom(map[string]any{"name": "Weekly"})
	join := func(token string, guest *string) harness.Joined {
		t.Helper()
		j, res := srv.WithToken(token).Join(w.room.Code, guest)
		if res.Code() != "" {
			t.Fatalf("join: %+v", res.Errors)
		}
		srv.Pause()
		return j
	}
	w.hostPID = join(w.host.Token, nil).ParticipantID
	w.memberPID = join(w.member.Token, nil).ParticipantID
	w.guest = join("", new("Gus"))
	return w
}

// --- Health and unknown routes --------------------------------------------

// The legacy deployment's health check answers on /api/health (and bare),
// beside /healthz; a route that does not exist under /api answers the
// legacy 404 body, whatever the method.
func TestLegacyREST_HealthAndUnknownRoutes(t *testing.T) {
	srv := harness.Start(t)
	legacyRun(t, srv, "", []legacyCase{
		{name: "api health", method: http.MethodGet, path: "/api/health", status: http.StatusOK, want: `{"status":"ok"}`},
		{name: "bare health", method: http.MethodGet, path: "/health", status: http.StatusOK, want: `{"status":"ok"}`},
		{name: "healthz still", method: http.MethodGet, path: "/healthz", status: http.StatusOK, want: `{"status":"ok"}`},
		{name: "unknown api route", method: http.MethodGet, path: "/api/nope", status: http.StatusNotFound,
			want: legacyError(http.StatusNotFound, "Cannot GET /api/nope")},
		{name: "known path, unknown method", method: http.MethodDelete, path: "/api/auth/me", status: http.StatusNotFound,
			want: legacyError(http.StatusNotFound, "Cannot DELETE /api/auth/me")},
		{name: "unknown room sub-route", method: http.MethodGet, path: "/api/rooms/cabc/settings", status: http.StatusNotFound,
			want: legacyError(http.StatusNotFound, "Cannot GET /api/rooms/cabc/settings")},
	})
}

// --- GET /auth/me -----------------------------------------------------------

// GET /auth/me answers the signed-in account in the legacy user shape, for
// this server's tokens and the legacy service's alike; every other caller
// gets the contract's 401.
func TestLegacyREST_AuthMe(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		now := time.Now()
		legacyTok := legacyToken(w.member.ID, w.member.Email, now, now.Add(time.Hour))
		me := func(id, email, displayName string) func(t *testing.T, body []byte) {
			return func(t *testing.T, body []byte) {
				u := legacyShape(t, "user", body, legacyUserKeys...)
				if u.Str(t, "id") != id || u.Str(t, "email") != email || u.Str(t, "displayName") != displayName {
					t.Errorf("user %s, want %s %s %s", body, id, email, displayName)
				}
			}
		}
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "own token", method: http.MethodGet, path: "/auth/me", token: w.host.Token, status: http.StatusOK,
				check: me(w.host.ID, w.host.Email, "Hannah Host")},
			{name: "legacy service's token", method: http.MethodGet, path: "/auth/me", token: legacyTok, status: http.StatusOK,
				check: me(w.member.ID, w.member.Email, "Max Member")},
			{name: "no token", method: http.MethodGet, path: "/auth/me", status: http.StatusUnauthorized},
			{name: "garbage token", method: http.MethodGet, path: "/auth/me", token: "garbage", status: http.StatusUnauthorized},
			{name: "participant token", method: http.MethodGet, path: "/auth/me", token: w.guest.Token, status: http.StatusUnauthorized},
		})
	})
}

// --- GET /users/:id ---------------------------------------------------------

// Signed-in users see each other's public profile; the email key appears
// only on one's own.
func TestLegacyREST_GetUser(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "someone else", method: http.MethodGet, path: "/users/" + w.host.ID, token: w.stranger.Token, status: http.StatusOK,
				check: func(t *testing.T, body []byte) {
					u := legacyShape(t, "profile", body, legacyProfileKeys...)
					if u.Str(t, "id") != w.host.ID || u.Str(t, "displayName") != "Hannah Host" || string(u.Vals["avatarUrl"]) != "null" {
						t.Errorf("profile %s, want Hannah Host without an avatar", body)
					}
				}},
			{name: "oneself", method: http.MethodGet, path: "/users/" + w.host.ID, token: w.host.Token, status: http.StatusOK,
				check: func(t *testing.T, body []byte) {
					u := legacyShape(t, "own profile", body, legacyOwnProfileKeys...)
					if u.Str(t, "email") != w.host.Email {
						t.Errorf("own email %s, want %s", u.Vals["email"], w.host.Email)
					}
				}},
			{name: "unknown user", method: http.MethodGet, path: "/users/cnosuchuser00000000000000", token: w.host.Token,
				status: http.StatusNotFound, want: legacyError(http.StatusNotFound, "User not found")},
			{name: "anonymous", method: http.MethodGet, path: "/users/" + w.host.ID, status: http.StatusUnauthorized},
			{name: "participant token", method: http.MethodGet, path: "/users/" + w.host.ID, token: w.guest.Token,
				status: http.StatusUnauthorized},
		})
	})
}

// --- PATCH /users/me --------------------------------------------------------

// PATCH /users/me changes displayName and avatarUrl only: absent keys stay,
// avatarUrl null clears; anonymous callers get the 401 before any
// validation.
func TestLegacyREST_PatchUsersMe(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		const avatar = "https://cdn.example/hannah.png"
		user := func(displayName string, avatar any) func(t *testing.T, body []byte) {
			return func(t *testing.T, body []byte) {
				u := legacyShape(t, "user", body, legacyUserKeys...)
				if u.Str(t, "displayName") != displayName || string(u.Vals["avatarUrl"]) != legacyJSONValue(avatar) {
					t.Errorf("user %s, want displayName %q avatarUrl %v", body, displayName, legacyJSONValue(avatar))
				}
				// What PATCH answers is what is stored.
				me := srv.For(t).WithToken(w.host.Token).REST(http.MethodGet, "/auth/me", nil).Body
				if string(me) != string(body) {
					t.Errorf("GET /auth/me %s differs from the PATCH answer %s", me, body)
				}
			}
		}
		users := func(t *testing.T) string { return dbtest.DumpTables(t, srv.DB(), "users") }
		cases := []legacyCase{
			{name: "set avatar", body: `{"avatarUrl":"` + avatar + `"}`, status: http.StatusOK, check: user("Hannah Host", avatar)},
			{name: "rename keeps avatar", body: `{"displayName":"  Hannah H. "}`, status: http.StatusOK, check: user("Hannah H.", avatar)},
			{name: "empty object", body: `{}`, status: http.StatusOK, check: user("Hannah H.", avatar)},
			{name: "no body", status: http.StatusOK, check: user("Hannah H.", avatar)},
			{name: "displayName null is absent", body: `{"displayName":null}`, status: http.StatusOK, check: user("Hannah H.", avatar)},
			{name: "anonymous with a bad body", token: "-", body: `{"email":"x"}`, status: http.StatusUnauthorized},
			{name: "participant token", token: w.guest.Token, body: `{"displayName":"Gus Guest"}`, status: http.StatusUnauthorized},
			{name: "clear avatar", body: `{"avatarUrl":null}`, status: http.StatusOK, check: user("Hannah H.", nil)},
		}
		for i := range cases {
			cases[i].method, cases[i].path = http.MethodPatch, "/users/me"
			switch cases[i].token {
			case "-":
				cases[i].token = ""
			case "":
				cases[i].token = w.host.Token
			}
			if cases[i].status != http.StatusOK {
				cases[i].same = users
			}
		}
		legacyRun(t, srv, prefix, cases)
	})
}

// --- POST /rooms ------------------------------------------------------------

// POST /rooms creates a room hosted by the caller and answers 201 with the
// full room; anonymous callers get the 401 before any validation.
func TestLegacyREST_CreateRoom(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		created := func(name string, waitingRoom bool, maxParticipants int) func(t *testing.T, body []byte) {
			return func(t *testing.T, body []byte) {
				room, s := legacyFullRoom(t, body)
				legacyExpectValues(t, "room", room, map[string]string{
					"name": legacyJSONValue(name), "hostId": legacyJSONValue(w.stranger.ID), "isActive": "true", "isLocked": "false",
					"startedAt": "null", "endedAt": "null",
				})
				legacyExpectValues(t, "settings", s, map[string]string{
					"allowChat": "true", "allowScreenShare": "true", "allowGuestAccess": "true", "waitingRoom": fmt.Sprint(waitingRoom),
					"muteParticipantsOnJoin": "false", "maxParticipants": fmt.Sprint(maxParticipants),
					"allowParticipantVideo": "true", "allowParticipantAudio": "true",
				})
				if host := harness.ParseObject(t, room.Vals["host"]); host.Str(t, "displayName") != "Stan Stranger" {
					t.Errorf("host %s, want the caller", room.Vals["host"])
				}
			}
		}
		rooms := func(t *testing.T) string { return fmt.Sprint(harness.CountRows(t, srv.DB(), "rooms"), " rooms") }
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "no body", method: http.MethodPost, path: "/rooms", token: w.stranger.Token, status: http.StatusCreated,
				check: created("Meeting Room", false, 50)},
			{name: "legacy form", method: http.MethodPost, path: "/rooms", token: w.stranger.Token,
				body: `{"name":"Q&A <weekly>","waitingRoom":true,"maxParticipants":10}`, status: http.StatusCreated,
				check: func(t *testing.T, body []byte) {
					created("Q&A <weekly>", true, 10)(t, body)
					// Written as JSON.stringify writes it, not \u0026 and \u003c.
					if !strings.Contains(string(body), `"name":"Q&A <weekly>"`) {
						t.Errorf("name not written as the legacy serializer does: %s", body)
					}
				}},
			{name: "anonymous with a bad body", method: http.MethodPost, path: "/rooms", body: `{"topic":"x"}`,
				status: http.StatusUnauthorized, same: rooms},
			{name: "participant token", method: http.MethodPost, path: "/rooms", token: w.guest.Token,
				status: http.StatusUnauthorized, same: rooms},
		})
	})
}

// --- GET /rooms/code/:code and GET /rooms/code/:code/participants ---------

// Anyone with a room's code sees its public face and who is in it now (in
// join order, names and avatars only); an unknown code is a 404.
func TestLegacyREST_RoomByCode(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		srv.WithToken(w.member.Token).GQL(`mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": w.memberPID}).Decode(t, new(any))
		srv.WithToken(w.host.Token).GQL(`mutation($id: ID!) { updateRoomSettings(roomId: $id, input: {waitingRoom: true}) { id } }`, map[string]any{"id": w.room.ID}).Decode(t, new(any))
		publicRoom := func(t *testing.T, body []byte) {
			room := legacyShape(t, "public room", body, legacyPublicRoomKeys...)
			if room.Str(t, "id") != w.room.ID || room.Str(t, "code") != w.room.Code || room.Str(t, "name") != "Weekly" ||
				!room.Bool(t, "isActive") || room.Bool(t, "isLocked") {
				t.Errorf("room %s, want the active, unlocked Weekly", body)
			}
			host := legacyShape(t, "host", room.Vals["host"], legacyPublicUserKeys...)
			if host.Str(t, "id") != w.host.ID || host.Str(t, "displayName") != "Hannah Host" {
				t.Errorf("host %s, want Hannah Host", room.Vals["host"])
			}
			if string(room.Vals["settings"]) != `{"waitingRoom":true}` {
				t.Errorf("settings %s, want exactly {\"waitingRoom\":true}", room.Vals["settings"])
			}
		}
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "anonymous", method: http.MethodGet, path: "/rooms/code/" + w.room.Code, status: http.StatusOK, check: publicRoom},
			{name: "signed in", method: http.MethodGet, path: "/rooms/code/" + w.room.Code, token: w.stranger.Token, status: http.StatusOK, check: publicRoom},
			{name: "typed in capitals", method: http.MethodGet, path: "/rooms/code/" + strings.ToUpper(w.room.Code), status: http.StatusOK, check: publicRoom},
			{name: "unknown code", method: http.MethodGet, path: "/rooms/code/zzz-zzz-zzz", status: http.StatusNotFound,
				want: legacyError(http.StatusNotFound, "Room not found")},
			{name: "the code 'participants'", method: http.MethodGet, path: "/rooms/code/participants", status: http.StatusNotFound,
				want: legacyError(http.StatusNotFound, "Room not found")},
			{name: "who is in it", method: http.MethodGet, path: "/rooms/code/" + w.room.Code + "/participants", status: http.StatusOK,
				check: func(t *testing.T, body []byte) {
					ps := legacyParticipants(t, body, legacyAttendeeKeys...)
					if got, want := ids(t, ps), []string{w.hostPID, w.guest.ParticipantID}; !slices.Equal(got, want) {
						t.Fatalf("attendees %v, want those present in join order %v", got, want)
					}
					if ps[0].Str(t, "displayName") != "Hannah Host" || !ps[0].Bool(t, "isHost") ||
						ps[1].Str(t, "displayName") != "Gus" || ps[1].Bool(t, "isHost") || string(ps[1].Vals["avatarUrl"]) != "null" {
						t.Errorf("attendees %s", body)
					}
				}},
			{name: "who is in an unknown room", method: http.MethodGet, path: "/rooms/code/zzz-zzz-zzz/participants", status: http.StatusNotFound,
				want: legacyError(http.StatusNotFound, "Room not found")},
		})
	})
}

// --- GET /rooms/:id and GET /rooms/:id/participants -------------------------

// The host and the room's participants (a member even after leaving) see
// the full room and who is in it now; to anyone else it does not exist.
func TestLegacyREST_GetRoomAndParticipants(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		srv.WithToken(w.member.Token).GQL(`mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": w.memberPID}).Decode(t, new(any))
		fullRoom := func(t *testing.T, body []byte) {
			room, _ := legacyFullRoom(t, body)
			if room.Str(t, "id") != w.room.ID || room.Str(t, "hostId") != w.host.ID || string(room.Vals["startedAt"]) == "null" {
				t.Errorf("room %s, want the started room %s", body, w.room.ID)
			}
		}
		present := func(t *testing.T, body []byte) {
			ps := legacyParticipants(t, body, legacyParticipantKeys...)
			if got, want := ids(t, ps), []string{w.hostPID, w.guest.ParticipantID}; !slices.Equal(got, want) {
				t.Fatalf("participants %v, want those present in join order %v", got, want)
			}
			host, guest := ps[0], ps[1]
			if host.Str(t, "userId") != w.host.ID || string(host.Vals["guestName"]) != "null" || !host.Bool(t, "isHost") {
				t.Errorf("host participant %s", body)
			}
			u := legacyShape(t, "participant user", host.Vals["user"], legacyPublicUserKeys...)
			if u.Str(t, "id") != w.host.ID || u.Str(t, "displayName") != "Hannah Host" {
				t.Errorf("host participant's user %s", host.Vals["user"])
			}
			if string(guest.Vals["userId"]) != "null" || guest.Str(t, "guestName") != "Gus" || string(guest.Vals["user"]) != "null" {
				t.Errorf("guest participant %s", body)
			}
			for _, p := range ps {
				if !p.Bool(t, "isActive") || string(p.Vals["leftAt"]) != "null" || p.Str(t, "roomId") != w.room.ID {
					t.Errorf("a present participant %v", p.Vals)
				}
			}
		}
		notFound := legacyError(http.StatusNotFound, "Room not found")
		room, parts := "/rooms/"+w.room.ID, "/rooms/"+w.room.ID+"/participants"
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "host sees the room", method: http.MethodGet, path: room, token: w.host.Token, status: http.StatusOK, check: fullRoom},
			{name: "member who left sees the room", method: http.MethodGet, path: room, token: w.member.Token, status: http.StatusOK, check: fullRoom},
			{name: "stranger", method: http.MethodGet, path: room, token: w.stranger.Token, status: http.StatusNotFound, want: notFound},
			{name: "unknown room", method: http.MethodGet, path: "/rooms/cnosuchroom00000000000000", token: w.host.Token, status: http.StatusNotFound, want: notFound},
			{name: "anonymous", method: http.MethodGet, path: room, status: http.StatusUnauthorized},
			{name: "host lists participants", method: http.MethodGet, path: parts, token: w.host.Token, status: http.StatusOK, check: present},
			{name: "member who left lists participants", method: http.MethodGet, path: parts, token: w.member.Token, status: http.StatusOK, check: present},
			{name: "guest lists participants", method: http.MethodGet, path: parts, token: w.guest.Token, status: http.StatusOK, check: present},
			{name: "stranger lists participants", method: http.MethodGet, path: parts, token: w.stranger.Token, status: http.StatusNotFound, want: notFound},
			{name: "participants of an unknown room", method: http.MethodGet, path: "/rooms/cnosuchroom00000000000000/participants", token: w.host.Token,
				status: http.StatusNotFound, want: notFound},
			{name: "anonymous lists participants", method: http.MethodGet, path: parts, status: http.StatusUnauthorized},
		})
	})
}

// --- PATCH /rooms/:id/settings ----------------------------------------------

// The host changes any subset of the settings, name and lock, including
// the legacy client's two media toggles, which GraphQL then reads; others
// get 404 for unknown rooms before 403 for rooms not theirs; an ended room
// refuses.
func TestLegacyREST_PatchRoomSettings(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		path := "/rooms/" + w.room.ID + "/settings"
		room := func(t *testing.T) string {
			return string(srv.For(t).WithToken(w.host.Token).REST(http.MethodGet, "/rooms/"+w.room.ID, nil).Body)
		}
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "stranger", method: http.MethodPatch, path: path, token: w.stranger.Token, body: `{"allowChat":false}`,
				status: http.StatusForbidden, want: legacyError(http.StatusForbidden, "Only the room's host may do this"), same: room},
			{name: "stranger, unknown room", method: http.MethodPatch, path: "/rooms/cnosuchroom00000000000000/settings", token: w.stranger.Token, body: `{}`,
				status: http.StatusNotFound, want: legacyError(http.StatusNotFound, "Room not found")},
			{name: "anonymous", method: http.MethodPatch, path: path, body: `{"theme":"dark"}`,
				status: http.StatusUnauthorized, same: room},
			{name: "legacy client's form", method: http.MethodPatch, path: path, token: w.host.Token,
				body:   `{"allowScreenShare":false,"allowChat":false,"waitingRoom":true,"isLocked":true,"allowParticipantVideo":false,"allowParticipantAudio":true}`,
				status: http.StatusOK, check: func(t *testing.T, body []byte) {
					room, s := legacyFullRoom(t, body)
					legacyExpectValues(t, "room", room, map[string]string{"name": `"Weekly"`, "isLocked": "true"})
					legacyExpectValues(t, "settings", s, map[string]string{"allowScreenShare": "false", "allowChat": "false", "waitingRoom": "true",
						"allowGuestAccess": "true", "muteParticipantsOnJoin": "false", "maxParticipants": "50",
						"allowParticipantVideo": "false", "allowParticipantAudio": "true"})
				}},
			{name: "the rest of the fields", method: http.MethodPatch, path: path, token: w.host.Token,
				body:   `{"name":"Retro","allowGuestAccess":false,"muteParticipantsOnJoin":true,"maxParticipants":3,"isLocked":false,"allowParticipantAudio":false}`,
				status: http.StatusOK, check: func(t *testing.T, body []byte) {
					room, s := legacyFullRoom(t, body)
					legacyExpectValues(t, "room", room, map[string]string{"name": `"Retro"`, "isLocked": "false"})
					legacyExpectValues(t, "settings", s, map[string]string{"allowGuestAccess": "false", "muteParticipantsOnJoin": "true",
						"maxParticipants": "3", "allowParticipantAudio": "false",
						// kept from the previous PATCH
						"allowParticipantVideo": "false", "allowChat": "false", "allowScreenShare": "false", "waitingRoom": "true"})
				}},
		})

		// GraphQL reads what the legacy client stored.
		var data struct {
			Room struct {
				Settings struct{ AllowParticipantVideo, AllowParticipantAudio, AllowChat bool }
			}
		}
		srv.WithToken(w.host.Token).GQL(`query($id: ID!) { room(id: $id) { settings { allowParticipantVideo allowParticipantAudio allowChat } } }`,
			map[string]any{"id": w.room.ID}).Decode(t, &data)
		if s := data.Room.Settings; s.AllowParticipantVideo || s.AllowParticipantAudio || s.AllowChat {
			t.Errorf("GraphQL settings %+v, want video, audio and chat off", s)
		}
		// GET /users/me/rooms keeps the contract's settings keys.
		_, rooms := getMyRooms(t, srv.WithToken(w.host.Token), prefix+"/users/me/rooms")
		for _, r := range rooms {
			if _, has := r.settings.Vals["allowParticipantVideo"]; has {
				t.Errorf("GET /users/me/rooms grew a settings key")
			}
		}

		srv.WithToken(w.host.Token).GQL(`mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": w.room.ID}).Decode(t, new(any))
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "ended room", method: http.MethodPatch, path: path, token: w.host.Token, body: `{"allowChat":true}`,
				status: http.StatusConflict, want: legacyError(http.StatusConflict, "Room has ended")},
		})
	})
}

// --- DELETE /rooms/:id ------------------------------------------------------

// DELETE ends the room as endRoom does (everyone present leaves at the end
// time) and answers the ended room; only the host may, once.
func TestLegacyREST_DeleteRoomEndsIt(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		path := "/rooms/" + w.room.ID
		var endedAt string
		state := func(t *testing.T) string {
			host := srv.For(t).WithToken(w.host.Token)
			return string(host.REST(http.MethodGet, path, nil).Body) + string(host.REST(http.MethodGet, path+"/participants", nil).Body)
		}
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "stranger", method: http.MethodDelete, path: path, token: w.stranger.Token,
				status: http.StatusForbidden, want: legacyError(http.StatusForbidden, "Only the room's host may do this"), same: state},
			{name: "participant", method: http.MethodDelete, path: path, token: w.member.Token,
				status: http.StatusForbidden, want: legacyError(http.StatusForbidden, "Only the room's host may do this"), same: state},
			{name: "unknown room", method: http.MethodDelete, path: "/rooms/cnosuchroom00000000000000", token: w.host.Token,
				status: http.StatusNotFound, want: legacyError(http.StatusNotFound, "Room not found")},
			{name: "anonymous", method: http.MethodDelete, path: path, status: http.StatusUnauthorized, same: state},
			{name: "host", method: http.MethodDelete, path: path, token: w.host.Token, status: http.StatusOK,
				check: func(t *testing.T, body []byte) {
					room, _ := legacyFullRoom(t, body)
					if room.Bool(t, "isActive") || string(room.Vals["endedAt"]) == "null" {
						t.Fatalf("room %s, want ended", body)
					}
					endedAt = room.Str(t, "endedAt")
					if room.Str(t, "updatedAt") != endedAt {
						t.Errorf("updatedAt %s, want the end time %s", room.Str(t, "updatedAt"), endedAt)
					}
				}},
			{name: "nobody is left in it", method: http.MethodGet, path: path + "/participants", token: w.host.Token, status: http.StatusOK, want: "[]"},
			{name: "the room is still listed, ended", method: http.MethodGet, path: "/users/me/rooms?status=ended", token: w.host.Token, status: http.StatusOK,
				check: func(t *testing.T, body []byte) {
					rooms := harness.ParseArray(t, body)
					if len(rooms) != 1 || harness.ParseObject(t, rooms[0]).Str(t, "endedAt") != endedAt {
						t.Errorf("ended rooms %s, want this one, ended at %s", body, endedAt)
					}
				}},
			{name: "again", method: http.MethodDelete, path: path, token: w.host.Token,
				status: http.StatusConflict, want: legacyError(http.StatusConflict, "Room has already ended")},
		})
	})
}

// --- POST /rooms/:code/join and POST /rooms/participants/:id/leave --------

// Joining and leaving over REST follow joinRoom and leaveRoom: a signed-in
// caller joins as themself, an anonymous one as a named guest; the
// participant token lets the guest leave; every refusal has its legacy body.
func TestLegacyREST_JoinAndLeave(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		w := legacySeed(t, srv, tag)
		small := srv.WithToken(w.host.Token).CreateRoom(map[string]any{"name": "Pair", "maxParticipants": 2})
		locked := srv.WithToken(w.host.Token).CreateRoom(map[string]any{"name": "Locked"})
		srv.WithToken(w.host.Token).GQL(`mutation($id: ID!) { updateRoomSettings(roomId: $id, input: {isLocked: true}) { id } }`, map[string]any{"id": locked.ID}).Decode(t, new(any))
		var guestPID, guestToken, strangerPID string
		joinedAs := func(userID, guestName string, isHost bool, save *string) func(t *testing.T, body []byte) {
			return func(t *testing.T, body []byte) {
				top := legacyShape(t, "join", body, "participant", "participantToken")
				p := legacyShape(t, "participant", top.Vals["participant"], legacyParticipantKeys...)
				if !p.Bool(t, "isActive") || p.Bool(t, "isHost") != isHost || string(p.Vals["leftAt"]) != "null" || p.Str(t, "roomId") != small.ID {
					t.Errorf("participant %s", top.Vals["participant"])
				}
				if userID != "" && (p.Str(t, "userId") != userID || harness.ParseObject(t, p.Vals["user"]).Str(t, "id") != userID) {
					t.Errorf("participant %s, want user %s", top.Vals["participant"], userID)
				}
				if guestName != "" && (p.Str(t, "guestName") != guestName || string(p.Vals["user"]) != "null") {
					t.Errorf("participant %s, want guest %s", top.Vals["participant"], guestName)
				}
				if tok := top.Str(t, "participantToken"); tok == "" {
					t.Errorf("no participant token")
				} else if guestName != "" {
					guestToken = tok
				}
				*save = p.Str(t, "id")
			}
		}
		left := func(t *testing.T, body []byte) {
			p := legacyShape(t, "participant", body, legacyParticipantKeys...)
			if p.Bool(t, "isActive") || string(p.Vals["leftAt"]) == "null" || p.Str(t, "id") != guestPID {
				t.Errorf("participant %s, want the guest, gone", body)
			}
		}
		var ignored string
		joinPath := "/rooms/" + small.Code + "/join"
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "guest", method: http.MethodPost, path: joinPath, body: `{"guestName":" Gwen "}`, status: http.StatusCreated,
				check: joinedAs("", "Gwen", false, &guestPID)},
			{name: "signed in, no body", method: http.MethodPost, path: joinPath, token: w.stranger.Token, status: http.StatusCreated,
				check: joinedAs(w.stranger.ID, "", false, &strangerPID)},
			{name: "signed in again is the same participant", method: http.MethodPost, path: joinPath, token: w.stranger.Token, body: `{}`,
				status: http.StatusCreated, check: func(t *testing.T, body []byte) {
					joinedAs(w.stranger.ID, "", false, &ignored)(t, body)
					if ignored != strangerPID {
						t.Errorf("joining twice made participant %s, want %s", ignored, strangerPID)
					}
				}},
			{name: "full", method: http.MethodPost, path: joinPath, token: w.member.Token, status: http.StatusConflict,
				want: legacyError(http.StatusConflict, "Room is full")},
			{name: "locked", method: http.MethodPost, path: "/rooms/" + locked.Code + "/join", token: w.member.Token, status: http.StatusForbidden,
				want: legacyError(http.StatusForbidden, "Room is locked")},
			{name: "unknown code", method: http.MethodPost, path: "/rooms/zzz-zzz-zzz/join", token: w.member.Token, status: http.StatusNotFound,
				want: legacyError(http.StatusNotFound, "Room not found")},
			{name: "bad token", method: http.MethodPost, path: joinPath, token: "garbage", body: `{"guestName":"Al"}`,
				status: http.StatusUnauthorized},
		})
		leavePath := func(id string) string { return "/rooms/participants/" + id + "/leave" }
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "anonymous leave", method: http.MethodPost, path: leavePath(guestPID), status: http.StatusUnauthorized},
			{name: "someone else's leave", method: http.MethodPost, path: leavePath(guestPID), token: w.member.Token, status: http.StatusForbidden,
				want: legacyError(http.StatusForbidden, "Only the participant or the room's host may do this")},
			{name: "unknown participant", method: http.MethodPost, path: leavePath("cnosuchparticipant0000000"), token: w.host.Token,
				status: http.StatusNotFound, want: legacyError(http.StatusNotFound, "Participant not found")},
			{name: "guest leaves by its token", method: http.MethodPost, path: leavePath(guestPID), token: guestToken, status: http.StatusCreated, check: left},
			{name: "leaving twice", method: http.MethodPost, path: leavePath(guestPID), token: guestToken, status: http.StatusConflict,
				want: legacyError(http.StatusConflict, "Participant has already left")},
			{name: "host removes a participant", method: http.MethodPost, path: leavePath(strangerPID), token: w.host.Token, body: `{}`, status: http.StatusCreated,
				check: func(t *testing.T, body []byte) {
					p := legacyShape(t, "participant", body, legacyParticipantKeys...)
					if p.Bool(t, "isActive") || harness.ParseObject(t, p.Vals["user"]).Str(t, "id") != w.stranger.ID {
						t.Errorf("participant %s, want the stranger, gone", body)
					}
				}},
			{name: "a place is free again", method: http.MethodPost, path: joinPath, token: w.member.Token, status: http.StatusCreated,
				check: joinedAs(w.member.ID, "", false, &ignored)},
		})
	})
}

// --- GET /users/me/rooms?status=&limit=&after= ------------------------------

// The optional query narrows the documented answer without changing its
// shape: status filters, limit and after page through the rooms newest
// first; unknown parameters are ignored; a missing token is still the 401,
// before any validation.
func TestLegacyREST_MyRoomsQuery(t *testing.T) {
	forEachMount(t, func(t *testing.T, srv *harness.Server, prefix string, tag int) {
		host := srv.Register(fmt.Sprintf("pager%d@example.com", tag), "Pager")
		var newest []string // room ids, newest first
		for i := range 5 {
			newest = append([]string{srv.WithToken(host.Token).CreateRoom(map[string]any{"name": fmt.Sprintf("Room %d", i)}).ID}, newest...)
			srv.Pause()
		}
		for _, id := range []string{newest[1], newest[3]} {
			srv.WithToken(host.Token).GQL(`mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": id}).Decode(t, new(any))
		}
		get := func(query string) []string {
			t.Helper()
			_, rooms := getMyRooms(t, srv.WithToken(host.Token), prefix+"/users/me/rooms"+query)
			return roomIDs(t, rooms)
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"", newest},
			{"?status=active", []string{newest[0], newest[2], newest[4]}},
			{"?status=ended", []string{newest[1], newest[3]}},
			{"?status=all", newest},
			{"?limit=2", newest[:2]},
			{"?limit=2&after=" + newest[1], newest[2:4]},
			{"?limit=2&after=" + newest[3], newest[4:]},
			{"?after=" + newest[4], []string{}},
			{"?status=active&limit=1&after=" + newest[0], []string{newest[2]}},
			{"?_=1700000000000", newest},
		} {
			if got := get(c.query); !slices.Equal(got, c.want) {
				t.Errorf("GET /users/me/rooms%s: %v, want %v", c.query, got, c.want)
			}
		}
		const path = "/users/me/rooms"
		legacyRun(t, srv, prefix, []legacyCase{
			{name: "anonymous with a bad limit", method: http.MethodGet, path: path + "?limit=0", status: http.StatusUnauthorized},
		})
	})
}

// --- The legacy client's flow -----------------------------------------------

// The legacy web client's session, replayed over HTTP under /api with
// nothing but REST: register, create a room, look it up by its code (as the
// invite page does, signed out), update its settings, list my rooms, end
// it; then the room shows as ended everywhere.
func TestLegacyREST_ClientFlow(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		call := func(method, path, token, body string, want int) []byte {
			t.Helper()
			res := srv.WithToken(token).REST(method, "/api"+path, nil, rawBody(body)...)
			if res.Status != want {
				t.Fatalf("%s /api%s: HTTP %d %s, want %d", method, path, res.Status, res.Body, want)
			}
			expectJSONContentType(t, method+" /api"+path, res)
			return res.Body
		}

		// Register; the token it returns is the client's from now on.
		reg := legacyShape(t, "register", call(http.MethodPost, "/auth/register", "",
			`{"email":"ada@example.com","password":"correct-horse","displayName":"Ada"}`, http.StatusCreated), "user", "accessToken")
		token := reg.Str(t, "accessToken")
		me := legacyShape(t, "me", call(http.MethodGet, "/auth/me", token, "", http.StatusOK), legacyUserKeys...)
		if string(me.Vals["id"]) != string(harness.ParseObject(t, reg.Vals["user"]).Vals["id"]) {
			t.Fatalf("GET /auth/me %v is not the registered user %s", me.Vals, reg.Vals["user"])
		}

		// Create a room.
		room, settings := legacyFullRoom(t, call(http.MethodPost, "/rooms", token, `{"name":"Design review","waitingRoom":false,"maxParticipants":8}`, http.StatusCreated))
		id, code := room.Str(t, "id"), room.Str(t, "code")
		if room.Str(t, "hostId") != me.Str(t, "id") || string(settings.Vals["maxParticipants"]) != "8" {
			t.Fatalf("created room %v %v", room.Vals, settings.Vals)
		}

		// Look it up by code, signed out, as the invite page does.
		public := legacyShape(t, "room by code", call(http.MethodGet, "/rooms/code/"+code, "", "", http.StatusOK), legacyPublicRoomKeys...)
		if public.Str(t, "id") != id || public.Str(t, "name") != "Design review" || !public.Bool(t, "isActive") {
			t.Fatalf("room by code %v", public.Vals)
		}
		if got := string(call(http.MethodGet, "/rooms/code/"+code+"/participants", "", "", http.StatusOK)); got != "[]" {
			t.Fatalf("nobody joined yet, but the lobby lists %s", got)
		}

		// Update its settings with the client's whole form.
		updated, s := legacyFullRoom(t, call(http.MethodPatch, "/rooms/"+id+"/settings", token,
			`{"allowScreenShare":false,"allowChat":true,"waitingRoom":true,"isLocked":false,"allowParticipantVideo":false,"allowParticipantAudio":false}`, http.StatusOK))
		if updated.Str(t, "updatedAt") < room.Str(t, "updatedAt") || s.Bool(t, "allowScreenShare") || !s.Bool(t, "waitingRoom") ||
			s.Bool(t, "allowParticipantVideo") || s.Bool(t, "allowParticipantAudio") {
			t.Fatalf("updated room %v %v", updated.Vals, s.Vals)
		}
		if public := harness.ParseObject(t, call(http.MethodGet, "/rooms/code/"+code, "", "", http.StatusOK)); string(public.Vals["settings"]) != `{"waitingRoom":true}` {
			t.Errorf("the invite page does not show the waiting room: %s", public.Vals["settings"])
		}

		// List my rooms: the contract's shape, with the new settings.
		_, rooms := getMyRooms(t, srv.WithToken(token), "/api/users/me/rooms")
		if len(rooms) != 1 || rooms[0].obj.Str(t, "id") != id || rooms[0].settings.Bool(t, "allowScreenShare") || !rooms[0].settings.Bool(t, "waitingRoom") {
			t.Fatalf("my rooms %v", rooms)
		}

		// End it.
		ended, _ := legacyFullRoom(t, call(http.MethodDelete, "/rooms/"+id, token, "", http.StatusOK))
		if ended.Bool(t, "isActive") || string(ended.Vals["endedAt"]) == "null" {
			t.Fatalf("ended room %v", ended.Vals)
		}
		if _, rooms := getMyRooms(t, srv.WithToken(token), "/api/users/me/rooms"); rooms[0].obj.Bool(t, "isActive") || rooms[0].obj.Str(t, "endedAt") != ended.Str(t, "endedAt") {
			t.Errorf("my rooms after the end: %v", rooms[0].obj.Vals)
		}
		if got := string(call(http.MethodGet, "/users/me/rooms?status=active", token, "", http.StatusOK)); got != "[]" {
			t.Errorf("active rooms after the end: %s", got)
		}
		if public := harness.ParseObject(t, call(http.MethodGet, "/rooms/code/"+code, "", "", http.StatusOK)); public.Bool(t, "isActive") {
			t.Errorf("the invite page still shows the room active")
		}
		call(http.MethodPost, "/rooms/"+code+"/join", "", `{"guestName":"Late Larry"}`, http.StatusConflict)
	})
}
