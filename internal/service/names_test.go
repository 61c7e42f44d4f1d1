package service_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/models"
)

// nameEntry is one way a name enters the service; it returns the name as
// stored.
type nameEntry struct {
	field string
	set   func(t *testing.T, e *env, name string) (string, error)
}

// nameEntries are every operation that takes a name people choose and
// others see.
func nameEntries(hostID, code, roomID string) map[string]nameEntry {
	stored := func(u *models.User, err error) (string, error) {
		if err != nil {
			return "", err
		}
		return u.DisplayName, nil
	}
	return map[string]nameEntry{
		"register": {"displayName", func(t *testing.T, e *env, name string) (string, error) {
			res, err := e.svc.Register(anon(), service.RegisterInput{Email: fmt.Sprintf("names.%d@example.com", emailSeq.Add(1)), Password: "correct horse", DisplayName: name})
			if err != nil {
				return "", err
			}
			return stored(e.loadUser(t, res.User.ID), nil)
		}},
		"updateProfile": {"displayName", func(t *testing.T, e *env, name string) (string, error) {
			_, err := e.svc.UpdateProfile(asUser(hostID), service.UpdateProfileInput{DisplayName: &name})
			return stored(e.loadUser(t, hostID), err)
		}},
		"joinRoom": {"guestName", func(t *testing.T, e *env, name string) (string, error) {
			j, err := e.svc.JoinRoom(anon(), code, &name)
			if err != nil {
				return "", err
			}
			return *e.loadParticipant(t, j.Participant.ID).GuestName, nil
		}},
		"createRoom": {"name", func(t *testing.T, e *env, name string) (string, error) {
			r, err := e.svc.CreateRoom(asUser(hostID), service.CreateRoomInput{Name: &name})
			if err != nil {
				return "", err
			}
			return e.loadRoom(t, r.Room.ID).Name, nil
		}},
		"updateRoomSettings": {"name", func(t *testing.T, e *env, name string) (string, error) {
			_, err := e.svc.UpdateRoomSettings(asUser(hostID), roomID, service.UpdateRoomSettingsInput{Name: &name})
			if err != nil {
				return "", err
			}
			return e.loadRoom(t, roomID).Name, nil
		}},
	}
}

func (e *env) loadUser(t testing.TB, id string) *models.User {
	t.Helper()
	u := new(models.User)
	if err := e.db.NewSelect().Model(u).Where("id = ?", id).Scan(context.Background()); err != nil {
		t.Fatalf("load user %s: %v", id, err)
	}
	return u
}

// Names that show nothing, rewrite what surrounds them on screen or in a
// terminal, or spill over the lines around them are refused wherever a
// name enters, and nothing is written.
func TestNames_InvisibleControlAndFloodedNamesAreRefusedEverywhere(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in string }{
		{"zero-width spaces only", "\u200b\u200b\u200b"},
		{"a zero-width space inside", "Ann\u200bie"},
		{"Hangul filler only", "\u3164\u3164"},
		{"Hangul choseong filler only", "\u115f\u115f"},
		{"halfwidth Hangul filler only", "\uffa0\uffa0"},
		{"braille blank only", "\u2800\u2800"},
		{"a Hangul filler inside", "Ann\u3164ie"},
		{"right-to-left override", "Ann\u202egnp.exe"},
		{"left-to-right embedding", "\u202aAnn\u202c"},
		{"first-strong isolate", "\u2068Ann\u2069"},
		{"left-to-right isolate", "\u2066Ann\u2069"},
		{"right-to-left mark", "Ann\u200f"},
		{"ANSI colour escape", "\x1b[31mRed\x1b[0m"},
		{"CR LF", "Ann\r\nAdmin"},
		{"LF", "Ann\nAdmin"},
		{"BEL", "Ann\a"},
		{"tab inside", "Ann\tie"},
		{"line separator", "Ann\u2028ie"},
		{"soft hyphen", "An\u00adn"},
		{"byte order mark", "\ufeffAnn"},
		{"word joiner", "An\u2060n"},
		{"emoji tag characters", "Ann\U000e0041\U000e0042"},
		{"zero-width joiners only", "\u200d\u200d"},
		{"a joiner at the end", "Ann\u200d"},
		{"a joiner at the start", "\u200dAnn"},
		{"two joiners in a row", "A\u200d\u200dB"},
		{"a 50-rune combining flood", "Z" + strings.Repeat("\u0336", 49)},
		{"5 combining marks on one letter", "x" + strings.Repeat("\u0301", 5) + "y"},
		{"a combining mark first", "\u0301Ann"},
		{"private use only", "\ue000\ue001"},
		{"unassigned only", "\u0378\u0379"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		for op, entry := range nameEntries(host.ID, room.Room.Code, room.Room.ID) {
			for _, c := range cases {
				t.Run(op+"/"+c.name, func(t *testing.T) {
					e.unchanged(t, func() {
						got, err := entry.set(t, e, c.in)
						if err == nil {
							t.Fatalf("%q accepted, stored as %q", c.in, got)
						}
						wantInvalid(t, err, entry.field)
					})
				})
			}
		}
	})
}

// Names in every script, with accents, emoji sequences and right-to-left
// text, are accepted wherever a name enters, and stored in NFC, trimmed.
func TestNames_NamesInEveryScriptAreStoredInNFC(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, in, want string }{
		{"accents, composed", "José Müller", "José Müller"},
		{"accents, decomposed", "Jose\u0301 Mu\u0308ller", "José Müller"},
		{"Vietnamese", "Đặng Thị Hồng", "Đặng Thị Hồng"},
		{"CJK", "山田太郎", "山田太郎"},
		{"Korean", "김민준", "김민준"},
		{"emoji with a ZWJ sequence", "👩‍💻 Dev", "👩‍💻 Dev"},
		{"family emoji", "👨‍👩‍👧‍👦", "👨‍👩‍👧‍👦"},
		{"emoji with a skin tone and a keycap", "👋🏽 1️⃣", "👋🏽 1️⃣"},
		{"Arabic", "محمد علي", "محمد علي"},
		{"Hebrew with points", "שָׁלוֹם", "שָׁלוֹם"},
		{"Persian with a zero-width non-joiner", "می\u200cخواهم", "می\u200cخواهم"},
		{"Devanagari", "देवनागरी", "देवनागरी"},
		{"4 combining marks on one letter", "x" + strings.Repeat("\u0301", 4) + "y", "x" + strings.Repeat("\u0301", 4) + "y"},
		{"trimmed, spaces inside kept", "  Ann  Lee \u3000", "Ann  Lee"},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{MaxParticipants: ptr(100)})
		for op, entry := range nameEntries(host.ID, room.Room.Code, room.Room.ID) {
			for _, c := range cases {
				t.Run(op+"/"+c.name, func(t *testing.T) {
					got, err := entry.set(t, e, c.in)
					mustNoErr(t, err)
					if got != c.want {
						t.Fatalf("%q stored as %q (%+q), want %q", c.in, got, got, c.want)
					}
				})
			}
		}
	})
}
