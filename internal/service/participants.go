package service

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/models"
)

// JoinResult is a participant and the token that lets it act as itself.
type JoinResult struct {
	Participant      *models.Participant
	ParticipantToken string
}

// JoinRoom adds the caller to the room with code: a signed-in user as
// themself, an anonymous caller as the guest guestName.
//
// The room row is locked for the whole transaction, so concurrent joins
// (and a concurrent end) of one room run one after another: the capacity
// check and the insert can never interleave, and active participants never
// exceed maxParticipants.
func (s *Service) JoinRoom(ctx context.Context, code string, guestName *string) (*JoinResult, error) {
	viewer, err := s.optionalViewer(ctx)
	if err != nil {
		return nil, err
	}
	var guest string
	if viewer == nil {
		if guestName == nil {
			return nil, apperr.Invalid("guestName", "guestName is required to join without signing in")
		}
		if guest, err = checkName("guestName", *guestName, MinGuestName, MaxGuestName); err != nil {
			return nil, err
		}
	}
	account := "" // guests are limited by address only
	if viewer != nil {
		account = viewer.ID
	}
	// A join tries a code as a lookup does (an unknown one is NOT_FOUND),
	// so it spends a lookup too: otherwise joins would be a second
	// allowance for guessing beside roomByCode's.
	if err := s.limits.Check(ctx, ratelimit.JoinRoom, account, ratelimit.RoomCode); err != nil {
		return nil, err
	}
	if !isKey(code) {
		return nil, errRoomNotFound
	}
	var participant *models.Participant
	err = s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
		room := new(models.Room)
		err := s.forUpdate(tx.NewSelect().Model(room).Where("code = ?", normalizeCode(code))).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errRoomNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("load room: %w", err)
		}
		if !room.IsActive {
			return nil, errRoomEnded
		}
		isHost := viewer != nil && viewer.ID == room.HostID
		if viewer != nil {
			existing := new(models.Participant)
			err := tx.NewSelect().Model(existing).
				Where("room_id = ?", room.ID).Where("user_id = ?", viewer.ID).Where("is_active = ?", true).
				Limit(1).Scan(ctx)
			if err == nil {
				participant = existing // joining twice is idempotent, and no event
				return nil, nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return nil, fmt.Errorf("load participant: %w", err)
			}
		}
		if room.IsLocked && !isHost {
			return nil, apperr.ForbiddenReason(apperr.RoomLocked, "room is locked")
		}
		settings := new(models.RoomSettings)
		if err := tx.NewSelect().Model(settings).Column("allow_guest_access", "max_participants").
			Where("room_id = ?", room.ID).Scan(ctx); err != nil {
			return nil, fmt.Errorf("load settings: %w", err)
		}
		if viewer == nil && !settings.AllowGuestAccess {
			return nil, apperr.ForbiddenReason(apperr.GuestsNotAllowed, "this room does not admit guests; sign in to join")
		}
		active, err := activeParticipants(ctx, tx, room.ID)
		if err != nil {
			return nil, err
		}
		if active >= settings.MaxParticipants {
			return nil, apperr.ConflictReason(apperr.RoomFull, "room is full")
		}
		now := s.now()
		participant = &models.Participant{
			ID:       models.NewID(),
			RoomID:   room.ID,
			IsActive: true,
			IsHost:   isHost,
			JoinedAt: now,
		}
		if viewer != nil {
			participant.UserID = &viewer.ID
		} else {
			participant.GuestName = &guest
		}
		if _, err := tx.NewInsert().Model(participant).Exec(ctx); err != nil {
			return nil, fmt.Errorf("insert participant: %w", err)
		}
		keepStats := func() error { return s.statsJoined(ctx, tx, room, now) }
		if room.StartedAt == nil {
			// A room starts when its first participant arrives.
			_, err := tx.NewUpdate().Model(room).
				Set("started_at = ?", now).Set("updated_at = ?", now).WherePK().Exec(ctx)
			if err != nil {
				return nil, fmt.Errorf("start room: %w", err)
			}
			if now.Before(room.UpdatedAt) {
				keepStats = func() error { _, err := s.recomputeStats(ctx, tx, room); return err } // see statsTouched
			}
			room.StartedAt, room.UpdatedAt = &now, now
		}
		if err := keepStats(); err != nil {
			return nil, err
		}
		// The newcomer counts too; the room's lock keeps the count exact
		// until commit.
		return []*events.Event{participantEvent(events.ParticipantJoined, participant, participant.JoinedAt, room.HostID, active+1)}, nil
	})
	if err != nil {
		return nil, wrapUnlessApp("join room", err)
	}
	token, err := s.tokens.IssueParticipant(participant.ID, participant.RoomID)
	if err != nil {
		return nil, fmt.Errorf("join room: %w", err)
	}
	return &JoinResult{Participant: participant, ParticipantToken: token}, nil
}

// activeParticipants counts who is in the room now. Callers hold the room
// row's lock, so the count stands until they commit.
func activeParticipants(ctx context.Context, tx bun.Tx, roomID string) (int, error) {
	n, err := tx.NewSelect().Model((*models.Participant)(nil)).
		Where("room_id = ?", roomID).Where("is_active = ?", true).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("count participants: %w", err)
	}
	return int(n), nil
}

// LeaveRoom marks a participant as gone. The participant itself (by its
// participant token or its user's token) or the room's host may do it.
func (s *Service) LeaveRoom(ctx context.Context, participantID string) (*models.Participant, error) {
	p, viewer, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !isKey(participantID) {
		return nil, apperr.NotFoundf("participant not found")
	}
	participant := new(models.Participant)
	err = s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
		// The room row is locked first, as joins and the end lock it before
		// touching participants: the leave, the room's stored statistics
		// (statsClosed) and the count of who is left, which the host's feed
		// announces, are then written in the same order as every other
		// change of the room, and never deadlock with an end.
		room := new(models.Room)
		err := s.forUpdate(tx.NewSelect().Model(room).
			Where("id = (SELECT p.room_id FROM participants AS p WHERE p.id = ?)", participantID)).Scan(ctx)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, apperr.NotFoundf("participant not found")
		}
		if err != nil {
			return nil, fmt.Errorf("load room: %w", err)
		}
		if err := s.forUpdate(tx.NewSelect().Model(participant).Where("id = ?", participantID)).Scan(ctx); err != nil {
			return nil, fmt.Errorf("load participant: %w", err)
		}
		allowed := p.ParticipantID == participant.ID ||
			(viewer != nil && ((participant.UserID != nil && *participant.UserID == viewer.ID) || room.HostID == viewer.ID))
		if !allowed {
			return nil, apperr.ForbiddenReason(apperr.NotParticipant, "only the participant or the room's host may do this")
		}
		if !participant.IsActive {
			return nil, apperr.ConflictReason(apperr.AlreadyLeft, "participant has already left")
		}
		now := s.now()
		participant.IsActive = false
		participant.LeftAt = &now
		if _, err := tx.NewUpdate().Model(participant).Column("is_active", "left_at").WherePK().Exec(ctx); err != nil {
			return nil, fmt.Errorf("update participant: %w", err)
		}
		active, err := s.statsClosed(ctx, tx, room, now, "active_participants - 1")
		if err != nil {
			return nil, err
		}
		return []*events.Event{participantEvent(events.ParticipantLeft, participant, now, room.HostID, active)}, nil
	})
	if err != nil {
		return nil, wrapUnlessApp("leave room", err)
	}
	return participant, nil
}

// ParticipantWithUser is a participant together with its user (nil for a
// guest), for answers that show who the participant is.
type ParticipantWithUser struct {
	*models.Participant
	User *models.User
}

// DisplayName is the name a room shows for the participant: its user's
// public name, else its guest name.
func (p ParticipantWithUser) DisplayName() string {
	if p.User != nil {
		return p.User.PublicName()
	}
	if p.GuestName != nil {
		return *p.GuestName
	}
	return ""
}

// RoomParticipants lists a room's participants in join order (only those
// present when activeOnly) to whoever may see the room (see Room); to
// anyone else the room does not exist.
func (s *Service) RoomParticipants(ctx context.Context, roomID string, activeOnly bool) ([]ParticipantWithUser, error) {
	room, err := s.Room(ctx, roomID)
	if err != nil {
		return nil, err
	}
	return s.participantsWithUsers(ctx, room.ID, activeOnly)
}

// Attendee is what anyone holding a room's code may see of a person in it.
type Attendee struct {
	ID          string // the participant's id
	DisplayName string
	AvatarURL   *string
	IsHost      bool
}

// AttendeesByCode lists who is in the room with code right now, in join
// order, so someone about to join sees who is there. Like RoomByCode it
// needs no sign-in: the code is the invitation.
func (s *Service) AttendeesByCode(ctx context.Context, code string) ([]Attendee, error) {
	room, err := s.RoomByCode(ctx, code)
	if err != nil {
		return nil, err
	}
	present, err := s.participantsWithUsers(ctx, room.ID, true)
	if err != nil {
		return nil, err
	}
	out := make([]Attendee, len(present))
	for i, p := range present {
		out[i] = Attendee{ID: p.ID, DisplayName: p.DisplayName(), IsHost: p.IsHost}
		if p.User != nil {
			out[i].AvatarURL = p.User.AvatarURL
		}
	}
	return out, nil
}

// participantsWithUsers loads a room's participants in join order (only
// those present when activeOnly) with their users, in two statements.
func (s *Service) participantsWithUsers(ctx context.Context, roomID string, activeOnly bool) ([]ParticipantWithUser, error) {
	var rows []*models.Participant
	q := s.db.NewSelect().Model(&rows).Where("room_id = ?", roomID).OrderExpr("joined_at ASC, id ASC")
	if activeOnly {
		q = q.Where("is_active = ?", true)
	}
	if err := q.Scan(ctx); err != nil {
		return nil, fmt.Errorf("load participants: %w", err)
	}
	return s.WithUsers(ctx, rows)
}

// WithUsers pairs participants with their users, loaded in one statement.
func (s *Service) WithUsers(ctx context.Context, participants []*models.Participant) ([]ParticipantWithUser, error) {
	var ids []string
	for _, p := range participants {
		if p.UserID != nil {
			ids = append(ids, *p.UserID)
		}
	}
	var users map[string]*models.User
	if len(ids) > 0 {
		var err error
		if users, err = s.UsersByIDs(ctx, ids); err != nil {
			return nil, err
		}
	}
	out := make([]ParticipantWithUser, len(participants))
	for i, p := range participants {
		out[i] = ParticipantWithUser{Participant: p}
		if p.UserID != nil {
			out[i].User = users[*p.UserID]
		}
	}
	return out, nil
}
