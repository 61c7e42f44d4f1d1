package models

import (
	"time"

	"github.com/uptrace/bun"
)

// Room is a meeting room. Its settings and participants live in their own
// tables and are loaded on demand (batched per request).
type Room struct {
	bun.BaseModel `bun:"table:rooms"`

	ID        string     `bun:"id,pk"`
	Code      string     `bun:"code,notnull"`
	Name      string     `bun:"name,notnull"`
	HostID    string     `bun:"host_id,notnull"`
	IsActive  bool       `bun:"is_active,notnull"`
	IsLocked  bool       `bun:"is_locked,notnull"`
	StartedAt *time.Time `bun:"started_at"`
	EndedAt   *time.Time `bun:"ended_at"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	UpdatedAt time.Time  `bun:"updated_at,notnull"`

	// JoinedSettings is filled only by queries that join the settings in
	// (one statement instead of two on the hottest path). It is deliberately
	// not named Settings: GraphQL resolves Room.settings through the
	// per-request loader, which is primed from this when present.
	JoinedSettings *RoomSettings `bun:"rel:has-one,join:id=room_id"`
}

// RoomSettings holds one room's settings (exactly one row per room).
type RoomSettings struct {
	bun.BaseModel `bun:"table:room_settings"`

	ID                     string `bun:"id,pk"`
	RoomID                 string `bun:"room_id,notnull"`
	AllowChat              bool   `bun:"allow_chat,notnull"`
	AllowScreenShare       bool   `bun:"allow_screen_share,notnull"`
	AllowGuestAccess       bool   `bun:"allow_guest_access,notnull"`
	WaitingRoom            bool   `bun:"waiting_room,notnull"`
	MuteParticipantsOnJoin bool   `bun:"mute_participants_on_join,notnull"`
	MaxParticipants        int    `bun:"max_participants,notnull"`
	// Whether participants may turn on their camera and microphone: the
	// legacy web client's toggles, stored and served for the clients, which
	// apply them (the server carries no media).
	AllowParticipantVideo bool `bun:"allow_participant_video,notnull"`
	AllowParticipantAudio bool `bun:"allow_participant_audio,notnull"`
}
