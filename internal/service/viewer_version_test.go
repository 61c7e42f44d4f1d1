package service_test

import (
	"context"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
)

// ViewerVersion is the response cache's one statement: it refuses whom
// Viewer refuses, its version moves with the service's own writes to what
// the viewer's answers show, and it refuses to guess a version for a viewer
// loaded before it was asked.
func TestViewerVersion_MovesWithWritesAndIsAskedFirst(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		alice := e.user(t, "Alice")
		bob := e.user(t, "Bob")
		version := func() int64 {
			t.Helper()
			u, v, err := e.svc.ViewerVersion(asUser(alice.ID))
			mustNoErr(t, err)
			if u.ID != alice.ID {
				t.Fatalf("viewer %s, want %s", u.ID, alice.ID)
			}
			return v
		}
		changed := func(what string, write func()) {
			t.Helper()
			before := version()
			write()
			if version() == before {
				t.Errorf("%s left alice's answers version at %d", what, before)
			}
		}
		unchanged := func(what string, write func()) {
			t.Helper()
			before := version()
			write()
			if v := version(); v != before {
				t.Errorf("%s changed alice's answers version (%d to %d), though it shows nowhere in her answers", what, before, v)
			}
		}
		var room *service.RoomWithSettings
		changed("a room she creates", func() { room = e.room(t, alice.ID, service.CreateRoomInput{}) })
		var joined *service.JoinResult
		changed("bob joining it", func() { joined = e.join(t, asUser(bob.ID), room.Room.Code, nil) })
		changed("new settings", func() {
			_, err := e.svc.UpdateRoomSettings(asUser(alice.ID), room.Room.ID, service.UpdateRoomSettingsInput{AllowChat: ptr(false)})
			mustNoErr(t, err)
		})
		changed("bob leaving", func() { e.leave(t, asUser(bob.ID), joined.Participant.ID) })
		unchanged("bob's own room", func() { e.room(t, bob.ID, service.CreateRoomInput{}) })
		changed("the room ending", func() { e.end(t, alice.ID, room.Room.ID) })

		for _, ctx := range []context.Context{anon(), asUser("cnosuchuser000000000000000"), asParticipant(joined.Participant.ID, room.Room.ID)} {
			_, _, err := e.svc.ViewerVersion(ctx)
			wantErr(t, err, apperr.Unauthenticated, "")
		}
		ctx := asUser(alice.ID)
		_, err := e.svc.Viewer(ctx)
		mustNoErr(t, err)
		if _, _, err := e.svc.ViewerVersion(ctx); err == nil {
			t.Error("ViewerVersion after Viewer in the same request gave a version: it could be newer than the viewer loaded")
		}
	})
}
