package harness

import (
	"encoding/json"
	"net/http"
	"testing"
)

// GQLResponse is a GraphQL response, with the HTTP status and headers it
// came with (zero for results over websockets and SSE).
type GQLResponse struct {
	Status int             `json:"-"`
	Header http.Header     `json:"-"`
	Data   json.RawMessage `json:"data"`
	Errors []GQLError      `json:"errors"`
}

// GQLError is one GraphQL error.
type GQLError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the first error's extensions.code ("" without errors).
func (r GQLResponse) Code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// Outcome classifies the response for tallies: "ok", or its error code
// followed by /reason when it has one (CONFLICT/ROOM_FULL).
func (r GQLResponse) Outcome() string {
	if len(r.Errors) == 0 {
		return "ok"
	}
	code := r.Code()
	if reason, _ := r.Errors[0].Extensions["reason"].(string); reason != "" {
		code += "/" + reason
	}
	return code
}

// Decode unmarshals data into v, failing the test on GraphQL errors.
func (r GQLResponse) Decode(t testing.TB, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected GraphQL errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data %s: %v", r.Data, err)
	}
}

// MustSucceed fails the test if res carries errors.
func MustSucceed(t testing.TB, what string, res GQLResponse) {
	t.Helper()
	if len(res.Errors) > 0 {
		t.Fatalf("%s: %+v", what, res.Errors)
	}
}

// User is a signed-up account and its token.
type User struct {
	ID    string
	Email string
	Token string
}

// Register signs a user up through GraphQL with Password.
func (c *Client) Register(email, displayName string) User {
	c.t.Helper()
	res := c.GQL(`mutation($in: RegisterInput!) { register(input: $in) { accessToken user { id email } } }`,
		map[string]any{"in": map[string]any{"email": email, "password": Password, "displayName": displayName}})
	var data struct {
		Register struct {
			AccessToken string
			User        struct{ ID, Email string }
		}
	}
	res.Decode(c.t, &data)
	return User{ID: data.Register.User.ID, Email: data.Register.User.Email, Token: data.Register.AccessToken}
}

// Room is what tests use of a created room.
type Room struct {
	ID   string `json:"id"`
	Code string `json:"code"`
}

// CreateRoom creates a room through GraphQL (input nil: the defaults).
func (c *Client) CreateRoom(input map[string]any) Room {
	c.t.Helper()
	res := c.GQL(`mutation($in: CreateRoomInput) { createRoom(input: $in) { id code } }`, map[string]any{"in": input})
	var data struct{ CreateRoom Room }
	res.Decode(c.t, &data)
	return data.CreateRoom
}

// Joined is a participant and its participant token.
type Joined struct {
	ParticipantID string
	Token         string
}

// Join joins the room with code through GraphQL: as the client's user, or
// without a token as the guest guestName.
func (c *Client) Join(code string, guestName *string) (Joined, GQLResponse) {
	c.t.Helper()
	res := c.GQL(`mutation($code: String!, $guest: String) { joinRoom(code: $code, guestName: $guest) { participantToken participant { id } } }`,
		map[string]any{"code": code, "guest": guestName})
	if len(res.Errors) > 0 {
		return Joined{}, res
	}
	var data struct {
		JoinRoom struct {
			ParticipantToken string
			Participant      struct{ ID string }
		}
	}
	res.Decode(c.t, &data)
	return Joined{ParticipantID: data.JoinRoom.Participant.ID, Token: data.JoinRoom.ParticipantToken}, res
}

// UpdateSettings applies in to the room through GraphQL.
func (c *Client) UpdateSettings(roomID string, in map[string]any) GQLResponse {
	c.t.Helper()
	return c.GQL(`mutation($id: ID!, $in: UpdateRoomSettingsInput!) { updateRoomSettings(roomId: $id, input: $in) { id } }`,
		map[string]any{"id": roomID, "in": in})
}

// Leave makes the participant leave through GraphQL.
func (c *Client) Leave(participantID string) GQLResponse {
	c.t.Helper()
	return c.GQL(`mutation($id: ID!) { leaveRoom(participantId: $id) { id } }`, map[string]any{"id": participantID})
}

// EndRoom ends the room through GraphQL.
func (c *Client) EndRoom(roomID string) GQLResponse {
	c.t.Helper()
	return c.GQL(`mutation($id: ID!) { endRoom(roomId: $id) { id } }`, map[string]any{"id": roomID})
}
