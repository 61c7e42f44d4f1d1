package service

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/models"
)

// RoomStats are a room's statistics, computed from its participants'
// presence (see ComputeRoomStats).
type RoomStats struct {
	// ActiveParticipants counts the participants present now (isActive).
	ActiveParticipants int
	// PeakParticipants is the most people present at one instant.
	PeakParticipants int
	// UniqueParticipants counts distinct people: a user once however often
	// they joined, each guest participant once.
	UniqueParticipants int
	// TotalJoins counts presences (participant rows).
	TotalJoins int
	// ParticipantSeconds sums every person's presence, a user's
	// overlapping presences counted once, in whole seconds (rounded down).
	ParticipantSeconds int
	// DurationSeconds runs from startedAt to endedAt, or to now while the
	// room is active; 0 before it starts.
	DurationSeconds int
	// LastActivityAt is the latest of the room's creation, a join, a
	// leave, a change of its settings, name or lock, and its end: the
	// latest time its rows hold (createdAt, updatedAt, which those
	// changes set, the participants' joinedAt and leftAt, endedAt).
	LastActivityAt time.Time
}

// ComputeRoomStats is the one definition of a room's statistics, from the
// room and every participant it ever had, at now.
//
// Presence is the half-open interval [joinedAt, leftAt): a leave and a join
// at the same millisecond do not overlap. An interval still open counts
// until endedAt, or until now while the room is active. A person is a
// user (their presences are merged into the union of their intervals, so
// a user present twice at once is counted once) or a guest participant.
//
// Why in Go rather than SQL window functions: the participants it needs
// are the rows Room.participants loads anyway (a dashboard selecting both
// costs no statement more), the service's writes keep the rooms' stored
// peak with this same function (statsJoined, recomputeStats), so the
// stored values cannot drift from what stats shows, and the sweep is a
// sort of at most a few hundred rows per room.
func ComputeRoomStats(room *models.Room, participants []*models.Participant, now time.Time) RoomStats {
	st := RoomStats{TotalJoins: len(participants), LastActivityAt: room.UpdatedAt}
	if room.CreatedAt.After(st.LastActivityAt) {
		st.LastActivityAt = room.CreatedAt
	}
	if room.EndedAt != nil && room.EndedAt.After(st.LastActivityAt) {
		st.LastActivityAt = *room.EndedAt
	}
	for _, p := range participants {
		if p.IsActive {
			st.ActiveParticipants++
		}
		if p.JoinedAt.After(st.LastActivityAt) {
			st.LastActivityAt = p.JoinedAt
		}
		if p.LeftAt != nil && p.LeftAt.After(st.LastActivityAt) {
			st.LastActivityAt = *p.LeftAt
		}
	}
	end := now
	if room.EndedAt != nil {
		end = *room.EndedAt
	}
	if room.StartedAt != nil && end.After(*room.StartedAt) {
		st.DurationSeconds = int(end.Sub(*room.StartedAt) / time.Second)
	}
	// Who is present when is roomSpans' (shared with User.usage). For the
	// peak an open presence of an active room lasts for ever, so that
	// someone who has just joined is present at now (the peak is never
	// below who is present) and the stored peak does not depend on when it
	// was computed; for the seconds, until now.
	var buf [32]span // both measures' spans, one after the other
	peakSpans, people := roomSpans(buf[:], room, participants, math.MaxInt64)
	st.UniqueParticipants = people
	st.PeakParticipants = measurePresence(peakSpans, math.MinInt64, math.MaxInt64, math.MaxInt64, nil).peak
	secondSpans, _ := roomSpans(buf[:], room, participants, end.UnixMilli())
	st.ParticipantSeconds = int(measurePresence(secondSpans, math.MinInt64, math.MaxInt64, math.MaxInt64, nil).millis / 1000)
	return st
}

// Now is the service's clock, at the precision stored: the instant that
// statistics of active rooms are computed at.
func (s *Service) Now() time.Time { return s.now() }

// The rooms' stored statistics (peak_participants, active_participants,
// last_activity_at: the columns roomsConnection orders and filters by) are
// kept by the writes that change them, in their own transaction and under
// the room row's lock, so concurrent writers of one room update them one
// after another and they always equal what ComputeRoomStats says of the
// rows (TestRoomStats_MatchBruteForceOnRandomHistories asserts it after
// every step). Each write updates them for what it changed, reading only
// the rows that can matter, so a write costs the same in a room with a
// long history; when it cannot tell, it recomputes them from every row.

// statsJoined updates the statistics for a presence that began at at. A
// new presence raises counts only from at on, and only presences still
// there at at count then: the peak is the stored one (every instant
// before) or the highest from at on, computed from those presences alone.
func (s *Service) statsJoined(ctx context.Context, tx bun.Tx, room *models.Room, at time.Time) error {
	var there []*models.Participant
	if err := tx.NewSelect().Model(&there).Where("room_id = ?", room.ID).
		Where("(left_at IS NULL OR left_at > ?)", at).Scan(ctx); err != nil {
		return fmt.Errorf("room stats: load presences: %w", err)
	}
	for _, p := range there {
		if p.JoinedAt.Before(at) {
			p.JoinedAt = at // only the instants from at on are counted here
		}
	}
	peak := ComputeRoomStats(room, there, at).PeakParticipants
	_, err := s.storeStats(ctx, tx, room.ID, peak, "active_participants + 1", at)
	return err
}

// statsClosed updates the statistics for presences that ended at at (one
// participant's leave, or everyone's at the room's end, with active the
// new active count as SQL). While nobody's presence began at or after at,
// the peak stands: every instant from at on counts nobody who was not
// there just before it. Otherwise (a clock behind another instance's, or
// a join in the same millisecond) it is recomputed from every row. It
// returns how many are present now.
func (s *Service) statsClosed(ctx context.Context, tx bun.Tx, room *models.Room, at time.Time, active string) (int, error) {
	later, err := tx.NewSelect().Model((*models.Participant)(nil)).Where("room_id = ?", room.ID).
		Where("joined_at >= ?", at).Exists(ctx)
	if err != nil {
		return 0, fmt.Errorf("room stats: look for later joins: %w", err)
	}
	if later {
		return s.recomputeStats(ctx, tx, room)
	}
	return s.storeStats(ctx, tx, room.ID, 0, active, at)
}

// statsTouched records a change that set the room's updatedAt (from
// previous) and no presence: a settings change.
//
// The last activity is the latest time the room's rows hold, updatedAt
// among them. A write whose clock is behind the one before it (another
// instance's) moves updatedAt back and may lower that latest time, which
// raising the stored value cannot follow: it is then recomputed. Joins
// that start a room and the end do the same.
func (s *Service) statsTouched(ctx context.Context, tx bun.Tx, room *models.Room, previous time.Time) error {
	var err error
	if room.UpdatedAt.Before(previous) {
		_, err = s.recomputeStats(ctx, tx, room)
	} else {
		_, err = s.storeStats(ctx, tx, room.ID, 0, "active_participants", room.UpdatedAt)
	}
	return err
}

// storeStats raises the stored peak to at least peak and the last
// activity to at least at, and sets the active count to active (SQL),
// which it returns as stored: a departure's event announces it without
// counting the room's rows again.
func (s *Service) storeStats(ctx context.Context, tx bun.Tx, roomID string, peak int, active string, at time.Time) (int, error) {
	greatest := "max" // SQLite's scalar max
	if s.postgres {
		greatest = "GREATEST"
	}
	var stored int
	err := tx.NewUpdate().Table("rooms").
		Set("peak_participants = "+greatest+"(peak_participants, ?)", peak).
		Set("active_participants = "+active).
		Set("last_activity_at = "+greatest+"(last_activity_at, ?)", at).
		Where("id = ?", roomID).Returning("active_participants").Scan(ctx, &stored)
	if err != nil {
		return 0, fmt.Errorf("room stats: %w", err)
	}
	return stored, nil
}

// recomputeStats stores the statistics ComputeRoomStats makes of every
// row of the room; room is its row as the transaction has written it.
func (s *Service) recomputeStats(ctx context.Context, tx bun.Tx, room *models.Room) (int, error) {
	var participants []*models.Participant
	if err := tx.NewSelect().Model(&participants).Where("room_id = ?", room.ID).Scan(ctx); err != nil {
		return 0, fmt.Errorf("room stats: load participants: %w", err)
	}
	// None of the stored values depends on now (see openUntil), so no
	// clock is read for them.
	st := ComputeRoomStats(room, participants, room.UpdatedAt)
	_, err := tx.NewUpdate().Table("rooms").
		Set("peak_participants = ?", st.PeakParticipants).
		Set("active_participants = ?", st.ActiveParticipants).
		Set("last_activity_at = ?", st.LastActivityAt).
		Where("id = ?", room.ID).Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("room stats: %w", err)
	}
	return st.ActiveParticipants, nil
}
