package service_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// connRoom is what the reference orders and filters: a room's columns as
// the connection reads them.
type connRoom struct {
	id, name          string
	active            bool
	created           time.Time
	started, ended    *time.Time
	lastActivity      time.Time
	peak, activeCount int
}

// seedConnectionRooms gives host n rooms whose sort columns are set by
// plain SQL (the ordering reads the columns; that the service keeps them
// equal to the stats is TestRoomStats_MatchBruteForceOnRandomHistories'
// business): equal names, times and peaks for ties, NULL starts and ends,
// names with % and _.
func seedConnectionRooms(t *testing.T, e *env, rng *rand.Rand, hostID string, n int) []connRoom {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2030, 3, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"Standup", "standup", "Retro", "50% off_sale", "5000 offXsale", "Zoo", "apple", "Ünïcode"}
	var out []connRoom
	for i := 0; i < n; i++ {
		r := e.room(t, hostID, service.CreateRoomInput{Name: ptr(names[rng.IntN(len(names))])}).Room
		c := connRoom{id: r.ID, name: r.Name, active: true,
			created:      base.Add(time.Duration(rng.IntN(5)) * time.Hour),
			lastActivity: base.Add(time.Duration(rng.IntN(4)) * time.Minute),
			peak:         rng.IntN(3), activeCount: rng.IntN(2)}
		if rng.IntN(3) > 0 {
			s := base.Add(time.Duration(rng.IntN(3)) * time.Second)
			c.started = &s
			if rng.IntN(2) == 0 {
				end := s.Add(time.Duration(rng.IntN(2)) * time.Second)
				c.ended, c.active = &end, false
			}
		}
		if _, err := e.db.NewUpdate().Table("rooms").Where("id = ?", r.ID).
			Set("created_at = ?", c.created).Set("started_at = ?", c.started).Set("ended_at = ?", c.ended).
			Set("is_active = ?", c.active).Set("last_activity_at = ?", c.lastActivity).
			Set("peak_participants = ?", c.peak).Set("active_participants = ?", c.activeCount).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

// referenceOrder sorts rooms as the connection must: NULL later than any
// time, ties by id in the same direction.
func referenceOrder(rooms []connRoom, order service.RoomOrder) []string {
	cmpTime := func(a, b *time.Time) int {
		switch {
		case a == nil && b == nil:
			return 0
		case a == nil:
			return 1
		case b == nil:
			return -1
		}
		return a.Compare(*b)
	}
	sorted := slices.Clone(rooms)
	slices.SortFunc(sorted, func(a, b connRoom) int {
		var c int
		switch order.Field {
		case service.OrderCreatedAt:
			c = a.created.Compare(b.created)
		case service.OrderStartedAt:
			c = cmpTime(a.started, b.started)
		case service.OrderEndedAt:
			c = cmpTime(a.ended, b.ended)
		case service.OrderName:
			c = strings.Compare(a.name, b.name)
		case service.OrderLastActivity:
			c = a.lastActivity.Compare(b.lastActivity)
		case service.OrderPeakParticipants:
			c = a.peak - b.peak
		}
		if c == 0 {
			c = strings.Compare(a.id, b.id)
		}
		if order.Direction == service.OrderDesc {
			c = -c
		}
		return c
	})
	ids := make([]string, len(sorted))
	for i, r := range sorted {
		ids[i] = r.id
	}
	return ids
}

func connIDs(c *service.RoomConnection) []string {
	var ids []string
	for _, n := range c.Nodes() {
		ids = append(ids, n.ID)
	}
	return ids
}

// Every order, both ways, paged forward with first/after and back with
// last/before, lists every room once in the reference's order, with
// hasNextPage/hasPreviousPage telling whether anything lies beyond, on
// both dialects.
func TestRoomsConnection_EveryOrderPagesBothWaysThroughEveryRoom(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		rooms := seedConnectionRooms(t, e, rand.New(rand.NewPCG(3, 4)), host.ID, 37)
		ctx := asUser(host.ID)
		for _, field := range []service.RoomOrderField{service.OrderCreatedAt, service.OrderStartedAt, service.OrderEndedAt,
			service.OrderName, service.OrderLastActivity, service.OrderPeakParticipants} {
			for _, dir := range []service.OrderDirection{service.OrderAsc, service.OrderDesc} {
				order := service.RoomOrder{Field: field, Direction: dir}
				want := referenceOrder(rooms, order)
				for _, size := range []int{1, 5, 37, 100} {
					name := fmt.Sprintf("%s %s by %d", field, dir, size)
					var got []string
					var after *string
					for pages := 0; ; pages++ {
						c, err := e.svc.RoomsConnection(ctx, host.ID, service.ConnectionArgs{OrderBy: &order, First: ptr(size), After: after})
						mustNoErr(t, err)
						got = append(got, connIDs(c)...)
						if c.PageInfo.HasPreviousPage != (after != nil) {
							t.Fatalf("%s: page %d hasPreviousPage %v", name, pages, c.PageInfo.HasPreviousPage)
						}
						if !c.PageInfo.HasNextPage {
							break
						}
						after = c.PageInfo.EndCursor
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s forward:\n got %v\nwant %v", name, got, want)
					}
					got = nil
					var before *string
					for pages := 0; ; pages++ {
						c, err := e.svc.RoomsConnection(ctx, host.ID, service.ConnectionArgs{OrderBy: &order, Last: ptr(size), Before: before})
						mustNoErr(t, err)
						got = append(connIDs(c), got...)
						if c.PageInfo.HasNextPage != (before != nil) {
							t.Fatalf("%s: page %d back hasNextPage %v", name, pages, c.PageInfo.HasNextPage)
						}
						if !c.PageInfo.HasPreviousPage {
							break
						}
						before = c.PageInfo.StartCursor
					}
					if !slices.Equal(got, want) {
						t.Fatalf("%s backward:\n got %v\nwant %v", name, got, want)
					}
				}
			}
		}
	})
}

// Filters narrow the list and its totalCount alike; a search is a plain
// substring in any case, % and _ included.
func TestRoomsConnection_FiltersNarrowTheListAndItsCount(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		rooms := seedConnectionRooms(t, e, rand.New(rand.NewPCG(5, 6)), host.ID, 30)
		other := e.user(t, "Other")
		e.room(t, other.ID, service.CreateRoomInput{Name: ptr("Standup")}) // never in host's list
		ctx := asUser(host.ID)
		at := time.Date(2030, 3, 1, 2, 0, 0, 0, time.UTC)
		status := func(s service.RoomStatus) *service.RoomStatus { return &s }
		for _, c := range []struct {
			name   string
			filter service.RoomFilter
			keep   func(connRoom) bool
		}{
			{"active", service.RoomFilter{Status: status(service.RoomStatusActive)}, func(r connRoom) bool { return r.active }},
			{"ended", service.RoomFilter{Status: status(service.RoomStatusEnded)}, func(r connRoom) bool { return !r.active }},
			{"created after", service.RoomFilter{CreatedAfter: &at}, func(r connRoom) bool { return r.created.After(at) }},
			{"created before", service.RoomFilter{CreatedBefore: &at}, func(r connRoom) bool { return r.created.Before(at) }},
			{"search in any case", service.RoomFilter{Search: ptr("STAND")}, func(r connRoom) bool { return strings.EqualFold(r.name, "standup") }},
			{"search with % and _", service.RoomFilter{Search: ptr("0% off_")}, func(r connRoom) bool { return r.name == "50% off_sale" }},
			{"with people", service.RoomFilter{HasActiveParticipants: ptr(true)}, func(r connRoom) bool { return r.activeCount > 0 }},
			{"empty, ended", service.RoomFilter{HasActiveParticipants: ptr(false), Status: status(service.RoomStatusEnded)},
				func(r connRoom) bool { return r.activeCount == 0 && !r.active }},
		} {
			var kept []connRoom
			for _, r := range rooms {
				if c.keep(r) {
					kept = append(kept, r)
				}
			}
			want := referenceOrder(kept, service.RoomOrder{Field: service.OrderCreatedAt, Direction: service.OrderDesc})
			conn, err := e.svc.RoomsConnection(ctx, host.ID, service.ConnectionArgs{Filter: &c.filter, First: ptr(100)})
			mustNoErr(t, err)
			if got := connIDs(conn); !slices.Equal(got, want) {
				t.Errorf("%s:\n got %v\nwant %v", c.name, got, want)
			}
			page, err := e.svc.RoomsConnection(ctx, host.ID, service.ConnectionArgs{Filter: &c.filter, First: ptr(2)})
			mustNoErr(t, err)
			if n, err := page.TotalCount(ctx); err != nil || n != len(want) || len(want) == 0 {
				t.Errorf("%s: totalCount %d (%v), want %d (and some)", c.name, n, err, len(want))
			}
		}
	})
}

// A cursor belongs to one user's list in one order: anything else, and
// anything forged, is BAD_USER_INPUT naming the argument, as are page
// sizes out of 1-100 and first with last. Another user's list is refused.
func TestRoomsConnection_RefusesForeignCursorsAndBadPages(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, other := e.user(t, "Host"), e.user(t, "Other")
		for range 3 {
			e.room(t, host.ID, service.CreateRoomInput{})
			e.room(t, other.ID, service.CreateRoomInput{})
		}
		page := func(userID string, args service.ConnectionArgs) (*service.RoomConnection, error) {
			return e.svc.RoomsConnection(asUser(userID), userID, args)
		}
		first, err := page(host.ID, service.ConnectionArgs{First: ptr(1)})
		mustNoErr(t, err)
		cursor := *first.PageInfo.EndCursor
		otherFirst, err := page(other.ID, service.ConnectionArgs{First: ptr(1)})
		mustNoErr(t, err)
		byName := &service.RoomOrder{Field: service.OrderName, Direction: service.OrderAsc}

		forged := []byte(cursor)
		forged[3] ^= 1
		for _, c := range []struct {
			name  string
			user  string
			args  service.ConnectionArgs
			field string
		}{
			{"another order", host.ID, service.ConnectionArgs{OrderBy: byName, After: &cursor}, "after"},
			{"another user's", host.ID, service.ConnectionArgs{After: otherFirst.PageInfo.EndCursor}, "after"},
			{"forged", host.ID, service.ConnectionArgs{Before: ptr(string(forged))}, "before"},
			{"not a cursor", host.ID, service.ConnectionArgs{After: ptr("cu123")}, "after"},
			{"first 0", host.ID, service.ConnectionArgs{First: ptr(0)}, "first"},
			{"last 101", host.ID, service.ConnectionArgs{Last: ptr(101)}, "last"},
			{"first and last", host.ID, service.ConnectionArgs{First: ptr(1), Last: ptr(1)}, "last"},
		} {
			_, err := page(c.user, c.args)
			if e := wantErr(t, err, apperr.BadUserInput, ""); e.Field != c.field {
				t.Errorf("%s: field %q, want %q", c.name, e.Field, c.field)
			}
		}
		_, err = e.svc.RoomsConnection(asUser(other.ID), host.ID, service.ConnectionArgs{})
		wantErr(t, err, apperr.Forbidden, apperr.NotSelf)
		_, err = e.svc.AttendedConnection(asUser(other.ID), host.ID, service.ConnectionArgs{})
		wantErr(t, err, apperr.Forbidden, apperr.NotSelf)

		// A cursor stays valid as rooms are added: the next page is the
		// same rooms, newer ones go before it.
		next, err := page(host.ID, service.ConnectionArgs{First: ptr(5), After: &cursor})
		mustNoErr(t, err)
		e.room(t, host.ID, service.CreateRoomInput{})
		again, err := page(host.ID, service.ConnectionArgs{First: ptr(5), After: &cursor})
		mustNoErr(t, err)
		if !slices.Equal(connIDs(next), connIDs(again)) || len(connIDs(next)) != 2 {
			t.Errorf("after a new room, the page after the cursor changed: %v, then %v", connIDs(next), connIDs(again))
		}
	})
}

// attended lists the rooms a user joined and does not host, the latest
// presence first, each with the user's latest presence.
func TestAttendedConnection_LatestPresenceFirstWithMyPresence(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		clock := &manualClock{at: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
		e := newEnv(t, bdb, func(d *service.Deps) { d.Now = clock.now })
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		var rooms []*models.Room
		for range 3 {
			rooms = append(rooms, e.room(t, host.ID, service.CreateRoomInput{}).Room)
			clock.advance(time.Millisecond) // each created at a time of its own
		}
		own := e.room(t, ann.ID, service.CreateRoomInput{}).Room
		e.room(t, host.ID, service.CreateRoomInput{}) // never joined
		annCtx := asUser(ann.ID)
		e.join(t, annCtx, own.Code, nil) // her own room is not "attended"
		j0 := e.join(t, annCtx, rooms[0].Code, nil)
		clock.advance(time.Minute)
		e.join(t, annCtx, rooms[1].Code, nil)
		clock.advance(time.Minute)
		e.join(t, annCtx, rooms[2].Code, nil)
		clock.advance(time.Minute)
		e.leave(t, annCtx, j0.Participant.ID)
		clock.advance(time.Minute)
		again := e.join(t, annCtx, rooms[0].Code, nil) // rejoined: now her latest presence
		clock.advance(90 * time.Second)

		conn, err := e.svc.AttendedConnection(annCtx, ann.ID, service.ConnectionArgs{})
		mustNoErr(t, err)
		if got, want := connIDs(conn), []string{rooms[0].ID, rooms[2].ID, rooms[1].ID}; !slices.Equal(got, want) {
			t.Fatalf("attended %v, want %v", got, want)
		}
		if n, err := conn.TotalCount(annCtx); err != nil || n != 3 {
			t.Fatalf("totalCount %d (%v)", n, err)
		}
		p := conn.Edges[0].MyPresence
		if !p.JoinedAt.Equal(again.Participant.JoinedAt) || p.LeftAt != nil || p.Seconds != 90 {
			t.Fatalf("myPresence %+v", p)
		}
		second, err := e.svc.AttendedConnection(annCtx, ann.ID, service.ConnectionArgs{First: ptr(1), After: ptr(conn.Edges[0].Cursor())})
		mustNoErr(t, err)
		if got := connIDs(second); !slices.Equal(got, []string{rooms[2].ID}) || !second.PageInfo.HasNextPage || !second.PageInfo.HasPreviousPage {
			t.Fatalf("second page %v %+v", got, second.PageInfo)
		}
		// In another order, by creation: the rooms as they were created.
		byCreation, err := e.svc.AttendedConnection(annCtx, ann.ID, service.ConnectionArgs{
			OrderBy: &service.RoomOrder{Field: service.OrderCreatedAt, Direction: service.OrderAsc}})
		mustNoErr(t, err)
		if got, want := connIDs(byCreation), []string{rooms[0].ID, rooms[1].ID, rooms[2].ID}; !slices.Equal(got, want) {
			t.Fatalf("attended by creation %v, want %v", got, want)
		}
		// A hosted list's cursor is not an attended one.
		hosted, err := e.svc.RoomsConnection(annCtx, ann.ID, service.ConnectionArgs{})
		mustNoErr(t, err)
		_, err = e.svc.AttendedConnection(annCtx, ann.ID, service.ConnectionArgs{After: hosted.PageInfo.EndCursor})
		if e := wantErr(t, err, apperr.BadUserInput, ""); e.Field != "after" {
			t.Fatalf("field %q", e.Field)
		}
	})
}
