package e2e

// Input rules, once for every edge: each row of one table is a way to get
// an input wrong, sent to the service itself, through GraphQL and through
// REST (on both mounts), with what each answers side by side. Every
// refusal leaves every row of the database, and the host's view of their
// rooms, as it was.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/test/harness"
)

// ruleWorld is what the rules act on: a host with a room they have joined,
// and a second user.
type ruleWorld struct {
	srv          *harness.Server
	host, second harness.User
	room         harness.Room
	hostIn       harness.Joined
	// state is the world as the last refusal left it, which is as it was
	// made: every refusal is checked against it.
	state state
}

func newRuleWorld(t *testing.T, bdb *bun.DB) *ruleWorld {
	t.Helper()
	w := &ruleWorld{srv: harness.Start(t, harness.WithDB(bdb))}
	// The login rules name real accounts, so that what refuses them is the
	// rule and not an unknown email.
	w.host = w.srv.Register("hannah.host@example.com", "Hannah Host")
	w.second = w.srv.Register("someone@example.com", "Someone")
	w.room = w.srv.WithToken(w.host.Token).CreateRoom(map[string]any{"name": "Standup"})
	var res harness.GQLResponse
	w.hostIn, res = w.srv.WithToken(w.host.Token).Join(w.room.Code, nil)
	harness.MustSucceed(t, "the host joins", res)
	w.state = snapshot(t, w.srv, w.host.Token)
	return w
}

// expectUnchanged fails t unless the world is as the last refusal left it.
func (w *ruleWorld) expectUnchanged(t *testing.T, what string) {
	t.Helper()
	w.state = expectUnchanged(t, w.srv.For(t), what, w.state, w.host.Token)
}

// role is who makes a request.
type role int

const (
	anonymous role = iota
	theHost
	theSecondUser
)

func (w *ruleWorld) token(r role) string {
	switch r {
	case theHost:
		return w.host.Token
	case theSecondUser:
		return w.second.Token
	}
	return ""
}

// operation is one thing a client does, as each edge spells it. An edge
// without the operation leaves its function nil.
type operation struct {
	name   string
	caller role
	// service calls the rules directly, as both edges do.
	service func(ctx context.Context, svc *service.Service, w *ruleWorld, in map[string]any) error
	// graphql is the document and its variables.
	graphql func(w *ruleWorld, in map[string]any) (query string, vars map[string]any)
	// rest is the route and its JSON body (nil: none).
	rest func(w *ruleWorld, in map[string]any) (method, path string, body any)
}

// as is the operation made by another caller.
func (op operation) as(r role) operation {
	op.caller = r
	return op
}

// decodeInput reads in as the service's input type, as the REST edge's
// JSON decoding does.
func decodeInput[T any](in map[string]any) T {
	var v T
	if err := json.Unmarshal([]byte(harness.JSON(in)), &v); err != nil {
		panic(fmt.Sprintf("input %v is not a %T: %v", in, v, err))
	}
	return v
}

var (
	register = operation{
		name: "register", caller: anonymous,
		service: func(ctx context.Context, svc *service.Service, _ *ruleWorld, in map[string]any) error {
			_, err := svc.Register(ctx, decodeInput[service.RegisterInput](in))
			return err
		},
		graphql: func(_ *ruleWorld, in map[string]any) (string, map[string]any) {
			return `mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`, map[string]any{"in": in}
		},
		rest: func(_ *ruleWorld, in map[string]any) (string, string, any) {
			return http.MethodPost, "/auth/register", in
		},
	}
	login = operation{
		name: "login", caller: anonymous,
		service: func(ctx context.Context, svc *service.Service, _ *ruleWorld, in map[string]any) error {
			_, err := svc.Login(ctx, decodeInput[service.LoginInput](in))
			return err
		},
		graphql: func(_ *ruleWorld, in map[string]any) (string, map[string]any) {
			return `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`, map[string]any{"in": in}
		},
		rest: func(_ *ruleWorld, in map[string]any) (string, string, any) { return http.MethodPost, "/auth/login", in },
	}
	createRoom = operation{
		name: "createRoom", caller: theHost,
		service: func(ctx context.Context, svc *service.Service, _ *ruleWorld, in map[string]any) error {
			_, err := svc.CreateRoom(ctx, decodeInput[service.CreateRoomInput](in))
			return err
		},
		graphql: func(_ *ruleWorld, in map[string]any) (string, map[string]any) {
			return `mutation($in: CreateRoomInput) { createRoom(input: $in) { id } }`, map[string]any{"in": in}
		},
		rest: func(_ *ruleWorld, in map[string]any) (string, string, any) { return http.MethodPost, "/rooms", in },
	}
	updateRoom = operation{
		name: "updateRoomSettings", caller: theHost,
		service: func(ctx context.Context, svc *service.Service, w *ruleWorld, in map[string]any) error {
			_, err := svc.UpdateRoomSettings(ctx, w.room.ID, decodeInput[service.UpdateRoomSettingsInput](in))
			return err
		},
		graphql: func(w *ruleWorld, in map[string]any) (string, map[string]any) {
			return `mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`,
				map[string]any{"id": w.room.ID, "in": in}
		},
		rest: func(w *ruleWorld, in map[string]any) (string, string, any) {
			return http.MethodPatch, "/rooms/" + w.room.ID + "/settings", in
		},
	}
	// joinRoom is a guest joining the world's room: in is {"guestName": ...}.
	joinRoom = operation{
		name: "joinRoom", caller: anonymous,
		service: func(ctx context.Context, svc *service.Service, w *ruleWorld, in map[string]any) error {
			var guest *string
			if g, ok := in["guestName"].(string); ok {
				guest = &g
			}
			_, err := svc.JoinRoom(ctx, w.room.Code, guest)
			return err
		},
		graphql: func(w *ruleWorld, in map[string]any) (string, map[string]any) {
			return `mutation($code: String!, $guestName: String) { joinRoom(code: $code, guestName: $guestName) { participantToken } }`,
				map[string]any{"code": w.room.Code, "guestName": in["guestName"]}
		},
		rest: func(w *ruleWorld, in map[string]any) (string, string, any) {
			if len(in) == 1 && in["guestName"] == nil {
				return http.MethodPost, "/rooms/" + w.room.Code + "/join", nil // as the legacy client joins unnamed
			}
			return http.MethodPost, "/rooms/" + w.room.Code + "/join", in
		},
	}
	// roomByCode looks a room up by in["code"].
	roomByCode = operation{
		name: "roomByCode", caller: anonymous,
		service: func(ctx context.Context, svc *service.Service, _ *ruleWorld, in map[string]any) error {
			_, err := svc.RoomByCode(ctx, in["code"].(string))
			return err
		},
		graphql: func(_ *ruleWorld, in map[string]any) (string, map[string]any) {
			return `query($code: String!) { roomByCode(code: $code) { id } }`, in
		},
		rest: func(_ *ruleWorld, in map[string]any) (string, string, any) {
			return http.MethodGet, "/rooms/code/" + url.PathEscape(in["code"].(string)), nil
		},
	}
	// updateProfile has no GraphQL mutation: legacy clients edit their
	updateProfile = operation{
		name: "updateProfile", caller: theHost,
		service: func(ctx context.Context, svc *service.Service, _ *ruleWorld, in map[string]any) error {
			_, err := svc.UpdateProfile(ctx, decodeInput[service.UpdateProfileInput](in))
			return err
		},
		graphql: func(_ *ruleWorld, in map[string]any) (string, map[string]any) {
			return `mutation($in: UpdateProfileInput!) { updateProfile(input: $in) { id } }`, map[string]any{"in": in}
		},
		rest: func(_ *ruleWorld, in map[string]any) (string, string, any) { return http.MethodPatch, "/users/me", in },
	}
	// myRooms pages the caller's rooms: in holds GraphQL's arguments
	// (status, first, after), which REST spells status, limit and after.
	myRooms = operation{
		name: "me.rooms", caller: theHost,
		service: func(ctx context.Context, svc *service.Service, _ *ruleWorld, in map[string]any) error {
			viewer, err := svc.Viewer(ctx)
			if err != nil {
				return err
			}
			var page service.RoomPage
			if n, ok := in["first"].(int); ok {
				page.First = &n
			}
			if after, ok := in["after"].(string); ok {
				page.After = &after
			}
			_, err = svc.HostedRooms(ctx, viewer.ID, page)
			return err
		},
		graphql: func(_ *ruleWorld, in map[string]any) (string, map[string]any) {
			return `query($first: Int, $after: ID) { me { rooms(first: $first, after: $after) { id } } }`, in
		},
		rest: func(_ *ruleWorld, in map[string]any) (string, string, any) {
			q := url.Values{}
			for _, p := range []struct{ arg, param string }{{"status", "status"}, {"first", "limit"}, {"after", "after"}} {
				if v, ok := in[p.arg]; ok && v != nil {
					q.Set(p.param, fmt.Sprint(v))
				}
			}
			return http.MethodGet, "/users/me/rooms?" + q.Encode(), nil
		},
	}
)

// refusal is what the service or GraphQL answers: an error code and, for
// bad input, the field it names. The zero refusal means the edge is not
// asked: it cannot be sent this input (GraphQL's types refuse a number for
// a string before any rule; only REST has a body to get wrong).
type refusal struct{ code, field string }

func invalid(field string) refusal { return refusal{string(apperr.BadUserInput), field} }

// misfit is GraphQL's refusal of a variable its type does not take (the
// spec's input coercion: no string for an Int, no number for a String),
// before anything runs.
var misfit = refusal{string(apperr.GraphQLValidationFailed), ""}

var notAsked refusal

// restAnswer is what REST answers: the status and the exact legacy body.
type restAnswer struct {
	status int
	body   string
}

// rest400 is the legacy validation body listing messages, as NestJS's
// class-validator wrote them.
func rest400(messages ...string) restAnswer {
	return restAnswer{http.StatusBadRequest, legacyInvalid(messages...)}
}

// inputRule is one way to get an input wrong, and what each edge says.
type inputRule struct {
	name string
	op   operation
	// in is the input as GraphQL's variables and REST's JSON body carry it.
	in map[string]any
	// raw, when set, is the REST body sent instead of in: what no JSON
	// object says (malformed JSON, an array, nothing).
	raw      *string
	svc, gql refusal
	rest     restAnswer
}

// inputRules lists every input rule. Columns: name, operation, input, raw
// REST body, then what the service, GraphQL and REST answer.
func inputRules(w *ruleWorld) []inputRule {
	reg := func(email, password, displayName string) map[string]any {
		return map[string]any{"email": email, "password": password, "displayName": displayName}
	}
	creds := func(email, password string) map[string]any {
		return map[string]any{"email": email, "password": password}
	}
	name := func(n any) map[string]any { return map[string]any{"name": n} }
	guest := func(n any) map[string]any { return map[string]any{"guestName": n} }
	page := func(first, after any) map[string]any { return map[string]any{"first": first, "after": after} }
	long := func(n int) string { return strings.Repeat("x", n) }
	const (
		notEmail     = "email must be an email"
		emptyEmail   = "email must not be empty"
		badPassword  = "password must be between 8 and 72 bytes"
		badDisplay   = "displayName must be between 2 and 50 characters"
		badRoomName  = "name must be between 1 and 100 characters"
		badMax       = "maxParticipants must be between 2 and 100"
		badGuestName = "guestName must be between 1 and 50 characters"
		noGuestName  = "guestName is required to join without signing in"
		badLimit     = "limit must be between 1 and 100"
		badAfter     = "after must be the id of one of the user's rooms"
		badStatus    = "status must be one of the following values: active, ended, all"
		badAvatar    = "avatarUrl must be an http or https URL"
		notObject    = "request body must be a JSON object"
		notJSON      = "request body must be valid JSON"
	)
	rules := []inputRule{
		// Registering.
		{"register: malformed email", register, reg("not-an-email", "password1", "Newcomer"), nil, invalid("email"), invalid("email"), rest400(notEmail)},
		{"register: empty email", register, reg("", "password1", "Newcomer"), nil, invalid("email"), invalid("email"), rest400(emptyEmail)},
		{"register: blank email", register, reg("   ", "password1", "Newcomer"), nil, invalid("email"), invalid("email"), rest400(emptyEmail)},
		{"register: email with display name", register, reg("New <new@example.com>", "password1", "Newcomer"), nil, invalid("email"), invalid("email"), rest400(notEmail)},
		{"register: email without a domain dot", register, reg("new@localhost", "password1", "Newcomer"), nil, invalid("email"), invalid("email"), rest400(notEmail)},
		{"register: two @", register, reg("new@@example.com", "password1", "Newcomer"), nil, invalid("email"), invalid("email"), rest400(notEmail)},
		{"register: empty password", register, reg("new@example.com", "", "Newcomer"), nil, invalid("password"), invalid("password"), rest400(badPassword)},
		{"register: 7-byte password", register, reg("new@example.com", "1234567", "Newcomer"), nil, invalid("password"), invalid("password"), rest400(badPassword)},
		{"register: 73-byte password", register, reg("new@example.com", long(73), "Newcomer"), nil, invalid("password"), invalid("password"), rest400(badPassword)},
		{"register: 37 two-byte runes (74 bytes)", register, reg("new@example.com", strings.Repeat("é", 37), "Newcomer"), nil, invalid("password"), invalid("password"), rest400(badPassword)},
		{"register: empty displayName", register, reg("new@example.com", "password1", ""), nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"register: blank displayName", register, reg("new@example.com", "password1", "   "), nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"register: 1-char displayName", register, reg("new@example.com", "password1", "N"), nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"register: 1 char once trimmed", register, reg("new@example.com", "password1", "  N  "), nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"register: 51-char displayName", register, reg("new@example.com", "password1", long(51)), nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"register: 51 multibyte chars", register, reg("new@example.com", "password1", strings.Repeat("ü", 51)), nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"register: NUL in displayName", register, reg("nul@example.com", "correct-horse", "Nu\x00l"), nil, invalid("displayName"), invalid("displayName"), rest400("displayName must be valid text")},
		{"register: three bad fields, all reported", register, reg("not-an-email", "short", "x"), nil, invalid("email"), invalid("email"), rest400(notEmail, badPassword, badDisplay)},
		{"register: empty object", register, map[string]any{}, nil, invalid("email"), notAsked, rest400(emptyEmail, badPassword, badDisplay)},
		{"register: email is a number", register, map[string]any{"email": 5, "password": "correct-horse", "displayName": "Ann"}, nil, notAsked, misfit, rest400("email must be a string")},
		{"register: displayName is a number", register, map[string]any{"email": "ann@example.com", "password": "correct-horse", "displayName": 12345}, nil, notAsked, misfit, rest400("displayName must be a string")},
		{"register: password is a boolean", register, map[string]any{"email": "ann@example.com", "password": true, "displayName": "Ann"}, nil, notAsked, notAsked, rest400("password must be a string")},
		{"register: displayName is an object", register, map[string]any{"email": "ann@example.com", "password": "correct-horse", "displayName": map[string]any{}}, nil, notAsked, notAsked, rest400("displayName must be a string")},
		{"register: unknown key", register, map[string]any{"email": "someone@example.com", "password": "correct-horse", "displayName": "Ann", "foo": 1}, nil, notAsked, notAsked, rest400("property foo should not exist")},
		{"register: body over 64 KiB", register, reg("ann@example.com", "correct-horse", strings.Repeat("a", 70<<10)), nil, notAsked, notAsked, rest400("request body too large")},
		{"register: null body", register, nil, new(`null`), notAsked, notAsked, rest400(emptyEmail, badPassword, badDisplay)},
		{"register: malformed JSON", register, nil, new(`{"email":"ann@example.com",`), notAsked, notAsked, rest400(notJSON)},
		{"register: not JSON", register, nil, new(`email=ann@example.com`), notAsked, notAsked, rest400(notJSON)},
		{"register: empty body", register, nil, new(``), notAsked, notAsked, rest400(notObject)},
		{"register: array body", register, nil, new(`[]`), notAsked, notAsked, rest400(notObject)},
		{"register: string body", register, nil, new(`"hello"`), notAsked, notAsked, rest400(notObject)},
		{"register: trailing data", register, nil, new(`{"email":"someone@example.com","password":"correct-horse","displayName":"Ann"} {}`), notAsked, notAsked, rest400(notJSON)},
		{"register: trailing garbage", register, nil, new(`{"email":"ann@example.com","password":"correct-horse","displayName":"Ann"}garbage`), notAsked, notAsked, rest400(notJSON)},
		{"register: a closing brace too many", register, nil, new(`{"email":"ann@example.com","password":"correct-horse","displayName":"Ann"}}`), notAsked, notAsked, rest400(notJSON)},
		{"register: duplicate key", register, nil, new(`{"email":"not-an-email","password":"correct-horse","displayName":"Ann","email":"ann@example.com"}`), notAsked, notAsked,
			rest400("email must not be given more than once")},
		{"register: key in capitals", register, nil, new(`{"EMAIL":"ann@example.com","password":"correct-horse","displayName":"Ann"}`), notAsked, notAsked,
			rest400("property EMAIL should not exist")},
		{"register: key with a capital", register, nil, new(`{"email":"ann@example.com","password":"correct-horse","DisplayName":"Ann"}`), notAsked, notAsked,
			rest400("property DisplayName should not exist")},

		// Signing in: the rules come before any account is looked up.
		{"login: malformed email", login, creds("hannah", "correct-horse"), nil, invalid("email"), invalid("email"), rest400(notEmail)},
		{"login: NUL in email", login, creds("hannah.host@example.com\x00", "correct-horse"), nil, invalid("email"), invalid("email"), rest400(notEmail)},
		{"login: empty password", login, creds("hannah.host@example.com", ""), nil, invalid("password"), invalid("password"), rest400("password must not be empty")},
		{"login: no password", login, map[string]any{"email": "someone@example.com"}, nil, invalid("password"), notAsked, rest400("password must not be empty")},
		{"login: email is a number", login, map[string]any{"email": 5, "password": "correct-horse"}, nil, notAsked, notAsked, rest400("email must be a string")},
		{"login: unknown key", login, map[string]any{"email": "someone@example.com", "password": "correct-horse", "displayName": "Ann"}, nil, notAsked, notAsked, rest400("property displayName should not exist")},
		{"login: number body", login, nil, new(`42`), notAsked, notAsked, rest400(notObject)},
		{"login: malformed JSON", login, nil, new(`{"email"`), notAsked, notAsked, rest400(notJSON)},
		{"login: empty body", login, nil, new(``), notAsked, notAsked, rest400(notObject)},
		{"login: password is a number", login, map[string]any{"email": "hannah.host@example.com", "password": 12345678}, nil, notAsked, misfit, rest400("password must be a string")},
		{"login: duplicate password", login, nil, new(`{"email":"hannah.host@example.com","password":"wrong-one","password":"wrong-two"}`), notAsked, notAsked,
			rest400("password must not be given more than once")},
		{"login: key in capitals", login, nil, new(`{"email":"hannah.host@example.com","PASSWORD":"correct-horse"}`), notAsked, notAsked,
			rest400("property PASSWORD should not exist")},

		// Creating a room.
		{"createRoom: empty name", createRoom, name(""), nil, invalid("name"), invalid("name"), rest400(badRoomName)},
		{"createRoom: blank name", createRoom, name("   "), nil, invalid("name"), invalid("name"), rest400(badRoomName)},
		{"createRoom: 101-char name", createRoom, name(long(101)), nil, invalid("name"), invalid("name"), rest400(badRoomName)},
		{"createRoom: NUL in name", createRoom, name("a\x00b"), nil, invalid("name"), invalid("name"), rest400("name must be valid text")},
		{"createRoom: maxParticipants 1", createRoom, map[string]any{"maxParticipants": 1}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"createRoom: maxParticipants 0", createRoom, map[string]any{"maxParticipants": 0}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"createRoom: maxParticipants -5", createRoom, map[string]any{"maxParticipants": -5}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"createRoom: maxParticipants 101", createRoom, map[string]any{"maxParticipants": 101}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"createRoom: valid name, bad maxParticipants", createRoom, map[string]any{"name": "Fine", "allowChat": false, "maxParticipants": 1000}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"createRoom: two bad fields, both reported", createRoom, map[string]any{"name": "", "maxParticipants": 1}, nil, invalid("name"), invalid("name"), rest400(badRoomName, badMax)},
		{"createRoom: fractional maxParticipants", createRoom, map[string]any{"maxParticipants": 2.5}, nil, notAsked, notAsked, rest400("maxParticipants must be an integer number")},
		{"createRoom: string maxParticipants", createRoom, map[string]any{"maxParticipants": "10"}, nil, notAsked, misfit, rest400("maxParticipants must be an integer number")},
		{"createRoom: maxParticipants beyond 32 bits", createRoom, map[string]any{"maxParticipants": 3_000_000_000}, nil, invalid("maxParticipants"), misfit, rest400(badMax)},
		{"createRoom: name is a number", createRoom, name(42), nil, notAsked, misfit, rest400("name must be a string")},
		{"createRoom: string allowChat", createRoom, map[string]any{"allowChat": "false"}, nil, notAsked, misfit, rest400("allowChat must be a boolean value")},
		{"createRoom: string waitingRoom", createRoom, map[string]any{"waitingRoom": "yes"}, nil, notAsked, notAsked, rest400("waitingRoom must be a boolean value")},
		{"createRoom: unknown key", createRoom, map[string]any{"topic": "x"}, nil, notAsked, notAsked, rest400("property topic should not exist")},
		{"createRoom: array body", createRoom, nil, new(`[]`), notAsked, notAsked, rest400(notObject)},
		{"createRoom: trailing bracket", createRoom, nil, new(`{"name":"Sneaky"}]`), notAsked, notAsked, rest400(notJSON)},
		{"createRoom: duplicate key", createRoom, nil, new(`{"maxParticipants":1,"maxParticipants":10}`), notAsked, notAsked, rest400("maxParticipants must not be given more than once")},
		{"createRoom: key in capitals", createRoom, nil, new(`{"Name":"Sneaky"}`), notAsked, notAsked, rest400("property Name should not exist")},

		// Changing a room's settings.
		{"updateRoomSettings: empty name", updateRoom, name(""), nil, invalid("name"), invalid("name"), rest400(badRoomName)},
		{"updateRoomSettings: blank name", updateRoom, name(" \t "), nil, invalid("name"), invalid("name"), rest400(badRoomName)},
		{"updateRoomSettings: 101-char name", updateRoom, name(long(101)), nil, invalid("name"), invalid("name"), rest400(badRoomName)},
		{"updateRoomSettings: maxParticipants 1", updateRoom, map[string]any{"maxParticipants": 1}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"updateRoomSettings: maxParticipants 101", updateRoom, map[string]any{"maxParticipants": 101}, nil, invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"updateRoomSettings: valid fields with a bad one", updateRoom,
			map[string]any{"isLocked": true, "allowChat": false, "waitingRoom": true, "name": "Renamed", "maxParticipants": 1}, nil,
			invalid("maxParticipants"), invalid("maxParticipants"), rest400(badMax)},
		{"updateRoomSettings: valid settings with a bad name", updateRoom,
			map[string]any{"isLocked": true, "allowGuestAccess": false, "name": long(150)}, nil,
			invalid("name"), invalid("name"), rest400(badRoomName)},
		{"updateRoomSettings: two bad fields, both reported", updateRoom, map[string]any{"name": " ", "maxParticipants": 101}, nil, invalid("name"), invalid("name"), rest400(badRoomName, badMax)},
		{"updateRoomSettings: unknown key", updateRoom, map[string]any{"allowChat": false, "theme": "dark"}, nil, notAsked, notAsked, rest400("property theme should not exist")},
		{"updateRoomSettings: string maxParticipants", updateRoom, map[string]any{"maxParticipants": "10"}, nil, notAsked, misfit, rest400("maxParticipants must be an integer number")},
		{"updateRoomSettings: string isLocked", updateRoom, map[string]any{"isLocked": "true"}, nil, notAsked, misfit, rest400("isLocked must be a boolean value")},
		{"updateRoomSettings: duplicate key", updateRoom, nil, new(`{"isLocked":false,"isLocked":true}`), notAsked, notAsked, rest400("isLocked must not be given more than once")},
		{"updateRoomSettings: key in capitals", updateRoom, nil, new(`{"ISLOCKED":true}`), notAsked, notAsked, rest400("property ISLOCKED should not exist")},
		{"updateRoomSettings: trailing garbage", updateRoom, nil, new(`{"isLocked":true}x`), notAsked, notAsked, rest400(notJSON)},

		// Joining as a guest.
		{"joinRoom: guest without guestName", joinRoom, guest(nil), nil, invalid("guestName"), invalid("guestName"), rest400(noGuestName)},
		{"joinRoom: empty guestName", joinRoom, guest(""), nil, invalid("guestName"), invalid("guestName"), rest400(badGuestName)},
		{"joinRoom: blank guestName", joinRoom, guest("    "), nil, invalid("guestName"), invalid("guestName"), rest400(badGuestName)},
		{"joinRoom: 51-char guestName", joinRoom, guest(long(51)), nil, invalid("guestName"), invalid("guestName"), rest400(badGuestName)},
		{"joinRoom: NUL in guestName", joinRoom, guest("G\x00s"), nil, invalid("guestName"), invalid("guestName"), rest400("guestName must be valid text")},
		{"joinRoom: unknown key", joinRoom, map[string]any{"guestName": "Al", "avatar": "x"}, nil, notAsked, notAsked, rest400("property avatar should not exist")},
		{"joinRoom: guestName is a number", joinRoom, guest(12345), nil, notAsked, misfit, rest400("guestName must be a string")},
		{"joinRoom: guestName in capitals", joinRoom, nil, new(`{"GuestName":"Al"}`), notAsked, notAsked, rest400("property GuestName should not exist")},
		{"joinRoom: duplicate guestName", joinRoom, nil, new(`{"guestName":"","guestName":"Al"}`), notAsked, notAsked, rest400("guestName must not be given more than once")},
		{"joinRoom: trailing garbage", joinRoom, nil, new(`{"guestName":"Al"}garbage`), notAsked, notAsked, rest400(notJSON)},

		// Looking a room up: a code with NUL names no room. GraphQL
		// refuses NUL in any input before it reaches a rule.
		{"roomByCode: NUL in code", roomByCode, map[string]any{"code": w.room.Code + "\x00"}, nil,
			refusal{string(apperr.NotFound), ""}, invalid("code"), restAnswer{http.StatusNotFound, legacyError(http.StatusNotFound, "Room not found")}},

		// Editing one's profile. GraphQL's input type has no email, and
		// its variables are JSON the transport decoded, not a body.
		{"updateProfile: 1-char displayName", updateProfile, map[string]any{"displayName": "H"}, nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay)},
		{"updateProfile: ftp avatar", updateProfile, map[string]any{"avatarUrl": "ftp://cdn.example/a.png"}, nil, invalid("avatarUrl"), invalid("avatarUrl"), rest400(badAvatar)},
		{"updateProfile: empty avatar", updateProfile, map[string]any{"avatarUrl": ""}, nil, invalid("avatarUrl"), invalid("avatarUrl"), rest400(badAvatar)},
		{"updateProfile: avatar over 2048 characters", updateProfile, map[string]any{"avatarUrl": "https://a.example/" + strings.Repeat("a", 2040)}, nil,
			invalid("avatarUrl"), invalid("avatarUrl"), rest400("avatarUrl must be shorter than or equal to 2048 characters")},
		{"updateProfile: two bad fields, both reported", updateProfile, map[string]any{"displayName": "", "avatarUrl": "nope"}, nil, invalid("displayName"), invalid("displayName"), rest400(badDisplay, badAvatar)},
		{"updateProfile: avatar a number", updateProfile, map[string]any{"avatarUrl": 5}, nil, notAsked, misfit, rest400("avatarUrl must be a string")},
		{"updateProfile: email not patchable", updateProfile, map[string]any{"email": "new@example.com"}, nil, notAsked, misfit, rest400("property email should not exist")},
		{"updateProfile: key in capitals", updateProfile, nil, new(`{"DISPLAYNAME":"Renamed"}`), notAsked, notAsked, rest400("property DISPLAYNAME should not exist")},
		{"updateProfile: duplicate key", updateProfile, nil, new(`{"avatarUrl":null,"avatarUrl":"https://a.example/b.png"}`), notAsked, notAsked, rest400("avatarUrl must not be given more than once")},

		// Paging one's rooms.
		{"me.rooms: first 0", myRooms, page(0, nil), nil, invalid("first"), invalid("first"), rest400(badLimit)},
		{"me.rooms: first -1", myRooms, page(-1, nil), nil, invalid("first"), invalid("first"), rest400(badLimit)},
		{"me.rooms: first 101", myRooms, page(101, nil), nil, invalid("first"), invalid("first"), rest400(badLimit)},
		{"me.rooms: unknown after", myRooms, page(1, "cnotarealroom000000000000"), nil, invalid("after"), invalid("after"), rest400(badAfter)},
		{"me.rooms: empty after", myRooms, page(nil, ""), nil, invalid("after"), invalid("after"), rest400(badAfter)},
		// An ID may be sent as an integer (the spec's coercion): it reaches the rule.
		{"me.rooms: numeric after", myRooms, page(1, 12345), nil, notAsked, invalid("after"), rest400(badAfter)},
		{"me.rooms: after is a participant id", myRooms, page(1, w.hostIn.ParticipantID), nil, invalid("after"), invalid("after"), rest400(badAfter)},
		{"me.rooms: after is another host's room", myRooms.as(theSecondUser), page(nil, w.room.ID), nil, invalid("after"), invalid("after"), rest400(badAfter)},
		{"me.rooms: unknown status", myRooms, map[string]any{"status": "open"}, nil, notAsked, notAsked, rest400(badStatus)},
		{"me.rooms: status in capitals", myRooms, map[string]any{"status": "ACTIVE"}, nil, notAsked, notAsked, rest400(badStatus)},
		{"me.rooms: limit not a number", myRooms, map[string]any{"first": "ten"}, nil, notAsked, misfit, rest400("limit must be an integer number")},
		// A query string's limit is text by nature; a GraphQL Int is not.
		{"me.rooms: first as a string", myRooms, page("10", nil), nil, notAsked, misfit, restAnswer{}},
		{"me.rooms: empty limit", myRooms, map[string]any{"first": ""}, nil, notAsked, notAsked, rest400("limit must be an integer number")},
		{"me.rooms: status and limit bad, both reported", myRooms, map[string]any{"status": "x", "first": "x"}, nil, notAsked, notAsked,
			rest400(badStatus, "limit must be an integer number")},
	}
	return append(rules, nameRules()...)
}

// nameRules are the rule on names people choose and others see, row by row
// for each place a name enters: what shows nothing, rewrites the text
// around it (on screen or in a terminal) or spills over the lines around it.
func nameRules() []inputRule {
	entries := []struct {
		op    operation
		field string
		in    func(name string) map[string]any
	}{
		{register, "displayName", func(n string) map[string]any {
			return map[string]any{"email": "names@example.com", "password": "correct-horse", "displayName": n}
		}},
		{updateProfile, "displayName", func(n string) map[string]any { return map[string]any{"displayName": n} }},
		{joinRoom, "guestName", func(n string) map[string]any { return map[string]any{"guestName": n} }},
		{createRoom, "name", func(n string) map[string]any { return map[string]any{"name": n} }},
		{updateRoom, "name", func(n string) map[string]any { return map[string]any{"name": n} }},
	}
	const (
		hidden  = " must not contain control, formatting or invisible characters"
		stacked = " must not stack more than 4 combining marks on one character"
		empty   = " must contain a letter, digit, punctuation or symbol"
	)
	cases := []struct{ name, value, message string }{
		{"zero-width spaces only", "\u200b\u200b\u200b", hidden},
		{"Hangul filler only", "\u3164\u3164", hidden},
		{"Hangul choseong filler only", "\u115f\u115f", hidden},
		{"braille blank only", "\u2800\u2800", hidden},
		{"right-to-left override", "Ann\u202egnp.exe", hidden},
		{"left-to-right embedding", "\u202aAnn\u202c", hidden},
		{"left-to-right isolate", "\u2066Ann\u2069", hidden},
		{"ANSI escape", "\x1b[31mRed\x1b[0m", hidden},
		{"CR LF", "Ann\r\nAdmin", hidden},
		{"BEL", "Ann\a", hidden},
		{"joiners only", "\u200d\u200d", hidden},
		{"50-rune combining flood", "Z" + strings.Repeat("\u0336", 49), stacked},
		{"5 combining marks on a letter", "x" + strings.Repeat("\u0301", 5), stacked},
		{"private use only", "\ue000\ue001", empty},
	}
	var rules []inputRule
	for _, e := range entries {
		for _, c := range cases {
			gql := invalid(e.field)
			if e.op.graphql == nil {
				gql = notAsked
			}
			rules = append(rules, inputRule{e.op.name + " " + e.field + ": " + c.name, e.op, e.in(c.value), nil,
				invalid(e.field), gql, rest400(e.field + c.message)})
		}
	}
	return rules
}

// Every input rule is enforced alike by the service and by each edge over
// it, and a refused input changes nothing at all.
func TestInputRules_EveryEdgeRefusesBadInputAndChangesNothing(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		w := newRuleWorld(t, bdb)
		for _, rule := range inputRules(w) {
			t.Run(rule.name, func(t *testing.T) {
				if rule.svc == notAsked && rule.gql == notAsked && rule.rest == (restAnswer{}) {
					t.Fatal("the rule asks no edge")
				}
				if rule.svc != notAsked {
					t.Run("service", func(t *testing.T) { checkService(t, w, rule) })
				}
				if rule.gql != notAsked {
					t.Run("GraphQL", func(t *testing.T) { checkGraphQL(t, w, rule) })
				}
				if rule.rest != (restAnswer{}) {
					for _, prefix := range restPrefixes {
						name := "REST"
						if prefix != "" {
							name += " under " + prefix
						}
						t.Run(name, func(t *testing.T) { checkREST(t, w, rule, prefix) })
					}
				}
			})
		}
		// The would-be account really does not exist.
		res := w.srv.For(t).GQL(`mutation($in: LoginInput!) { login(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": "new@example.com", "password": "password1"}})
		expectError(t, "login as a refused registration", res, "UNAUTHENTICATED", "")
	})
}

func checkService(t *testing.T, w *ruleWorld, rule inputRule) {
	// Deferred, so that an edge that answered wrongly is still held to
	// having changed nothing, and the next edge starts from what it left.
	defer w.expectUnchanged(t, rule.name)
	op := rule.op
	if op.service == nil {
		t.Fatalf("the service has no %s", op.name)
	}
	srv := w.srv.For(t)
	ctx := context.Background()
	if tok := w.token(op.caller); tok != "" {
		ctx = auth.WithPrincipal(ctx, srv.App().Tokens().PrincipalFor("Bearer "+tok))
	}
	err := op.service(ctx, srv.App().Service(), w, rule.in)
	e, ok := apperr.As(err)
	if !ok {
		t.Fatalf("%s(%v) returned %v, want %s on %q", op.name, rule.in, err, rule.svc.code, rule.svc.field)
	}
	if string(e.Code) != rule.svc.code || e.Field != rule.svc.field || e.Message == "" {
		t.Errorf("%s(%v) refused with %s on %q (%q), want %s on %q", op.name, rule.in, e.Code, e.Field, e.Message, rule.svc.code, rule.svc.field)
	}
}

func checkGraphQL(t *testing.T, w *ruleWorld, rule inputRule) {
	defer w.expectUnchanged(t, rule.name)
	op := rule.op
	if op.graphql == nil {
		t.Fatalf("GraphQL has no %s", op.name)
	}
	srv := w.srv.For(t)
	query, vars := op.graphql(w, rule.in)
	e := expectError(t, rule.name, srv.WithToken(w.token(op.caller)).GQL(query, vars), rule.gql.code, rule.gql.field)
	if strings.Contains(strings.ToLower(e.Message), "sql") {
		t.Errorf("%s: message %q mentions SQL", rule.name, e.Message)
	}
}

func checkREST(t *testing.T, w *ruleWorld, rule inputRule, prefix string) {
	defer w.expectUnchanged(t, rule.name)
	op := rule.op
	if op.rest == nil {
		t.Fatalf("REST has no %s", op.name)
	}
	srv := w.srv.For(t)
	method, path, body := op.rest(w, rule.in)
	var opts []harness.RequestOption
	if rule.raw != nil {
		body, opts = nil, []harness.RequestOption{harness.RawBody(*rule.raw)}
	}
	what := method + " " + prefix + path
	res := srv.WithToken(w.token(op.caller)).REST(method, prefix+path, body, opts...)
	if res.Status != rule.rest.status || string(res.Body) != rule.rest.body {
		t.Errorf("%s: HTTP %d %s, want %d %s", what, res.Status, res.Body, rule.rest.status, rule.rest.body)
	}
	expectJSONContentType(t, what, res)
}

// Values right at the limits are accepted, and defaults apply.
func TestInputRules_ValuesAtTheLimitsAreAccepted(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		var reg struct {
			Register struct {
				AccessToken string
				User        struct{ ID, DisplayName string }
			}
		}
		longName := strings.Repeat("é", 50)
		password72 := strings.Repeat("é", 36) // 36 characters, 72 bytes
		srv.GQL(`mutation($in: RegisterInput!) { register(input: $in) { accessToken user { id displayName } } }`,
			map[string]any{"in": map[string]any{"email": "edge@example.com", "password": password72, "displayName": longName}}).Decode(t, &reg)
		if reg.Register.User.DisplayName != longName {
			t.Errorf("50-character displayName stored as %q", reg.Register.User.DisplayName)
		}
		const login = `mutation($in: LoginInput!) { login(input: $in) { accessToken } }`
		var signedIn struct{ Login struct{ AccessToken string } }
		srv.GQL(login, map[string]any{"in": map[string]any{"email": "edge@example.com", "password": password72}}).Decode(t, &signedIn)
		edge := srv.WithToken(signedIn.Login.AccessToken)
		// bcrypt reads 72 bytes; a longer password sharing them is still wrong.
		res := srv.GQL(login, map[string]any{"in": map[string]any{"email": "edge@example.com", "password": password72 + "x"}})
		if e := expectError(t, "login with the 72-byte password plus one byte", res, "UNAUTHENTICATED", ""); e.Message != "invalid credentials" {
			t.Errorf("login with a longer password: message %q", e.Message)
		}
		if short := srv.Register("al@example.com", "Al"); short.ID == "" { // 2-character name, 13-byte password
			t.Fatal("2-character displayName refused")
		}
		srv.GQL(`mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
			map[string]any{"in": map[string]any{"email": "eight@example.com", "password": "12345678", "displayName": "Eight"}}).Decode(t, new(any))

		createFull := func(in any) gqlRoom {
			t.Helper()
			var data struct{ CreateRoom gqlRoom }
			edge.GQL(`mutation($in: CreateRoomInput) { createRoom(input: $in) { `+roomSelection+` } }`, map[string]any{"in": in}).Decode(t, &data)
			return data.CreateRoom
		}
		if r := createFull(nil); r.Name != "Meeting Room" || r.Settings != (roomSettings{true, true, true, false, false, 50}) {
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
		var upd struct{ UpdateRoomSettings gqlRoom }
		edge.GQL(`mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { `+roomSelection+` } }`,
			map[string]any{"id": edgeRoom.ID, "in": map[string]any{"name": strings.Repeat("n", 100), "maxParticipants": 2}}).Decode(t, &upd)
		if upd.UpdateRoomSettings.Name != strings.Repeat("n", 100) || upd.UpdateRoomSettings.Settings.MaxParticipants != 2 {
			t.Errorf("update to the limits = %+v", upd.UpdateRoomSettings)
		}
		harness.MustSucceed(t, "maxParticipants 100", edge.UpdateSettings(edgeRoom.ID, map[string]any{"maxParticipants": 100}))
		for _, name := range []string{"G", strings.Repeat("ü", 50)} {
			p, _, res := joinFull(t, srv.Client, edgeRoom.Code, name)
			res.Decode(t, new(any))
			if p.DisplayName != name || deref(p.GuestName) != name {
				t.Errorf("guest %q joined as %+v", name, p)
			}
		}
		var all struct {
			Me struct{ Rooms []struct{ ID string } }
		}
		edge.GQL(`{ me { rooms(first: 100) { id } } }`, nil).Decode(t, &all)
		if len(all.Me.Rooms) != 4 {
			t.Errorf("edge user's rooms(first: 100) = %d rooms, want 4", len(all.Me.Rooms))
		}
	})
}

// Names in every script (accents, CJK, emoji sequences with joiners,
// right-to-left text) are accepted wherever a name enters, over GraphQL and
// REST, and come back in NFC.
func TestInputRules_NamesInEveryScriptAreAccepted(t *testing.T) {
	names := []struct{ in, want string }{
		{"Jose\u0301 Mu\u0308ller", "José Müller"}, // decomposed, as some keyboards type it
		{"Đặng Thị Hồng", "Đặng Thị Hồng"},
		{"山田太郎", "山田太郎"},
		{"👩‍💻 Dev", "👩‍💻 Dev"},
		{"👨‍👩‍👧‍👦 Family", "👨‍👩‍👧‍👦 Family"},
		{"محمد علي", "محمد علي"},
		{"שָׁלוֹם", "שָׁלוֹם"},
		{"می\u200cخواهم", "می\u200cخواهم"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host := srv.WithToken(srv.Register("names@example.com", "Host").Token)
		room := host.CreateRoom(map[string]any{"maxParticipants": 100})
		rest := func(method, path string, body any, key string) string {
			t.Helper()
			r := host.REST(method, path, body)
			var out map[string]any
			if err := json.Unmarshal(r.Body, &out); err != nil || r.Status >= 300 {
				t.Fatalf("%s %s: HTTP %d %s", method, path, r.Status, r.Body)
			}
			for _, k := range strings.Split(key, ".") {
				v, _ := out[k].(map[string]any)
				if v == nil {
					s, _ := out[k].(string)
					return s
				}
				out = v
			}
			return ""
		}
		gql := func(query string, vars map[string]any, path ...string) string {
			t.Helper()
			var out any
			host.GQL(query, vars).Decode(t, &out)
			for _, k := range path {
				out = out.(map[string]any)[k]
			}
			return out.(string)
		}
		for i, n := range names {
			got := map[string]string{
				"register (GraphQL)": gql(`mutation($in: RegisterInput!) { register(input: $in) { user { displayName } } }`,
					map[string]any{"in": map[string]any{"email": fmt.Sprintf("n%d@example.com", i), "password": "correct-horse", "displayName": n.in}},
					"register", "user", "displayName"),
				"PATCH /users/me":    rest(http.MethodPatch, "/users/me", map[string]any{"displayName": n.in}, "displayName"),
				"POST /rooms":        rest(http.MethodPost, "/rooms", map[string]any{"name": n.in}, "name"),
				"PATCH settings":     rest(http.MethodPatch, "/rooms/"+room.ID+"/settings", map[string]any{"name": n.in}, "name"),
				"POST /rooms/x/join": rest(http.MethodPost, "/rooms/"+room.Code+"/join", nil, "participant.user.displayName"),
				"createRoom (GraphQL)": gql(`mutation($in: CreateRoomInput) { createRoom(input: $in) { name } }`,
					map[string]any{"in": map[string]any{"name": n.in}}, "createRoom", "name"),
				"joinRoom as a guest (GraphQL)": gql(`mutation($c: String!, $g: String) { joinRoom(code: $c, guestName: $g) { participant { displayName } } }`,
					map[string]any{"c": room.Code, "g": n.in}, "joinRoom", "participant", "displayName"),
			}
			for where, v := range got {
				if v != n.want {
					t.Errorf("%s: %q came back as %q, want %q", where, n.in, v, n.want)
				}
			}
		}
	})
}
