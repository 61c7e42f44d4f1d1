package models

import (
	"time"

	"github.com/uptrace/bun"
)

// Participant is one presence of a user or a guest in a room. Leaving keeps
// the row (isActive=false, leftAt set) so a room's history stays intact.
type Participant struct {
	bun.BaseModel `bun:"table:participants"`

	ID        string     `bun:"id,pk"`
	RoomID    string     `bun:"room_id,notnull"`
	UserID    *string    `bun:"user_id"`
	GuestName *string    `bun:"guest_name"`
	IsActive  bool       `bun:"is_active,notnull"`
	IsHost    bool       `bun:"is_host,notnull"`
	JoinedAt  time.Time  `bun:"joined_at,notnull"`
	LeftAt    *time.Time `bun:"left_at"`
}
