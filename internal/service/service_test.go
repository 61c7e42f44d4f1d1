package service_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/service"
)

// Operations that need a signed-in user refuse everyone else with
// UNAUTHENTICATED: no token, a token that did not verify, a participant
// token (it is scoped to one presence, not to an account), and a valid
// token whose user no longer exists.
func TestViewer_OnlyAnExistingUsersTokenSignsIn(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		alice := e.user(t, "Alice")
		room := e.room(t, alice.ID, service.CreateRoomInput{})
		guest := e.joinGuest(t, room.Room.Code, "Gus")

		got, err := e.svc.Viewer(asUser(alice.ID))
		mustNoErr(t, err)
		if got.ID != alice.ID || got.Email != alice.Email {
			t.Fatalf("viewer is %+v, want %s", got, alice.ID)
		}

		for name, ctx := range map[string]context.Context{
			"anonymous":         anon(),
			"invalid token":     asBadToken(),
			"participant token": asGuest(guest),
			"deleted user":      asUser("cnosuchuser000000000000000"),
		} {
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.Viewer(ctx)
				wantErr(t, err, apperr.Unauthenticated, "")
			})
		}
	})
}

// The viewer is looked up once per request, however many resolvers ask.
func TestViewer_LoadedOncePerRequest(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		alice := e.user(t, "Alice")
		ctx := asUser(alice.ID)
		first, err := e.svc.Viewer(ctx)
		mustNoErr(t, err)
		// Delete the row: a second lookup would now fail.
		dbtest.Exec(t, bdb, "DELETE FROM users WHERE id = ?", alice.ID)
		second, err := e.svc.Viewer(ctx)
		mustNoErr(t, err)
		if first != second {
			t.Fatalf("viewer loaded twice in one request")
		}
		// A new request sees the deletion.
		_, err = e.svc.Viewer(asUser(alice.ID))
		wantErr(t, err, apperr.Unauthenticated, "")
	})
}

// ViewerID reads the token only: a user token gives its user, anything
// else gives nobody.
func TestViewerID_OnlyUserTokensNameAUser(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		ctx  context.Context
		want string
	}{
		"user token":        {asUser("cuser"), "cuser"},
		"anonymous":         {anon(), ""},
		"participant token": {asParticipant("cpart", "croom"), ""},
		"invalid token":     {auth.WithPrincipal(context.Background(), &auth.Principal{UserID: "cuser", Err: auth.ErrInvalidToken}), ""},
	}
	for name, c := range cases {
		if got := service.ViewerID(c.ctx); got != c.want {
			t.Errorf("%s: ViewerID = %q, want %q", name, got, c.want)
		}
	}
}

// Ids and codes come from clients; a malformed one (a NUL byte, which no
// stored id or code contains, or invalid UTF-8) names nothing, so it is
// NOT_FOUND or BAD_USER_INPUT like any other unknown key, never an internal error.
func TestLookups_MalformedKeysAreUnknownNotInternalErrors(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.joinGuest(t, room.Room.Code, "Gus")
		hostCtx := asUser(host.ID)
		for _, key := range []string{room.Room.ID + "\x00", "\x00", room.Room.Code + "\x00", "\xff\xfe", room.Room.Code[:4] + "\xff" + room.Room.Code[5:]} {
			calls := map[string]func() error{
				"JoinRoom as user":  func() error { _, err := e.svc.JoinRoom(hostCtx, key, nil); return err },
				"JoinRoom as guest": func() error { _, err := e.svc.JoinRoom(anon(), key, ptr("Gus")); return err },
				"RoomByCode":        func() error { _, err := e.svc.RoomByCode(anon(), key); return err },
				"Room":              func() error { _, err := e.svc.Room(hostCtx, key); return err },
				"UpdateRoomSettings": func() error {
					_, err := e.svc.UpdateRoomSettings(hostCtx, key, service.UpdateRoomSettingsInput{AllowChat: ptr(false)})
					return err
				},
				"EndRoom":   func() error { _, err := e.svc.EndRoom(hostCtx, key); return err },
				"LeaveRoom": func() error { _, err := e.svc.LeaveRoom(hostCtx, key); return err },
			}
			for name, call := range calls {
				t.Run(fmt.Sprintf("%s %q", name, key), func(t *testing.T) {
					e.unchanged(t, func() { wantErr(t, call(), apperr.NotFound, "") })
				})
			}
			t.Run(fmt.Sprintf("HostedRooms after %q", key), func(t *testing.T) {
				_, err := e.svc.HostedRooms(hostCtx, host.ID, service.RoomPage{After: ptr(key)})
				wantInvalid(t, err, "after")
			})
		}
	})
}
