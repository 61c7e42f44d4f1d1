package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// seat is one participant row as the test recorded it: who, in which
// room, from when, until when (zero while open).
type seat struct {
	room, person string
	from, to     time.Time
}

// usageReference is the brute force User.usage is held to. It merges
// nothing: the instants where anything can change are every row's ends,
// the buckets' bounds and now, and between two of them who is where is
// constant, so it asks, at the first instant of each such piece, which
// (room, person) pairs have a row covering it. An open row covers every
// instant up to and including now (or up to its room's end, which the
// test records as the row's end); presence has lasted up to now.
func usageReference(seats []seat, rooms []*models.Room, bounds []time.Time, now time.Time) []service.UsageRow {
	rows := make([]service.UsageRow, len(bounds)-1)
	for i := range rows {
		rows[i].Start, rows[i].End = bounds[i], bounds[i+1]
	}
	in := func(t time.Time) int {
		for i := range rows {
			if !t.Before(rows[i].Start) && t.Before(rows[i].End) {
				return i
			}
		}
		return -1
	}
	for _, r := range rooms {
		if i := in(r.CreatedAt); i >= 0 {
			rows[i].RoomsCreated++
		}
		if r.StartedAt != nil {
			if i := in(*r.StartedAt); i >= 0 {
				rows[i].Sessions++
			}
		}
	}
	end := func(s seat) time.Time {
		if s.to.IsZero() {
			return now.Add(time.Millisecond) // there at now
		}
		return s.to
	}
	points := []time.Time{now, now.Add(time.Millisecond)}
	points = append(points, bounds...)
	for _, s := range seats {
		points = append(points, s.from, end(s))
	}
	slices.SortFunc(points, func(a, b time.Time) int { return a.Compare(b) })
	points = slices.CompactFunc(points, func(a, b time.Time) bool { return a.Equal(b) })
	people := make([]map[string]bool, len(rows))
	for k := 0; k+1 < len(points); k++ {
		at, next := points[k], points[k+1]
		i := in(at)
		if i < 0 || at.After(now) {
			continue
		}
		here := map[string]bool{} // room and person
		for _, s := range seats {
			if !at.Before(s.from) && at.Before(end(s)) {
				here[s.room+" "+s.person] = true
				if people[i] == nil {
					people[i] = map[string]bool{}
				}
				people[i][s.person] = true
			}
		}
		rows[i].PeakParticipants = max(rows[i].PeakParticipants, len(here))
		if at.Before(now) {
			rows[i].ParticipantSeconds += len(here) * int(next.Sub(at)/time.Millisecond) // milliseconds for now
		}
	}
	for i := range rows {
		rows[i].ParticipantSeconds /= 1000
		rows[i].UniqueParticipants = len(people[i])
	}
	return rows
}

func usageValues(rows []*service.UsageRow) []service.UsageRow {
	out := make([]service.UsageRow, len(rows))
	for i, r := range rows {
		out[i] = *r
		out[i].Start, out[i].End = r.Start.UTC(), r.End.UTC()
	}
	return out
}

func boundsOf(rows []*service.UsageRow) []time.Time {
	var out []time.Time
	for _, r := range rows {
		out = append(out, r.Start)
	}
	return append(out, rows[len(rows)-1].End)
}

// Random histories of one host's rooms driven through the service (seeded,
// so a failure repeats): rooms created and ended at any time, running at
// once, users who leave and rejoin (and join two rooms at once), guests,
// the host, changes at the same millisecond, rooms still running at now,
// another host's rooms. Every bucket, in three zones (one half an hour off
// UTC) and two bucket sizes, windows that start inside the history and end
// after now, equals the brute force's.
func TestUsage_MatchesBruteForceOnRandomHistories(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		clock := &manualClock{at: time.Date(2030, 1, 2, 7, 41, 5, 123_000_000, time.UTC)}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		users := []*models.User{e.user(t, "Ann"), e.user(t, "Bob"), e.user(t, "Cy")}
		other := e.user(t, "Other Host")
		for seed := uint64(1); seed <= 6; seed++ {
			rng := rand.New(rand.NewPCG(seed, 7))
			host := e.user(t, fmt.Sprintf("Host %d", seed))
			start := clock.now()
			type open struct {
				seat int
				ctx  context.Context
			}
			type room struct {
				id, code string
				present  []open
				ended    bool
			}
			var rooms []*room
			var seats []seat
			index := map[string]int{} // participant id → seat
			for step := 0; step < 80; step++ {
				switch rng.IntN(5) {
				case 0: // the same millisecond
				case 1:
					clock.advance(time.Duration(1+rng.IntN(5)) * time.Millisecond)
				default:
					clock.advance(time.Duration(1+rng.IntN(25*60_000)) * time.Millisecond)
				}
				var live []*room
				for _, r := range rooms {
					if !r.ended {
						live = append(live, r)
					}
				}
				switch op := rng.IntN(12); {
				case op < 2 || len(live) == 0:
					hostID := host.ID
					if rng.IntN(5) == 0 {
						hostID = other.ID // not the host's: never counted
					}
					rw := e.room(t, hostID, service.CreateRoomInput{MaxParticipants: ptr(100)}).Room
					if hostID == host.ID {
						rooms = append(rooms, &room{id: rw.ID, code: rw.Code})
					} else {
						e.joinGuest(t, rw.Code, "Elsewhere")
					}
				case op < 6: // a user or the host joins
					r := live[rng.IntN(len(live))]
					u := host
					if k := rng.IntN(len(users) + 1); k < len(users) {
						u = users[k]
					}
					j := e.join(t, asUser(u.ID), r.code, nil)
					if _, ok := index[j.Participant.ID]; !ok { // not a join while present
						index[j.Participant.ID] = len(seats)
						r.present = append(r.present, open{len(seats), asUser(u.ID)})
						seats = append(seats, seat{room: r.id, person: "u:" + u.ID, from: j.Participant.JoinedAt})
					}
				case op < 8: // a guest joins
					r := live[rng.IntN(len(live))]
					j := e.joinGuest(t, r.code, fmt.Sprintf("Guest %d", step))
					index[j.Participant.ID] = len(seats)
					r.present = append(r.present, open{len(seats), asGuest(j)})
					seats = append(seats, seat{room: r.id, person: j.Participant.ID, from: j.Participant.JoinedAt})
				case op < 11: // someone leaves
					r := live[rng.IntN(len(live))]
					if len(r.present) == 0 {
						continue
					}
					k := rng.IntN(len(r.present))
					p := e.leave(t, r.present[k].ctx, participantIDOf(index, r.present[k].seat))
					seats[r.present[k].seat].to = *p.LeftAt
					r.present = slices.Delete(r.present, k, k+1)
				default: // the host ends a room; everyone leaves with it
					r := live[rng.IntN(len(live))]
					ended := e.end(t, host.ID, r.id)
					for _, o := range r.present {
						seats[o.seat].to = *ended.EndedAt
					}
					r.present, r.ended = nil, true
				}
			}
			clock.advance(time.Duration(rng.IntN(90_000)) * time.Millisecond)
			now := clock.now()
			var loaded []*models.Room
			for _, r := range rooms {
				loaded = append(loaded, e.loadRoom(t, r.id))
			}
			for _, q := range []struct {
				bucket service.UsageBucket
				zone   string
			}{{service.BucketHour, "UTC"}, {service.BucketHour, "Asia/Kolkata"}, {service.BucketDay, "America/New_York"}} {
				args := service.UsageArgs{
					From: start.Add(time.Duration(rng.IntN(int(now.Sub(start)/time.Millisecond))) * time.Millisecond),
					To:   now.Add(time.Duration(rng.IntN(3*3600_000)) * time.Millisecond), Bucket: &q.bucket, TimeZone: &q.zone,
				}
				got, err := e.svc.Usage(asUser(host.ID), host.ID, args)
				mustNoErr(t, err)
				want := usageReference(seats, loaded, boundsOf(got), now)
				if g := usageValues(got); !slices.Equal(g, want) {
					t.Fatalf("seed %d, %s in %s from %s to %s:\n got %+v\nwant %+v", seed, q.bucket, q.zone,
						args.From.Format(time.RFC3339Nano), args.To.Format(time.RFC3339Nano), g, want)
				}
				// The rows cover the window with whole buckets, in order.
				if got[0].Start.After(args.From) || !got[len(got)-1].End.After(args.To.Add(-time.Millisecond)) {
					t.Fatalf("seed %d: rows [%s, %s) do not cover [%s, %s)", seed, got[0].Start, got[len(got)-1].End, args.From, args.To)
				}
			}
		}
	})
}

// participantIDOf finds the participant id recorded for a seat.
func participantIDOf(index map[string]int, seat int) string {
	for id, s := range index {
		if s == seat {
			return id
		}
	}
	panic("no participant for the seat")
}

// Buckets follow the zone's calendar: in Europe/Berlin the day clocks go
// forward lasts 23 hours and the day they go back 25, and the repeated
// hour of that night is two hourly rows; presence across a local midnight
// is split at it. Weeks start on Monday, months on the 1st.
func TestUsage_BucketsFollowTheZonesCalendar(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		berlin, err := time.LoadLocation("Europe/Berlin")
		mustNoErr(t, err)
		local := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, berlin) }
		clock := &manualClock{at: local(2026, 3, 28, 23, 30)}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		host := e.user(t, "Host")
		// A guest from 23:30 on the 28th (CET) to 03:30 on the 29th (CEST):
		// three hours, half an hour of them on the 28th.
		room := e.room(t, host.ID, service.CreateRoomInput{}).Room
		g := e.joinGuest(t, room.Code, "Night Owl")
		clock.at = local(2026, 3, 29, 3, 30)
		e.leave(t, asGuest(g), g.Participant.ID)
		clock.at = local(2026, 11, 2, 12, 0) // now: long after

		usage := func(from, to time.Time, b service.UsageBucket) []*service.UsageRow {
			t.Helper()
			rows, err := e.svc.Usage(asUser(host.ID), host.ID, service.UsageArgs{From: from, To: to, Bucket: &b, TimeZone: ptr("Europe/Berlin")})
			mustNoErr(t, err)
			return rows
		}
		hours := func(rows []*service.UsageRow) []float64 {
			var out []float64
			for _, r := range rows {
				out = append(out, r.End.Sub(r.Start).Hours())
			}
			return out
		}

		spring := usage(local(2026, 3, 28, 12, 0), local(2026, 3, 30, 12, 0), service.BucketDay)
		if got := hours(spring); !slices.Equal(got, []float64{24, 23, 24}) {
			t.Fatalf("days around the spring change last %v hours, want 24, 23, 24", got)
		}
		if !spring[0].Start.Equal(local(2026, 3, 28, 0, 0)) || !spring[1].Start.Equal(local(2026, 3, 29, 0, 0)) {
			t.Fatalf("days start at %s and %s, want Berlin's midnights", spring[0].Start, spring[1].Start)
		}
		if spring[0].ParticipantSeconds != 1800 || spring[1].ParticipantSeconds != 9000 || spring[2].ParticipantSeconds != 0 {
			t.Fatalf("presence split at midnight: %d, %d, %d s, want 1800, 9000, 0", spring[0].ParticipantSeconds, spring[1].ParticipantSeconds, spring[2].ParticipantSeconds)
		}
		if spring[0].RoomsCreated != 1 || spring[0].Sessions != 1 || spring[1].RoomsCreated != 0 || spring[0].PeakParticipants != 1 ||
			spring[1].UniqueParticipants != 1 || spring[2].PeakParticipants != 0 || spring[2].UniqueParticipants != 0 {
			t.Fatalf("counts: %+v %+v %+v", *spring[0], *spring[1], *spring[2])
		}

		autumn := usage(local(2026, 10, 24, 0, 0), local(2026, 10, 27, 0, 0), service.BucketDay)
		if got := hours(autumn); !slices.Equal(got, []float64{24, 25, 24}) {
			t.Fatalf("days around the autumn change last %v hours, want 24, 25, 24", got)
		}
		night := usage(local(2026, 10, 25, 0, 0), local(2026, 10, 25, 5, 0), service.BucketHour)
		if len(night) != 6 || slices.ContainsFunc(hours(night), func(h float64) bool { return h != 1 }) {
			t.Fatalf("00:00-05:00 on the night clocks go back: %d rows of %v hours, want 6 of 1 (02:00 twice)", len(night), hours(night))
		}
		weeks := usage(local(2026, 3, 26, 0, 0), local(2026, 4, 7, 0, 0), service.BucketWeek)
		if len(weeks) != 3 || !weeks[0].Start.Equal(local(2026, 3, 23, 0, 0)) || !weeks[1].Start.Equal(local(2026, 3, 30, 0, 0)) || weeks[0].End.Sub(weeks[0].Start) != 167*time.Hour {
			t.Fatalf("weeks: %v from %s", hours(weeks), weeks[0].Start)
		}
		if weeks[0].ParticipantSeconds != 3*3600 {
			t.Fatalf("the week of the spring change holds %d s, want 10800", weeks[0].ParticipantSeconds)
		}
		months := usage(local(2026, 2, 15, 0, 0), local(2026, 4, 1, 0, 0), service.BucketMonth)
		if len(months) != 2 || !months[0].Start.Equal(local(2026, 2, 1, 0, 0)) || !months[1].End.Equal(local(2026, 4, 1, 0, 0)) || months[1].ParticipantSeconds != 3*3600 {
			t.Fatalf("months: %d rows from %s", len(months), months[0].Start)
		}
	})
}

// A window with nothing in it is all there: every bucket, in order, each
// starting where the last ended, with zeros.
func TestUsage_EmptyBucketsAreZeros(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		clock := &manualClock{at: time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC)}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{}).Room
		e.joinGuest(t, room.Code, "Still Here") // present now, so only after the window
		rows, err := e.svc.Usage(asUser(host.ID), host.ID, service.UsageArgs{
			From: time.Date(2030, 4, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2030, 4, 8, 0, 0, 0, 0, time.UTC),
		})
		mustNoErr(t, err)
		if len(rows) != 7 {
			t.Fatalf("%d rows for seven days", len(rows))
		}
		for i, r := range rows {
			if (*r != service.UsageRow{Start: r.Start, End: r.End}) {
				t.Errorf("day %d: %+v, want zeros", i, *r)
			}
			if want := time.Date(2030, 4, 1+i, 0, 0, 0, 0, time.UTC); !r.Start.Equal(want) || !r.End.Equal(want.AddDate(0, 0, 1)) {
				t.Errorf("day %d: [%s, %s)", i, r.Start, r.End)
			}
		}
	})
}

// The window's edges and the zone are checked before anything is read,
// each named; the usage is the user's own.
func TestUsage_RefusesBadArgumentsAndOthers(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, other := e.user(t, "Host"), e.user(t, "Other")
		day := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, c := range []struct {
			name  string
			args  service.UsageArgs
			field string
		}{
			{"from after to", service.UsageArgs{From: day.Add(time.Hour), To: day}, "to"},
			{"from equal to to", service.UsageArgs{From: day, To: day}, "to"},
			{"an unknown zone", service.UsageArgs{From: day, To: day.Add(time.Hour), TimeZone: ptr("Mars/Olympus_Mons")}, "timeZone"},
			{"the server's zone", service.UsageArgs{From: day, To: day.Add(time.Hour), TimeZone: ptr("Local")}, "timeZone"},
			{"an empty zone", service.UsageArgs{From: day, To: day.Add(time.Hour), TimeZone: ptr("")}, "timeZone"},
			{"an unknown bucket", service.UsageArgs{From: day, To: day.Add(time.Hour), Bucket: ptr(service.UsageBucket("FORTNIGHT"))}, "bucket"},
			{"401 days", service.UsageArgs{From: day, To: day.AddDate(0, 0, 401)}, "to"},
			{"401 hours", service.UsageArgs{From: day, To: day.Add(401 * time.Hour), Bucket: ptr(service.BucketHour)}, "to"},
		} {
			_, err := e.svc.Usage(asUser(host.ID), host.ID, c.args)
			if e, ok := apperr.As(err); !ok || e.Code != apperr.BadUserInput || e.Field != c.field {
				t.Errorf("%s: %v, want BAD_USER_INPUT on %s", c.name, err, c.field)
			}
		}
		// 400 buckets are allowed, even when the window is not aligned.
		rows, err := e.svc.Usage(asUser(host.ID), host.ID, service.UsageArgs{From: day.Add(time.Minute), To: day.AddDate(0, 0, 400)})
		mustNoErr(t, err)
		if len(rows) != 400 {
			t.Fatalf("%d rows for 400 days", len(rows))
		}
		_, err = e.svc.Usage(asUser(other.ID), host.ID, service.UsageArgs{From: day, To: day.Add(time.Hour)})
		wantErr(t, err, apperr.Forbidden, apperr.NotSelf)
	})
}

// Someone who has just joined is present now, as Room.stats counts them,
// but has been present for no time yet; the buckets after now are empty
// however long they are still there.
func TestUsage_AJoinAtNowIsPresentAndTheFutureIsEmpty(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		clock := &manualClock{at: time.Date(2030, 5, 1, 10, 20, 0, 0, time.UTC)}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{}).Room
		e.joinGuest(t, room.Code, "Early")
		clock.advance(20 * time.Minute)
		e.joinGuest(t, room.Code, "Just In") // at now
		rows, err := e.svc.Usage(asUser(host.ID), host.ID, service.UsageArgs{
			From: time.Date(2030, 5, 1, 10, 0, 0, 0, time.UTC), To: time.Date(2030, 5, 1, 13, 0, 0, 0, time.UTC), Bucket: ptr(service.BucketHour),
		})
		mustNoErr(t, err)
		got := usageValues(rows)
		now := got[0]
		if now.PeakParticipants != 2 || now.UniqueParticipants != 2 || now.ParticipantSeconds != 20*60 || now.RoomsCreated != 1 || now.Sessions != 1 {
			t.Fatalf("the hour holding now: %+v, want both guests present, 1200 s so far", now)
		}
		for _, later := range got[1:] {
			if (later != service.UsageRow{Start: later.Start, End: later.End}) {
				t.Fatalf("an hour after now: %+v, want zeros", later)
			}
		}
	})
}
