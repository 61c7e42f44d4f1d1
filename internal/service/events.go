package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/models"
)

var errNotWatcher = apperr.ForbiddenReason(apperr.NotInRoom, "only the room's host and its active participants may follow its events")

// RoomEvents subscribes the caller to room roomID's events until ctx ends.
// The host and the room's active participants may (a user by their token,
// a guest by its participant token); anyone else is FORBIDDEN, whether or
// not the room exists. A participant's subscription ends after its own
// PARTICIPANT_LEFT: from then on it may no longer follow the room.
func (s *Service) RoomEvents(ctx context.Context, roomID string) (*events.Subscription, error) {
	p, viewer, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !isKey(roomID) || (p.ParticipantID != "" && p.RoomID != roomID) {
		return nil, errNotWatcher
	}
	if s.events == nil {
		return nil, errors.New("room events: no broker configured")
	}
	// Subscribe first and check after: an event committed between the
	// check and the subscription (the caller's own departure, the room's
	// end) then still reaches the subscription, which it ends.
	sub, err := s.events.Subscribe(ctx, roomID, leftItself(p, viewer))
	if err != nil {
		return nil, subscribeError(err)
	}
	if err := s.checkWatcher(ctx, roomID, p, viewer); err != nil {
		sub.Close()
		return nil, err
	}
	return sub, nil
}

var errFeedNeedsUser = &apperr.Error{Code: apperr.Forbidden, Message: "a participant token follows its room (roomEvents); the rooms a user hosts need the user's token"}

// MyRooms subscribes the signed-in user to the events of every room they
// host, rooms created from now on included, until ctx ends. It takes a
// user's token: a participant token is FORBIDDEN (it is a presence in one
// room, which roomEvents follows), no token UNAUTHENTICATED. Whose rooms
// the feed carries is the token's user and nobody else's, so there is
// nothing to check per room.
func (s *Service) MyRooms(ctx context.Context) (*events.Subscription, error) {
	if p := auth.FromContext(ctx); p != nil && p.Err == nil && p.UserID == "" {
		return nil, errFeedNeedsUser
	}
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	if s.events == nil {
		return nil, errors.New("my rooms: no broker configured")
	}
	sub, err := s.events.SubscribeHost(ctx, viewer.ID)
	if err != nil {
		return nil, subscribeError(err)
	}
	return sub, nil
}

// leftItself matches the departure of the subscriber's own participant. A
// host's subscription outlives its presence in the room (IsHost marks the
// host's participants, whose hosts never change).
func leftItself(p *auth.Principal, viewer *models.User) func(*events.Event) bool {
	return func(ev *events.Event) bool {
		if ev.Type != events.ParticipantLeft || ev.Participant == nil {
			return false
		}
		if p.ParticipantID != "" {
			return ev.Participant.ID == p.ParticipantID
		}
		return !ev.Participant.IsHost && ev.Participant.UserID != nil && *ev.Participant.UserID == viewer.ID
	}
}

// checkWatcher tells whether the caller may follow the room now.
func (s *Service) checkWatcher(ctx context.Context, roomID string, p *auth.Principal, viewer *models.User) error {
	if viewer == nil {
		present, err := s.db.NewSelect().Model((*models.Participant)(nil)).
			Where("id = ?", p.ParticipantID).Where("room_id = ?", roomID).Where("is_active = ?", true).
			Exists(ctx)
		if err != nil {
			return fmt.Errorf("room events: load participant: %w", err)
		}
		if !present {
			return errNotWatcher
		}
		return nil
	}
	var room struct {
		HostID   string `bun:"host_id"`
		IsActive bool   `bun:"is_active"`
		Present  bool   `bun:"present"`
	}
	err := s.db.NewSelect().TableExpr("rooms AS r").
		Column("r.host_id", "r.is_active").
		ColumnExpr("EXISTS (SELECT 1 FROM participants AS p WHERE p.room_id = r.id AND p.user_id = ? AND p.is_active = ?) AS present", viewer.ID, true).
		Where("r.id = ?", roomID).
		Scan(ctx, &room)
	if errors.Is(err, sql.ErrNoRows) {
		return errNotWatcher
	}
	if err != nil {
		return fmt.Errorf("room events: load room: %w", err)
	}
	switch {
	case room.HostID == viewer.ID && !room.IsActive:
		return errRoomEnded
	case room.HostID == viewer.ID, room.Present:
		return nil
	}
	return errNotWatcher
}

// subscribeError turns a broker's refusal into what the client sees.
func subscribeError(err error) error {
	if errors.Is(err, events.ErrUnavailable) || errors.Is(err, events.ErrClosed) {
		return &apperr.Error{Code: apperr.SubscriptionInterrupted, Reason: apperr.EventsUnavailable,
			Message: "live events are unavailable right now; retry shortly"}
	}
	return fmt.Errorf("room events: subscribe: %w", err)
}

// StreamEndError is what a client learns when its subscription ended early
// (nil for a normal end): it may have missed events.
func StreamEndError(err error) error {
	var (
		reason  apperr.Reason
		message string
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, events.ErrOverflow):
		reason, message = apperr.TooSlow, "events were arriving faster than they were read; resubscribe and refetch the room"
	case errors.Is(err, events.ErrInterrupted):
		reason, message = apperr.EventsInterrupted, "live events were interrupted; resubscribe and refetch the room"
	case errors.Is(err, events.ErrClosed):
		reason, message = apperr.ServerShuttingDown, "the server is shutting down; resubscribe and refetch the room"
	default:
		return fmt.Errorf("room events: %w", err)
	}
	return &apperr.Error{Code: apperr.SubscriptionInterrupted, Reason: reason, Message: message}
}

// inTxPublishing runs fn in a transaction (as inTx) and publishes the
// events it returns in the order the transactions commit, so that each
// room's events reach every subscriber in the order its changes happened
// (the count of who is present that joins and departures carry must only
// ever step by one). Published after their commits, two changes made one
// after the other under the room's lock could announce themselves the
// other way round. A broker that publishes within the transaction
// (PostgreSQL's NOTIFY, delivered at commit in commit order) does it
// there; otherwise publishOrder is taken before the commit and held until
// the events are handed over, so the next publishing commit follows them.
func (s *Service) inTxPublishing(ctx context.Context, fn func(ctx context.Context, tx bun.Tx) ([]*events.Event, error)) error {
	txp, inTx := s.events.(events.TxPublisher)
	var (
		evs  []*events.Event
		held bool
	)
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if held { // an attempt whose commit failed, being retried
			s.publishOrder.Unlock()
			held = false
		}
		var err error
		if evs, err = fn(ctx, tx); err != nil || len(evs) == 0 || s.events == nil {
			return err
		}
		if inTx {
			return txp.PublishTx(ctx, tx, evs...)
		}
		s.publishOrder.Lock()
		held = true
		return nil
	})
	if held {
		if err == nil {
			s.publish(ctx, evs...)
		}
		s.publishOrder.Unlock()
	}
	return err
}

// publish hands committed changes to the broker. A failure is the
// broker's to log: the change has committed, so the caller still succeeds.
func (s *Service) publish(ctx context.Context, evs ...*events.Event) {
	if s.events != nil && len(evs) > 0 {
		_ = s.events.Publish(ctx, evs...)
	}
}

// participantEvent describes a join or a departure in a room of hostID's,
// after which active people are present.
func participantEvent(t events.Type, p *models.Participant, at time.Time, hostID string, active int) *events.Event {
	cp := *p // the caller keeps using p; subscribers get their own copy
	return &events.Event{RoomID: p.RoomID, HostID: hostID, Type: t, Time: at, Participant: &cp, ActiveParticipants: &active}
}

// settingsEvents describes what an update changed: the lock's transition,
// then (if any setting or the name changed) the new settings. An update
// that changes nothing publishes nothing.
func settingsEvents(room *models.Room, after *models.RoomSettings, before models.RoomSettings, wasLocked bool, oldName string) []*events.Event {
	var evs []*events.Event
	if room.IsLocked != wasLocked {
		t := events.RoomUnlocked
		if room.IsLocked {
			t = events.RoomLocked
		}
		evs = append(evs, &events.Event{RoomID: room.ID, HostID: room.HostID, Type: t, Time: room.UpdatedAt})
	}
	if *after != before || room.Name != oldName {
		settings, name := *after, room.Name
		evs = append(evs, &events.Event{RoomID: room.ID, HostID: room.HostID, Type: events.SettingsChanged, Time: room.UpdatedAt,
			Settings: &settings, RoomName: &name})
	}
	return evs
}
