// Package events carries live room events from the service, where they
// happen, to the subscriptions that stream them to clients. A Broker
// delivers in process on a single instance (Local, for the embedded SQLite
// default) or across every instance sharing a PostgreSQL database
// (Postgres, over LISTEN/NOTIFY).
//
// An event reaches subscribers only once the transaction that made the
// change has committed (PostgreSQL delivers a NOTIFY sent within it at its
// commit; the in-process broker is published to after it), so a subscriber
// never hears of a change it cannot then read, and each room's events
// arrive in the order its changes committed. Each event also names its
// room's host, whose feed of all their rooms (SubscribeHost) it reaches. Delivery is at most once: a subscription that may have missed
// an event (its buffer overflowed, the LISTEN connection dropped, the
// server is shutting down) is ended with an error saying so, and the client
// resubscribes and refetches the room.
package events

import (
	"context"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/models"
)

// Type says what happened. The values are the GraphQL enum RoomEventType's.
type Type string

// The event types.
const (
	ParticipantJoined Type = "PARTICIPANT_JOINED"
	ParticipantLeft   Type = "PARTICIPANT_LEFT"
	// SettingsChanged carries the room's settings (and name) after an
	// update that changed any of them.
	SettingsChanged Type = "SETTINGS_CHANGED"
	RoomLocked      Type = "ROOM_LOCKED"
	RoomUnlocked    Type = "ROOM_UNLOCKED"
	// RoomEnded is a room's last event: every subscription to the room
	// ends after it.
	RoomEnded Type = "ROOM_ENDED"
	// MessageSent and MessageDeleted carry the chat message sent, or as it
	// is once deleted (no content).
	MessageSent    Type = "MESSAGE_SENT"
	MessageDeleted Type = "MESSAGE_DELETED"
	// RoomCreated reaches its host's feed only (SubscribeHost): nobody can
	// follow a room by its id before it exists.
	RoomCreated Type = "ROOM_CREATED"
)

// InHostFeed tells whether a host's feed of their rooms (SubscribeHost)
// carries events of type t: every change to a room's state, not its chat,
// which a dashboard does not show and a busy room would flood it with.
func (t Type) InHostFeed() bool { return t != MessageSent && t != MessageDeleted }

// Event is one change to a room. Events are shared by every subscriber
// that receives them (and, in process, by the publisher): never modify one
// after publishing it.
type Event struct {
	RoomID string `json:"roomId"`
	// HostID is the room's host, whose feed (SubscribeHost) the event
	// reaches when its type is InHostFeed. Every instance receives every
	// event and picks its subscribers by these two ids, so a room created
	// after a host subscribed is in their feed with no new LISTEN.
	HostID string    `json:"hostId,omitempty"`
	Type   Type      `json:"type"`
	Time   time.Time `json:"time"`
	// Participant is who joined or left.
	Participant *models.Participant `json:"participant,omitempty"`
	// Settings and RoomName are the room's after a SettingsChanged.
	Settings *models.RoomSettings `json:"settings,omitempty"`
	RoomName *string              `json:"roomName,omitempty"`
	// Message is the chat message a MessageSent or MessageDeleted is about.
	Message *models.Message `json:"message,omitempty"`
	// ActiveParticipants is how many people are in the room once the
	// change committed, counted in its transaction under the room row's
	// lock (RoomCreated, ParticipantJoined, ParticipantLeft, RoomEnded;
	// nil for the others, which do not change it).
	ActiveParticipants *int `json:"activeParticipants,omitempty"`
}

// Why a subscription ended early. A subscription that ends for any of
// these may have missed events.
var (
	// ErrOverflow: the subscriber fell further behind than its buffer.
	ErrOverflow = errors.New("events: subscriber fell behind and its buffer overflowed")
	// ErrInterrupted: the connection that receives events from other
	// instances dropped; events published meanwhile are lost.
	ErrInterrupted = errors.New("events: delivery from other instances was interrupted")
	// ErrClosed: the broker was closed (the server is shutting down).
	ErrClosed = errors.New("events: broker closed")
	// ErrUnavailable: no subscription could be opened because events
	// cannot currently be received (the database is unreachable).
	ErrUnavailable = errors.New("events: live events are unavailable")
)

// Broker moves events from publishers to subscribers.
type Broker interface {
	// Publish delivers evs, in order, to every subscriber of their rooms
	// on every instance. Only publish committed changes (or use
	// TxPublisher's PublishTx, which keeps them in commit order). Failures
	// are logged by the broker and returned.
	Publish(ctx context.Context, evs ...*Event) error
	// Subscribe opens a subscription to roomID's events, ended when ctx
	// ends, when Close is called, after the room's RoomEnded event, or
	// after the first event for which endAfter (if not nil) is true.
	Subscribe(ctx context.Context, roomID string, endAfter func(*Event) bool) (*Subscription, error)
	// SubscribeHost opens a subscription to the events of every room
	// hostID hosts, rooms created later included (the events whose HostID
	// it is and whose type is InHostFeed), each room's in order. It ends
	// when ctx ends, when Close is called, or early as Subscribe's do; a
	// room's end does not end it.
	SubscribeHost(ctx context.Context, hostID string) (*Subscription, error)
	// Subscribers counts the subscriptions open on this instance.
	Subscribers() int
	// Close ends every subscription with ErrClosed and releases the
	// broker's resources. It is idempotent.
	Close() error
}

// TxPublisher is a Broker that can publish within the transaction that
// makes the change: the events then reach subscribers if and when it
// commits, in the order the transactions committed (PostgreSQL's NOTIFY).
// A broker without it is published to after the commit, by a caller that
// keeps its commits and publications in one order itself.
type TxPublisher interface {
	PublishTx(ctx context.Context, tx bun.IDB, evs ...*Event) error
}

// Options tune a broker.
type Options struct {
	// Buffer is how many events a subscriber may fall behind before its
	// subscription ends with ErrOverflow (0: DefaultBuffer).
	Buffer int
}

// DefaultBuffer is the per-subscriber buffer when Options.Buffer is unset:
// a burst of 64 changes to one room is far beyond anything people cause,
// and 64 pointers cost nothing.
const DefaultBuffer = 64

func (o Options) buffer() int {
	if o.Buffer > 0 {
		return o.Buffer
	}
	return DefaultBuffer
}
