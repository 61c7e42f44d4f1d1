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
