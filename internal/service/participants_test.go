package service_test

import (
	"context"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

func TestJoinRoom_SignedInUserJoinsAsThemselfAndOnlyTheHostIsHost(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{})

		before := models.Now()
		// A signed-in user's guestName is ignored: they are themself.
		jAnn := e.join(t, asUser(ann.ID), room.Room.Code, ptr("Somebody Else"))
		jHost := e.join(t, asUser(host.ID), room.Room.Code, nil)
		for _, c := range []struct {
			name   string
			j      *service.JoinResult
			userID string
			isHost bool
		}{{"Ann", jAnn, ann.ID, false}, {"host", jHost, host.ID, true}} {
			for _, p := range []*models.Participant{c.j.Participant, e.loadParticipant(t, c.j.Participant.ID)} {
				if p.UserID == nil || *p.UserID != c.userID || p.GuestName != nil || p.RoomID != room.Room.ID ||
					p.IsHost != c.isHost || !p.IsActive || p.LeftAt != nil || p.JoinedAt.Before(before) {
					t.Errorf("%s joined as %+v, want active user %s in room %s with isHost=%v", c.name, p, c.userID, room.Room.ID, c.isHost)
				}
			}
		}
		if n := e.activeParticipants(t, room.Room.ID); n != 2 {
			t.Fatalf("%d active participants, want 2", n)
		}
	})
}

func TestJoinRoom_JoiningAgainWhileActiveReturnsTheSameParticipant(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(2)})
		first := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		e.join(t, asUser(host.ID), room.Room.Code, nil) // the room is now full

		e.unchanged(t, func() {
			// Also through a differently typed code, and although the room is full.
			again := e.join(t, asUser(ann.ID), " "+strings.ToUpper(room.Room.Code)+" ", nil)
			if again.Participant.ID != first.Participant.ID {
				t.Fatalf("second join gave participant %s, want %s", again.Participant.ID, first.Participant.ID)
			}
			if !again.Participant.JoinedAt.Equal(first.Participant.JoinedAt) {
				t.Fatalf("second join moved joinedAt from %v to %v", first.Participant.JoinedAt, again.Participant.JoinedAt)
			}
			if pid, _, err := e.tokens.ParseParticipant(again.ParticipantToken); err != nil || pid != first.Participant.ID {
				t.Fatalf("second join's token is for %q (%v), want %s", pid, err, first.Participant.ID)
			}
		})

		// After leaving, joining again is a new presence; the old one stays as history.
		e.leave(t, asUser(ann.ID), first.Participant.ID)
		third := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		if third.Participant.ID == first.Participant.ID || !third.Participant.IsActive {
			t.Fatalf("rejoin after leaving gave %+v, want a new active participant", third.Participant)
		}
		if old := e.loadParticipant(t, first.Participant.ID); old.IsActive || old.LeftAt == nil {
			t.Fatalf("the earlier presence was rewritten: %+v", old)
		}
		if n := e.count(t, "participants", "room_id = ? AND user_id = ?", room.Room.ID, ann.ID); n != 2 {
			t.Fatalf("%d rows for Ann, want 2 (one left, one active)", n)
		}
	})
}

func TestJoinRoom_GuestNameRules(t *testing.T) {
	t.Parallel()
	refused := []struct {
		name      string
		guestName *string
	}{
		{"missing", nil},
		{"empty", ptr("")},
		{"only whitespace", ptr("   ")},
		{"51 chars", ptr(strings.Repeat("g", 51))},
		{"51 multi-byte chars", ptr(strings.Repeat("ß", 51))},
		{"with a NUL byte", ptr("Gus\x00")},
		{"not UTF-8", ptr("\xff\xfe")},
	}
	accepted := []struct {
		name, guestName, want string
	}{
		{"1 char", "G", "G"},
		{"50 chars", strings.Repeat("g", 50), strings.Repeat("g", 50)},
		{"trimmed", "  Gus Guest \t", "Gus Guest"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		for _, c := range refused {
			t.Run("refused "+c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.JoinRoom(anon(), room.Room.Code, c.guestName)
					if res != nil {
						t.Errorf("got a participant with the error: %+v", res.Participant)
					}
					wantInvalid(t, err, "guestName")
				})
			})
		}
		for _, c := range accepted {
			t.Run("accepted "+c.name, func(t *testing.T) {
				j := e.joinGuest(t, room.Room.Code, c.guestName)
				p := e.loadParticipant(t, j.Participant.ID)
				if p.GuestName == nil || *p.GuestName != c.want || p.UserID != nil || p.IsHost || !p.IsActive {
					t.Fatalf("stored guest %+v, want active guest %q", p, c.want)
				}
				if j.Participant.GuestName == nil || *j.Participant.GuestName != c.want {
					t.Fatalf("returned guest name %v, want %q", j.Participant.GuestName, c.want)
				}
			})
		}
		// Two guests with one name are two participants.
		a, b := e.joinGuest(t, room.Room.Code, "Twin"), e.joinGuest(t, room.Room.Code, "Twin")
		if a.Participant.ID == b.Participant.ID {
			t.Fatal("two guests of one name got one participant")
		}
	})
}

// Whoever the room refuses, the refusal writes nothing.
func TestJoinRoom_RoomStateDecidesWhoMayEnter(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		noGuests := e.room(t, host.ID, service.CreateRoomInput{AllowGuestAccess: ptr(false)})
		locked := e.room(t, host.ID, service.CreateRoomInput{})
		_, err := e.svc.UpdateRoomSettings(asUser(host.ID), locked.Room.ID, service.UpdateRoomSettingsInput{IsLocked: ptr(true)})
		mustNoErr(t, err)
		ended := e.room(t, host.ID, service.CreateRoomInput{})
		e.end(t, host.ID, ended.Room.ID)
		badTokenRoom := e.room(t, host.ID, service.CreateRoomInput{})

		refusals := []struct {
			name      string
			ctx       context.Context
			code      string
			guestName *string
			want      apperr.Code
			reason    apperr.Reason
		}{
			{"guest in a room without guest access", anon(), noGuests.Room.Code, ptr("Gus"), apperr.Forbidden, "GUESTS_NOT_ALLOWED"},
			{"user in a locked room", asUser(ann.ID), locked.Room.Code, nil, apperr.Forbidden, "ROOM_LOCKED"},
			{"guest in a locked room", anon(), locked.Room.Code, ptr("Gus"), apperr.Forbidden, "ROOM_LOCKED"},
			{"user in an ended room", asUser(ann.ID), ended.Room.Code, nil, apperr.Conflict, "ROOM_ENDED"},
			{"guest in an ended room", anon(), ended.Room.Code, ptr("Gus"), apperr.Conflict, "ROOM_ENDED"},
			{"host in their ended room", asUser(host.ID), ended.Room.Code, nil, apperr.Conflict, "ROOM_ENDED"},
			{"unknown code", asUser(ann.ID), "zzz-zzz-zzz", nil, apperr.NotFound, ""},
			{"unknown code as a guest", anon(), "zzz-zzz-zzz", ptr("Gus"), apperr.NotFound, ""},
			{"empty code", asUser(ann.ID), "", nil, apperr.NotFound, ""},
			// A bad token is refused, not silently treated as a guest.
			{"invalid token with a guest name", asBadToken(), badTokenRoom.Room.Code, ptr("Gus"), apperr.Unauthenticated, ""},
			{"deleted user's token", asUser("cnosuchuser000000000000000"), badTokenRoom.Room.Code, nil, apperr.Unauthenticated, ""},
		}
		for _, c := range refusals {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.JoinRoom(c.ctx, c.code, c.guestName)
					if res != nil {
						t.Errorf("got a participant with the error: %+v", res.Participant)
					}
					wantErr(t, err, c.want, c.reason)
				})
			})
		}

		t.Run("signed-in user in a room without guest access", func(t *testing.T) {
			e.join(t, asUser(ann.ID), noGuests.Room.Code, nil)
		})
		t.Run("host in their locked room", func(t *testing.T) {
			j := e.join(t, asUser(host.ID), locked.Room.Code, nil)
			if !j.Participant.IsHost {
				t.Fatalf("host joined as %+v, want isHost", j.Participant)
			}
		})
		t.Run("user after the room is unlocked", func(t *testing.T) {
			_, err := e.svc.UpdateRoomSettings(asUser(host.ID), locked.Room.ID, service.UpdateRoomSettingsInput{IsLocked: ptr(false)})
			mustNoErr(t, err)
			e.join(t, asUser(ann.ID), locked.Room.Code, nil)
		})
		t.Run("guest after guest access is allowed", func(t *testing.T) {
			_, err := e.svc.UpdateRoomSettings(asUser(host.ID), noGuests.Room.ID, service.UpdateRoomSettingsInput{AllowGuestAccess: ptr(true)})
			mustNoErr(t, err)
			e.joinGuest(t, noGuests.Room.Code, "Gus")
		})
	})
}

func TestJoinRoom_FullRoomRefusesNewcomers(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann, ben := e.user(t, "Host"), e.user(t, "Ann"), e.user(t, "Ben")
		room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(3)})
		pAnn := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		e.joinGuest(t, room.Room.Code, "Gus")
		e.join(t, asUser(host.ID), room.Room.Code, nil) // the host counts too

		for name, join := range map[string]func() (*service.JoinResult, error){
			"user":  func() (*service.JoinResult, error) { return e.svc.JoinRoom(asUser(ben.ID), room.Room.Code, nil) },
			"guest": func() (*service.JoinResult, error) { return e.svc.JoinRoom(anon(), room.Room.Code, ptr("Gil")) },
		} {
			t.Run(name, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := join()
					wantErr(t, err, apperr.Conflict, "ROOM_FULL")
				})
			})
		}
		// Someone leaving frees a seat, for exactly one newcomer.
		e.leave(t, asUser(ann.ID), pAnn.Participant.ID)
		e.join(t, asUser(ben.ID), room.Room.Code, nil)
		_, err := e.svc.JoinRoom(anon(), room.Room.Code, ptr("Gil"))
		wantErr(t, err, apperr.Conflict, "ROOM_FULL")
		if n := e.activeParticipants(t, room.Room.ID); n != 3 {
			t.Fatalf("%d active participants, want 3", n)
		}
		// A cap lowered to the head count keeps newcomers out.
		e.leave(t, asUser(ben.ID), e.loadActiveParticipantOf(t, room.Room.ID, ben.ID).ID)
		_, err = e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{MaxParticipants: ptr(2)})
		mustNoErr(t, err)
		_, err = e.svc.JoinRoom(asUser(ann.ID), room.Room.Code, nil)
		wantErr(t, err, apperr.Conflict, "ROOM_FULL")
	})
}

func (e *env) loadActiveParticipantOf(t testing.TB, roomID, userID string) *models.Participant {
	t.Helper()
	p := new(models.Participant)
	if err := e.db.NewSelect().Model(p).Where("room_id = ? AND user_id = ? AND is_active = ?", roomID, userID, true).
		Scan(context.Background()); err != nil {
		t.Fatalf("load %s's participant in %s: %v", userID, roomID, err)
	}
	return p
}

func TestJoinRoom_CodeIsMatchedCaseInsensitivelyAndTrimmed(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		e.room(t, host.ID, service.CreateRoomInput{}) // a decoy: the code must pick the right room
		code := room.Room.Code
		for _, typed := range []string{
			strings.ToUpper(code),
			"  " + code + "  ",
			"\t" + strings.ToUpper(code[:5]) + code[5:] + "\n",
		} {
			t.Run(typed, func(t *testing.T) {
				j := e.joinGuest(t, typed, "Gus")
				if j.Participant.RoomID != room.Room.ID {
					t.Fatalf("joined room %s, want %s", j.Participant.RoomID, room.Room.ID)
				}
			})
		}
	})
}

// The participant token is a distinct kind of token: it names the
// participant and its room, and never passes as a user token (nor a user
// token as it).
func TestJoinRoom_ParticipantTokenIsScopedToTheParticipant(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		reg, err := e.svc.Register(anon(), service.RegisterInput{Email: "host@example.com", Password: "password1", DisplayName: "Host"})
		mustNoErr(t, err)
		room := e.room(t, reg.User.ID, service.CreateRoomInput{})
		for name, ctx := range map[string]context.Context{"guest": anon(), "user": asUser(reg.User.ID)} {
			t.Run(name, func(t *testing.T) {
				j := e.join(t, ctx, room.Room.Code, ptr("Gus"))
				pid, rid, err := e.tokens.ParseParticipant(j.ParticipantToken)
				mustNoErr(t, err)
				if pid != j.Participant.ID || rid != room.Room.ID {
					t.Fatalf("token names participant %s room %s, want %s %s", pid, rid, j.Participant.ID, room.Room.ID)
				}
				if uid, err := e.tokens.ParseUser(j.ParticipantToken); err == nil {
					t.Fatalf("participant token passed as a user token for %q", uid)
				}
			})
		}
		if _, _, err := e.tokens.ParseParticipant(reg.AccessToken); err == nil {
			t.Fatal("user token passed as a participant token")
		}
	})
}

func TestJoinRoom_FirstJoinStartsTheRoom(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		if got := e.loadRoom(t, room.Room.ID).StartedAt; got != nil {
			t.Fatalf("a new room is started at %v", got)
		}
		// A refused join does not start the room.
		_, err := e.svc.JoinRoom(anon(), room.Room.Code, ptr(""))
		wantInvalid(t, err, "guestName")
		if got := e.loadRoom(t, room.Room.ID).StartedAt; got != nil {
			t.Fatalf("a refused join started the room at %v", got)
		}

		first := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		started := e.loadRoom(t, room.Room.ID).StartedAt
		if started == nil || !started.Equal(first.Participant.JoinedAt) {
			t.Fatalf("startedAt %v, want the first joinedAt %v", started, first.Participant.JoinedAt)
		}
		e.joinGuest(t, room.Room.Code, "Gus")
		e.join(t, asUser(host.ID), room.Room.Code, nil)
		if again := e.loadRoom(t, room.Room.ID).StartedAt; again == nil || !again.Equal(*started) {
			t.Fatalf("later joins moved startedAt from %v to %v", started, again)
		}
	})
}

func TestLeaveRoom_ParticipantItsUserOrTheHostMayLeave(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann := e.user(t, "Host"), e.user(t, "Ann")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		cases := []struct {
			name string
			join func(t testing.TB) *service.JoinResult
			ctx  func(j *service.JoinResult) context.Context
		}{
			{"guest with its participant token",
				func(t testing.TB) *service.JoinResult { return e.joinGuest(t, room.Room.Code, "Gus") },
				asGuest},
			{"user with their participant token",
				func(t testing.TB) *service.JoinResult { return e.join(t, asUser(ann.ID), room.Room.Code, nil) },
				asGuest},
			{"user with their own user token",
				func(t testing.TB) *service.JoinResult { return e.join(t, asUser(ann.ID), room.Room.Code, nil) },
				func(*service.JoinResult) context.Context { return asUser(ann.ID) }},
			{"host removing a guest",
				func(t testing.TB) *service.JoinResult { return e.joinGuest(t, room.Room.Code, "Gus") },
				func(*service.JoinResult) context.Context { return asUser(host.ID) }},
			{"host removing a user",
				func(t testing.TB) *service.JoinResult { return e.join(t, asUser(ann.ID), room.Room.Code, nil) },
				func(*service.JoinResult) context.Context { return asUser(host.ID) }},
			{"host leaving their own room",
				func(t testing.TB) *service.JoinResult { return e.join(t, asUser(host.ID), room.Room.Code, nil) },
				func(*service.JoinResult) context.Context { return asUser(host.ID) }},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				j := c.join(t)
				bystander := e.joinGuest(t, room.Room.Code, "Bystander")
				before := models.Now()
				got, err := e.svc.LeaveRoom(c.ctx(j), j.Participant.ID)
				mustNoErr(t, err)
				if got.ID != j.Participant.ID || got.IsActive || got.LeftAt == nil || got.LeftAt.Before(before) {
					t.Fatalf("returned %+v, want participant %s inactive with leftAt >= %v", got, j.Participant.ID, before)
				}
				stored := e.loadParticipant(t, j.Participant.ID)
				if stored.IsActive || stored.LeftAt == nil || !stored.LeftAt.Equal(*got.LeftAt) {
					t.Fatalf("stored active=%v leftAt=%v, want inactive, left at %v", stored.IsActive, stored.LeftAt, got.LeftAt)
				}
				if !stored.JoinedAt.Equal(j.Participant.JoinedAt) {
					t.Fatalf("leaving moved joinedAt from %v to %v", j.Participant.JoinedAt, stored.JoinedAt)
				}
				if b := e.loadParticipant(t, bystander.Participant.ID); !b.IsActive || b.LeftAt != nil {
					t.Fatalf("leaving released another participant too: %+v", b)
				}
				e.leave(t, asGuest(bystander), bystander.Participant.ID)
			})
		}
	})
}

func TestLeaveRoom_RefusesEveryoneElse(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann, mallory := e.user(t, "Host"), e.user(t, "Ann"), e.user(t, "Mallory")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		otherRoom := e.room(t, mallory.ID, service.CreateRoomInput{})
		pAnn := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		pGuest := e.joinGuest(t, room.Room.Code, "Gus")
		pMallory := e.join(t, asUser(mallory.ID), room.Room.Code, nil)
		pElsewhere := e.joinGuest(t, otherRoom.Room.Code, "Eve")

		cases := []struct {
			name   string
			ctx    context.Context
			target string
			code   apperr.Code
		}{
			{"another user (a fellow participant)", asUser(mallory.ID), pAnn.Participant.ID, apperr.Forbidden},
			{"a host of another room", asUser(mallory.ID), pGuest.Participant.ID, apperr.Forbidden},
			{"another participant's token, same room", asGuest(pGuest), pAnn.Participant.ID, apperr.Forbidden},
			{"a user's participant token, for another participant", asGuest(pMallory), pGuest.Participant.ID, apperr.Forbidden},
			{"a participant token from another room", asGuest(pElsewhere), pGuest.Participant.ID, apperr.Forbidden},
			{"anonymous", anon(), pAnn.Participant.ID, apperr.Unauthenticated},
			{"invalid token", asBadToken(), pGuest.Participant.ID, apperr.Unauthenticated},
			{"deleted user's token", asUser("cnosuchuser000000000000000"), pAnn.Participant.ID, apperr.Unauthenticated},
			{"unknown participant", asUser(host.ID), "cnosuchparticipant00000000", apperr.NotFound},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.LeaveRoom(c.ctx, c.target)
					if res != nil {
						t.Errorf("got a participant with the error: %+v", res)
					}
					wantErr(t, err, c.code, "")
				})
			})
		}
	})
}

func TestLeaveRoom_LeavingTwiceIsAConflict(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		ended := e.room(t, host.ID, service.CreateRoomInput{})
		j := e.joinGuest(t, room.Room.Code, "Gus")
		first := e.leave(t, asGuest(j), j.Participant.ID)
		inEnded := e.joinGuest(t, ended.Room.Code, "Gil")
		e.end(t, host.ID, ended.Room.ID)

		for name, c := range map[string]struct {
			ctx context.Context
			id  string
		}{
			"by the participant": {asGuest(j), j.Participant.ID},
			"by the host":        {asUser(host.ID), j.Participant.ID},
			"after the room ended, by the participant": {asGuest(inEnded), inEnded.Participant.ID},
		} {
			t.Run(name, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.LeaveRoom(c.ctx, c.id)
					wantErr(t, err, apperr.Conflict, "ALREADY_LEFT")
				})
			})
		}
		if got := e.loadParticipant(t, j.Participant.ID).LeftAt; got == nil || !got.Equal(*first.LeftAt) {
			t.Fatalf("leftAt moved from %v to %v", first.LeftAt, got)
		}
	})
}
