package service_test

import (
	"reflect"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
)

// ViewerRooms answers as Viewer followed by HostedRooms, errors included
// and in that order, whether or not its statements share a round trip.
func TestViewerRooms_AnswersAsViewerThenHostedRooms(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		alice := e.user(t, "Alice")
		for range 3 {
			e.room(t, alice.ID, service.CreateRoomInput{})
		}
		other := e.user(t, "Other")
		otherRoom := e.room(t, other.ID, service.CreateRoomInput{})
		pages := []service.RoomPage{
			{}, {WithSettings: true}, {First: ptr(2)}, {Status: service.RoomStatusEnded, WithSettings: true},
		}
		for _, page := range pages {
			viewer, rooms, err := e.svc.ViewerRooms(asUser(alice.ID), page)
			mustNoErr(t, err)
			ctx := asUser(alice.ID)
			wantViewer, err := e.svc.Viewer(ctx)
			mustNoErr(t, err)
			want, err := e.svc.HostedRooms(ctx, alice.ID, page)
			mustNoErr(t, err)
			if !reflect.DeepEqual(viewer, wantViewer) || !reflect.DeepEqual(rooms, want) {
				t.Fatalf("page %+v: ViewerRooms = %+v, %d rooms; want %+v, %d rooms", page, viewer, len(rooms), wantViewer, len(want))
			}
		}
		// Loaded already in this request: the rooms alone, the same.
		ctx := asUser(alice.ID)
		_, err := e.svc.Viewer(ctx)
		mustNoErr(t, err)
		_, rooms, err := e.svc.ViewerRooms(ctx, service.RoomPage{})
		mustNoErr(t, err)
		if len(rooms) != 3 {
			t.Fatalf("%d rooms, want 3", len(rooms))
		}

		// The token's user is gone: refused, whatever the page.
		for _, page := range []service.RoomPage{{}, {First: ptr(0)}, {After: ptr(otherRoom.Room.ID)}} {
			_, _, err := e.svc.ViewerRooms(asUser("cnosuchuser000000000000000"), page)
			wantErr(t, err, apperr.Unauthenticated, "")
		}
		_, _, err = e.svc.ViewerRooms(anon(), service.RoomPage{})
		wantErr(t, err, apperr.Unauthenticated, "")
		_, _, err = e.svc.ViewerRooms(asUser(alice.ID), service.RoomPage{First: ptr(0)})
		wantInvalid(t, err, "first")
		// Another host's room as the cursor: names none of the viewer's.
		_, _, err = e.svc.ViewerRooms(asUser(alice.ID), service.RoomPage{After: ptr(otherRoom.Room.ID)})
		wantInvalid(t, err, "after")
	})
}

// The batched statements are observed as two, as Viewer and HostedRooms
// would be.
func TestViewerRooms_CountsEachStatement(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		counter := &db.StatementCounter{}
		bdb.AddQueryHook(counter)
		e := newEnv(t, bdb)
		alice := e.user(t, "Alice")
		e.room(t, alice.ID, service.CreateRoomInput{})
		var n atomic.Int64
		ctx := db.WithStatementCount(asUser(alice.ID), &n)
		_, rooms, err := e.svc.ViewerRooms(ctx, service.RoomPage{WithSettings: true})
		mustNoErr(t, err)
		if len(rooms) != 1 || rooms[0].JoinedSettings == nil {
			t.Fatalf("rooms %+v, want one with its settings", rooms)
		}
		if n.Load() != 2 {
			t.Fatalf("%d statements counted, want 2", n.Load())
		}
	})
}

// ViewerRoomsConnection answers as Viewer followed by RoomsConnection,
// errors included and in that order, whether or not its statements share
// a round trip; it counts the viewer and the page as their own statements.
func TestViewerRoomsConnection_AnswersAsViewerThenRoomsConnection(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		counter := &db.StatementCounter{}
		bdb.AddQueryHook(counter)
		e := newEnv(t, bdb)
		alice := e.user(t, "Alice")
		for range 3 {
			e.room(t, alice.ID, service.CreateRoomInput{})
		}
		type answer struct {
			Rooms    any
			PageInfo service.PageInfo
			Cursors  []string
			Count    int
		}
		read := func(conn *service.RoomConnection) answer {
			t.Helper()
			a := answer{Rooms: conn.Nodes(), PageInfo: conn.PageInfo}
			for _, edge := range conn.Edges {
				a.Cursors = append(a.Cursors, edge.Cursor())
			}
			var err error
			a.Count, err = conn.TotalCount(asUser(alice.ID))
			mustNoErr(t, err)
			return a
		}
		first, err := e.svc.RoomsConnection(asUser(alice.ID), alice.ID, service.ConnectionArgs{First: ptr(1)})
		mustNoErr(t, err)
		for _, args := range []service.ConnectionArgs{
			{}, {WithSettings: true, WithCount: true}, {First: ptr(2), WithCount: true}, {After: first.PageInfo.EndCursor, WithCount: true},
			{Last: ptr(1), Before: first.PageInfo.EndCursor}, {Filter: &service.RoomFilter{Search: ptr("%")}, WithCount: true},
		} {
			var n atomic.Int64
			viewer, conn, err := e.svc.ViewerRoomsConnection(db.WithStatementCount(asUser(alice.ID), &n), args)
			mustNoErr(t, err)
			ctx := asUser(alice.ID)
			wantViewer, err := e.svc.Viewer(ctx)
			mustNoErr(t, err)
			var m atomic.Int64
			want, err := e.svc.RoomsConnection(db.WithStatementCount(ctx, &m), alice.ID, args)
			mustNoErr(t, err)
			if got, want := read(conn), read(want); !reflect.DeepEqual(viewer, wantViewer) || !reflect.DeepEqual(got, want) {
				t.Fatalf("args %+v: ViewerRoomsConnection = %+v, %+v; want %+v, %+v", args, viewer, got, wantViewer, want)
			}
			// The viewer's statement and the connection's, counted as ever.
			if n.Load() != m.Load()+1 {
				t.Fatalf("args %+v: %d statements, want %d", args, n.Load(), m.Load()+1)
			}
		}
		// Loaded already in this request: the page alone, the same.
		ctx := asUser(alice.ID)
		_, err = e.svc.Viewer(ctx)
		mustNoErr(t, err)
		_, conn, err := e.svc.ViewerRoomsConnection(ctx, service.ConnectionArgs{})
		mustNoErr(t, err)
		if len(conn.Edges) != 3 {
			t.Fatalf("%d rooms, want 3", len(conn.Edges))
		}

		// The token's user is gone: refused, whatever the arguments.
		bad := "not-a-cursor"
		for _, args := range []service.ConnectionArgs{{}, {First: ptr(0)}, {After: &bad}, {WithCount: true}} {
			_, _, err := e.svc.ViewerRoomsConnection(asUser("cnosuchuser000000000000000"), args)
			wantErr(t, err, apperr.Unauthenticated, "")
		}
		_, _, err = e.svc.ViewerRoomsConnection(anon(), service.ConnectionArgs{})
		wantErr(t, err, apperr.Unauthenticated, "")
		_, _, err = e.svc.ViewerRoomsConnection(asUser(alice.ID), service.ConnectionArgs{First: ptr(0)})
		wantInvalid(t, err, "first")
		_, _, err = e.svc.ViewerRoomsConnection(asUser(alice.ID), service.ConnectionArgs{After: &bad})
		wantInvalid(t, err, "after")
	})
}
