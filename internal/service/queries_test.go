package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// hostedFixture is a host's rooms inserted directly, with chosen ids and
// creation times: several share a createdAt (ties must be broken by id,
// descending, not by insertion order), and the fractions of a second
// differ in length (.05 vs .5 vs none), which a text comparison of
// timestamps would misorder.
type hostedFixture struct {
	host, other *models.User
	// want is the host's rooms in the expected order, newest first.
	want []*models.Room
}

func seedHostedRooms(t *testing.T, e *env) *hostedFixture {
	t.Helper()
	f := &hostedFixture{host: e.user(t, "Host"), other: e.user(t, "Other")}
	base := time.Date(2024, 3, 3, 10, 0, 0, 0, time.UTC)
	rows := []struct {
		id     string
		at     time.Time
		active bool
	}{
		// Inserted in an order unrelated to the expected one.
		{"r-m", base.Add(500 * time.Millisecond), true},
		{"r-b", base, true},
		{"r-z", base.Add(500 * time.Millisecond), false},
		{"r-a", base.Add(500 * time.Millisecond), true},
		{"r-q", base.Add(50 * time.Millisecond), false},
		{"r-c", base.Add(-time.Millisecond), true},
		{"r-y", base, false},
		{"r-k", base.Add(time.Hour), true},
		{"r-d", base.Add(500 * time.Millisecond), false},
		{"r-x", base, true},
		{"r-e", base.Add(-24 * time.Hour), true},
	}
	wantOrder := []string{"r-k", "r-z", "r-m", "r-d", "r-a", "r-q", "r-y", "r-x", "r-b", "r-c", "r-e"}
	byID := map[string]*models.Room{}
	ctx := context.Background()
	for i, r := range rows {
		room := &models.Room{
			ID: r.id, Code: fmt.Sprintf("aaa-aaa-%03d", i), Name: "Room " + r.id, HostID: f.host.ID,
			IsActive: r.active, CreatedAt: r.at, UpdatedAt: r.at,
		}
		if !r.active {
			room.EndedAt = ptr(r.at.Add(time.Minute))
		}
		if _, err := e.db.NewInsert().Model(room).Exec(ctx); err != nil {
			t.Fatal(err)
		}
		byID[r.id] = room
	}
	for _, id := range wantOrder {
		f.want = append(f.want, byID[id])
	}
	// The other user's rooms, interleaved in time, must never show up.
	for i, at := range []time.Time{base, base.Add(500 * time.Millisecond), base.Add(2 * time.Hour)} {
		room := &models.Room{
			ID: fmt.Sprintf("o-%d", i), Code: fmt.Sprintf("bbb-bbb-%03d", i), Name: "Other's", HostID: f.other.ID,
			IsActive: true, CreatedAt: at, UpdatedAt: at,
		}
		if _, err := e.db.NewInsert().Model(room).Exec(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func ids(rooms []*models.Room) string {
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = r.ID
	}
	return strings.Join(out, " ")
}

func filterRooms(rooms []*models.Room, keep func(*models.Room) bool) []*models.Room {
	var out []*models.Room
	for _, r := range rooms {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func TestHostedRooms_NewestFirstTiesByIdDescending(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		f := seedHostedRooms(t, e)
		got, err := e.svc.HostedRooms(asUser(f.host.ID), f.host.ID, service.RoomPage{})
		mustNoErr(t, err)
		if ids(got) != ids(f.want) {
			t.Fatalf("order\n got  %s\n want %s", ids(got), ids(f.want))
		}
		// The rows come back whole.
		for i, r := range got {
			w := f.want[i]
			if r.HostID != f.host.ID || r.Code != w.Code || r.Name != w.Name || r.IsActive != w.IsActive || !r.CreatedAt.Equal(w.CreatedAt) {
				t.Fatalf("room %s read back as %+v, want %+v", w.ID, r, w)
			}
		}
		// A user without rooms gets an empty list, not nil and not an error.
		loner := e.user(t, "Loner")
		none, err := e.svc.HostedRooms(asUser(loner.ID), loner.ID, service.RoomPage{})
		mustNoErr(t, err)
		if none == nil || len(none) != 0 {
			t.Fatalf("user without rooms got %v", none)
		}
	})
}

func TestHostedRooms_StatusFilters(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		f := seedHostedRooms(t, e)
		// End one more through the service, so the filter sees a real end.
		e.end(t, f.host.ID, "r-k")
		f.want[0].IsActive = false

		active := filterRooms(f.want, func(r *models.Room) bool { return r.IsActive })
		ended := filterRooms(f.want, func(r *models.Room) bool { return !r.IsActive })
		if len(active) == 0 || len(ended) == 0 {
			t.Fatal("fixture needs both active and ended rooms")
		}
		for _, c := range []struct {
			status service.RoomStatus
			want   []*models.Room
		}{
			{"", f.want},
			{service.RoomStatusAll, f.want},
			{service.RoomStatusActive, active},
			{service.RoomStatusEnded, ended},
		} {
			t.Run(string(c.status), func(t *testing.T) {
				got, err := e.svc.HostedRooms(asUser(f.host.ID), f.host.ID, service.RoomPage{Status: c.status})
				mustNoErr(t, err)
				if ids(got) != ids(c.want) {
					t.Fatalf("got  %s\nwant %s", ids(got), ids(c.want))
				}
			})
		}
		t.Run("unknown status", func(t *testing.T) {
			_, err := e.svc.HostedRooms(asUser(f.host.ID), f.host.ID, service.RoomPage{Status: "active"})
			wantInvalid(t, err, "status")
		})
	})
}

// Following `after` from page to page yields every room exactly once, in
// order, for every page size and filter, ties included.
func TestHostedRooms_KeysetPagesConcatenateToTheFullList(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		f := seedHostedRooms(t, e)
		ctx := asUser(f.host.ID)
		for _, status := range []service.RoomStatus{service.RoomStatusAll, service.RoomStatusActive, service.RoomStatusEnded} {
			full, err := e.svc.HostedRooms(ctx, f.host.ID, service.RoomPage{Status: status})
			mustNoErr(t, err)
			for first := 1; first <= len(full)+1; first++ {
				t.Run(fmt.Sprintf("%s/first=%d", status, first), func(t *testing.T) {
					var all []*models.Room
					seen := map[string]bool{}
					var after *string
					for pages := 0; ; pages++ {
						if pages > len(full)+1 {
							t.Fatalf("pagination does not terminate: %s", ids(all))
						}
						page, err := e.svc.HostedRooms(ctx, f.host.ID, service.RoomPage{Status: status, First: ptr(first), After: after})
						mustNoErr(t, err)
						if len(page) > first {
							t.Fatalf("page of %d rooms, first=%d", len(page), first)
						}
						for _, r := range page {
							if seen[r.ID] {
								t.Fatalf("room %s on two pages (so far: %s)", r.ID, ids(all))
							}
							seen[r.ID] = true
						}
						all = append(all, page...)
						if len(page) < first {
							break
						}
						after = ptr(page[len(page)-1].ID)
					}
					if ids(all) != ids(full) {
						t.Fatalf("pages concatenate to\n %s\nwant\n %s", ids(all), ids(full))
					}
				})
			}
		}
		t.Run("after the last room", func(t *testing.T) {
			page, err := e.svc.HostedRooms(ctx, f.host.ID, service.RoomPage{First: ptr(5), After: ptr(f.want[len(f.want)-1].ID)})
			mustNoErr(t, err)
			if len(page) != 0 {
				t.Fatalf("got %s after the last room", ids(page))
			}
		})
		t.Run("after without first", func(t *testing.T) {
			page, err := e.svc.HostedRooms(ctx, f.host.ID, service.RoomPage{After: ptr(f.want[2].ID)})
			mustNoErr(t, err)
			if ids(page) != ids(f.want[3:]) {
				t.Fatalf("got %s, want %s", ids(page), ids(f.want[3:]))
			}
		})
		t.Run("first 100", func(t *testing.T) {
			page, err := e.svc.HostedRooms(ctx, f.host.ID, service.RoomPage{First: ptr(100)})
			mustNoErr(t, err)
			if ids(page) != ids(f.want) {
				t.Fatalf("got %s, want %s", ids(page), ids(f.want))
			}
		})
	})
}

func TestHostedRooms_RejectsBadPageArguments(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		f := seedHostedRooms(t, e)
		cases := []struct {
			name  string
			page  service.RoomPage
			field string
		}{
			{"first 0", service.RoomPage{First: ptr(0)}, "first"},
			{"first negative", service.RoomPage{First: ptr(-1)}, "first"},
			{"first 101", service.RoomPage{First: ptr(101)}, "first"},
			{"after another host's room", service.RoomPage{First: ptr(2), After: ptr("o-1")}, "after"},
			{"after an unknown id", service.RoomPage{First: ptr(2), After: ptr("cnosuchroom000000000000000")}, "after"},
			{"after empty", service.RoomPage{After: ptr("")}, "after"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				got, err := e.svc.HostedRooms(asUser(f.host.ID), f.host.ID, c.page)
				if got != nil {
					t.Errorf("got rooms %s with the error", ids(got))
				}
				wantInvalid(t, err, c.field)
			})
		}
	})
}

func TestHostedRooms_OnlyTheUserThemselfMayList(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		f := seedHostedRooms(t, e)
		room := e.room(t, f.host.ID, service.CreateRoomInput{})
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		for name, ctx := range map[string]context.Context{
			"another user":               asUser(f.other.ID),
			"a participant of the rooms": asGuest(guest),
			"anonymous":                  anon(),
			"invalid token":              asBadToken(),
		} {
			t.Run(name, func(t *testing.T) {
				got, err := e.svc.HostedRooms(ctx, f.host.ID, service.RoomPage{})
				if got != nil {
					t.Errorf("got rooms %s with the error", ids(got))
				}
				wantErr(t, err, apperr.Forbidden, "")
			})
		}
	})
}

func TestRoom_VisibleToItsHostAndParticipantsOnly(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann, ben, stranger := e.user(t, "Host"), e.user(t, "Ann"), e.user(t, "Ben"), e.user(t, "Stranger")
		room := e.room(t, host.ID, service.CreateRoomInput{Name: ptr("Private")})
		otherRoom := e.room(t, stranger.ID, service.CreateRoomInput{})
		e.join(t, asUser(ann.ID), room.Room.Code, nil)
		pBen := e.join(t, asUser(ben.ID), room.Room.Code, nil)
		e.leave(t, asUser(ben.ID), pBen.Participant.ID)
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		foreignGuest := e.joinGuest(t, otherRoom.Room.Code, "Eve")
		ended := e.room(t, host.ID, service.CreateRoomInput{})
		pEnded := e.join(t, asUser(ann.ID), ended.Room.Code, nil)
		e.end(t, host.ID, ended.Room.ID)

		sees := []struct {
			name string
			ctx  context.Context
			id   string
		}{
			{"host", asUser(host.ID), room.Room.ID},
			{"active participant", asUser(ann.ID), room.Room.ID},
			{"participant who left", asUser(ben.ID), room.Room.ID},
			{"guest with its participant token", asGuest(guest), room.Room.ID},
			{"participant of an ended room", asUser(ann.ID), ended.Room.ID},
			{"host of an ended room", asUser(host.ID), ended.Room.ID},
		}
		for _, c := range sees {
			t.Run("sees: "+c.name, func(t *testing.T) {
				got, err := e.svc.Room(c.ctx, c.id)
				mustNoErr(t, err)
				if got.ID != c.id || got.HostID != host.ID {
					t.Fatalf("got room %+v, want %s", got, c.id)
				}
			})
		}
		if got, _ := e.svc.Room(asUser(ann.ID), room.Room.ID); got.Name != "Private" || got.Code != room.Room.Code {
			t.Fatalf("room read back as %+v", got)
		}

		hidden := []struct {
			name string
			ctx  context.Context
			id   string
			code apperr.Code
		}{
			{"stranger", asUser(stranger.ID), room.Room.ID, apperr.NotFound},
			{"participant token of another room", asGuest(foreignGuest), room.Room.ID, apperr.NotFound},
			{"participant token, asking for an unrelated room", asGuest(guest), otherRoom.Room.ID, apperr.NotFound},
			{"participant token, asking for another room of the same host", asGuest(guest), ended.Room.ID, apperr.NotFound},
			{"unknown id", asUser(host.ID), "cnosuchroom000000000000000", apperr.NotFound},
			{"anonymous", anon(), room.Room.ID, apperr.Unauthenticated},
			{"invalid token", asBadToken(), room.Room.ID, apperr.Unauthenticated},
			// A participant token is a presence: gone with its participant.
			{"participant token of an ended room", asGuest(pEnded), ended.Room.ID, apperr.Forbidden},
		}
		for _, c := range hidden {
			t.Run("hidden: "+c.name, func(t *testing.T) {
				got, err := e.svc.Room(c.ctx, c.id)
				if got != nil {
					t.Errorf("got room %+v with the error", got)
				}
				wantErr(t, err, c.code, "")
			})
		}
	})
}

// The code is the invitation: anyone, signed in or not, finds the room by
// it, however it was typed.
func TestRoomByCode_AnyoneFindsTheRoomByItsCode(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{Name: ptr("Lobby")})
		e.room(t, host.ID, service.CreateRoomInput{}) // a decoy
		for name, ctx := range map[string]context.Context{"anonymous": anon(), "signed in": asUser(host.ID)} {
			for _, typed := range []string{room.Room.Code, " " + strings.ToUpper(room.Room.Code) + "\t"} {
				got, err := e.svc.RoomByCode(ctx, typed)
				mustNoErr(t, err)
				if got.ID != room.Room.ID || got.Name != "Lobby" {
					t.Fatalf("%s, code %q: got room %+v, want %s", name, typed, got, room.Room.ID)
				}
			}
		}
		_, err := e.svc.RoomByCode(anon(), "zzz-zzz-zzz")
		wantErr(t, err, apperr.NotFound, "")
	})
}

// Every way of trying a room code spends one lookup of the caller's
// address, found or not: RoomByCode, AttendeesByCode and JoinRoom.
func TestRoomByCode_LookupsLimitedPerAddress(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb, withLimits(map[ratelimit.Op]ratelimit.Rates{ratelimit.RoomCode: {PerIP: ratelimit.Rate{N: 4, Per: time.Hour}}}))
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		ctx := from(anon(), "198.51.100.7")
		_, err := e.svc.RoomByCode(ctx, "zzz-zzz-zzz")
		wantErr(t, err, apperr.NotFound, "")
		_, err = e.svc.RoomByCode(ctx, room.Room.Code)
		mustNoErr(t, err)
		_, err = e.svc.AttendeesByCode(ctx, room.Room.Code)
		mustNoErr(t, err)
		_, err = e.svc.JoinRoom(ctx, "zzz-zzz-zzz", ptr("Guesser"))
		wantErr(t, err, apperr.NotFound, "")
		_, err = e.svc.RoomByCode(ctx, room.Room.Code)
		wantErr(t, err, apperr.TooManyRequests, "")
		_, err = e.svc.JoinRoom(ctx, room.Room.Code, ptr("Guesser"))
		wantErr(t, err, apperr.TooManyRequests, "")
		_, err = e.svc.RoomByCode(from(anon(), "203.0.113.20"), room.Room.Code)
		mustNoErr(t, err)
	})
}
