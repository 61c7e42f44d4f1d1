package harness

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
