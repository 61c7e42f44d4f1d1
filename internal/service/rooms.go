package service

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/models"
)

// CreateRoomInput is the new-room form; nil fields take their defaults.
type CreateRoomInput struct {
	Name                   *string `json:"name"`
	MaxParticipants        *int    `json:"maxParticipants"`
	WaitingRoom            *bool   `json:"waitingRoom"`
	AllowChat              *bool   `json:"allowChat"`
	AllowScreenShare       *bool   `json:"allowScreenShare"`
	AllowGuestAccess       *bool   `json:"allowGuestAccess"`
	MuteParticipantsOnJoin *bool   `json:"muteParticipantsOnJoin"`
	AllowParticipantVideo  *bool   `json:"allowParticipantVideo"`
	AllowParticipantAudio  *bool   `json:"allowParticipantAudio"`
}

// UpdateRoomSettingsInput changes any subset of a room's settings, its name
// and its lock; nil fields are left alone.
type UpdateRoomSettingsInput struct {
	Name                   *string `json:"name"`
	IsLocked               *bool   `json:"isLocked"`
	MaxParticipants        *int    `json:"maxParticipants"`
	WaitingRoom            *bool   `json:"waitingRoom"`
	AllowChat              *bool   `json:"allowChat"`
	AllowScreenShare       *bool   `json:"allowScreenShare"`
	AllowGuestAccess       *bool   `json:"allowGuestAccess"`
	MuteParticipantsOnJoin *bool   `json:"muteParticipantsOnJoin"`
	AllowParticipantVideo  *bool   `json:"allowParticipantVideo"`
	AllowParticipantAudio  *bool   `json:"allowParticipantAudio"`
}

// RoomWithSettings is a room together with its settings, as mutations
// produce them (so callers need not load the settings again).
type RoomWithSettings struct {
	Room     *models.Room
	Settings *models.RoomSettings
}

var (
	errRoomNotFound = apperr.NotFoundf("room not found")
	errNotHost      = apperr.ForbiddenReason(apperr.NotHost, "only the room's host may do this")
	errRoomEnded    = apperr.ConflictReason(apperr.RoomEnded, "room has ended")
	// errParticipantGone refuses a participant token whose participant has
	// left: what it may still do is leaveRoom (ALREADY_LEFT).
	errParticipantGone = apperr.ForbiddenReason(apperr.NotInRoom, "this participant has left the room")
)

const codeAttempts = 8

// CreateRoom creates a room hosted by the viewer, with its settings.
func (s *Service) CreateRoom(ctx context.Context, in CreateRoomInput) (*RoomWithSettings, error) {
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	name, err := checkRoomForm(in.Name, in.MaxParticipants)
	if err != nil {
		return nil, err
	}
	if in.Name == nil {
		name = DefaultRoomName
	}
	// Per user, after the form: the rows are what a flood costs us, and a
	// refused form writes none.
	if err := s.limits.Check(ctx, ratelimit.CreateRoom, viewer.ID); err != nil {
		return nil, err
	}
	maxP := valueOr(in.MaxParticipants, DefaultParticipants)
	now := s.now()
	room := &models.Room{
		ID:        models.NewID(),
		Name:      name,
		HostID:    viewer.ID,
		IsActive:  true,
		CreatedAt: now,
		UpdatedAt: now,
	}
	settings := &models.RoomSettings{
		ID:                     models.NewID(),
		RoomID:                 room.ID,
		AllowChat:              valueOr(in.AllowChat, true),
		AllowScreenShare:       valueOr(in.AllowScreenShare, true),
		AllowGuestAccess:       valueOr(in.AllowGuestAccess, true),
		WaitingRoom:            valueOr(in.WaitingRoom, false),
		MuteParticipantsOnJoin: valueOr(in.MuteParticipantsOnJoin, false),
		MaxParticipants:        maxP,
		AllowParticipantVideo:  valueOr(in.AllowParticipantVideo, true),
		AllowParticipantAudio:  valueOr(in.AllowParticipantAudio, true),
	}
	// A code collision aborts the transaction (on PostgreSQL the whole
	// transaction is unusable after an error), so each attempt is a fresh one.
	for attempt := 1; ; attempt++ {
		room.Code = newRoomCode()
		err := s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
			// last_activity_at is not in the model (it is read only to
			// order lists, see roomsConnection): a new room's is its creation.
			if _, err := tx.NewInsert().Model(room).Value("last_activity_at", "?", now).Exec(ctx); err != nil {
				return nil, err
			}
			if _, err := tx.NewInsert().Model(settings).Exec(ctx); err != nil {
				return nil, err
			}
			none := 0
			return []*events.Event{{RoomID: room.ID, HostID: room.HostID, Type: events.RoomCreated, Time: room.CreatedAt, ActiveParticipants: &none}}, nil
		})
		if err == nil {
			return &RoomWithSettings{Room: room, Settings: settings}, nil
		}
		if !db.IsUniqueViolation(err) || attempt == codeAttempts {
			return nil, fmt.Errorf("create room: %w", err)
		}
	}
}

// checkRoomForm validates the room fields a create or an update may set
// and returns the trimmed name ("" when name is nil). Every bad field is
// reported at once, as the legacy validation did.
func checkRoomForm(name *string, maxParticipants *int) (string, error) {
	var (
		problems []*apperr.Error
		trimmed  string
		err      error
	)
	if name != nil {
		trimmed, err = checkName("name", *name, MinRoomName, MaxRoomName)
		problems = appendInvalid(problems, err)
	}
	if maxParticipants != nil {
		problems = appendInvalid(problems, checkMaxParticipants(*maxParticipants))
	}
	return trimmed, apperr.Invalids(problems...)
}

// newRoomCode returns a code like "abc-def-ghi" from crypto/rand: 26^9
// (5.4e12) codes, so guessing a live room's code is impractical.
func newRoomCode() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 0, 11)
	var buf [32]byte
	for len(out) < 11 {
		_, _ = rand.Read(buf[:]) // never fails (crypto/rand panics instead)
		for _, b := range buf {
			// Reject the top of the byte range so every letter is equally likely.
			if b >= 26*9 {
				continue
			}
			if len(out) == 3 || len(out) == 7 {
				out = append(out, '-')
			}
			out = append(out, letters[b%26])
			if len(out) == 11 {
				break
			}
		}
	}
	return string(out)
}

// normalizeCode accepts codes with stray spaces or capitals, as people
// type them from an invitation.
func normalizeCode(code string) string {
	return strings.ToLower(strings.TrimSpace(code))
}

// UpdateRoomSettings applies in to the room atomically. Host only.
func (s *Service) UpdateRoomSettings(ctx context.Context, roomID string, in UpdateRoomSettingsInput) (*RoomWithSettings, error) {
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	name, err := checkRoomForm(in.Name, in.MaxParticipants)
	if err != nil {
		return nil, err
	}
	var out RoomWithSettings
	err = s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
		room, err := s.lockHostedRoom(ctx, tx, roomID, viewer.ID)
		if err != nil {
			return nil, err
		}
		if !room.IsActive {
			return nil, errRoomEnded
		}
		settings := new(models.RoomSettings)
		if err := tx.NewSelect().Model(settings).Where("room_id = ?", room.ID).Scan(ctx); err != nil {
			return nil, fmt.Errorf("load settings: %w", err)
		}
		if in.MaxParticipants != nil && *in.MaxParticipants < settings.MaxParticipants {
			// The room row is locked (lockHostedRoom), as every join locks
			// it before counting: no join can commit between this count and
			// the new cap, so the cap never ends up below who is present.
			if err := checkCapFitsPresent(ctx, tx, room.ID, *in.MaxParticipants); err != nil {
				return nil, err
			}
		}
		before, wasLocked, oldName := *settings, room.IsLocked, room.Name
		if in.Name != nil {
			room.Name = name
		}
		setIf(&room.IsLocked, in.IsLocked)
		previous := room.UpdatedAt
		room.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(room).Column("name", "is_locked", "updated_at").WherePK().Exec(ctx); err != nil {
			return nil, fmt.Errorf("update room: %w", err)
		}
		setIf(&settings.MaxParticipants, in.MaxParticipants)
		setIf(&settings.WaitingRoom, in.WaitingRoom)
		setIf(&settings.AllowChat, in.AllowChat)
		setIf(&settings.AllowScreenShare, in.AllowScreenShare)
		setIf(&settings.AllowGuestAccess, in.AllowGuestAccess)
		setIf(&settings.MuteParticipantsOnJoin, in.MuteParticipantsOnJoin)
		setIf(&settings.AllowParticipantVideo, in.AllowParticipantVideo)
		setIf(&settings.AllowParticipantAudio, in.AllowParticipantAudio)
		if _, err := tx.NewUpdate().Model(settings).WherePK().Exec(ctx); err != nil {
			return nil, fmt.Errorf("update settings: %w", err)
		}
		if room.IsLocked != wasLocked {
			text := systemRoomUnlocked
			if room.IsLocked {
				text = systemRoomLocked
			}
			if err := systemMessage(ctx, tx, room.ID, text, room.UpdatedAt); err != nil {
				return nil, err
			}
		}
		out = RoomWithSettings{Room: room, Settings: settings}
		if err := s.statsTouched(ctx, tx, room, previous); err != nil {
			return nil, err
		}
		return settingsEvents(room, settings, before, wasLocked, oldName), nil
	})
	if err != nil {
		return nil, wrapUnlessApp("update room settings", err)
	}
	return &out, nil
}

// checkCapFitsPresent refuses a capacity below the room's active
// participants: nobody is removed to make room, so the host asks them to
// leave (or removes them) first.
func checkCapFitsPresent(ctx context.Context, tx bun.Tx, roomID string, maxParticipants int) error {
	active, err := activeParticipants(ctx, tx, roomID)
	if err != nil {
		return err
	}
	if active > maxParticipants {
		return apperr.InvalidReason("maxParticipants", apperr.BelowActiveParticipants,
			fmt.Sprintf("maxParticipants must not be below the %d participants in the room", active))
	}
	return nil
}

// EndRoom ends an active room and marks everyone still in it as left at
// the same instant. Host only; ending an ended room is a conflict, so of
// concurrent calls exactly one performs the transition.
func (s *Service) EndRoom(ctx context.Context, roomID string) (*models.Room, error) {
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	var room *models.Room
	err = s.inTxPublishing(ctx, func(ctx context.Context, tx bun.Tx) ([]*events.Event, error) {
		room, err = s.lockHostedRoom(ctx, tx, roomID, viewer.ID)
		if err != nil {
			return nil, err
		}
		if !room.IsActive {
			return nil, apperr.ConflictReason(apperr.RoomEnded, "room has already ended")
		}
		now := s.now()
		back := now.Before(room.UpdatedAt)
		room.IsActive = false
		room.EndedAt = &now
		room.UpdatedAt = now
		if _, err := tx.NewUpdate().Model(room).Column("is_active", "ended_at", "updated_at").WherePK().Exec(ctx); err != nil {
			return nil, fmt.Errorf("end room: %w", err)
		}
		_, err := tx.NewUpdate().Model((*models.Participant)(nil)).
			Set("is_active = ?", false).
			Set("left_at = ?", now).
			Where("room_id = ?", room.ID).
			Where("is_active = ?", true).
			Exec(ctx)
		if err != nil {
			return nil, fmt.Errorf("end room: release participants: %w", err)
		}
		stats := func() (int, error) { return s.statsClosed(ctx, tx, room, now, "0") }
		if back {
			stats = func() (int, error) { return s.recomputeStats(ctx, tx, room) } // see statsTouched
		}
		if _, err := stats(); err != nil {
			return nil, err
		}
		if err := systemMessage(ctx, tx, room.ID, systemRoomEnded, now); err != nil {
			return nil, err
		}
		none := 0 // everyone left with the end
		return []*events.Event{{RoomID: room.ID, HostID: room.HostID, Type: events.RoomEnded, Time: now, ActiveParticipants: &none}}, nil
	})
	if err != nil {
		return nil, wrapUnlessApp("end room", err)
	}
	return room, nil
}

// lockHostedRoom loads a room for update and checks the viewer hosts it.
// NOT_FOUND comes before FORBIDDEN, as the legacy API answered.
func (s *Service) lockHostedRoom(ctx context.Context, tx bun.Tx, roomID, userID string) (*models.Room, error) {
	if !isKey(roomID) {
		return nil, errRoomNotFound
	}
	room := new(models.Room)
	err := s.forUpdate(tx.NewSelect().Model(room).Where("id = ?", roomID)).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errRoomNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load room: %w", err)
	}
	if room.HostID != userID {
		return nil, errNotHost
	}
	return room, nil
}

// Room returns a room its host or one of its participants (past or
// present) may see; to anyone else it does not exist.
func (s *Service) Room(ctx context.Context, id string) (*models.Room, error) {
	p := auth.FromContext(ctx)
	if p != nil && p.Err == nil && p.ParticipantID != "" {
		// A guest sees the room its participant token is scoped to, while
		// it is there: the token is a presence, not an account with a
		// history, so once its participant has left (by itself, removed by
		// the host, or with the room's end) it shows the room, and who is
		// in it, no more. It does not hide that the room exists: the guest
		// was in it.
		if p.RoomID != id || !isKey(id) {
			return nil, errRoomNotFound
		}
		room, err := s.roomWhere(ctx, "id = ? AND EXISTS (SELECT 1 FROM participants AS p WHERE p.id = ? AND p.room_id = room.id AND p.is_active = ?)",
			id, p.ParticipantID, true)
		if errors.Is(err, errRoomNotFound) {
			return nil, errParticipantGone
		}
		return room, err
	}
	viewer, err := s.Viewer(ctx)
	if err != nil {
		return nil, err
	}
	if !isKey(id) {
		return nil, errRoomNotFound
	}
	room := new(models.Room)
	err = s.db.NewSelect().Model(room).
		Where("room.id = ?", id).
		WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
			return q.Where("room.host_id = ?", viewer.ID).
				WhereOr("EXISTS (SELECT 1 FROM participants AS p WHERE p.room_id = room.id AND p.user_id = ?)", viewer.ID)
		}).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errRoomNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load room: %w", err)
	}
	return room, nil
}

// RoomByCode returns the room with code to anyone, signed in or not: the
// code is the invitation. Every lookup, found or not, counts against the
// caller's address, so codes cannot be guessed at speed.
func (s *Service) RoomByCode(ctx context.Context, code string) (*models.Room, error) {
	if err := s.limits.Check(ctx, ratelimit.RoomCode, ""); err != nil {
		return nil, err
	}
	if !isKey(code) {
		return nil, errRoomNotFound
	}
	return s.roomWhere(ctx, "code = ?", normalizeCode(code))
}

func (s *Service) roomWhere(ctx context.Context, where string, args ...any) (*models.Room, error) {
	room := new(models.Room)
	err := s.db.NewSelect().Model(room).Where(where, args...).Limit(1).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errRoomNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load room: %w", err)
	}
	return room, nil
}

func valueOr[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}

func setIf[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}

// wrapUnlessApp adds context to internal errors and passes domain errors
// through untouched (their message is for the client).
func wrapUnlessApp(op string, err error) error {
	if _, ok := apperr.As(err); ok {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}
