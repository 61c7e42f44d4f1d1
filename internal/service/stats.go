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
	// leave, a change of its settings, name or lock, and its end.
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
// peak and activity (refreshRoomStats) with this same function, so the
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
	end := now
	if room.EndedAt != nil {
		end = *room.EndedAt
	}
	if room.StartedAt != nil && end.After(*room.StartedAt) {
		st.DurationSeconds = int(end.Sub(*room.StartedAt) / time.Second)
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
	// Who is present when is roomSpans' (shared with User.usage). The
	// peak is over every instant: an open presence lasts for ever while
	// the room is active, so that someone who has just joined is present
	// at now (the peak is never below who is present) and the stored peak
	// does not depend on when it was computed. Presence is counted up to
	// the end, or now.
	spans, people := roomSpans(room, participants)
	st.UniqueParticipants = people
	m := measurePresence(spans, math.MinInt64, math.MaxInt64, end.UnixMilli(), nil)
	st.PeakParticipants = m.peak
	st.ParticipantSeconds = int(m.millis / 1000)
	return st
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Now is the service's clock, at the precision stored: the instant that
// statistics of active rooms are computed at.
func (s *Service) Now() time.Time { return s.now() }

// refreshRoomStats stores the room's peak, active participants and last
// activity (the columns roomsConnection orders and filters by), computed
// by ComputeRoomStats from its rows as the transaction sees them. Every
// write that changes them calls it in its own transaction, holding the
// room row's lock, so the stored values are always what stats shows and
// concurrent writers of one room store them one after another.
//
// room is the room's row as the transaction has written it. It returns
// the statistics stored (their active count is what a change's event
// announces).
func (s *Service) refreshRoomStats(ctx context.Context, tx bun.Tx, room *models.Room) (RoomStats, error) {
	var participants []*models.Participant
	if err := tx.NewSelect().Model(&participants).Where("room_id = ?", room.ID).Scan(ctx); err != nil {
		return RoomStats{}, fmt.Errorf("refresh room stats: load participants: %w", err)
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
		return RoomStats{}, fmt.Errorf("refresh room stats: %w", err)
	}
	return st, nil
}
