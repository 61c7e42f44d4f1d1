package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
)

// A room with its host, a signed-in member and a guest, joined in that
// order a few milliseconds apart; the member has left.
type listedRoom struct {
	host, member, stranger          string // user ids
	room                            *service.RoomWithSettings
	hostJoin, memberJoin, guestJoin *service.JoinResult
	hostAvatar, hostName, guestName string
}

func seedListedRoom(t *testing.T, e *env) listedRoom {
	t.Helper()
	host := e.user(t, "Hannah Host")
	member := e.user(t, "Max Member")
	stranger := e.user(t, "Stranger")
	avatar := "https://cdn.example/hannah.png"
	_, err := e.svc.UpdateProfile(asUser(host.ID), service.UpdateProfileInput{AvatarURL: service.Nullable[string]{Set: true, Value: &avatar}})
	mustNoErr(t, err)
	room := e.room(t, host.ID, service.CreateRoomInput{})
	l := listedRoom{host: host.ID, member: member.ID, stranger: stranger.ID, room: room,
		hostAvatar: avatar, hostName: "Hannah Host", guestName: "Gus"}
	l.hostJoin = e.join(t, asUser(host.ID), room.Room.Code, nil)
	time.Sleep(3 * time.Millisecond)
	l.memberJoin = e.join(t, asUser(member.ID), room.Room.Code, nil)
	time.Sleep(3 * time.Millisecond)
	l.guestJoin = e.joinGuest(t, room.Room.Code, "Gus")
	e.leave(t, asUser(member.ID), l.memberJoin.Participant.ID)
	return l
}

func participantIDs(ps []service.ParticipantWithUser) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

// Everyone and only those who may see the room may list its participants:
// its host, a member even after leaving, a guest by its own token.
func TestRoomParticipants_OnlyForThoseWhoMaySeeTheRoom(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		l := seedListedRoom(t, e)
		id := l.room.Room.ID
		for name, ctx := range map[string]context.Context{
			"host":               asUser(l.host),
			"member who left":    asUser(l.member),
			"guest by its token": asGuest(l.guestJoin),
		} {
			if _, err := e.svc.RoomParticipants(ctx, id, true); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		_, err := e.svc.RoomParticipants(asUser(l.stranger), id, true)
		wantErr(t, err, apperr.NotFound, "")
		_, err = e.svc.RoomParticipants(asUser(l.host), "cnosuchroom00000000000000", true)
		wantErr(t, err, apperr.NotFound, "")
		_, err = e.svc.RoomParticipants(anon(), id, true)
		wantErr(t, err, apperr.Unauthenticated, "")

		// A guest's token is scoped to its own room.
		other := e.room(t, l.host, service.CreateRoomInput{})
		_, err = e.svc.RoomParticipants(asGuest(l.guestJoin), other.Room.ID, false)
		wantErr(t, err, apperr.NotFound, "")
	})
}

// The list is in join order, with each signed-in participant's user (a
// guest has none); activeOnly leaves out those who left.
func TestRoomParticipants_JoinOrderWithUsers(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		l := seedListedRoom(t, e)

		all, err := e.svc.RoomParticipants(asUser(l.host), l.room.Room.ID, false)
		mustNoErr(t, err)
		want := []string{l.hostJoin.Participant.ID, l.memberJoin.Participant.ID, l.guestJoin.Participant.ID}
		if got := participantIDs(all); !slices.Equal(got, want) {
			t.Fatalf("all participants %v, want join order %v", got, want)
		}
		if all[1].IsActive || all[1].LeftAt == nil {
			t.Errorf("the member who left is listed as present: %+v", all[1].Participant)
		}

		present, err := e.svc.RoomParticipants(asUser(l.host), l.room.Room.ID, true)
		mustNoErr(t, err)
		if got := participantIDs(present); !slices.Equal(got, []string{want[0], want[2]}) {
			t.Fatalf("present participants %v, want %v", got, []string{want[0], want[2]})
		}
		host, guest := present[0], present[1]
		if host.User == nil || host.User.ID != l.host || host.DisplayName() != l.hostName {
			t.Errorf("host participant's user %+v, display name %q", host.User, host.DisplayName())
		}
		if guest.User != nil || guest.DisplayName() != l.guestName {
			t.Errorf("guest participant's user %+v, display name %q; want none and %q", guest.User, guest.DisplayName(), l.guestName)
		}
	})
}

// Anyone with the code sees who is in the room now, in join order, with
// names and avatars only; an unknown code is NOT_FOUND; an ended room is
// empty.
func TestAttendeesByCode_WhoIsInTheRoomNow(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		l := seedListedRoom(t, e)
		code := l.room.Room.Code

		for _, asTyped := range []string{code, "  " + strings.ToUpper(code) + " "} {
			got, err := e.svc.AttendeesByCode(anon(), asTyped)
			mustNoErr(t, err)
			want := []service.Attendee{
				{ID: l.hostJoin.Participant.ID, DisplayName: l.hostName, AvatarURL: &l.hostAvatar, IsHost: true},
				{ID: l.guestJoin.Participant.ID, DisplayName: l.guestName},
			}
			if len(got) != len(want) {
				t.Fatalf("code %q: attendees %+v, want %+v", asTyped, got, want)
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.ID != w.ID || g.DisplayName != w.DisplayName || g.IsHost != w.IsHost ||
					(g.AvatarURL == nil) != (w.AvatarURL == nil) || (g.AvatarURL != nil && *g.AvatarURL != *w.AvatarURL) {
					t.Errorf("code %q: attendee %d = %+v, want %+v", asTyped, i, g, w)
				}
			}
		}

		for _, unknown := range []string{"zzz-zzz-zzz", "", "abc\x00"} {
			_, err := e.svc.AttendeesByCode(anon(), unknown)
			wantErr(t, err, apperr.NotFound, "")
		}

		e.end(t, l.host, l.room.Room.ID)
		got, err := e.svc.AttendeesByCode(anon(), code)
		mustNoErr(t, err)
		if len(got) != 0 {
			t.Errorf("an ended room still has attendees %+v", got)
		}
	})
}
