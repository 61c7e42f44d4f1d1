package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

var (
	e2eTimeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	e2eCodeRE = regexp.MustCompile(`^[a-z]{3}-[a-z]{3}-[a-z]{3}$`)
	e2eCuidRE = regexp.MustCompile(`^c[a-z0-9]{24}$`)
)

// e2eUnauthorizedJSON is the contract's exact 401 body.
const e2eUnauthorizedJSON = `{"statusCode":401,"message":"Unauthorized"}`

// e2eRoomSelection is every Room field the contract names, nested included.
const e2eRoomSelection = `id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt
	host { id displayName }
	settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants }
	participants { id roomId userId user { id displayName } guestName displayName isActive isHost joinedAt leftAt }`

const e2eParticipantSelection = `id roomId userId user { id displayName } guestName displayName isActive isHost joinedAt leftAt`

type e2eUserRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type e2eSettings struct {
	AllowChat              bool `json:"allowChat"`
	AllowScreenShare       bool `json:"allowScreenShare"`
	AllowGuestAccess       bool `json:"allowGuestAccess"`
	WaitingRoom            bool `json:"waitingRoom"`
	MuteParticipantsOnJoin bool `json:"muteParticipantsOnJoin"`
	MaxParticipants        int  `json:"maxParticipants"`
}

type e2eParticipant struct {
	ID          string      `json:"id"`
	RoomID      string      `json:"roomId"`
	UserID      *string     `json:"userId"`
	User        *e2eUserRef `json:"user"`
	GuestName   *string     `json:"guestName"`
	DisplayName string      `json:"displayName"`
	IsActive    bool        `json:"isActive"`
	IsHost      bool        `json:"isHost"`
	JoinedAt    string      `json:"joinedAt"`
	LeftAt      *string     `json:"leftAt"`
}

type e2eRoom struct {
	ID           string           `json:"id"`
	Code         string           `json:"code"`
	Name         string           `json:"name"`
	HostID       string           `json:"hostId"`
	IsActive     bool             `json:"isActive"`
	IsLocked     bool             `json:"isLocked"`
	StartedAt    *string          `json:"startedAt"`
	EndedAt      *string          `json:"endedAt"`
	CreatedAt    string           `json:"createdAt"`
	UpdatedAt    string           `json:"updatedAt"`
	Host         e2eUserRef       `json:"host"`
	Settings     e2eSettings      `json:"settings"`
	Participants []e2eParticipant `json:"participants"`
}

// e2eRESTParticipant and e2eRESTRoom are the contract's REST shapes.
type e2eRESTParticipant struct {
	ID       string  `json:"id"`
	IsActive bool    `json:"isActive"`
	IsHost   bool    `json:"isHost"`
	JoinedAt string  `json:"joinedAt"`
	LeftAt   *string `json:"leftAt"`
}

type e2eRESTRoom struct {
	ID           string               `json:"id"`
	Code         string               `json:"code"`
	Name         string               `json:"name"`
	HostID       string               `json:"hostId"`
	IsActive     bool                 `json:"isActive"`
	IsLocked     bool                 `json:"isLocked"`
	StartedAt    *string              `json:"startedAt"`
	EndedAt      *string              `json:"endedAt"`
	CreatedAt    string               `json:"createdAt"`
	UpdatedAt    string               `json:"updatedAt"`
	Settings     e2eSettings          `json:"settings"`
	Participants []e2eRESTParticipant `json:"participants"`
}

func (r e2eRoom) rest() e2eRESTRoom {
	out := e2eRESTRoom{
		ID: r.ID, Code: r.Code, Name: r.Name, HostID: r.HostID, IsActive: r.IsActive, IsLocked: r.IsLocked,
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		Settings: r.Settings, Participants: []e2eRESTParticipant{},
	}
	for _, p := range r.Participants {
		out.Participants = append(out.Participants, e2eRESTParticipant{ID: p.ID, IsActive: p.IsActive, IsHost: p.IsHost, JoinedAt: p.JoinedAt, LeftAt: p.LeftAt})
	}
	return out
}

func e2eRoomIDs(rooms []e2eRoom) []string {
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.ID
	}
	return ids
}

func e2eDeref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// e2eExpectError fails unless res carries exactly one kind of error: code, and
// (when field is not "") extensions.field naming field. It returns the
// first error.
func e2eExpectError(t testing.TB, what string, res gqlResponse, code, field string) gqlError {
	t.Helper()
	if len(res.Errors) == 0 {
		t.Fatalf("%s: succeeded (data %s), want %s", what, res.Data, code)
	}
	e := res.Errors[0]
	if got := res.code(); got != code {
		t.Fatalf("%s: extensions.code = %q (message %q), want %s", what, got, e.Message, code)
	}
	if field != "" {
		if got, _ := e.Extensions["field"].(string); got != field {
			t.Fatalf("%s: extensions.field = %q (message %q), want %q", what, got, e.Message, field)
		}
	}
	if e.Message == "" || e.Message == "internal error" {
		t.Fatalf("%s: message %q does not explain the %s", what, e.Message, code)
	}
	return e
}

// e2eCheckTimes walks a decoded response and checks every timestamp field
// has the contract's format. It returns how many non-null ones it saw.
func e2eCheckTimes(t testing.TB, v any, path string) int {
	t.Helper()
	n := 0
	switch x := v.(type) {
	case map[string]any:
		for k, child := range x {
			p := path + "." + k
			if strings.HasSuffix(k, "At") {
				if child == nil {
					continue
				}
				s, ok := child.(string)
				if !ok || !e2eTimeRE.MatchString(s) {
					t.Errorf("%s = %#v, want a time like 2024-03-03T10:00:00.000Z", p, child)
				}
				n++
				continue
			}
			n += e2eCheckTimes(t, child, p)
		}
	case []any:
		for i, child := range x {
			n += e2eCheckTimes(t, child, fmt.Sprintf("%s[%d]", path, i))
		}
	}
	return n
}

// e2eJSONKeys returns the keys of the JSON object raw, in document order, and
// its values.
func e2eJSONKeys(t testing.TB, raw []byte) ([]string, map[string]json.RawMessage) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %.200s", raw)
	}
	var keys []string
	vals := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		k := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		if _, dup := vals[k]; dup {
			t.Fatalf("duplicate key %q in %.200s", k, raw)
		}
		keys = append(keys, k)
		vals[k] = v
	}
	return keys, vals
}

func e2eSameStrings(a, b []string) bool { return reflect.DeepEqual(a, b) }

// e2eCheckRESTRooms checks the contract's key order in a
// /users/me/rooms body, and returns the body decoded.
func e2eCheckRESTRooms(t testing.TB, body []byte) []e2eRESTRoom {
	t.Helper()
	roomKeys := []string{"id", "code", "name", "hostId", "isActive", "isLocked", "startedAt", "endedAt", "createdAt", "updatedAt", "settings", "participants"}
	settingsKeys := []string{"allowChat", "allowScreenShare", "allowGuestAccess", "waitingRoom", "muteParticipantsOnJoin", "maxParticipants"}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		t.Fatalf("REST body is not a JSON array: %s", body)
	}
	for i, raw := range raws {
		keys, vals := e2eJSONKeys(t, raw)
		if !e2eSameStrings(keys, roomKeys) {
			t.Errorf("room %d keys = %v, want %v", i, keys, roomKeys)
		}
		if keys, _ := e2eJSONKeys(t, vals["settings"]); !e2eSameStrings(keys, settingsKeys) {
			t.Errorf("room %d settings keys = %v, want %v", i, keys, settingsKeys)
		}
		var parts []json.RawMessage
		if err := json.Unmarshal(vals["participants"], &parts); err != nil {
			t.Fatalf("room %d participants is not an array: %s", i, vals["participants"])
		}
		for j, praw := range parts {
			keys, pvals := e2eJSONKeys(t, praw)
			want := []string{"id", "isActive", "isHost", "joinedAt"}
			var active bool
			_ = json.Unmarshal(pvals["isActive"], &active)
			if !active {
				want = append(want, "leftAt")
			}
			if !e2eSameStrings(keys, want) {
				t.Errorf("room %d participant %d keys = %v, want %v", i, j, keys, want)
			}
		}
	}
	var rooms []e2eRESTRoom
	if err := json.Unmarshal(body, &rooms); err != nil {
		t.Fatal(err)
	}
	var all any
	_ = json.Unmarshal(body, &all)
	e2eCheckTimes(t, all, "rest")
	return rooms
}

// e2eMyRooms is GET path with token, which must answer 200 JSON.
func (s *testServer) e2eMyRooms(path, token string) []byte {
	s.t.Helper()
	status, h, body := s.do(http.MethodGet, path, token, nil)
	if status != http.StatusOK {
		s.t.Fatalf("GET %s = %d %s, want 200", path, status, body)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Fatalf("GET %s Content-Type = %q, want application/json", path, ct)
	}
	return body
}

// e2eExpect401 checks GET path with token gets the contract's 401.
func (s *testServer) e2eExpect401(path, token string) {
	s.t.Helper()
	status, h, body := s.do(http.MethodGet, path, token, nil)
	if status != http.StatusUnauthorized || string(body) != e2eUnauthorizedJSON {
		s.t.Errorf("GET %s with token %.12q: %d %s, want 401 %s", path, token, status, body, e2eUnauthorizedJSON)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		s.t.Errorf("GET %s 401 Content-Type = %q, want application/json", path, ct)
	}
}

// e2eDumpTables renders every row of every table, to prove a refused
// operation changed nothing at all.
func e2eDumpTables(t testing.TB, bdb *bun.DB) string {
	t.Helper()
	ctx := context.Background()
	var b strings.Builder
	for _, table := range []string{"users", "rooms", "room_settings", "participants"} {
		rows, err := bdb.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY id")
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %v\n", table, cols)
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if raw, ok := v.([]byte); ok {
					vals[i] = string(raw)
				}
			}
			fmt.Fprintf(&b, "%q\n", fmt.Sprint(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	return b.String()
}

func e2eCountRows(t testing.TB, bdb *bun.DB, table string) int {
	t.Helper()
	var n int
	if err := bdb.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// state is what a refused operation must leave untouched: every row, and
// the host's REST view of their rooms.
type e2eState struct{ rows, rest string }

func (s *testServer) e2eSnapshot(hostToken string) e2eState {
	s.t.Helper()
	return e2eState{rows: e2eDumpTables(s.t, s.app.DB()), rest: string(s.e2eMyRooms("/users/me/rooms", hostToken))}
}

func (s *testServer) e2eExpectUnchanged(what string, before e2eState, hostToken string) {
	s.t.Helper()
	after := s.e2eSnapshot(hostToken)
	if after.rows != before.rows {
		s.t.Errorf("%s changed the database:\nbefore:\n%s\nafter:\n%s", what, before.rows, after.rows)
	}
	if after.rest != before.rest {
		s.t.Errorf("%s changed GET /users/me/rooms:\nbefore: %s\nafter:  %s", what, before.rest, after.rest)
	}
}

// e2eMeRooms returns the viewer's rooms with every field, checking the
// times' format on the way.
func (s *testServer) e2eMeRooms(token, args string) []e2eRoom {
	s.t.Helper()
	res := s.gql(token, `{ me { rooms`+args+` { `+e2eRoomSelection+` } } }`, nil)
	var data struct{ Me struct{ Rooms []e2eRoom } }
	res.decode(s.t, &data)
	var all any
	_ = json.Unmarshal(res.Data, &all)
	// At least createdAt, updatedAt and (with participants) joinedAt each.
	if n := e2eCheckTimes(s.t, all, "data"); n < 2*len(data.Me.Rooms) {
		s.t.Errorf("only %d timestamps in %d rooms", n, len(data.Me.Rooms))
	}
	return data.Me.Rooms
}

// e2eStory is the shared state of the end-to-end scenario.
type e2eStory struct {
	srv          *testServer
	host, second registered
	loginToken   string
	room1, room2 e2eRoom
	// Participants, in join order: host and second user and guest in room
	// 1, host in room 2.
	hostIn1, secondIn1, guestIn1, hostIn2 e2eParticipant
	guestToken                            string
}

func (st *e2eStory) joinFull(token, code string, guest any) (e2eParticipant, string, gqlResponse) {
	st.srv.t.Helper()
	res := st.srv.gql(token, `mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) {
		participantToken participant { `+e2eParticipantSelection+` } } }`, map[string]any{"code": code, "guest": guest})
	if len(res.Errors) > 0 {
		return e2eParticipant{}, "", res
	}
	var data struct {
		JoinRoom struct {
			ParticipantToken string
			Participant      e2eParticipant
		}
	}
	res.decode(st.srv.t, &data)
	if data.JoinRoom.ParticipantToken == "" {
		st.srv.t.Fatal("joinRoom returned no participantToken")
	}
	return data.JoinRoom.Participant, data.JoinRoom.ParticipantToken, res
}

func TestEndToEnd_MeetingStory(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		st := &e2eStory{srv: newTestServer(t, bdb)}
		steps := []struct {
			name string
			fn   func(t *testing.T)
		}{
			{"register and login", st.registerAndLogin},
			{"create two rooms", st.createRooms},
			{"host updates room 1", st.updateRoom1},
			{"second user and guest join", st.join},
			{"guest leaves with its participant token", st.guestLeaves},
			{"room 2 ends", st.endRoom2},
			{"me.rooms over GraphQL", st.meRoomsGraphQL},
			{"me.rooms status filter and pages", st.meRoomsFilterAndPages},
			{"GET /users/me/rooms matches", st.meRoomsREST},
			{"second user sees only what they may", st.secondUsersView},
			{"second user cannot change the host's rooms", st.secondUserCannotChange},
			{"roomByCode is public and minimal", st.roomByCode},
			{"unauthenticated callers", st.unauthenticated},
			{"every input rule is enforced", st.inputRules},
			{"boundary inputs are accepted", st.boundaries},
		}
		for _, step := range steps {
			// Each step builds on the previous ones: stop after one that
			// could not finish (t.Fatal); t.Error lets the story go on.
			finished := false
			t.Run(step.name, func(t *testing.T) {
				st.srv.t = t
				step.fn(t)
				finished = true
			})
			if !finished {
				return
			}
		}
	})
}

func (st *e2eStory) registerAndLogin(t *testing.T) {
	srv := st.srv
	st.host = srv.register("  Hannah.Host@Example.COM ", "Hannah Host")
	// The user who just registered is the user themself: they see their
	// email, trimmed and lower-cased.
	if st.host.Email != "hannah.host@example.com" {
		t.Errorf("register's AuthPayload.user.email = %q, want hannah.host@example.com", st.host.Email)
	}
	if !e2eCuidRE.MatchString(st.host.ID) || st.host.Token == "" {
		t.Fatalf("register returned id %q token %q", st.host.ID, st.host.Token)
	}

	res := srv.gql("", `mutation($in: LoginInput!) { login(input: $in) { accessToken user { id email displayName } } }`,
		map[string]any{"in": map[string]any{"email": " HANNAH.HOST@example.com", "password": "correct-horse"}})
	var login struct {
		Login struct {
			AccessToken string
			User        struct {
				ID, DisplayName string
				Email           *string
			}
		}
	}
	res.decode(t, &login)
	if login.Login.User.ID != st.host.ID || login.Login.User.DisplayName != "Hannah Host" || login.Login.AccessToken == "" {
		t.Fatalf("login returned %+v", login.Login)
	}
	// The user who just signed in is the user themself: they see their email.
	if e2eDeref(login.Login.User.Email) != "hannah.host@example.com" {
		t.Errorf("login's AuthPayload.user.email = %s, want hannah.host@example.com", e2eDeref(login.Login.User.Email))
	}
	st.loginToken = login.Login.AccessToken

	for name, token := range map[string]string{"register token": st.host.Token, "login token": st.loginToken} {
		var me struct {
			Me struct {
				ID, DisplayName, CreatedAt string
				Email, Name, AvatarURL     *string
			}
		}
		srv.gql(token, `{ me { id email name displayName avatarUrl createdAt } }`, nil).decode(t, &me)
		if me.Me.ID != st.host.ID || e2eDeref(me.Me.Email) != "hannah.host@example.com" || me.Me.DisplayName != "Hannah Host" ||
			me.Me.Name != nil || me.Me.AvatarURL != nil || !e2eTimeRE.MatchString(me.Me.CreatedAt) {
			t.Errorf("me with the %s = %+v", name, me.Me)
		}
	}

	// A failed login says only "invalid credentials", whether or not the
	// email exists.
	for name, in := range map[string]map[string]any{
		"wrong password":         {"email": "hannah.host@example.com", "password": "wrong-horse"},
		"unknown email":          {"email": "nobody@example.com", "password": "correct-horse"},
		"password over 72 bytes": {"email": "hannah.host@example.com", "password": "correct-horse" + strings.Repeat("x", 60)},
	} {
		res := srv.gql("", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`, map[string]any{"in": in})
		e := e2eExpectError(t, "login, "+name, res, "UNAUTHENTICATED", "")
		if e.Message != "invalid credentials" {
			t.Errorf("login, %s: message %q, want exactly \"invalid credentials\"", name, e.Message)
		}
	}

	st.second = srv.register("sam@example.com", "Sam Second")
	// Emails are unique whatever their case or padding.
	res = srv.gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": " SAM@Example.com ", "password": "another-horse", "displayName": "Impostor"}})
	e2eExpectError(t, "register with a taken email", res, "CONFLICT", "")
	if n := e2eCountRows(t, srv.app.DB(), "users"); n != 2 {
		t.Errorf("%d users after a conflicting registration, want 2", n)
	}
}

func (st *e2eStory) createRooms(t *testing.T) {
	srv := st.srv
	create := func(in map[string]any) e2eRoom {
		t.Helper()
		res := srv.gql(st.loginToken, `mutation($in: CreateRoomInput) { createRoom(input: $in) { `+e2eRoomSelection+` } }`, map[string]any{"in": in})
		var data struct{ CreateRoom e2eRoom }
		res.decode(t, &data)
		r := data.CreateRoom
		if !e2eCuidRE.MatchString(r.ID) || !e2eCodeRE.MatchString(r.Code) {
			t.Errorf("room id %q code %q malformed", r.ID, r.Code)
		}
		if r.HostID != st.host.ID || r.Host != (e2eUserRef{st.host.ID, "Hannah Host"}) {
			t.Errorf("room host = %q %+v, want %s", r.HostID, r.Host, st.host.ID)
		}
		if !r.IsActive || r.IsLocked || r.StartedAt != nil || r.EndedAt != nil || len(r.Participants) != 0 {
			t.Errorf("new room state wrong: %+v", r)
		}
		if !e2eTimeRE.MatchString(r.CreatedAt) || r.UpdatedAt != r.CreatedAt {
			t.Errorf("new room createdAt %q updatedAt %q", r.CreatedAt, r.UpdatedAt)
		}
		return r
	}
	st.room1 = create(map[string]any{"name": "Standup"})
	if st.room1.Name != "Standup" || st.room1.Settings != (e2eSettings{true, true, true, false, false, 50}) {
		t.Errorf("room 1 = %q %+v, want the default settings", st.room1.Name, st.room1.Settings)
	}
	// Distinct creation times, so newest-first is not decided by the id tie-break.
	time.Sleep(5 * time.Millisecond)
	st.room2 = create(map[string]any{
		"name": "  Board Review  ", "maxParticipants": 5, "waitingRoom": true, "allowChat": false,
		"allowScreenShare": false, "allowGuestAccess": false, "muteParticipantsOnJoin": true,
	})
	if st.room2.Name != "Board Review" {
		t.Errorf("room 2 name = %q, want it trimmed", st.room2.Name)
	}
	if want := (e2eSettings{false, false, false, true, true, 5}); st.room2.Settings != want {
		t.Errorf("room 2 settings = %+v, want %+v", st.room2.Settings, want)
	}
	if st.room1.Code == st.room2.Code || st.room1.ID == st.room2.ID {
		t.Error("two rooms share an id or code")
	}
	if !(st.room2.CreatedAt > st.room1.CreatedAt) {
		t.Fatalf("room 2 created at %s, not after room 1 (%s)", st.room2.CreatedAt, st.room1.CreatedAt)
	}
}

func (st *e2eStory) updateRoom1(t *testing.T) {
	res := st.srv.gql(st.host.Token, `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { `+e2eRoomSelection+` } }`,
		map[string]any{"id": st.room1.ID, "in": map[string]any{"name": "Daily Standup", "muteParticipantsOnJoin": true}})
	var data struct{ UpdateRoomSettings e2eRoom }
	res.decode(t, &data)
	r := data.UpdateRoomSettings
	want := st.room1.Settings
	want.MuteParticipantsOnJoin = true
	if r.ID != st.room1.ID || r.Name != "Daily Standup" || r.Settings != want || r.IsLocked || r.Code != st.room1.Code {
		t.Fatalf("updateRoomSettings returned %+v, want name Daily Standup and settings %+v", r, want)
	}
	if r.UpdatedAt < r.CreatedAt || r.CreatedAt != st.room1.CreatedAt {
		t.Errorf("after update createdAt %s updatedAt %s (was created %s)", r.CreatedAt, r.UpdatedAt, st.room1.CreatedAt)
	}
	st.room1.Name, st.room1.Settings = r.Name, r.Settings
}

func (st *e2eStory) join(t *testing.T) {
	var res gqlResponse
	st.hostIn1, _, res = st.joinFull(st.host.Token, st.room1.Code, nil)
	res.decode(t, &struct{}{})
	st.secondIn1, _, res = st.joinFull(st.second.Token, strings.ToUpper(" "+st.room1.Code+" "), nil)
	res.decode(t, &struct{}{})
	var guestToken string
	st.guestIn1, guestToken, res = st.joinFull("", st.room1.Code, "  Gus the Guest ")
	res.decode(t, &struct{}{})
	st.guestToken = guestToken
	st.hostIn2, _, res = st.joinFull(st.host.Token, st.room2.Code, nil)
	res.decode(t, &struct{}{})

	check := func(name string, p e2eParticipant, roomID string, userID *string, guest *string, display string, isHost bool) {
		t.Helper()
		if !e2eCuidRE.MatchString(p.ID) || p.RoomID != roomID || !p.IsActive || p.IsHost != isHost || p.LeftAt != nil ||
			!e2eTimeRE.MatchString(p.JoinedAt) || p.DisplayName != display || e2eDeref(p.UserID) != e2eDeref(userID) || e2eDeref(p.GuestName) != e2eDeref(guest) {
			t.Errorf("%s joined as %+v (user %s guest %s)", name, p, e2eDeref(p.UserID), e2eDeref(p.GuestName))
		}
		if (userID == nil) != (p.User == nil) || (p.User != nil && (p.User.ID != *userID || p.User.DisplayName != display)) {
			t.Errorf("%s participant user = %+v", name, p.User)
		}
	}
	check("host in room 1", st.hostIn1, st.room1.ID, &st.host.ID, nil, "Hannah Host", true)
	check("second user in room 1", st.secondIn1, st.room1.ID, &st.second.ID, nil, "Sam Second", false)
	check("guest in room 1", st.guestIn1, st.room1.ID, nil, strPtr("Gus the Guest"), "Gus the Guest", false)
	check("host in room 2", st.hostIn2, st.room2.ID, &st.host.ID, nil, "Hannah Host", true)

	// Joining again while present returns the same participant.
	again, _, res := st.joinFull(st.second.Token, st.room1.Code, nil)
	res.decode(t, &struct{}{})
	if again.ID != st.secondIn1.ID {
		t.Errorf("second join created participant %s, want the existing %s", again.ID, st.secondIn1.ID)
	}
	// Room 2 admits no guests.
	_, _, res = st.joinFull("", st.room2.Code, "Gatecrasher")
	e2eExpectError(t, "guest joining a room without guest access", res, "FORBIDDEN", "")
	if n := e2eCountRows(t, st.srv.app.DB(), "participants"); n != 4 {
		t.Errorf("%d participants, want 4", n)
	}
}

func (st *e2eStory) guestLeaves(t *testing.T) {
	const leave = `mutation($id: ID!) { leaveRoom(participantId: $id) { ` + e2eParticipantSelection + ` } }`
	// The guest's token is no user token: it may not leave for someone else.
	e2eExpectError(t, "guest token leaving for the second user", st.srv.gql(st.guestToken, leave, map[string]any{"id": st.secondIn1.ID}), "FORBIDDEN", "")

	res := st.srv.gql(st.guestToken, leave, map[string]any{"id": st.guestIn1.ID})
	var data struct{ LeaveRoom e2eParticipant }
	res.decode(t, &data)
	p := data.LeaveRoom
	if p.ID != st.guestIn1.ID || p.IsActive || p.LeftAt == nil || !e2eTimeRE.MatchString(*p.LeftAt) || *p.LeftAt < p.JoinedAt ||
		p.JoinedAt != st.guestIn1.JoinedAt || p.DisplayName != "Gus the Guest" {
		t.Fatalf("leaveRoom returned %+v (leftAt %s)", p, e2eDeref(p.LeftAt))
	}
	st.guestIn1 = p
	e2eExpectError(t, "leaving twice", st.srv.gql(st.guestToken, leave, map[string]any{"id": st.guestIn1.ID}), "CONFLICT", "")
}

func (st *e2eStory) endRoom2(t *testing.T) {
	const end = `mutation($id: ID!) { endRoom(roomId: $id) { ` + e2eRoomSelection + ` } }`
	res := st.srv.gql(st.host.Token, end, map[string]any{"id": st.room2.ID})
	var data struct{ EndRoom e2eRoom }
	res.decode(t, &data)
	r := data.EndRoom
	if r.ID != st.room2.ID || r.IsActive || r.EndedAt == nil || !e2eTimeRE.MatchString(*r.EndedAt) || *r.EndedAt < r.CreatedAt {
		t.Fatalf("endRoom returned %+v (endedAt %s)", r, e2eDeref(r.EndedAt))
	}
	if len(r.Participants) != 1 || r.Participants[0].ID != st.hostIn2.ID || r.Participants[0].IsActive || e2eDeref(r.Participants[0].LeftAt) != *r.EndedAt {
		t.Errorf("after endRoom participants = %+v, want the host, left at endedAt %s", r.Participants, *r.EndedAt)
	}
	e2eExpectError(t, "ending an ended room", st.srv.gql(st.host.Token, end, map[string]any{"id": st.room2.ID}), "CONFLICT", "")
	_, _, res = st.joinFull(st.second.Token, st.room2.Code, nil)
	e2eExpectError(t, "joining an ended room", res, "CONFLICT", "")
}

func (st *e2eStory) meRoomsGraphQL(t *testing.T) {
	rooms := st.srv.e2eMeRooms(st.host.Token, "")
	if got, want := e2eRoomIDs(rooms), []string{st.room2.ID, st.room1.ID}; !e2eSameStrings(got, want) {
		t.Fatalf("me.rooms = %v, want room 2 then room 1 %v", got, want)
	}
	r2, r1 := rooms[0], rooms[1]

	// Room 2: ended, custom settings, the host left when it ended.
	if r2.Code != st.room2.Code || r2.Name != "Board Review" || r2.HostID != st.host.ID || r2.IsActive || r2.IsLocked ||
		r2.Host != (e2eUserRef{st.host.ID, "Hannah Host"}) || r2.Settings != st.room2.Settings || r2.CreatedAt != st.room2.CreatedAt {
		t.Errorf("room 2 = %+v", r2)
	}
	if r2.StartedAt == nil || *r2.StartedAt != st.hostIn2.JoinedAt {
		t.Errorf("room 2 startedAt = %s, want the first join %s", e2eDeref(r2.StartedAt), st.hostIn2.JoinedAt)
	}
	if r2.EndedAt == nil || r2.UpdatedAt < *r2.EndedAt {
		t.Errorf("room 2 endedAt %s updatedAt %s", e2eDeref(r2.EndedAt), r2.UpdatedAt)
	}
	wantHost2 := st.hostIn2
	wantHost2.IsActive, wantHost2.LeftAt = false, r2.EndedAt
	if len(r2.Participants) != 1 || !reflect.DeepEqual(r2.Participants[0], wantHost2) {
		t.Errorf("room 2 participants = %+v, want %+v", r2.Participants, wantHost2)
	}

	// Room 1: active, updated settings, host + second user present, guest gone.
	if r1.Code != st.room1.Code || r1.Name != "Daily Standup" || r1.HostID != st.host.ID || !r1.IsActive || r1.IsLocked ||
		r1.EndedAt != nil || r1.Host != (e2eUserRef{st.host.ID, "Hannah Host"}) || r1.Settings != st.room1.Settings ||
		r1.CreatedAt != st.room1.CreatedAt || r1.UpdatedAt < r1.CreatedAt {
		t.Errorf("room 1 = %+v", r1)
	}
	if r1.StartedAt == nil || *r1.StartedAt != st.hostIn1.JoinedAt {
		t.Errorf("room 1 startedAt = %s, want the first join %s", e2eDeref(r1.StartedAt), st.hostIn1.JoinedAt)
	}
	want1 := []e2eParticipant{st.hostIn1, st.secondIn1, st.guestIn1}
	if !reflect.DeepEqual(r1.Participants, want1) {
		t.Errorf("room 1 participants =\n%+v\nwant (join order)\n%+v", r1.Participants, want1)
	}
	for _, p := range r1.Participants {
		if p.UserID == nil && (p.User != nil || e2eDeref(p.GuestName) != p.DisplayName) {
			t.Errorf("guest participant %+v: displayName must be the guest name and user null", p)
		}
	}

	// activeOnly drops the guest who left.
	var active struct {
		Me struct {
			Rooms []struct{ Participants []struct{ ID string } }
		}
	}
	st.srv.gql(st.host.Token, `{ me { rooms { participants(activeOnly: true) { id } } } }`, nil).decode(t, &active)
	if len(active.Me.Rooms) != 2 || len(active.Me.Rooms[0].Participants) != 0 || len(active.Me.Rooms[1].Participants) != 2 {
		t.Errorf("participants(activeOnly: true) = %+v, want none in room 2 and host+second in room 1", active.Me.Rooms)
	}
	st.room1, st.room2 = r1, r2
}

func (st *e2eStory) meRoomsFilterAndPages(t *testing.T) {
	srv := st.srv
	ids := func(args string) []string {
		t.Helper()
		var data struct {
			Me struct{ Rooms []struct{ ID string } }
		}
		srv.gql(st.host.Token, `{ me { rooms`+args+` { id } } }`, nil).decode(t, &data)
		out := []string{}
		for _, r := range data.Me.Rooms {
			out = append(out, r.ID)
		}
		return out
	}
	for args, want := range map[string][]string{
		"":                 {st.room2.ID, st.room1.ID},
		"(status: ALL)":    {st.room2.ID, st.room1.ID},
		"(status: ACTIVE)": {st.room1.ID},
		"(status: ENDED)":  {st.room2.ID},
		"(first: 1)":       {st.room2.ID},
		"(first: 2)":       {st.room2.ID, st.room1.ID},
		"(first: 100)":     {st.room2.ID, st.room1.ID},
		`(first: 1, after: "` + st.room2.ID + `")`:                 {st.room1.ID},
		`(first: 1, after: "` + st.room1.ID + `")`:                 {},
		`(after: "` + st.room2.ID + `")`:                           {st.room1.ID},
		`(status: ACTIVE, first: 1, after: "` + st.room2.ID + `")`: {st.room1.ID},
		`(status: ENDED, after: "` + st.room2.ID + `")`:            {},
	} {
		if got := ids(args); !e2eSameStrings(got, want) {
			t.Errorf("me.rooms%s = %v, want %v", args, got, want)
		}
	}
	// The paged full selection is the same data as the unpaged one.
	page1 := srv.e2eMeRooms(st.host.Token, "(first: 1)")
	page2 := srv.e2eMeRooms(st.host.Token, `(first: 1, after: "`+st.room2.ID+`")`)
	if len(page1) != 1 || len(page2) != 1 || !reflect.DeepEqual(page1[0], st.room2) || !reflect.DeepEqual(page2[0], st.room1) {
		t.Errorf("pages differ from the full list:\n%+v\n%+v", page1, page2)
	}
}

func (st *e2eStory) meRoomsREST(t *testing.T) {
	body := st.srv.e2eMyRooms("/users/me/rooms", st.host.Token)
	got := e2eCheckRESTRooms(t, body)
	want := []e2eRESTRoom{st.room2.rest(), st.room1.rest()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /users/me/rooms =\n%s\nwant the GraphQL rooms\n%+v", body, want)
	}
	if legacy := st.srv.e2eMyRooms("/api/users/me/rooms", st.loginToken); !bytes.Equal(legacy, body) {
		t.Errorf("/api/users/me/rooms differs from /users/me/rooms:\n%s\n%s", legacy, body)
	}
	// Still active participants carry no leftAt key at all.
	if n := strings.Count(string(body), `"leftAt"`); n != 2 {
		t.Errorf("body has %d leftAt keys, want 2 (the guest and the host of the ended room)", n)
	}
	// The second user hosts nothing.
	if other := st.srv.e2eMyRooms("/users/me/rooms", st.second.Token); string(other) != "[]" {
		t.Errorf("second user's GET /users/me/rooms = %s, want []", other)
	}
}

func (st *e2eStory) secondUsersView(t *testing.T) {
	srv := st.srv
	res := srv.gql(st.second.Token, `query($id: ID!) { room(id: $id) { `+e2eRoomSelection+` } }`, map[string]any{"id": st.room1.ID})
	var data struct{ Room *e2eRoom }
	res.decode(t, &data)
	if data.Room == nil || !reflect.DeepEqual(*data.Room, st.room1) {
		t.Errorf("room(id) for a participant =\n%+v\nwant what the host sees\n%+v", data.Room, st.room1)
	}

	// Emails are the user's own business.
	var emails struct {
		Room struct {
			Host         struct{ Email *string }
			Participants []struct {
				User *struct {
					ID    string
					Email *string
				}
			}
		}
	}
	srv.gql(st.second.Token, `query($id: ID!) { room(id: $id) { host { email } participants { user { id email } } } }`,
		map[string]any{"id": st.room1.ID}).decode(t, &emails)
	if emails.Room.Host.Email != nil {
		t.Errorf("second user sees the host's email %q via room.host", *emails.Room.Host.Email)
	}
	if len(emails.Room.Participants) != 3 {
		t.Fatalf("room 1 participants = %+v", emails.Room.Participants)
	}
	for _, p := range emails.Room.Participants {
		switch {
		case p.User == nil: // the guest
		case p.User.ID == st.host.ID && p.User.Email != nil:
			t.Errorf("second user sees the host's email %q via participants.user", *p.User.Email)
		case p.User.ID == st.second.ID && e2eDeref(p.User.Email) != "sam@example.com":
			t.Errorf("second user's own email via participants.user = %s, want sam@example.com", e2eDeref(p.User.Email))
		}
	}
	// Nor may they list the host's rooms through room.host.
	res = srv.gql(st.second.Token, `query($id: ID!) { room(id: $id) { host { rooms { id code } } } }`, map[string]any{"id": st.room1.ID})
	e2eExpectError(t, "second user listing the host's rooms", res, "FORBIDDEN", "")
	if raw := string(res.Data); strings.Contains(raw, st.room2.ID) || strings.Contains(raw, st.room2.Code) {
		t.Errorf("host's rooms leaked: %s", raw)
	}

	// A room they never joined does not exist for them, like a missing one.
	for name, id := range map[string]string{"room 2": st.room2.ID, "unknown id": "cnotarealroom000000000000"} {
		res := srv.gql(st.second.Token, `query($id: ID!) { room(id: $id) { id name } }`, map[string]any{"id": id})
		e2eExpectError(t, "second user reading "+name, res, "NOT_FOUND", "")
		if string(res.Data) != `{"room":null}` {
			t.Errorf("room(%s) data = %s, want {\"room\":null}", name, res.Data)
		}
	}
	// The guest's token reaches its own room only.
	e2eExpectError(t, "guest token reading room 2", srv.gql(st.guestToken, `query($id: ID!) { room(id: $id) { id } }`, map[string]any{"id": st.room2.ID}), "NOT_FOUND", "")

	// Their own rooms: none.
	var mine struct {
		Me struct{ Rooms []struct{ ID string } }
	}
	srv.gql(st.second.Token, `{ me { rooms { id } } }`, nil).decode(t, &mine)
	if len(mine.Me.Rooms) != 0 {
		t.Errorf("second user's me.rooms = %+v, want none", mine.Me.Rooms)
	}
}

func (st *e2eStory) secondUserCannotChange(t *testing.T) {
	srv := st.srv
	before := srv.e2eSnapshot(st.host.Token)
	for _, room := range []e2eRoom{st.room1, st.room2} {
		res := srv.gql(st.second.Token, `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`,
			map[string]any{"id": room.ID, "in": map[string]any{"name": "Hijacked", "isLocked": true, "allowGuestAccess": false}})
		e2eExpectError(t, "second user updating "+room.Name, res, "FORBIDDEN", "")
		res = srv.gql(st.second.Token, `mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": room.ID})
		e2eExpectError(t, "second user ending "+room.Name, res, "FORBIDDEN", "")
	}
	res := srv.gql(st.second.Token, `mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": st.hostIn1.ID})
	e2eExpectError(t, "second user removing the host", res, "FORBIDDEN", "")
	srv.e2eExpectUnchanged("the second user's attempts", before, st.host.Token)
}

func (st *e2eStory) roomByCode(t *testing.T) {
	srv := st.srv
	const q = `query($code: String!) { roomByCode(code: $code) { id code name isActive isLocked waitingRoom host { id displayName avatarUrl } } }`
	type publicRoom struct {
		ID, Code, Name     string
		IsActive, IsLocked bool
		WaitingRoom        bool
		Host               struct {
			ID, DisplayName string
			AvatarURL       *string
		}
	}
	for _, tc := range []struct {
		code string
		room e2eRoom
	}{
		{st.room1.Code, st.room1},
		{"  " + strings.ToUpper(st.room1.Code) + " ", st.room1},
		{st.room2.Code, st.room2},
	} {
		var data struct{ RoomByCode *publicRoom }
		srv.gql("", q, map[string]any{"code": tc.code}).decode(t, &data)
		got := data.RoomByCode
		if got == nil || got.ID != tc.room.ID || got.Code != tc.room.Code || got.Name != tc.room.Name ||
			got.IsActive != tc.room.IsActive || got.IsLocked != tc.room.IsLocked || got.WaitingRoom != tc.room.Settings.WaitingRoom ||
			got.Host.ID != st.host.ID || got.Host.DisplayName != "Hannah Host" || got.Host.AvatarURL != nil {
			t.Errorf("roomByCode(%q) = %+v, want the public face of %+v", tc.code, got, tc.room)
		}
	}
	// No room with that code: null.
	res := srv.gql("", q, map[string]any{"code": "zzz-zzz-zzz"})
	var none struct{ RoomByCode *publicRoom }
	_ = json.Unmarshal(res.Data, &none)
	if none.RoomByCode != nil {
		t.Errorf("roomByCode(unknown) = %+v, want null", none.RoomByCode)
	}
	if c := res.code(); c != "" && c != "NOT_FOUND" {
		t.Errorf("roomByCode(unknown) error code %q", c)
	}

	// Only the public fields exist on PublicRoom and PublicUser.
	for _, sel := range []string{"hostId", "code settings { allowChat }", "participants { id }", "createdAt", "startedAt",
		"host { email }", "host { rooms { id } }", "host { createdAt }", "... on Room { hostId }"} {
		res := srv.gql("", `query($code: String!) { roomByCode(code: $code) { `+sel+` } }`, map[string]any{"code": st.room1.Code})
		if len(res.Errors) == 0 || (len(res.Data) > 0 && string(res.Data) != "null") {
			t.Errorf("roomByCode { %s } answered %s, want a validation error and no data", sel, res.Data)
		}
	}
	var types struct {
		Room struct{ Fields []struct{ Name string } }
		User struct{ Fields []struct{ Name string } }
	}
	srv.gql("", `{ room: __type(name: "PublicRoom") { fields { name } } user: __type(name: "PublicUser") { fields { name } } }`, nil).decode(t, &types)
	names := func(fs []struct{ Name string }) []string {
		out := []string{}
		for _, f := range fs {
			out = append(out, f.Name)
		}
		sort.Strings(out)
		return out
	}
	if got := names(types.Room.Fields); !e2eSameStrings(got, []string{"code", "host", "id", "isActive", "isLocked", "name", "waitingRoom"}) {
		t.Errorf("PublicRoom fields = %v", got)
	}
	if got := names(types.User.Fields); !e2eSameStrings(got, []string{"avatarUrl", "displayName", "id"}) {
		t.Errorf("PublicUser fields = %v", got)
	}
}

func (st *e2eStory) unauthenticated(t *testing.T) {
	srv := st.srv
	ghost := srv.register("ghost@example.com", "Ghost")
	dbtest.Exec(t, srv.app.DB(), "DELETE FROM users WHERE id = ?", ghost.ID)
	tokens := map[string]string{
		"no token":          "",
		"garbage token":     "garbage",
		"participant token": st.guestToken,
		"deleted user":      ghost.Token,
		"tampered token":    st.host.Token[:len(st.host.Token)-2] + "xx",
	}
	for name, token := range tokens {
		res := srv.gql(token, `{ me { id email rooms { id } } }`, nil)
		e2eExpectError(t, "me with "+name, res, "UNAUTHENTICATED", "")
		if len(res.Data) > 0 && string(res.Data) != "null" {
			t.Errorf("me with %s: data %s, want null", name, res.Data)
		}
		for _, path := range []string{"/users/me/rooms", "/api/users/me/rooms"} {
			srv.e2eExpect401(path, token)
		}
		// Mutations that need a user refuse too.
		res = srv.gql(token, `mutation { createRoom { id } }`, nil)
		e2eExpectError(t, "createRoom with "+name, res, "UNAUTHENTICATED", "")
	}
	// A non-Bearer scheme is no sign-in either.
	status, _, body := srv.e2eRaw(http.MethodGet, "/users/me/rooms", map[string]string{"Authorization": "Basic " + st.host.Token}, "")
	if status != http.StatusUnauthorized || string(body) != e2eUnauthorizedJSON {
		t.Errorf("Basic auth: %d %s, want 401 %s", status, body, e2eUnauthorizedJSON)
	}
	// Tokens in the query string are ignored.
	srv.e2eExpect401("/users/me/rooms?access_token="+url.QueryEscape(st.host.Token), "")
	if n := e2eCountRows(t, srv.app.DB(), "rooms"); n != 2 {
		t.Errorf("%d rooms after refused createRoom calls, want 2", n)
	}
}

func (st *e2eStory) inputRules(t *testing.T) {
	srv := st.srv
	const (
		register = `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`
		login    = `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`
		create   = `mutation($in: CreateRoomInput) { createRoom(input: $in) { id } }`
		update   = `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`
		join     = `mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) { participantToken } }`
		rooms    = `query($first: Int, $after: ID) { me { rooms(first: $first, after: $after) { id } } }`
	)
	reg := func(email, password, displayName string) map[string]any {
		return map[string]any{"in": map[string]any{"email": email, "password": password, "displayName": displayName}}
	}
	upd := func(in map[string]any) map[string]any { return map[string]any{"id": st.room1.ID, "in": in} }
	guest := func(name any) map[string]any { return map[string]any{"code": st.room1.Code, "guest": name} }
	page := func(first, after any) map[string]any { return map[string]any{"first": first, "after": after} }
	long := func(n int) string { return strings.Repeat("x", n) }

	cases := []struct {
		name, token, query string
		vars               map[string]any
		field              string
	}{
		{"register: malformed email", "", register, reg("not-an-email", "password1", "Newcomer"), "email"},
		{"register: empty email", "", register, reg("", "password1", "Newcomer"), "email"},
		{"register: blank email", "", register, reg("   ", "password1", "Newcomer"), "email"},
		{"register: email with display name", "", register, reg("New <new@example.com>", "password1", "Newcomer"), "email"},
		{"register: email without a domain dot", "", register, reg("new@localhost", "password1", "Newcomer"), "email"},
		{"register: two @", "", register, reg("new@@example.com", "password1", "Newcomer"), "email"},
		{"register: empty password", "", register, reg("new@example.com", "", "Newcomer"), "password"},
		{"register: 7-byte password", "", register, reg("new@example.com", "1234567", "Newcomer"), "password"},
		{"register: 73-byte password", "", register, reg("new@example.com", long(73), "Newcomer"), "password"},
		{"register: 37 two-byte runes (74 bytes)", "", register, reg("new@example.com", strings.Repeat("é", 37), "Newcomer"), "password"},
		{"register: empty displayName", "", register, reg("new@example.com", "password1", ""), "displayName"},
		{"register: 1-char displayName", "", register, reg("new@example.com", "password1", "N"), "displayName"},
		{"register: 1 char once trimmed", "", register, reg("new@example.com", "password1", "  N  "), "displayName"},
		{"register: 51-char displayName", "", register, reg("new@example.com", "password1", long(51)), "displayName"},
		{"register: 51 multibyte chars", "", register, reg("new@example.com", "password1", strings.Repeat("ü", 51)), "displayName"},
		{"login: malformed email", "", login, map[string]any{"in": map[string]any{"email": "hannah", "password": "correct-horse"}}, "email"},
		{"login: empty password", "", login, map[string]any{"in": map[string]any{"email": "hannah.host@example.com", "password": ""}}, "password"},
		{"createRoom: empty name", st.host.Token, create, map[string]any{"in": map[string]any{"name": ""}}, "name"},
		{"createRoom: blank name", st.host.Token, create, map[string]any{"in": map[string]any{"name": "   "}}, "name"},
		{"createRoom: 101-char name", st.host.Token, create, map[string]any{"in": map[string]any{"name": long(101)}}, "name"},
		{"createRoom: maxParticipants 1", st.host.Token, create, map[string]any{"in": map[string]any{"maxParticipants": 1}}, "maxParticipants"},
		{"createRoom: maxParticipants 0", st.host.Token, create, map[string]any{"in": map[string]any{"maxParticipants": 0}}, "maxParticipants"},
		{"createRoom: maxParticipants -5", st.host.Token, create, map[string]any{"in": map[string]any{"maxParticipants": -5}}, "maxParticipants"},
		{"createRoom: maxParticipants 101", st.host.Token, create, map[string]any{"in": map[string]any{"maxParticipants": 101}}, "maxParticipants"},
		{"createRoom: valid name, bad maxParticipants", st.host.Token, create, map[string]any{"in": map[string]any{"name": "Fine", "allowChat": false, "maxParticipants": 1000}}, "maxParticipants"},
		{"updateRoomSettings: empty name", st.host.Token, update, upd(map[string]any{"name": ""}), "name"},
		{"updateRoomSettings: blank name", st.host.Token, update, upd(map[string]any{"name": " \t "}), "name"},
		{"updateRoomSettings: 101-char name", st.host.Token, update, upd(map[string]any{"name": long(101)}), "name"},
		{"updateRoomSettings: maxParticipants 1", st.host.Token, update, upd(map[string]any{"maxParticipants": 1}), "maxParticipants"},
		{"updateRoomSettings: maxParticipants 101", st.host.Token, update, upd(map[string]any{"maxParticipants": 101}), "maxParticipants"},
		{"updateRoomSettings: valid fields with a bad one", st.host.Token, update,
			upd(map[string]any{"isLocked": true, "allowChat": false, "waitingRoom": true, "name": "Renamed", "maxParticipants": 1}), "maxParticipants"},
		{"updateRoomSettings: valid settings with a bad name", st.host.Token, update,
			upd(map[string]any{"isLocked": true, "allowGuestAccess": false, "name": long(150)}), "name"},
		{"joinRoom: guest without guestName", "", join, guest(nil), "guestName"},
		{"joinRoom: empty guestName", "", join, guest(""), "guestName"},
		{"joinRoom: blank guestName", "", join, guest("    "), "guestName"},
		{"joinRoom: 51-char guestName", "", join, guest(long(51)), "guestName"},
		{"me.rooms: first 0", st.host.Token, rooms, page(0, nil), "first"},
		{"me.rooms: first -1", st.host.Token, rooms, page(-1, nil), "first"},
		{"me.rooms: first 101", st.host.Token, rooms, page(101, nil), "first"},
		{"me.rooms: unknown after", st.host.Token, rooms, page(1, "cnotarealroom000000000000"), "after"},
		{"me.rooms: empty after", st.host.Token, rooms, page(nil, ""), "after"},
		{"me.rooms: after is a participant id", st.host.Token, rooms, page(1, st.hostIn1.ID), "after"},
		{"me.rooms: after is another host's room", st.second.Token, rooms, page(nil, st.room1.ID), "after"},
	}
	for _, tc := range cases {
		before := srv.e2eSnapshot(st.host.Token)
		res := srv.gql(tc.token, tc.query, tc.vars)
		e := e2eExpectError(t, tc.name, res, "BAD_USER_INPUT", tc.field)
		if strings.Contains(strings.ToLower(e.Message), "sql") {
			t.Errorf("%s: message %q mentions SQL", tc.name, e.Message)
		}
		srv.e2eExpectUnchanged(tc.name, before, st.host.Token)
	}
	// The would-be account really does not exist.
	res := srv.gql("", login, map[string]any{"in": map[string]any{"email": "new@example.com", "password": "password1"}})
	e2eExpectError(t, "login as a refused registration", res, "UNAUTHENTICATED", "")
}

// Values right at the limits are accepted, and defaults apply.
func (st *e2eStory) boundaries(t *testing.T) {
	srv := st.srv
	var reg struct {
		Register struct {
			AccessToken string
			User        struct{ ID, DisplayName string }
		}
	}
	longName := strings.Repeat("é", 50)
	password72 := strings.Repeat("é", 36) // 36 characters, 72 bytes
	srv.gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken user { id displayName } } }`,
		map[string]any{"in": map[string]any{"email": "edge@example.com", "password": password72, "displayName": longName}}).decode(t, &reg)
	if reg.Register.User.DisplayName != longName {
		t.Errorf("50-character displayName stored as %q", reg.Register.User.DisplayName)
	}
	var login struct{ Login struct{ AccessToken string } }
	srv.gql("", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "edge@example.com", "password": password72}}).decode(t, &login)
	edge := login.Login.AccessToken
	// bcrypt reads 72 bytes; a longer password sharing them is still wrong.
	res := srv.gql("", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "edge@example.com", "password": password72 + "x"}})
	if e := e2eExpectError(t, "login with the 72-byte password plus one byte", res, "UNAUTHENTICATED", ""); e.Message != "invalid credentials" {
		t.Errorf("login with a longer password: message %q", e.Message)
	}
	short := srv.register("al@example.com", "Al") // 2-character name, 13-byte password
	if short.ID == "" {
		t.Fatal("2-character displayName refused")
	}
	var reg8 struct{ Register struct{ AccessToken string } }
	srv.gql("", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "eight@example.com", "password": "12345678", "displayName": "Eight"}}).decode(t, &reg8)

	createFull := func(in any) e2eRoom {
		t.Helper()
		var data struct{ CreateRoom e2eRoom }
		srv.gql(edge, `mutation($in: CreateRoomInput) { createRoom(input: $in) { `+e2eRoomSelection+` } }`, map[string]any{"in": in}).decode(t, &data)
		return data.CreateRoom
	}
	if r := createFull(nil); r.Name != "Meeting Room" || r.Settings != (e2eSettings{true, true, true, false, false, 50}) {
		t.Errorf("createRoom without input = %q %+v, want the defaults", r.Name, r.Settings)
	}
	if r := createFull(map[string]any{}); r.Name != "Meeting Room" || r.Settings.MaxParticipants != 50 {
		t.Errorf("createRoom with an empty input = %q %+v, want the defaults", r.Name, r.Settings)
	}
	if r := createFull(map[string]any{"name": strings.Repeat("ü", 100), "maxParticipants": 2}); r.Name != strings.Repeat("ü", 100) || r.Settings.MaxParticipants != 2 {
		t.Errorf("100-character name, 2 participants: %q %+v", r.Name, r.Settings)
	}
	edgeRoom := createFull(map[string]any{"name": "N", "maxParticipants": 100})
	if edgeRoom.Name != "N" || edgeRoom.Settings.MaxParticipants != 100 {
		t.Errorf("1-character name, 100 participants: %q %+v", edgeRoom.Name, edgeRoom.Settings)
	}
	var upd struct{ UpdateRoomSettings e2eRoom }
	srv.gql(edge, `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { `+e2eRoomSelection+` } }`,
		map[string]any{"id": edgeRoom.ID, "in": map[string]any{"name": strings.Repeat("n", 100), "maxParticipants": 2}}).decode(t, &upd)
	if upd.UpdateRoomSettings.Name != strings.Repeat("n", 100) || upd.UpdateRoomSettings.Settings.MaxParticipants != 2 {
		t.Errorf("update to the limits = %+v", upd.UpdateRoomSettings)
	}
	srv.gql(edge, `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`,
		map[string]any{"id": edgeRoom.ID, "in": map[string]any{"maxParticipants": 100}}).decode(t, &struct{}{})
	for _, name := range []string{"G", strings.Repeat("ü", 50)} {
		p, _, res := st.joinFull("", edgeRoom.Code, name)
		res.decode(t, &struct{}{})
		if p.DisplayName != name || e2eDeref(p.GuestName) != name {
			t.Errorf("guest %q joined as %+v", name, p)
		}
	}
	var all struct {
		Me struct{ Rooms []struct{ ID string } }
	}
	srv.gql(edge, `{ me { rooms(first: 100) { id } } }`, nil).decode(t, &all)
	if len(all.Me.Rooms) != 4 {
		t.Errorf("edge user's rooms(first: 100) = %d rooms, want 4", len(all.Me.Rooms))
	}
}

// e2eRaw sends a request with exactly the given headers and body.
func (s *testServer) e2eRaw(method, path string, headers map[string]string, body string) (int, http.Header, []byte) {
	s.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := s.http.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// e2eLeak reports which tell-tale of a database error body has.
func e2eLeak(body []byte) string {
	lower := strings.ToLower(string(body))
	for _, s := range []string{"select", "insert", "from ", "sql", "no such table", "does not exist", "relation",
		"room_settings", "participants", "database", "closed", "prefetch", "load ", "constraint", "pq:", "pgx", "42p01"} {
		if strings.Contains(lower, s) {
			return s
		}
	}
	return ""
}

func TestGraphQL_InternalErrorsAreMasked(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		srv.createRoom(host.Token, nil)

		expectMasked := func(what, token, query string, vars map[string]any) {
			t.Helper()
			status, _, body := srv.do(http.MethodPost, "/query", token, map[string]any{"query": query, "variables": vars})
			var res gqlResponse
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatalf("%s: HTTP %d, body not JSON: %s", what, status, body)
			}
			if len(res.Errors) == 0 {
				t.Fatalf("%s: no error (data %s); the database was supposed to fail", what, res.Data)
			}
			for _, e := range res.Errors {
				if e.Message != "internal error" || e.Extensions["code"] != "INTERNAL_SERVER_ERROR" {
					t.Errorf("%s: error %q code %v, want \"internal error\" INTERNAL_SERVER_ERROR", what, e.Message, e.Extensions["code"])
				}
				if len(e.Extensions) != 1 {
					t.Errorf("%s: extensions %v carry more than the code", what, e.Extensions)
				}
			}
			if leak := e2eLeak(body); leak != "" {
				t.Errorf("%s: response mentions %q: %s", what, leak, body)
			}
		}

		// A missing table: the nested loads fail.
		dbtest.Exec(t, bdb, "DROP TABLE participants")
		expectMasked("me.rooms.participants without its table", host.Token, `{ me { rooms { id participants { id } } } }`, nil)
		status, _, body := srv.do(http.MethodGet, "/users/me/rooms", host.Token, nil)
		if status != http.StatusInternalServerError || e2eLeak(body) != "" {
			t.Errorf("REST with a missing table: %d %s, want a bare 500", status, body)
		}

		// A closed database: everything fails.
		if err := srv.app.DB().Close(); err != nil {
			t.Fatal(err)
		}
		expectMasked("me on a closed database", host.Token, `{ me { id } }`, nil)
		expectMasked("createRoom on a closed database", host.Token, `mutation { createRoom { id } }`, nil)
		expectMasked("register on a closed database", "", `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": "new@example.com", "password": "password1", "displayName": "New"}})
		expectMasked("login on a closed database", "", `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": "host@example.com", "password": "correct-horse"}})
		status, _, body = srv.do(http.MethodGet, "/users/me/rooms", host.Token, nil)
		if status != http.StatusInternalServerError || e2eLeak(body) != "" {
			t.Errorf("REST on a closed database: %d %s, want a bare 500", status, body)
		}
		if status, _, body := srv.do(http.MethodGet, "/readyz", "", nil); status != http.StatusServiceUnavailable || e2eLeak(body) != "" {
			t.Errorf("/readyz on a closed database: %d %s, want 503", status, body)
		}
	})
}

func TestGraphQL_MutationsRefusedOverGET(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := newTestServer(t, bdb)
		host := srv.register("host@example.com", "Host")
		room := srv.createRoom(host.Token, map[string]any{"name": "Original"})
		before := srv.e2eSnapshot(host.Token)

		get := func(params url.Values, token string) (int, []byte) {
			t.Helper()
			status, _, body := srv.do(http.MethodGet, "/query?"+params.Encode(), token, nil)
			return status, body
		}
		// GET does serve queries, so the refusals below are about mutations.
		status, body := get(url.Values{"query": {`{ me { id } }`}}, host.Token)
		if status != http.StatusOK || !strings.Contains(string(body), host.ID) {
			t.Fatalf("query over GET: %d %s, want 200 with the viewer", status, body)
		}

		mutations := map[string]url.Values{
			"register":   {"query": {`mutation { register(input: {email: "csrf@example.com", password: "password1", displayName: "Csrf"}) { accessToken } }`}},
			"createRoom": {"query": {`mutation { createRoom(input: {name: "Sneaky"}) { id } }`}},
			"updateRoomSettings": {"query": {`mutation($id: ID!) { updateRoomSettings(roomId: $id, input: {name: "Hijacked", isLocked: true}) { id } }`},
				"variables": {`{"id":"` + room.ID + `"}`}},
			"endRoom":           {"query": {`mutation { endRoom(roomId: "` + room.ID + `") { id } }`}},
			"joinRoom as guest": {"query": {`mutation { joinRoom(code: "` + room.Code + `", guestName: "Csrf") { participantToken } }`}},
			"mutation picked by operationName": {
				"query":         {`query Q { me { id } } mutation M { endRoom(roomId: "` + room.ID + `") { id } }`},
				"operationName": {"M"},
			},
		}
		for name, params := range mutations {
			status, body := get(params, host.Token)
			var res gqlResponse
			_ = json.Unmarshal(body, &res)
			if status == http.StatusOK || len(res.Errors) == 0 || (len(res.Data) > 0 && string(res.Data) != "null") {
				t.Errorf("%s over GET: %d %s, want it refused", name, status, body)
			}
		}
		srv.e2eExpectUnchanged("mutations over GET", before, host.Token)

		// Nor do the content types a cross-site form can send reach GraphQL.
		payload, _ := json.Marshal(map[string]any{"query": `mutation { endRoom(roomId: "` + room.ID + `") { id } }`})
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
			status, _, body := srv.e2eRaw(http.MethodPost, "/query",
				map[string]string{"Content-Type": ct, "Authorization": "Bearer " + host.Token}, string(payload))
			if status == http.StatusOK {
				t.Errorf("POST /query as %s: %d %s, want it refused", ct, status, body)
			}
		}
		srv.e2eExpectUnchanged("cross-site form posts", before, host.Token)
	})
}

func TestPlaygroundServed(t *testing.T) {
	srv := newTestServer(t, dbtest.Open(t, "sqlite"))
	status, h, body := srv.do(http.MethodGet, "/", "", nil)
	if status != http.StatusOK {
		t.Fatalf("GET / = %d", status)
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET / Content-Type = %q, want text/html", ct)
	}
	lower := strings.ToLower(string(body))
	if !strings.Contains(lower, "<html") || !strings.Contains(lower, "</html>") {
		t.Errorf("GET / is not an HTML page: %.300s", body)
	}
	if !strings.Contains(string(body), `"/query"`) && !strings.Contains(string(body), `'/query'`) {
		t.Errorf("playground does not point at /query: %.300s", body)
	}
	// The playground lives at / only; other paths are not it.
	if status, _, body := srv.do(http.MethodGet, "/no-such-page", "", nil); status != http.StatusNotFound {
		t.Errorf("GET /no-such-page = %d %.100s, want 404", status, body)
	}
}
