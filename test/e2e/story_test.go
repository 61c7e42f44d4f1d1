package e2e

// The product's story, told end to end on each dialect: two people sign
// up, one hosts two rooms, the other and a guest join, someone leaves, a
// room ends; then what each caller may see and do, over GraphQL and REST.
// What each input may be is input_rules_test.go's.

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// roomSelection is every Room field the contract names, nested included.
const roomSelection = `id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt
	host { id displayName }
	settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants }
	participants { id roomId userId user { id displayName } guestName displayName isActive isHost joinedAt leftAt }`

const participantSelection = `id roomId userId user { id displayName } guestName displayName isActive isHost joinedAt leftAt`

type userRef struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
}

type roomSettings struct {
	AllowChat              bool `json:"allowChat"`
	AllowScreenShare       bool `json:"allowScreenShare"`
	AllowGuestAccess       bool `json:"allowGuestAccess"`
	WaitingRoom            bool `json:"waitingRoom"`
	MuteParticipantsOnJoin bool `json:"muteParticipantsOnJoin"`
	MaxParticipants        int  `json:"maxParticipants"`
}

// participantCore is a participant as the REST contract shows it, and
// the part of GraphQL's Participant that says the same.
type participantCore struct {
	ID       string  `json:"id"`
	IsActive bool    `json:"isActive"`
	IsHost   bool    `json:"isHost"`
	JoinedAt string  `json:"joinedAt"`
	LeftAt   *string `json:"leftAt"`
}

type gqlParticipant struct {
	participantCore
	RoomID      string   `json:"roomId"`
	UserID      *string  `json:"userId"`
	User        *userRef `json:"user"`
	GuestName   *string  `json:"guestName"`
	DisplayName string   `json:"displayName"`
}

// roomCore is what a room says in both GraphQL and the REST contract.
type roomCore struct {
	ID        string       `json:"id"`
	Code      string       `json:"code"`
	Name      string       `json:"name"`
	HostID    string       `json:"hostId"`
	IsActive  bool         `json:"isActive"`
	IsLocked  bool         `json:"isLocked"`
	StartedAt *string      `json:"startedAt"`
	EndedAt   *string      `json:"endedAt"`
	CreatedAt string       `json:"createdAt"`
	UpdatedAt string       `json:"updatedAt"`
	Settings  roomSettings `json:"settings"`
}

type gqlRoom struct {
	roomCore
	Host         userRef          `json:"host"`
	Participants []gqlParticipant `json:"participants"`
}

// restRoom is a room of GET /users/me/rooms.
type restRoom struct {
	roomCore
	Participants []participantCore `json:"participants"`
}

// rest is the room as GET /users/me/rooms must show it.
func (r gqlRoom) rest() restRoom {
	out := restRoom{roomCore: r.roomCore, Participants: []participantCore{}}
	for _, p := range r.Participants {
		out.Participants = append(out.Participants, p.participantCore)
	}
	return out
}

func gqlRoomIDs(rooms []gqlRoom) []string {
	ids := make([]string, len(rooms))
	for i, r := range rooms {
		ids[i] = r.ID
	}
	return ids
}

// meRooms returns the viewer's rooms with every field, checking the times'
// format on the way.
func meRooms(t testing.TB, c *harness.Client, args string) []gqlRoom {
	t.Helper()
	res := c.GQL(`{ me { rooms`+args+` { `+roomSelection+` } } }`, nil)
	var data struct{ Me struct{ Rooms []gqlRoom } }
	res.Decode(t, &data)
	var all any
	_ = json.Unmarshal(res.Data, &all)
	// At least createdAt, updatedAt and (with participants) joinedAt each.
	if n := checkTimes(t, all, "data"); n < 2*len(data.Me.Rooms) {
		t.Errorf("only %d timestamps in %d rooms", n, len(data.Me.Rooms))
	}
	return data.Me.Rooms
}

// joinFull joins the room with code as c's caller (a guest when guest is
// not nil), selecting every participant field.
func joinFull(t testing.TB, c *harness.Client, code string, guest any) (gqlParticipant, string, harness.GQLResponse) {
	t.Helper()
	res := c.GQL(`mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) {
		participantToken participant { `+participantSelection+` } } }`, map[string]any{"code": code, "guest": guest})
	if len(res.Errors) > 0 {
		return gqlParticipant{}, "", res
	}
	var data struct {
		JoinRoom struct {
			ParticipantToken string
			Participant      gqlParticipant
		}
	}
	res.Decode(t, &data)
	if data.JoinRoom.ParticipantToken == "" {
		t.Fatal("joinRoom returned no participantToken")
	}
	return data.JoinRoom.Participant, data.JoinRoom.ParticipantToken, res
}

// story is the shared state of the end-to-end scenario.
type story struct {
	srv          *harness.Server
	host, second harness.User
	loginToken   string
	room1, room2 gqlRoom
	// Participants, in join order: host and second user and guest in room
	// 1, host in room 2.
	hostIn1, secondIn1, guestIn1, hostIn2 gqlParticipant
	guestToken                            string
}

func TestEndToEnd_MeetingStory(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		meetingStory(t, harness.Start(t, harness.WithDB(bdb)))
	})
}

// meetingStory tells the story on base, step by step (pgbouncer_test.go
// tells it behind PgBouncer too).
func meetingStory(t *testing.T, base *harness.Server) {
	st := &story{}
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
	}
	for _, step := range steps {
		// Each step builds on the previous ones: stop after one that
		// could not finish (t.Fatal); t.Error lets the story go on.
		finished := false
		t.Run(step.name, func(t *testing.T) {
			st.srv = base.For(t)
			step.fn(t)
			finished = true
		})
		if !finished {
			return
		}
	}
}

func (st *story) registerAndLogin(t *testing.T) {
	srv := st.srv
	st.host = srv.Register("  Hannah.Host@Example.COM ", "Hannah Host")
	// The user who just registered is the user themself: they see their
	// email, trimmed and lower-cased.
	if st.host.Email != "hannah.host@example.com" {
		t.Errorf("register's AuthPayload.user.email = %q, want hannah.host@example.com", st.host.Email)
	}
	if !cuidRE.MatchString(st.host.ID) || st.host.Token == "" {
		t.Fatalf("register returned id %q token %q", st.host.ID, st.host.Token)
	}

	res := srv.GQL(`mutation($in: LoginInput!) { login(input: $in) { accessToken user { id email displayName } } }`,
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
	res.Decode(t, &login)
	if login.Login.User.ID != st.host.ID || login.Login.User.DisplayName != "Hannah Host" || login.Login.AccessToken == "" {
		t.Fatalf("login returned %+v", login.Login)
	}
	// The user who just signed in is the user themself: they see their email.
	if deref(login.Login.User.Email) != "hannah.host@example.com" {
		t.Errorf("login's AuthPayload.user.email = %s, want hannah.host@example.com", deref(login.Login.User.Email))
	}
	st.loginToken = login.Login.AccessToken

	for name, token := range map[string]string{"register token": st.host.Token, "login token": st.loginToken} {
		var me struct {
			Me struct {
				ID, DisplayName, CreatedAt string
				Email, Name, AvatarURL     *string
			}
		}
		srv.WithToken(token).GQL(`{ me { id email name displayName avatarUrl createdAt } }`, nil).Decode(t, &me)
		if me.Me.ID != st.host.ID || deref(me.Me.Email) != "hannah.host@example.com" || me.Me.DisplayName != "Hannah Host" ||
			me.Me.Name != nil || me.Me.AvatarURL != nil || !timeRE.MatchString(me.Me.CreatedAt) {
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
		res := srv.GQL(`mutation($in: LoginInput!) { login(input: $in) { accessToken } }`, map[string]any{"in": in})
		e := expectError(t, "login, "+name, res, "UNAUTHENTICATED", "")
		if e.Message != "invalid credentials" {
			t.Errorf("login, %s: message %q, want exactly \"invalid credentials\"", name, e.Message)
		}
	}

	st.second = srv.Register("sam@example.com", "Sam Second")
	// Emails are unique whatever their case or padding.
	res = srv.GQL(`mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": " SAM@Example.com ", "password": "another-horse", "displayName": "Impostor"}})
	expectError(t, "register with a taken email", res, "CONFLICT", "")
	if n := harness.CountRows(t, srv.DB(), "users"); n != 2 {
		t.Errorf("%d users after a conflicting registration, want 2", n)
	}
}

func (st *story) createRooms(t *testing.T) {
	srv := st.srv
	create := func(in map[string]any) gqlRoom {
		t.Helper()
		res := srv.WithToken(st.loginToken).GQL(`mutation($in: CreateRoomInput) { createRoom(input: $in) { `+roomSelection+` } }`, map[string]any{"in": in})
		var data struct{ CreateRoom gqlRoom }
		res.Decode(t, &data)
		r := data.CreateRoom
		if !cuidRE.MatchString(r.ID) || !codeRE.MatchString(r.Code) {
			t.Errorf("room id %q code %q malformed", r.ID, r.Code)
		}
		if r.HostID != st.host.ID || r.Host != (userRef{st.host.ID, "Hannah Host"}) {
			t.Errorf("room host = %q %+v, want %s", r.HostID, r.Host, st.host.ID)
		}
		if !r.IsActive || r.IsLocked || r.StartedAt != nil || r.EndedAt != nil || len(r.Participants) != 0 {
			t.Errorf("new room state wrong: %+v", r)
		}
		if !timeRE.MatchString(r.CreatedAt) || r.UpdatedAt != r.CreatedAt {
			t.Errorf("new room createdAt %q updatedAt %q", r.CreatedAt, r.UpdatedAt)
		}
		return r
	}
	st.room1 = create(map[string]any{"name": "Standup"})
	if st.room1.Name != "Standup" || st.room1.Settings != (roomSettings{true, true, true, false, false, 50}) {
		t.Errorf("room 1 = %q %+v, want the default settings", st.room1.Name, st.room1.Settings)
	}
	// Distinct creation times, so newest-first is not decided by the id tie-break.
	st.srv.Pause()
	st.room2 = create(map[string]any{
		"name": "  Board Review  ", "maxParticipants": 5, "waitingRoom": true, "allowChat": false,
		"allowScreenShare": false, "allowGuestAccess": false, "muteParticipantsOnJoin": true,
	})
	if st.room2.Name != "Board Review" {
		t.Errorf("room 2 name = %q, want it trimmed", st.room2.Name)
	}
	if want := (roomSettings{false, false, false, true, true, 5}); st.room2.Settings != want {
		t.Errorf("room 2 settings = %+v, want %+v", st.room2.Settings, want)
	}
	if st.room1.Code == st.room2.Code || st.room1.ID == st.room2.ID {
		t.Error("two rooms share an id or code")
	}
	if !(st.room2.CreatedAt > st.room1.CreatedAt) {
		t.Fatalf("room 2 created at %s, not after room 1 (%s)", st.room2.CreatedAt, st.room1.CreatedAt)
	}
}

func (st *story) updateRoom1(t *testing.T) {
	res := st.srv.WithToken(st.host.Token).GQL(`mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { `+roomSelection+` } }`,
		map[string]any{"id": st.room1.ID, "in": map[string]any{"name": "Daily Standup", "muteParticipantsOnJoin": true}})
	var data struct{ UpdateRoomSettings gqlRoom }
	res.Decode(t, &data)
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

func (st *story) join(t *testing.T) {
	var res harness.GQLResponse
	st.hostIn1, _, res = joinFull(t, st.srv.WithToken(st.host.Token), st.room1.Code, nil)
	res.Decode(t, &struct{}{})
	st.secondIn1, _, res = joinFull(t, st.srv.WithToken(st.second.Token), strings.ToUpper(" "+st.room1.Code+" "), nil)
	res.Decode(t, &struct{}{})
	var guestToken string
	st.guestIn1, guestToken, res = joinFull(t, st.srv.Client, st.room1.Code, "  Gus the Guest ")
	res.Decode(t, &struct{}{})
	st.guestToken = guestToken
	st.hostIn2, _, res = joinFull(t, st.srv.WithToken(st.host.Token), st.room2.Code, nil)
	res.Decode(t, &struct{}{})

	check := func(name string, p gqlParticipant, roomID string, userID *string, guest *string, display string, isHost bool) {
		t.Helper()
		if !cuidRE.MatchString(p.ID) || p.RoomID != roomID || !p.IsActive || p.IsHost != isHost || p.LeftAt != nil ||
			!timeRE.MatchString(p.JoinedAt) || p.DisplayName != display || deref(p.UserID) != deref(userID) || deref(p.GuestName) != deref(guest) {
			t.Errorf("%s joined as %+v (user %s guest %s)", name, p, deref(p.UserID), deref(p.GuestName))
		}
		if (userID == nil) != (p.User == nil) || (p.User != nil && (p.User.ID != *userID || p.User.DisplayName != display)) {
			t.Errorf("%s participant user = %+v", name, p.User)
		}
	}
	check("host in room 1", st.hostIn1, st.room1.ID, &st.host.ID, nil, "Hannah Host", true)
	check("second user in room 1", st.secondIn1, st.room1.ID, &st.second.ID, nil, "Sam Second", false)
	check("guest in room 1", st.guestIn1, st.room1.ID, nil, new("Gus the Guest"), "Gus the Guest", false)
	check("host in room 2", st.hostIn2, st.room2.ID, &st.host.ID, nil, "Hannah Host", true)

	// Joining again while present returns the same participant.
	again, _, res := joinFull(t, st.srv.WithToken(st.second.Token), st.room1.Code, nil)
	res.Decode(t, &struct{}{})
	if again.ID != st.secondIn1.ID {
		t.Errorf("second join created participant %s, want the existing %s", again.ID, st.secondIn1.ID)
	}
	// Room 2 admits no guests.
	_, _, res = joinFull(t, st.srv.Client, st.room2.Code, "Gatecrasher")
	expectError(t, "guest joining a room without guest access", res, "FORBIDDEN", "")
	if n := harness.CountRows(t, st.srv.DB(), "participants"); n != 4 {
		t.Errorf("%d participants, want 4", n)
	}
}

func (st *story) guestLeaves(t *testing.T) {
	const leave = `mutation($id: ID!) { leaveRoom(participantId: $id) { ` + participantSelection + ` } }`
	// The guest's token is no user token: it may not leave for someone else.
	expectError(t, "guest token leaving for the second user", st.srv.WithToken(st.guestToken).GQL(leave, map[string]any{"id": st.secondIn1.ID}), "FORBIDDEN", "")

	res := st.srv.WithToken(st.guestToken).GQL(leave, map[string]any{"id": st.guestIn1.ID})
	var data struct{ LeaveRoom gqlParticipant }
	res.Decode(t, &data)
	p := data.LeaveRoom
	if p.ID != st.guestIn1.ID || p.IsActive || p.LeftAt == nil || !timeRE.MatchString(*p.LeftAt) || *p.LeftAt < p.JoinedAt ||
		p.JoinedAt != st.guestIn1.JoinedAt || p.DisplayName != "Gus the Guest" {
		t.Fatalf("leaveRoom returned %+v (leftAt %s)", p, deref(p.LeftAt))
	}
	st.guestIn1 = p
	expectError(t, "leaving twice", st.srv.WithToken(st.guestToken).GQL(leave, map[string]any{"id": st.guestIn1.ID}), "CONFLICT", "")
}

func (st *story) endRoom2(t *testing.T) {
	const end = `mutation($id: ID!) { endRoom(roomId: $id) { ` + roomSelection + ` } }`
	res := st.srv.WithToken(st.host.Token).GQL(end, map[string]any{"id": st.room2.ID})
	var data struct{ EndRoom gqlRoom }
	res.Decode(t, &data)
	r := data.EndRoom
	if r.ID != st.room2.ID || r.IsActive || r.EndedAt == nil || !timeRE.MatchString(*r.EndedAt) || *r.EndedAt < r.CreatedAt {
		t.Fatalf("endRoom returned %+v (endedAt %s)", r, deref(r.EndedAt))
	}
	if len(r.Participants) != 1 || r.Participants[0].ID != st.hostIn2.ID || r.Participants[0].IsActive || deref(r.Participants[0].LeftAt) != *r.EndedAt {
		t.Errorf("after endRoom participants = %+v, want the host, left at endedAt %s", r.Participants, *r.EndedAt)
	}
	expectError(t, "ending an ended room", st.srv.WithToken(st.host.Token).GQL(end, map[string]any{"id": st.room2.ID}), "CONFLICT", "")
	_, _, res = joinFull(t, st.srv.WithToken(st.second.Token), st.room2.Code, nil)
	expectError(t, "joining an ended room", res, "CONFLICT", "")
}

func (st *story) meRoomsGraphQL(t *testing.T) {
	rooms := meRooms(t, st.srv.WithToken(st.host.Token), "")
	if got, want := gqlRoomIDs(rooms), []string{st.room2.ID, st.room1.ID}; !slices.Equal(got, want) {
		t.Fatalf("me.rooms = %v, want room 2 then room 1 %v", got, want)
	}
	r2, r1 := rooms[0], rooms[1]

	// Room 2: ended, custom settings, the host left when it ended.
	if r2.Code != st.room2.Code || r2.Name != "Board Review" || r2.HostID != st.host.ID || r2.IsActive || r2.IsLocked ||
		r2.Host != (userRef{st.host.ID, "Hannah Host"}) || r2.Settings != st.room2.Settings || r2.CreatedAt != st.room2.CreatedAt {
		t.Errorf("room 2 = %+v", r2)
	}
	if r2.StartedAt == nil || *r2.StartedAt != st.hostIn2.JoinedAt {
		t.Errorf("room 2 startedAt = %s, want the first join %s", deref(r2.StartedAt), st.hostIn2.JoinedAt)
	}
	if r2.EndedAt == nil || r2.UpdatedAt < *r2.EndedAt {
		t.Errorf("room 2 endedAt %s updatedAt %s", deref(r2.EndedAt), r2.UpdatedAt)
	}
	wantHost2 := st.hostIn2
	wantHost2.IsActive, wantHost2.LeftAt = false, r2.EndedAt
	if len(r2.Participants) != 1 || !reflect.DeepEqual(r2.Participants[0], wantHost2) {
		t.Errorf("room 2 participants = %+v, want %+v", r2.Participants, wantHost2)
	}

	// Room 1: active, updated settings, host + second user present, guest gone.
	if r1.Code != st.room1.Code || r1.Name != "Daily Standup" || r1.HostID != st.host.ID || !r1.IsActive || r1.IsLocked ||
		r1.EndedAt != nil || r1.Host != (userRef{st.host.ID, "Hannah Host"}) || r1.Settings != st.room1.Settings ||
		r1.CreatedAt != st.room1.CreatedAt || r1.UpdatedAt < r1.CreatedAt {
		t.Errorf("room 1 = %+v", r1)
	}
	if r1.StartedAt == nil || *r1.StartedAt != st.hostIn1.JoinedAt {
		t.Errorf("room 1 startedAt = %s, want the first join %s", deref(r1.StartedAt), st.hostIn1.JoinedAt)
	}
	want1 := []gqlParticipant{st.hostIn1, st.secondIn1, st.guestIn1}
	if !reflect.DeepEqual(r1.Participants, want1) {
		t.Errorf("room 1 participants =\n%+v\nwant (join order)\n%+v", r1.Participants, want1)
	}
	for _, p := range r1.Participants {
		if p.UserID == nil && (p.User != nil || deref(p.GuestName) != p.DisplayName) {
			t.Errorf("guest participant %+v: displayName must be the guest name and user null", p)
		}
	}

	// activeOnly drops the guest who left.
	var active struct {
		Me struct {
			Rooms []struct{ Participants []struct{ ID string } }
		}
	}
	st.srv.WithToken(st.host.Token).GQL(`{ me { rooms { participants(activeOnly: true) { id } } } }`, nil).Decode(t, &active)
	if len(active.Me.Rooms) != 2 || len(active.Me.Rooms[0].Participants) != 0 || len(active.Me.Rooms[1].Participants) != 2 {
		t.Errorf("participants(activeOnly: true) = %+v, want none in room 2 and host+second in room 1", active.Me.Rooms)
	}
	st.room1, st.room2 = r1, r2
}

func (st *story) meRoomsFilterAndPages(t *testing.T) {
	srv := st.srv
	ids := func(args string) []string {
		t.Helper()
		var data struct {
			Me struct{ Rooms []struct{ ID string } }
		}
		srv.WithToken(st.host.Token).GQL(`{ me { rooms`+args+` { id } } }`, nil).Decode(t, &data)
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
		if got := ids(args); !slices.Equal(got, want) {
			t.Errorf("me.rooms%s = %v, want %v", args, got, want)
		}
	}
	// The paged full selection is the same data as the unpaged one.
	page1 := meRooms(t, srv.WithToken(st.host.Token), "(first: 1)")
	page2 := meRooms(t, srv.WithToken(st.host.Token), `(first: 1, after: "`+st.room2.ID+`")`)
	if len(page1) != 1 || len(page2) != 1 || !reflect.DeepEqual(page1[0], st.room2) || !reflect.DeepEqual(page2[0], st.room1) {
		t.Errorf("pages differ from the full list:\n%+v\n%+v", page1, page2)
	}
}

func (st *story) meRoomsREST(t *testing.T) {
	body, _ := getMyRooms(t, st.srv.WithToken(st.host.Token), "/users/me/rooms")
	var got []restRoom
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := []restRoom{st.room2.rest(), st.room1.rest()}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("GET /users/me/rooms =\n%s\nwant the GraphQL rooms\n%+v", body, want)
	}
	if legacy, _ := getMyRooms(t, st.srv.WithToken(st.loginToken), "/api/users/me/rooms"); !bytes.Equal(legacy, body) {
		t.Errorf("/api/users/me/rooms differs from /users/me/rooms:\n%s\n%s", legacy, body)
	}
	// Still active participants carry no leftAt key at all.
	if n := strings.Count(string(body), `"leftAt"`); n != 2 {
		t.Errorf("body has %d leftAt keys, want 2 (the guest and the host of the ended room)", n)
	}
	// The second user hosts nothing.
	if other, _ := getMyRooms(t, st.srv.WithToken(st.second.Token), "/users/me/rooms"); string(other) != "[]" {
		t.Errorf("second user's GET /users/me/rooms = %s, want []", other)
	}
}

func (st *story) secondUsersView(t *testing.T) {
	srv := st.srv
	res := srv.WithToken(st.second.Token).GQL(`query($id: ID!) { room(id: $id) { `+roomSelection+` } }`, map[string]any{"id": st.room1.ID})
	var data struct{ Room *gqlRoom }
	res.Decode(t, &data)
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
	srv.WithToken(st.second.Token).GQL(`query($id: ID!) { room(id: $id) { host { email } participants { user { id email } } } }`,
		map[string]any{"id": st.room1.ID}).Decode(t, &emails)
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
		case p.User.ID == st.second.ID && deref(p.User.Email) != "sam@example.com":
			t.Errorf("second user's own email via participants.user = %s, want sam@example.com", deref(p.User.Email))
		}
	}
	// Nor may they list the host's rooms through room.host.
	res = srv.WithToken(st.second.Token).GQL(`query($id: ID!) { room(id: $id) { host { rooms { id code } } } }`, map[string]any{"id": st.room1.ID})
	expectError(t, "second user listing the host's rooms", res, "FORBIDDEN", "")
	if raw := string(res.Data); strings.Contains(raw, st.room2.ID) || strings.Contains(raw, st.room2.Code) {
		t.Errorf("host's rooms leaked: %s", raw)
	}

	// A room they never joined does not exist for them, like a missing one.
	for name, id := range map[string]string{"room 2": st.room2.ID, "unknown id": "cnotarealroom000000000000"} {
		res := srv.WithToken(st.second.Token).GQL(`query($id: ID!) { room(id: $id) { id name } }`, map[string]any{"id": id})
		expectError(t, "second user reading "+name, res, "NOT_FOUND", "")
		if string(res.Data) != `{"room":null}` {
			t.Errorf("room(%s) data = %s, want {\"room\":null}", name, res.Data)
		}
	}
	// The guest's token reaches its own room only.
	expectError(t, "guest token reading room 2", srv.WithToken(st.guestToken).GQL(`query($id: ID!) { room(id: $id) { id } }`, map[string]any{"id": st.room2.ID}), "NOT_FOUND", "")

	// Their own rooms: none.
	var mine struct {
		Me struct{ Rooms []struct{ ID string } }
	}
	srv.WithToken(st.second.Token).GQL(`{ me { rooms { id } } }`, nil).Decode(t, &mine)
	if len(mine.Me.Rooms) != 0 {
		t.Errorf("second user's me.rooms = %+v, want none", mine.Me.Rooms)
	}
}

func (st *story) secondUserCannotChange(t *testing.T) {
	srv := st.srv
	before := snapshot(t, srv, st.host.Token)
	for _, room := range []gqlRoom{st.room1, st.room2} {
		res := srv.WithToken(st.second.Token).GQL(`mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`,
			map[string]any{"id": room.ID, "in": map[string]any{"name": "Hijacked", "isLocked": true, "allowGuestAccess": false}})
		expectError(t, "second user updating "+room.Name, res, "FORBIDDEN", "")
		res = srv.WithToken(st.second.Token).GQL(`mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": room.ID})
		expectError(t, "second user ending "+room.Name, res, "FORBIDDEN", "")
	}
	res := srv.WithToken(st.second.Token).GQL(`mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": st.hostIn1.ID})
	expectError(t, "second user removing the host", res, "FORBIDDEN", "")
	expectUnchanged(t, srv, "the second user's attempts", before, st.host.Token)
}

func (st *story) roomByCode(t *testing.T) {
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
		room gqlRoom
	}{
		{st.room1.Code, st.room1},
		{"  " + strings.ToUpper(st.room1.Code) + " ", st.room1},
		{st.room2.Code, st.room2},
	} {
		var data struct{ RoomByCode *publicRoom }
		srv.GQL(q, map[string]any{"code": tc.code}).Decode(t, &data)
		got := data.RoomByCode
		if got == nil || got.ID != tc.room.ID || got.Code != tc.room.Code || got.Name != tc.room.Name ||
			got.IsActive != tc.room.IsActive || got.IsLocked != tc.room.IsLocked || got.WaitingRoom != tc.room.Settings.WaitingRoom ||
			got.Host.ID != st.host.ID || got.Host.DisplayName != "Hannah Host" || got.Host.AvatarURL != nil {
			t.Errorf("roomByCode(%q) = %+v, want the public face of %+v", tc.code, got, tc.room)
		}
	}
	// No room with that code: null.
	res := srv.GQL(q, map[string]any{"code": "zzz-zzz-zzz"})
	var none struct{ RoomByCode *publicRoom }
	_ = json.Unmarshal(res.Data, &none)
	if none.RoomByCode != nil {
		t.Errorf("roomByCode(unknown) = %+v, want null", none.RoomByCode)
	}
	if c := res.Code(); c != "" && c != "NOT_FOUND" {
		t.Errorf("roomByCode(unknown) error code %q", c)
	}

	// Only the public fields exist on PublicRoom and PublicUser.
	for _, sel := range []string{"hostId", "code settings { allowChat }", "participants { id }", "createdAt", "startedAt",
		"host { email }", "host { rooms { id } }", "host { createdAt }", "... on Room { hostId }"} {
		res := srv.GQL(`query($code: String!) { roomByCode(code: $code) { `+sel+` } }`, map[string]any{"code": st.room1.Code})
		if len(res.Errors) == 0 || (len(res.Data) > 0 && string(res.Data) != "null") {
			t.Errorf("roomByCode { %s } answered %s, want a validation error and no data", sel, res.Data)
		}
	}
	var types struct {
		Room struct{ Fields []struct{ Name string } }
		User struct{ Fields []struct{ Name string } }
	}
	srv.GQL(`{ room: __type(name: "PublicRoom") { fields { name } } user: __type(name: "PublicUser") { fields { name } } }`, nil).Decode(t, &types)
	names := func(fs []struct{ Name string }) []string {
		out := []string{}
		for _, f := range fs {
			out = append(out, f.Name)
		}
		sort.Strings(out)
		return out
	}
	if got := names(types.Room.Fields); !slices.Equal(got, []string{"code", "host", "id", "isActive", "isLocked", "name", "waitingRoom"}) {
		t.Errorf("PublicRoom fields = %v", got)
	}
	if got := names(types.User.Fields); !slices.Equal(got, []string{"avatarUrl", "displayName", "id"}) {
		t.Errorf("PublicUser fields = %v", got)
	}
}

func (st *story) unauthenticated(t *testing.T) {
	srv := st.srv
	ghost := srv.Register("ghost@example.com", "Ghost")
	dbtest.Exec(t, srv.DB(), "DELETE FROM users WHERE id = ?", ghost.ID)
	tokens := map[string]string{
		"no token":          "",
		"garbage token":     "garbage",
		"participant token": st.guestToken,
		"deleted user":      ghost.Token,
		"tampered token":    st.host.Token[:len(st.host.Token)-2] + "xx",
	}
	for name, token := range tokens {
		res := srv.WithToken(token).GQL(`{ me { id email rooms { id } } }`, nil)
		expectError(t, "me with "+name, res, "UNAUTHENTICATED", "")
		if len(res.Data) > 0 && string(res.Data) != "null" {
			t.Errorf("me with %s: data %s, want null", name, res.Data)
		}
		for _, path := range []string{"/users/me/rooms", "/api/users/me/rooms"} {
			expectUnauthorized(t, "GET "+path+" with "+name, srv.WithToken(token).REST(http.MethodGet, path, nil))
		}
		// Mutations that need a user refuse too.
		res = srv.WithToken(token).GQL(`mutation { createRoom { id } }`, nil)
		expectError(t, "createRoom with "+name, res, "UNAUTHENTICATED", "")
	}
	// A non-Bearer scheme is no sign-in either.
	expectUnauthorized(t, "Basic auth", srv.REST(http.MethodGet, "/users/me/rooms", nil, harness.Header("Authorization", "Basic "+st.host.Token)))
	// Tokens in the query string are ignored.
	expectUnauthorized(t, "a token in the query string", srv.REST(http.MethodGet, "/users/me/rooms?access_token="+url.QueryEscape(st.host.Token), nil))
	if n := harness.CountRows(t, srv.DB(), "rooms"); n != 2 {
		t.Errorf("%d rooms after refused createRoom calls, want 2", n)
	}
}
