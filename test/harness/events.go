package harness

import "time"

// RoomEventsQuery follows a room ($room) with every RoomEvent field.
const RoomEventsQuery = `subscription($room: ID!) { roomEvents(roomId: $room) {
	roomId type time
	participant { id displayName isActive leftAt user { displayName } }
	settings { allowChat maxParticipants }
	roomName
} }`

// RoomEvent is a roomEvents result as RoomEventsQuery selects it.
type RoomEvent struct {
	RoomID      string `json:"roomId"`
	Type        string `json:"type"`
	Time        string `json:"time"`
	Participant *struct {
		ID          string  `json:"id"`
		DisplayName string  `json:"displayName"`
		IsActive    bool    `json:"isActive"`
		LeftAt      *string `json:"leftAt"`
		User        *struct {
			DisplayName string `json:"displayName"`
		} `json:"user"`
	} `json:"participant"`
	Settings *struct {
		AllowChat       bool `json:"allowChat"`
		MaxParticipants int  `json:"maxParticipants"`
	} `json:"settings"`
	RoomName *string `json:"roomName"`
}

// Streams are a subscription to one operation over each transport.
type Streams struct {
	WS  *WSConn
	Op  *Operation // on WS
	SSE *SSEStream
}

// SubscribeBoth subscribes to query as token's caller ("" for none) over a
// websocket and over SSE.
func (s *Server) SubscribeBoth(token, query string, vars map[string]any) Streams {
	s.t.Helper()
	ws := DialWS(s.t, s.URL, token)
	return Streams{WS: ws, Op: ws.Subscribe(query, vars), SSE: SubscribeSSE(s.t, s.URL, token, query, vars)}
}

// MyRoomsQuery follows the caller's rooms with every MyRoomsEvent field,
// the room read afresh with who is in it.
const MyRoomsQuery = `subscription { myRooms {
	type roomId time activeParticipants
	room { id name isActive isLocked settings { allowChat } participants(activeOnly: true) { id displayName } }
	participant { id displayName isActive user { displayName } }
} }`

// MyRoomsEvent is a myRooms result as MyRoomsQuery selects it.
type MyRoomsEvent struct {
	Type               string `json:"type"`
	RoomID             string `json:"roomId"`
	Time               string `json:"time"`
	ActiveParticipants *int   `json:"activeParticipants"`
	Room               struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		IsActive bool   `json:"isActive"`
		IsLocked bool   `json:"isLocked"`
		Settings struct {
			AllowChat bool `json:"allowChat"`
		} `json:"settings"`
		Participants []struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"participants"`
	} `json:"room"`
	Participant *struct {
		ID          string `json:"id"`
		DisplayName string `json:"displayName"`
		IsActive    bool   `json:"isActive"`
		User        *struct {
			DisplayName string `json:"displayName"`
		} `json:"user"`
	} `json:"participant"`
}

// MyRoomsEvent returns the next myRooms result, failing on anything else.
func (op *Operation) MyRoomsEvent(timeout time.Duration) MyRoomsEvent {
	op.c.t.Helper()
	m, ok := op.Next(timeout)
	if !ok || m.Type != "next" {
		op.c.t.Fatalf("operation %s: got %q %s, want an event", op.id, m.Type, m.Payload)
	}
	var data struct{ MyRooms MyRoomsEvent }
	m.Result().Decode(op.c.t, &data)
	return data.MyRooms
}

// MyRoomsEvent returns the next myRooms result, failing on anything else.
func (s *SSEStream) MyRoomsEvent(timeout time.Duration) MyRoomsEvent {
	s.t.Helper()
	ev, ok := s.Next(timeout)
	if !ok || ev.Event != "next" {
		s.t.Fatalf("SSE: got %q (open %v), want an event", ev.Event, ok)
	}
	var data struct{ MyRooms MyRoomsEvent }
	ev.Data.Decode(s.t, &data)
	return data.MyRooms
}
