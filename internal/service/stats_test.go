package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/db/migrations"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// manualClock is a clock the test moves, by any step, zero included (two
// changes at the same millisecond).
type manualClock struct {
	mu sync.Mutex
	at time.Time
}

func (c *manualClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

func (c *manualClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
}

// presence is one [from, to) interval of a person, in the reference.
type presence struct {
	person   string
	from, to time.Time
}

// referenceStats is the brute force the statistics are held to: it walks
// every millisecond and asks who is there. A presence without an end lasts
// until end (the room's end, or now) for the seconds; for the peak, in an
// active room (active), it lasts for ever: whoever is still there is there
// together, whatever the clocks that timed their joins said.
func referenceStats(presences []presence, end time.Time, active bool) (peak, unique int, seconds int) {
	if len(presences) == 0 {
		return 0, 0, 0
	}
	horizon := end
	for _, p := range presences {
		horizon = latest(latest(horizon, p.from), p.to)
	}
	horizon = horizon.Add(time.Millisecond)
	// In milliseconds from the first join, each person a number.
	people := map[string]int{}
	var first time.Time
	for _, p := range presences {
		if _, ok := people[p.person]; !ok {
			people[p.person] = len(people)
		}
		if first.IsZero() || p.from.Before(first) {
			first = p.from
		}
	}
	ms := func(t time.Time) int64 { return t.Sub(first).Milliseconds() }
	walk := func(openUntil time.Time, each func(here int)) {
		type span struct {
			who      int
			from, to int64
		}
		spans := make([]span, len(presences))
		for i, p := range presences {
			to := p.to
			if to.IsZero() {
				to = openUntil
			}
			spans[i] = span{people[p.person], ms(p.from), ms(to)}
		}
		seen := make([]int64, len(people)) // the last instant each person was counted at, plus one
		for at := int64(0); at < ms(horizon); at++ {
			here := 0
			for _, sp := range spans {
				if at >= sp.from && at < sp.to && seen[sp.who] != at+1 {
					seen[sp.who] = at + 1
					here++
				}
			}
			each(here)
		}
	}
	peakUntil := end
	if active {
		peakUntil = horizon
	}
	walk(peakUntil, func(here int) { peak = max(peak, here) })
	var millis int
	walk(end, func(here int) { millis += here })
	return peak, len(people), millis / 1000
}

// storedStats are the columns roomsConnection orders and filters by.
type storedStats struct {
	Peak         int       `bun:"peak_participants"`
	Active       int       `bun:"active_participants"`
	LastActivity time.Time `bun:"last_activity_at"`
}

func (e *env) storedStats(t testing.TB, roomID string) storedStats {
	t.Helper()
	var st storedStats
	if err := e.db.NewSelect().Table("rooms").Column("peak_participants", "active_participants", "last_activity_at").
		Where("id = ?", roomID).Scan(context.Background(), &st); err != nil {
		t.Fatalf("load stored stats: %v", err)
	}
	return st
}

// Random histories driven through the service (seeded, so a failure
// repeats): users who leave and rejoin, guests, the host, changes at the
// same millisecond, writes with a clock behind the last one's, settings
// changes, rooms ended or left running. After
// every step the statistics equal the brute force's, and the room's stored
// peak, active count and last activity equal what the statistics say.
func TestRoomStats_MatchBruteForceOnRandomHistories(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		clock := &manualClock{at: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		host := e.user(t, "Host")
		users := []*models.User{e.user(t, "Ann"), e.user(t, "Bob"), e.user(t, "Cy")}
		for seed := uint64(1); seed <= 20; seed++ {
			rng := rand.New(rand.NewPCG(seed, 42))
			room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(100)}).Room
			// The last activity is the latest time the rows hold: the
			// creation, the joins and leaves, and the room's updatedAt,
			// which the start, settings changes and the end overwrite
			// (with an earlier time when the writer's clock is behind).
			created, updated := clock.now(), clock.now()
			var presenceTimes []time.Time
			type open struct {
				id     string
				ctx    context.Context
				person string
			}
			var present []open
			var history []presence
			index := map[string]int{} // participant id → history index
			ended := false
			steps := 10 + rng.IntN(30)
			for step := 0; step < steps && !ended; step++ {
				// Steps of 0 ms make joins and leaves at the same instant;
				// steps back are a write from an instance whose clock is
				// behind (the stored statistics are then recomputed).
				switch rng.IntN(5) {
				case 0:
				case 1:
					clock.advance(time.Duration(1+rng.IntN(3)) * time.Millisecond)
				case 2:
					clock.advance(-time.Duration(1+rng.IntN(300)) * time.Millisecond)
				default:
					clock.advance(time.Duration(1+rng.IntN(400)) * time.Millisecond)
				}
				switch op := rng.IntN(10); {
				case op < 4: // a user (or the host) joins; joining while present is the same presence
					u := host
					if k := rng.IntN(len(users) + 1); k < len(users) {
						u = users[k]
					}
					j := e.join(t, asUser(u.ID), room.Code, nil)
					if _, ok := index[j.Participant.ID]; !ok {
						if len(history) == 0 {
							updated = clock.now() // the room starts
						}
						index[j.Participant.ID] = len(history)
						history = append(history, presence{person: u.ID, from: j.Participant.JoinedAt})
						present = append(present, open{j.Participant.ID, asUser(u.ID), u.ID})
						presenceTimes = append(presenceTimes, clock.now())
					}
				case op < 6: // a guest joins
					j := e.joinGuest(t, room.Code, fmt.Sprintf("Guest %d", step))
					if len(history) == 0 {
						updated = clock.now()
					}
					index[j.Participant.ID] = len(history)
					history = append(history, presence{person: j.Participant.ID, from: j.Participant.JoinedAt})
					present = append(present, open{j.Participant.ID, asGuest(j), j.Participant.ID})
					presenceTimes = append(presenceTimes, clock.now())
				case op < 9 && len(present) > 0: // someone leaves
					k := rng.IntN(len(present))
					p := e.leave(t, present[k].ctx, present[k].id)
					history[index[p.ID]].to = *p.LeftAt
					present = append(present[:k], present[k+1:]...)
					presenceTimes = append(presenceTimes, clock.now())
				case op == 9 && rng.IntN(3) == 0: // the host ends it
					e.end(t, host.ID, room.ID)
					ended, present = true, nil // everyone leaves with the end
					updated = clock.now()
					presenceTimes = append(presenceTimes, clock.now())
				case op == 9:
					if _, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.ID, service.UpdateRoomSettingsInput{AllowChat: ptr(rng.IntN(2) == 0)}); err != nil {
						t.Fatal(err)
					}
					updated = clock.now()
				}
				if rng.IntN(2) == 0 {
					clock.advance(time.Duration(rng.IntN(400)) * time.Millisecond)
				}

				now := clock.now()
				loaded := e.loadRoom(t, room.ID)
				got := service.ComputeRoomStats(loaded, e.loadParticipants(t, room.ID), now)
				end := now
				if loaded.EndedAt != nil {
					end = *loaded.EndedAt
				}
				lastActivity := latest(created, updated)
				for _, at := range presenceTimes {
					lastActivity = latest(lastActivity, at)
				}
				peak, unique, seconds := referenceStats(append([]presence(nil), history...), end, loaded.EndedAt == nil)
				want := service.RoomStats{
					ActiveParticipants: len(present), PeakParticipants: peak, UniqueParticipants: unique,
					TotalJoins: len(history), ParticipantSeconds: seconds, LastActivityAt: lastActivity,
				}
				if loaded.StartedAt != nil && end.After(*loaded.StartedAt) {
					want.DurationSeconds = int(end.Sub(*loaded.StartedAt) / time.Second)
				}
				if !sameStats(got, want) {
					t.Fatalf("seed %d step %d: stats\n got %+v\nwant %+v", seed, step, got, want)
				}
				stored := e.storedStats(t, room.ID)
				if stored.Peak != got.PeakParticipants || stored.Active != got.ActiveParticipants || !stored.LastActivity.Equal(got.LastActivityAt) {
					t.Fatalf("seed %d step %d: stored %+v, stats %+v", seed, step, stored, got)
				}
			}
		}
	})
}

// Histories the service never writes but plain SQL can (a user present
// twice at once, presences still open in an ended room, an empty one):
// a user's overlapping presences count once, an open one ends with the
// room, and the migration's backfill computes what ComputeRoomStats does.
func TestRoomStats_OverlapsAndOpenPresencesFromPlainSQL(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		ctx := context.Background()
		host := e.user(t, "Host")
		users := []*models.User{e.user(t, "Ann"), e.user(t, "Bob")}
		base := time.Date(2030, 5, 6, 7, 0, 0, 0, time.UTC)
		ms := func(n int) time.Time { return base.Add(time.Duration(n) * time.Millisecond) }
		for seed := uint64(1); seed <= 20; seed++ {
			rng := rand.New(rand.NewPCG(seed, 7))
			room := e.room(t, host.ID, service.CreateRoomInput{}).Room
			endedAt := ms(3000 + rng.IntN(500))
			ended := rng.IntN(2) == 0
			var history []presence
			var rows []*models.Participant
			openUsers := map[string]bool{} // at most one open presence per user (a unique index)
			for i := 0; i < 2+rng.IntN(10); i++ {
				from := rng.IntN(30) * 100 // coarse, so starts and ends coincide
				p := &models.Participant{ID: models.NewID(), RoomID: room.ID, JoinedAt: ms(from)}
				person := p.ID
				if k := rng.IntN(3); k < len(users) {
					p.UserID, person = &users[k].ID, users[k].ID
				} else {
					p.GuestName = ptr("Guest")
				}
				pr := presence{person: person, from: p.JoinedAt}
				if rng.IntN(4) > 0 || (p.UserID != nil && openUsers[person]) {
					left := ms(from + rng.IntN(12)*100) // zero-length presences too
					p.LeftAt, pr.to = &left, left
				} else {
					p.IsActive = true
					openUsers[person] = p.UserID != nil
					if ended {
						pr.to = endedAt
					}
				}
				rows = append(rows, p)
				history = append(history, pr)
			}
			if _, err := bdb.NewInsert().Model(&rows).Exec(ctx); err != nil {
				t.Fatal(err)
			}
			started := ms(0)
			q := bdb.NewUpdate().Table("rooms").Set("started_at = ?", started).Where("id = ?", room.ID)
			if ended {
				q = q.Set("ended_at = ?", endedAt).Set("is_active = ?", false)
			}
			if _, err := q.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			now := ms(5000)
			loaded := e.loadRoom(t, room.ID)
			got := service.ComputeRoomStats(loaded, e.loadParticipants(t, room.ID), now)
			end := now
			if ended {
				end = endedAt
			}
			peak, unique, seconds := referenceStats(history, end, !ended)
			if got.PeakParticipants != peak || got.UniqueParticipants != unique || got.ParticipantSeconds != seconds || got.TotalJoins != len(rows) {
				t.Fatalf("seed %d: got %+v, want peak %d unique %d seconds %d joins %d", seed, got, peak, unique, seconds, len(rows))
			}
			if _, err := bdb.ExecContext(ctx, migrations.RoomStatsBackfill[bdb.Dialect().Name()]); err != nil {
				t.Fatal(err)
			}
			stored := e.storedStats(t, room.ID)
			if stored.Peak != got.PeakParticipants || stored.Active != got.ActiveParticipants || !stored.LastActivity.Equal(got.LastActivityAt) {
				t.Fatalf("seed %d: backfilled %+v, stats %+v", seed, stored, got)
			}
		}
	})
}

// The edges the definitions name, one by one.
func TestRoomStats_Edges(t *testing.T) {
	t.Parallel()
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	atp := func(s int) *time.Time { v := at(s); return &v }
	user := func(id string) *string { return &id }
	room := &models.Room{CreatedAt: at(0), UpdatedAt: at(0)}
	t.Run("a leave and a join at the same millisecond do not overlap", func(t *testing.T) {
		st := service.ComputeRoomStats(&models.Room{CreatedAt: at(0), UpdatedAt: at(0), StartedAt: atp(0), EndedAt: atp(20)}, []*models.Participant{
			{ID: "g1", JoinedAt: at(0), LeftAt: atp(10)},
			{ID: "g2", JoinedAt: at(10), LeftAt: atp(20)},
		}, at(30))
		if st.PeakParticipants != 1 || st.UniqueParticipants != 2 || st.ParticipantSeconds != 20 || st.DurationSeconds != 20 || !st.LastActivityAt.Equal(at(20)) {
			t.Errorf("%+v", st)
		}
	})
	t.Run("a user present twice at once counts once", func(t *testing.T) {
		st := service.ComputeRoomStats(room, []*models.Participant{
			{ID: "p1", UserID: user("u"), JoinedAt: at(0), LeftAt: atp(10)},
			{ID: "p2", UserID: user("u"), JoinedAt: at(5), LeftAt: atp(15)},
		}, at(30))
		if st.PeakParticipants != 1 || st.UniqueParticipants != 1 || st.TotalJoins != 2 || st.ParticipantSeconds != 15 {
			t.Errorf("%+v", st)
		}
	})
	t.Run("an open presence counts until now while the room is active", func(t *testing.T) {
		st := service.ComputeRoomStats(&models.Room{CreatedAt: at(0), UpdatedAt: at(1), StartedAt: atp(1)}, []*models.Participant{
			{ID: "g1", JoinedAt: at(1), IsActive: true},
		}, at(61))
		if st.ActiveParticipants != 1 || st.ParticipantSeconds != 60 || st.DurationSeconds != 60 {
			t.Errorf("%+v", st)
		}
	})
	t.Run("before it starts a room has lasted nothing", func(t *testing.T) {
		st := service.ComputeRoomStats(room, nil, at(100))
		if !sameStats(st, service.RoomStats{LastActivityAt: at(0)}) {
			t.Errorf("%+v", st)
		}
	})
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func sameStats(a, b service.RoomStats) bool {
	at, bt := a.LastActivityAt, b.LastActivityAt
	a.LastActivityAt, b.LastActivityAt = time.Time{}, time.Time{}
	return a == b && at.Equal(bt)
}
