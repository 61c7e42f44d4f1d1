package service

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	// The zone database is compiled in (about 450 kB): usage buckets
	// follow the viewer's IANA zone, and a server image without
	// /usr/share/zoneinfo must not refuse every zone but UTC.
	_ "time/tzdata"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/models"
)

// UsageBucket is how long one row of User.usage is.
type UsageBucket string

// The buckets: calendar units of the viewer's zone.
const (
	BucketHour  UsageBucket = "HOUR"
	BucketDay   UsageBucket = "DAY"
	BucketWeek  UsageBucket = "WEEK" // from Monday, as ISO 8601
	BucketMonth UsageBucket = "MONTH"
)

// MaxUsageBuckets bounds one answer: 400 days is more than a year of
// days, and the statements' cost does not grow with it, but the sweep and
// the answer do.
const MaxUsageBuckets = 400

// UsageArgs are User.usage's arguments; a nil Bucket is DAY and a nil
// TimeZone "UTC" (the schema's defaults). An empty TimeZone is refused:
// time.LoadLocation would take it for UTC, but it names no zone.
type UsageArgs struct {
	From, To time.Time
	Bucket   *UsageBucket
	TimeZone *string
}

// UsageRow is one bucket of a host's usage.
type UsageRow struct {
	// Start and End bound the bucket, [Start, End), aligned in the zone.
	Start, End time.Time
	// RoomsCreated counts the host's rooms created in the bucket, and
	// Sessions those that started (had their first join) in it.
	RoomsCreated int
	Sessions     int
	// ParticipantSeconds sums everyone's presence within the bucket in
	// the host's rooms, in whole seconds (rounded down per bucket).
	ParticipantSeconds int
	// PeakParticipants is the most people present at one instant of the
	// bucket, across all the host's rooms.
	PeakParticipants int
	// UniqueParticipants counts the distinct people present in the bucket
	// in any of the host's rooms.
	UniqueParticipants int
}

// Usage is the host's activity over time, one row per bucket of the zone
// covering [from, to). Only the user themself may read it.
//
// Presence is roomSpans', as for Room.stats: a user's overlapping
// presences in a room count once, guests each as a person, and a presence
// still open lasts until the room's end, or is there up to and including
// now. Across rooms, someone in two of the host's rooms at once is two
// presences for the peak and the seconds (they fill two seats; the
// seconds are then the sum of the rooms' own) but one person among the
// unique participants.
//
// Two statements whatever the number of rooms: the rooms that can show in
// the window, and their presences that overlap it.
func (s *Service) Usage(ctx context.Context, userID string, args UsageArgs) ([]*UsageRow, error) {
	if !auth.IsSelf(ctx, userID) {
		return nil, apperr.ForbiddenReason(apperr.NotSelf, "only the user themself may read their usage")
	}
	bounds, err := usageBuckets(args)
	if err != nil {
		return nil, err
	}
	from, to := bounds[0], bounds[len(bounds)-1]

	var rooms []*models.Room
	if err := usageRooms(s.db.NewSelect().Model(&rooms).ColumnExpr(columnsOf("room", roomColumns)), userID, from, to).
		Scan(ctx); err != nil {
		return nil, fmt.Errorf("load usage rooms: %w", err)
	}
	var participants []*models.Participant
	if len(rooms) > 0 {
		ids := make([]string, len(rooms))
		for i, r := range rooms {
			ids[i] = r.ID
		}
		// Only the presences overlapping the window (the union of a
		// person's presences within it is the union of those), by room
		// from the (room_id, joined_at, id) index. The rooms are named,
		// not a subquery: the planner then probes the index per room
		// rather than scanning every presence, and the presences are of
		// exactly the rooms the first statement read.
		if err := s.db.NewSelect().Model(&participants).
			Where("participant.room_id IN (?)", bun.In(ids)).
			Where("participant.joined_at < ?", to).
			Where("(participant.left_at IS NULL OR participant.left_at > ?)", from).
			Scan(ctx); err != nil {
			return nil, fmt.Errorf("load usage presences: %w", err)
		}
	}
	return measureUsage(bounds, rooms, participants, s.now()), nil
}

// usageRooms narrows q to the host's rooms that can count in [from, to):
// created before its end, and active since its start, or with someone in
// them now. A room's last activity is at or after its creation, its first
// join and every leave (its end included), so a room created, started or
// left in the window, or with a presence that overlaps it, has one; an
// open presence is an active participant. For a host with years of rooms a
// recent window, a dashboard's, reads the (host_id, last_activity_at, id)
// index from its start and the occupied rooms' partial index, and nothing
// else (TestUsage_ReadsOnlyTheWindowsRoomsOnPostgres). A window long ago
// reads the rooms active since its start and drops those created after
// its end: an overlap of intervals has no one-dimensional index, and a
// range index (GiST) would be PostgreSQL's alone.
func usageRooms(q *bun.SelectQuery, hostID string, from, to time.Time) *bun.SelectQuery {
	return q.Where("room.host_id = ?", hostID).
		Where("room.created_at < ?", to).
		Where("(room.last_activity_at >= ? OR room.active_participants > 0)", from)
}

// usageBuckets validates args and returns the buckets' bounds in order:
// bucket i is [bounds[i], bounds[i+1]); the first holds From, the last the
// instant before To.
func usageBuckets(args UsageArgs) ([]time.Time, error) {
	var problems []*apperr.Error
	bucket := BucketDay
	if args.Bucket != nil {
		bucket = *args.Bucket
	}
	switch bucket {
	case BucketHour, BucketDay, BucketWeek, BucketMonth:
	default:
		problems = append(problems, apperr.Invalid("bucket", "bucket must be one of HOUR, DAY, WEEK, MONTH"))
	}
	zone := "UTC"
	if args.TimeZone != nil {
		zone = *args.TimeZone
	}
	loc, err := time.LoadLocation(zone)
	// "Local" is the server's zone, which means nothing to a client.
	if err != nil || zone == "Local" || zone == "" {
		problems = append(problems, apperr.Invalid("timeZone", fmt.Sprintf("timeZone %q is not an IANA time zone (such as Europe/Berlin or UTC)", zone)))
	}
	from, to := models.Timestamp(args.From), models.Timestamp(args.To)
	if !from.Before(to) {
		problems = append(problems, apperr.Invalid("to", "to must be after from"))
	}
	if err := apperr.Invalids(problems...); err != nil {
		return nil, err
	}
	bounds := []time.Time{bucketStart(from, bucket, loc)}
	for bounds[len(bounds)-1].Before(to) {
		if len(bounds) > MaxUsageBuckets {
			return nil, apperr.Invalid("to", fmt.Sprintf("from to to spans more than %d %s buckets: narrow it or use a longer bucket", MaxUsageBuckets, bucket))
		}
		bounds = append(bounds, nextBucket(bounds[len(bounds)-1], bucket, loc))
	}
	return bounds, nil
}

// bucketStart is the start of the bucket holding t, in loc's calendar:
// the hour, the midnight, the Monday's midnight, the 1st's midnight. Days
// go by the calendar, so a day of a DST change lasts 23 or 25 hours.
func bucketStart(t time.Time, b UsageBucket, loc *time.Location) time.Time {
	l := t.In(loc)
	if b == BucketHour {
		// From the instant, not the wall clock: a repeated hour (a DST
		// fall back) is two buckets, which time.Date could not tell apart.
		return l.Add(-time.Duration(l.Minute())*time.Minute - time.Duration(l.Second())*time.Second - time.Duration(l.Nanosecond())).UTC()
	}
	y, m, d := l.Date()
	switch b {
	case BucketWeek:
		d -= (int(l.Weekday()) + 6) % 7 // back to Monday
	case BucketMonth:
		d = 1
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
}

// nextBucket is the start of the bucket after the one starting at start.
func nextBucket(start time.Time, b UsageBucket, loc *time.Location) time.Time {
	if b == BucketHour {
		return bucketStart(start.Add(time.Hour), b, loc)
	}
	y, m, d := start.In(loc).Date()
	switch b {
	case BucketDay:
		d++
	case BucketWeek:
		d += 7
	case BucketMonth:
		m++
	}
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
}

// measureUsage makes the rows of the buckets bounds delimits from the
// host's rooms and their presences overlapping them, at now.
func measureUsage(bounds []time.Time, rooms []*models.Room, participants []*models.Participant, now time.Time) []*UsageRow {
	n := len(bounds) - 1
	edges := make([]int64, len(bounds))
	for i, b := range bounds {
		edges[i] = b.UnixMilli()
	}
	rows := make([]*UsageRow, n)
	for i := range rows {
		rows[i] = &UsageRow{Start: bounds[i], End: bounds[i+1]}
	}
	// bucketOf is the bucket holding the instant at, or -1 outside them.
	bucketOf := func(at int64) int {
		i := sort.Search(len(edges), func(i int) bool { return edges[i] > at }) - 1
		if i < 0 || i >= n {
			return -1
		}
		return i
	}
	byRoom := make(map[string][]*models.Participant, len(rooms))
	for _, p := range participants {
		byRoom[p.RoomID] = append(byRoom[p.RoomID], p)
	}
	// Instants after now have not happened: an open presence is there up
	// to and including now, and has lasted until now.
	nowMillis := now.UnixMilli()
	until := min(edges[n], nowMillis+1)
	spansIn := make([][]span, n)
	for _, r := range rooms {
		if i := bucketOf(r.CreatedAt.UnixMilli()); i >= 0 {
			rows[i].RoomsCreated++
		}
		if r.StartedAt != nil {
			if i := bucketOf(r.StartedAt.UnixMilli()); i >= 0 {
				rows[i].Sessions++
			}
		}
		spans, _ := roomSpans(nil, r, byRoom[r.ID], math.MaxInt64)
		for _, sp := range spans {
			from, to := max(sp.from, edges[0]), min(sp.to, until)
			if to <= from {
				continue
			}
			for i := bucketOf(from); i >= 0 && i < n && edges[i] < to; i++ {
				spansIn[i] = append(spansIn[i], sp)
			}
		}
	}
	for i, row := range rows {
		if len(spansIn[i]) == 0 {
			continue
		}
		people := make(map[person]struct{}, len(spansIn[i]))
		m := measurePresence(spansIn[i], edges[i], min(edges[i+1], nowMillis+1), nowMillis, people)
		row.ParticipantSeconds = int(m.millis / 1000)
		row.PeakParticipants = m.peak
		row.UniqueParticipants = len(people)
	}
	return rows
}
