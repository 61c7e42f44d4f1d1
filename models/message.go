package models

import (
	"time"

	"github.com/uptrace/bun"
)

// MessageType tells a participant's message from one the server wrote. The
// values are the GraphQL enum MessageType's.
type MessageType string

// The message types.
const (
	// MessageText is written by a participant (or the room's host).
	MessageText MessageType = "TEXT"
	// MessageSystem is written by the server: someone joined or left, the
	// room ended.
	MessageSystem MessageType = "SYSTEM"
)

// Message is one line of a room's chat. Deleting it keeps the row, and its
// place in the chat, with Content nil and DeletedAt set.
type Message struct {
	bun.BaseModel `bun:"table:messages"`

	ID     string `bun:"id,pk" json:"id"`
	RoomID string `bun:"room_id,notnull" json:"roomId"`
	// ParticipantID is the sender's presence in the room: nil for SYSTEM
	// messages and for a host posting without having joined.
	ParticipantID *string `bun:"participant_id" json:"participantId,omitempty"`
	// UserID is the sender's user: nil for guests and SYSTEM messages.
	UserID *string `bun:"user_id" json:"userId,omitempty"`
	// SenderName is the sender's name as it was when the message was sent
	// (nil for SYSTEM messages).
	SenderName *string     `bun:"sender_name" json:"senderName,omitempty"`
	Content    *string     `bun:"content" json:"content,omitempty"`
	Type       MessageType `bun:"type,notnull" json:"type"`
	CreatedAt  time.Time   `bun:"created_at,notnull" json:"createdAt"`
	DeletedAt  *time.Time  `bun:"deleted_at" json:"deletedAt,omitempty"`
}
