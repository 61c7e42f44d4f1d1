package service_test

import (
	"context"
	"fmt"
	"regexp"
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

var roomCodePattern = regexp.MustCompile(`^[a-z]{3}-[a-z]{3}-[a-z]{3}$`)

func TestCreateRoom_RejectsInvalidInputAndCreatesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		in    service.CreateRoomInput
		field string
	}{
		{"name empty", service.CreateRoomInput{Name: ptr("")}, "name"},
		{"name only whitespace", service.CreateRoomInput{Name: ptr(" \t\n ")}, "name"},
		{"name 101 chars", service.CreateRoomInput{Name: ptr(strings.Repeat("r", 101))}, "name"},
		{"name 101 multi-byte chars", service.CreateRoomInput{Name: ptr(strings.Repeat("ü", 101))}, "name"},
		{"name with a NUL byte", service.CreateRoomInput{Name: ptr("Room\x00")}, "name"},
		{"name not UTF-8", service.CreateRoomInput{Name: ptr("\xff\xfe")}, "name"},
		{"maxParticipants 1", service.CreateRoomInput{MaxParticipants: ptr(1)}, "maxParticipants"},
		{"maxParticipants 0", service.CreateRoomInput{MaxParticipants: ptr(0)}, "maxParticipants"},
		{"maxParticipants negative", service.CreateRoomInput{MaxParticipants: ptr(-3)}, "maxParticipants"},
		{"maxParticipants 101", service.CreateRoomInput{MaxParticipants: ptr(101)}, "maxParticipants"},
		{"valid name, invalid maxParticipants", service.CreateRoomInput{Name: ptr("Fine"), MaxParticipants: ptr(101), AllowChat: ptr(false)}, "maxParticipants"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		e.room(t, host.ID, service.CreateRoomInput{})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.CreateRoom(asUser(host.ID), c.in)
					if res != nil {
						t.Errorf("got a room with the error: %+v", res.Room)
					}
					wantInvalid(t, err, c.field)
				})
			})
		}
	})
}

func TestCreateRoom_AcceptsBoundaryValues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		in       service.CreateRoomInput
		wantName string
		wantMax  int
	}{
		{"name 1 char", service.CreateRoomInput{Name: ptr("A")}, "A", 50},
		{"name 100 chars", service.CreateRoomInput{Name: ptr(strings.Repeat("r", 100))}, strings.Repeat("r", 100), 50},
		{"name 100 multi-byte chars", service.CreateRoomInput{Name: ptr(strings.Repeat("ü", 100))}, strings.Repeat("ü", 100), 50},
		{"name trimmed", service.CreateRoomInput{Name: ptr("  Standup  ")}, "Standup", 50},
		{"maxParticipants 2", service.CreateRoomInput{MaxParticipants: ptr(2)}, "Meeting Room", 2},
		{"maxParticipants 100", service.CreateRoomInput{MaxParticipants: ptr(100)}, "Meeting Room", 100},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				res, err := e.svc.CreateRoom(asUser(host.ID), c.in)
				mustNoErr(t, err)
				if res.Room.Name != c.wantName || res.Settings.MaxParticipants != c.wantMax {
					t.Errorf("returned name %q max %d, want %q %d", res.Room.Name, res.Settings.MaxParticipants, c.wantName, c.wantMax)
				}
				room, settings := e.loadRoom(t, res.Room.ID), e.loadSettings(t, res.Room.ID)
				if room.Name != c.wantName || settings.MaxParticipants != c.wantMax {
					t.Errorf("stored name %q max %d, want %q %d", room.Name, settings.MaxParticipants, c.wantName, c.wantMax)
				}
			})
		}
	})
}

func TestCreateRoom_DefaultsMakeAnOpenActiveRoom(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		before := models.Now()
		res, err := e.svc.CreateRoom(asUser(host.ID), service.CreateRoomInput{})
		mustNoErr(t, err)

		room := e.loadRoom(t, res.Room.ID)
		if room.Name != "Meeting Room" || room.HostID != host.ID || !room.IsActive || room.IsLocked ||
			room.StartedAt != nil || room.EndedAt != nil {
			t.Fatalf("stored room %+v, want an active, unlocked, unstarted %q hosted by %s", room, "Meeting Room", host.ID)
		}
		if room.CreatedAt.Before(before) || !room.UpdatedAt.Equal(room.CreatedAt) {
			t.Fatalf("createdAt %v updatedAt %v, want both now (>= %v)", room.CreatedAt, room.UpdatedAt, before)
		}
		if !roomCodePattern.MatchString(room.Code) || room.Code != res.Room.Code {
			t.Fatalf("code %q (returned %q), want xxx-xxx-xxx", room.Code, res.Room.Code)
		}
		want := models.RoomSettings{
			ID: res.Settings.ID, RoomID: room.ID,
			AllowChat: true, AllowScreenShare: true, AllowGuestAccess: true,
			WaitingRoom: false, MuteParticipantsOnJoin: false, MaxParticipants: 50,
			AllowParticipantVideo: true, AllowParticipantAudio: true,
		}
		if got := *e.loadSettings(t, room.ID); got != want {
			t.Fatalf("stored settings %+v, want %+v", got, want)
		}
		if *res.Settings != want {
			t.Fatalf("returned settings %+v, want %+v", *res.Settings, want)
		}
		if e.count(t, "room_settings", "room_id = ?", room.ID) != 1 {
			t.Fatal("a room must have exactly one settings row")
		}
	})
}

func TestCreateRoom_StoresEveryOptionGiven(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		// Each option set to the opposite of its default.
		res := e.room(t, host.ID, service.CreateRoomInput{
			Name: ptr("Board"), MaxParticipants: ptr(7),
			WaitingRoom: ptr(true), AllowChat: ptr(false), AllowScreenShare: ptr(false),
			AllowGuestAccess: ptr(false), MuteParticipantsOnJoin: ptr(true),
			AllowParticipantVideo: ptr(false), AllowParticipantAudio: ptr(false),
		})
		want := models.RoomSettings{
			ID: res.Settings.ID, RoomID: res.Room.ID,
			AllowChat: false, AllowScreenShare: false, AllowGuestAccess: false,
			WaitingRoom: true, MuteParticipantsOnJoin: true, MaxParticipants: 7,
			AllowParticipantVideo: false, AllowParticipantAudio: false,
		}
		if got := *e.loadSettings(t, res.Room.ID); got != want {
			t.Fatalf("stored settings %+v, want %+v", got, want)
		}
		if got := e.loadRoom(t, res.Room.ID).Name; got != "Board" {
			t.Fatalf("stored name %q, want Board", got)
		}
	})
}

func TestCreateRoom_CodesAreUniqueAndWellFormed(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		const n = 150
		seen := map[string]bool{}
		for i := 0; i < n; i++ {
			r := e.room(t, host.ID, service.CreateRoomInput{})
			if !roomCodePattern.MatchString(r.Room.Code) {
				t.Fatalf("code %q does not match %s", r.Room.Code, roomCodePattern)
			}
			if seen[r.Room.Code] {
				t.Fatalf("code %q issued twice", r.Room.Code)
			}
			seen[r.Room.Code] = true
		}
		var distinct int
		mustNoErr(t, bdb.QueryRowContext(context.Background(), "SELECT count(DISTINCT code) FROM rooms").Scan(&distinct))
		if distinct != n {
			t.Fatalf("%d distinct codes stored for %d rooms", distinct, n)
		}
		// Codes are random, not a sequence: every letter position varies.
		for pos := 0; pos < 11; pos++ {
			if pos == 3 || pos == 7 {
				continue
			}
			letters := map[byte]bool{}
			for c := range seen {
				letters[c[pos]] = true
			}
			if len(letters) < 5 {
				t.Fatalf("position %d of %d codes takes only %d letters", pos, n, len(letters))
			}
		}
	})
}

func TestCreateRoom_RequiresASignedInUser(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		for name, ctx := range map[string]context.Context{
			"anonymous":         anon(),
			"invalid token":     asBadToken(),
			"participant token": asGuest(guest),
			"deleted user":      asUser("cnosuchuser000000000000000"),
		} {
			t.Run(name, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.CreateRoom(ctx, service.CreateRoomInput{Name: ptr("Sneaky")})
					wantErr(t, err, apperr.Unauthenticated, "")
				})
			})
		}
	})
}

// roomState is what UpdateRoomSettings may change.
type roomState struct {
	Name     string
	IsLocked bool
	Settings models.RoomSettings
}

func (e *env) roomState(t testing.TB, roomID string) roomState {
	t.Helper()
	r := e.loadRoom(t, roomID)
	return roomState{Name: r.Name, IsLocked: r.IsLocked, Settings: *e.loadSettings(t, roomID)}
}

func TestUpdateRoomSettings_AppliesOnlyTheFieldsGiven(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		res := e.room(t, host.ID, service.CreateRoomInput{Name: ptr("Original"), MaxParticipants: ptr(20)})
		id := res.Room.ID
		other := e.room(t, host.ID, service.CreateRoomInput{Name: ptr("Other")})
		otherBefore := e.roomState(t, other.Room.ID)

		steps := []struct {
			name   string
			in     service.UpdateRoomSettingsInput
			change func(s *roomState)
		}{
			{"nothing", service.UpdateRoomSettingsInput{}, func(s *roomState) {}},
			{"allowChat and maxParticipants", service.UpdateRoomSettingsInput{AllowChat: ptr(false), MaxParticipants: ptr(10)},
				func(s *roomState) { s.Settings.AllowChat = false; s.Settings.MaxParticipants = 10 }},
			{"name (trimmed) and lock", service.UpdateRoomSettingsInput{Name: ptr("  Renamed  "), IsLocked: ptr(true)},
				func(s *roomState) { s.Name = "Renamed"; s.IsLocked = true }},
			{"waitingRoom", service.UpdateRoomSettingsInput{WaitingRoom: ptr(true)},
				func(s *roomState) { s.Settings.WaitingRoom = true }},
			{"allowScreenShare", service.UpdateRoomSettingsInput{AllowScreenShare: ptr(false)},
				func(s *roomState) { s.Settings.AllowScreenShare = false }},
			{"allowGuestAccess", service.UpdateRoomSettingsInput{AllowGuestAccess: ptr(false)},
				func(s *roomState) { s.Settings.AllowGuestAccess = false }},
			{"muteParticipantsOnJoin", service.UpdateRoomSettingsInput{MuteParticipantsOnJoin: ptr(true)},
				func(s *roomState) { s.Settings.MuteParticipantsOnJoin = true }},
			{"unlock and the boundaries", service.UpdateRoomSettingsInput{IsLocked: ptr(false), MaxParticipants: ptr(100), Name: ptr(strings.Repeat("n", 100))},
				func(s *roomState) {
					s.IsLocked = false
					s.Settings.MaxParticipants = 100
					s.Name = strings.Repeat("n", 100)
				}},
			{"lower boundaries", service.UpdateRoomSettingsInput{MaxParticipants: ptr(2), Name: ptr("N")},
				func(s *roomState) { s.Settings.MaxParticipants = 2; s.Name = "N" }},
			{"every setting back", service.UpdateRoomSettingsInput{
				AllowChat: ptr(true), AllowScreenShare: ptr(true), AllowGuestAccess: ptr(true),
				WaitingRoom: ptr(false), MuteParticipantsOnJoin: ptr(false), MaxParticipants: ptr(50)},
				func(s *roomState) {
					s.Settings.AllowChat, s.Settings.AllowScreenShare, s.Settings.AllowGuestAccess = true, true, true
					s.Settings.WaitingRoom, s.Settings.MuteParticipantsOnJoin, s.Settings.MaxParticipants = false, false, 50
				}},
		}
		for _, step := range steps {
			t.Run(step.name, func(t *testing.T) {
				want := e.roomState(t, id)
				step.change(&want)
				beforeUpdate := e.loadRoom(t, id).UpdatedAt
				got, err := e.svc.UpdateRoomSettings(asUser(host.ID), id, step.in)
				mustNoErr(t, err)
				if stored := e.roomState(t, id); stored != want {
					t.Fatalf("stored %+v\nwant   %+v", stored, want)
				}
				returned := roomState{Name: got.Room.Name, IsLocked: got.Room.IsLocked, Settings: *got.Settings}
				if returned != want {
					t.Fatalf("returned %+v\nwant     %+v", returned, want)
				}
				if after := e.loadRoom(t, id).UpdatedAt; after.Before(beforeUpdate) {
					t.Fatalf("updatedAt went back from %v to %v", beforeUpdate, after)
				}
			})
		}
		if got := e.roomState(t, other.Room.ID); got != otherBefore {
			t.Fatalf("another room changed: %+v -> %+v", otherBefore, got)
		}
	})
}

// An update with any invalid value changes nothing at all, not even the
// valid fields of the same call.
func TestUpdateRoomSettings_InvalidInputChangesNothing(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		in    service.UpdateRoomSettingsInput
		field string
	}{
		{"name empty", service.UpdateRoomSettingsInput{Name: ptr("")}, "name"},
		{"name only whitespace", service.UpdateRoomSettingsInput{Name: ptr("   ")}, "name"},
		{"name 101 chars", service.UpdateRoomSettingsInput{Name: ptr(strings.Repeat("r", 101))}, "name"},
		{"name with a NUL byte", service.UpdateRoomSettingsInput{Name: ptr("Room\x00")}, "name"},
		{"maxParticipants 1", service.UpdateRoomSettingsInput{MaxParticipants: ptr(1)}, "maxParticipants"},
		{"maxParticipants 101", service.UpdateRoomSettingsInput{MaxParticipants: ptr(101)}, "maxParticipants"},
		{"valid settings with an invalid maxParticipants", service.UpdateRoomSettingsInput{
			Name: ptr("Renamed"), IsLocked: ptr(true), AllowChat: ptr(false), WaitingRoom: ptr(true), MaxParticipants: ptr(0)}, "maxParticipants"},
		{"valid settings with an invalid name", service.UpdateRoomSettingsInput{
			Name: ptr(""), IsLocked: ptr(true), AllowGuestAccess: ptr(false), MaxParticipants: ptr(10)}, "name"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{Name: ptr("Original")})
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					res, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, c.in)
					if res != nil {
						t.Errorf("got a result with the error: %+v", res.Room)
					}
					wantInvalid(t, err, c.field)
				})
			})
		}
	})
}

func TestUpdateRoomSettings_OnlyTheHostMayChangeAnActiveRoom(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, mallory, stranger := e.user(t, "Host"), e.user(t, "Mallory"), e.user(t, "Stranger")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		ended := e.room(t, host.ID, service.CreateRoomInput{})
		e.end(t, host.ID, ended.Room.ID)
		// A participant is not a host, whether by user or participant token.
		member := e.join(t, asUser(mallory.ID), room.Room.Code, nil)
		guest := e.joinGuest(t, room.Room.Code, "Gus")

		change := service.UpdateRoomSettingsInput{Name: ptr("Hijacked"), IsLocked: ptr(true), MaxParticipants: ptr(3)}
		cases := []struct {
			name   string
			ctx    context.Context
			roomID string
			code   apperr.Code
			reason apperr.Reason
		}{
			{"a stranger", asUser(stranger.ID), room.Room.ID, apperr.Forbidden, "NOT_HOST"},
			{"a participant's user", asUser(*member.Participant.UserID), room.Room.ID, apperr.Forbidden, "NOT_HOST"},
			{"a guest's participant token", asGuest(guest), room.Room.ID, apperr.Unauthenticated, ""},
			{"anonymous", anon(), room.Room.ID, apperr.Unauthenticated, ""},
			{"invalid token", asBadToken(), room.Room.ID, apperr.Unauthenticated, ""},
			{"unknown room", asUser(host.ID), "cnosuchroom000000000000000", apperr.NotFound, ""},
			{"ended room", asUser(host.ID), ended.Room.ID, apperr.Conflict, "ROOM_ENDED"},
			{"a stranger on an ended room", asUser(stranger.ID), ended.Room.ID, apperr.Forbidden, "NOT_HOST"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.UpdateRoomSettings(c.ctx, c.roomID, change)
					wantErr(t, err, c.code, c.reason)
				})
			})
		}
		// The host may.
		_, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, change)
		mustNoErr(t, err)
		if got := e.roomState(t, room.Room.ID); got.Name != "Hijacked" || !got.IsLocked || got.Settings.MaxParticipants != 3 {
			t.Fatalf("host's update not applied: %+v", got)
		}
	})
}

func TestEndRoom_EndsTheRoomAndReleasesEveryoneAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, ann, ben := e.user(t, "Host"), e.user(t, "Ann"), e.user(t, "Ben")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		other := e.room(t, host.ID, service.CreateRoomInput{})

		pHost := e.join(t, asUser(host.ID), room.Room.Code, nil)
		pAnn := e.join(t, asUser(ann.ID), room.Room.Code, nil)
		pGuest := e.joinGuest(t, room.Room.Code, "Gus")
		pBen := e.join(t, asUser(ben.ID), room.Room.Code, nil)
		e.leave(t, asUser(ben.ID), pBen.Participant.ID)
		// Ben left long ago; ending the room must not rewrite history.
		benLeft := time.Date(2020, 1, 2, 3, 4, 5, 6e6, time.UTC)
		dbtest.Exec(t, bdb, "UPDATE participants SET left_at = ? WHERE id = ?", benLeft, pBen.Participant.ID)
		pOther := e.join(t, asUser(ann.ID), other.Room.Code, nil)

		before := models.Now()
		ended, err := e.svc.EndRoom(asUser(host.ID), room.Room.ID)
		mustNoErr(t, err)
		if ended.IsActive || ended.EndedAt == nil || ended.EndedAt.Before(before) {
			t.Fatalf("returned room active=%v endedAt=%v, want ended at or after %v", ended.IsActive, ended.EndedAt, before)
		}
		stored := e.loadRoom(t, room.Room.ID)
		if stored.IsActive || stored.EndedAt == nil || !stored.EndedAt.Equal(*ended.EndedAt) {
			t.Fatalf("stored room active=%v endedAt=%v, want ended at %v", stored.IsActive, stored.EndedAt, ended.EndedAt)
		}
		endedAt := *stored.EndedAt
		for _, id := range []string{pHost.Participant.ID, pAnn.Participant.ID, pGuest.Participant.ID} {
			p := e.loadParticipant(t, id)
			if p.IsActive || p.LeftAt == nil || !p.LeftAt.Equal(endedAt) {
				t.Errorf("participant %s: active=%v leftAt=%v, want left at endedAt %v", id, p.IsActive, p.LeftAt, endedAt)
			}
		}
		if p := e.loadParticipant(t, pBen.Participant.ID); p.IsActive || p.LeftAt == nil || !p.LeftAt.Equal(benLeft) {
			t.Errorf("Ben, who left earlier: active=%v leftAt=%v, want his own leftAt %v", p.IsActive, p.LeftAt, benLeft)
		}
		if n := e.activeParticipants(t, room.Room.ID); n != 0 {
			t.Errorf("%d participants still active in the ended room", n)
		}
		// Another room of the same host is untouched.
		if r := e.loadRoom(t, other.Room.ID); !r.IsActive || r.EndedAt != nil {
			t.Errorf("other room ended too: %+v", r)
		}
		if p := e.loadParticipant(t, pOther.Participant.ID); !p.IsActive || p.LeftAt != nil {
			t.Errorf("participant of another room released: %+v", p)
		}
	})
}

func TestEndRoom_OnlyTheHostMayEndAnActiveRoomOnce(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host, mallory := e.user(t, "Host"), e.user(t, "Mallory")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		guest := e.joinGuest(t, room.Room.Code, "Gus")
		e.join(t, asUser(mallory.ID), room.Room.Code, nil)

		refusals := []struct {
			name   string
			ctx    context.Context
			roomID string
			code   apperr.Code
			reason apperr.Reason
		}{
			{"a participant who is not the host", asUser(mallory.ID), room.Room.ID, apperr.Forbidden, "NOT_HOST"},
			{"a guest's participant token", asGuest(guest), room.Room.ID, apperr.Unauthenticated, ""},
			{"anonymous", anon(), room.Room.ID, apperr.Unauthenticated, ""},
			{"invalid token", asBadToken(), room.Room.ID, apperr.Unauthenticated, ""},
			{"unknown room", asUser(host.ID), "cnosuchroom000000000000000", apperr.NotFound, ""},
		}
		for _, c := range refusals {
			t.Run(c.name, func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.EndRoom(c.ctx, c.roomID)
					wantErr(t, err, c.code, c.reason)
				})
			})
		}
		first := e.end(t, host.ID, room.Room.ID)
		t.Run("ending again", func(t *testing.T) {
			e.unchanged(t, func() {
				_, err := e.svc.EndRoom(asUser(host.ID), room.Room.ID)
				wantErr(t, err, apperr.Conflict, "ROOM_ENDED")
			})
			if got := e.loadRoom(t, room.Room.ID).EndedAt; got == nil || !got.Equal(*first.EndedAt) {
				t.Fatalf("endedAt moved from %v to %v", first.EndedAt, got)
			}
		})
	})
}

// Each user may create so many rooms; a refused one writes nothing, and
// other users are untouched.
func TestCreateRoom_LimitedPerUser(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb, withLimits(map[ratelimit.Op]ratelimit.Rates{ratelimit.CreateRoom: {PerAccount: ratelimit.Rate{N: 2, Per: time.Hour}}}))
		ada, bob := e.user(t, "Ada"), e.user(t, "Bob")
		for i := 0; i < 2; i++ {
			_, err := e.svc.CreateRoom(asUser(ada.ID), service.CreateRoomInput{})
			mustNoErr(t, err)
		}
		e.unchanged(t, func() {
			_, err := e.svc.CreateRoom(asUser(ada.ID), service.CreateRoomInput{})
			wantErr(t, err, apperr.TooManyRequests, "")
		})
		_, err := e.svc.CreateRoom(asUser(bob.ID), service.CreateRoomInput{})
		mustNoErr(t, err)
	})
}

// A host may lower the capacity to the number of people present, never
// below it: nobody is pushed out to make the cap fit, and a room never
// holds more people than its settings say.
func TestUpdateRoomSettings_CapacityCannotGoBelowWhoIsPresent(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(10)})
		e.join(t, asUser(host.ID), room.Room.Code, nil)
		var guests []*service.JoinResult
		for i := range 4 {
			guests = append(guests, e.joinGuest(t, room.Room.Code, fmt.Sprintf("Guest %d", i)))
		}
		for _, lowered := range []int{2, 4} {
			t.Run(fmt.Sprintf("5 present, lowered to %d", lowered), func(t *testing.T) {
				e.unchanged(t, func() {
					_, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID,
						service.UpdateRoomSettingsInput{Name: ptr("Renamed"), MaxParticipants: ptr(lowered)})
					if ev := wantInvalid(t, err, "maxParticipants"); ev.Reason != apperr.BelowActiveParticipants {
						t.Fatalf("reason %q, want %s", ev.Reason, apperr.BelowActiveParticipants)
					}
				})
			})
		}
		res, err := e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{MaxParticipants: ptr(5)})
		mustNoErr(t, err)
		if res.Settings.MaxParticipants != 5 {
			t.Fatalf("lowered to exactly who is present: maxParticipants %d, want 5", res.Settings.MaxParticipants)
		}
		// Once someone leaves, the cap may follow them down.
		e.leave(t, asGuest(guests[0]), guests[0].Participant.ID)
		_, err = e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{MaxParticipants: ptr(4)})
		mustNoErr(t, err)
		// Raising is never refused, whoever is present.
		_, err = e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{MaxParticipants: ptr(100)})
		mustNoErr(t, err)
		if got := e.loadSettings(t, room.Room.ID).MaxParticipants; got != 100 {
			t.Fatalf("maxParticipants %d, want 100", got)
		}
	})
}
