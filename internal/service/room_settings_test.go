package service_test

import (
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/service"
)

// The legacy client's two media toggles change one at a time, leaving
// every other setting alone.
func TestRoomSettings_ParticipantMediaIsStoredAndUpdatedAlone(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		res := e.room(t, host.ID, service.CreateRoomInput{
			AllowParticipantVideo: ptr(false), AllowChat: ptr(false), MaxParticipants: ptr(7),
		})
		created := e.loadSettings(t, res.Room.ID)

		upd, err := e.svc.UpdateRoomSettings(asUser(host.ID), res.Room.ID, service.UpdateRoomSettingsInput{AllowParticipantAudio: ptr(false)})
		mustNoErr(t, err)
		if upd.Settings.AllowParticipantAudio || upd.Settings.AllowParticipantVideo {
			t.Errorf("returned video %v audio %v, want both false", upd.Settings.AllowParticipantVideo, upd.Settings.AllowParticipantAudio)
		}
		want := *created
		want.AllowParticipantAudio = false
		if got := e.loadSettings(t, res.Room.ID); *got != want {
			t.Errorf("stored settings %+v, want %+v (only audio changed)", *got, want)
		}

		_, err = e.svc.UpdateRoomSettings(asUser(host.ID), res.Room.ID, service.UpdateRoomSettingsInput{AllowParticipantVideo: ptr(true)})
		mustNoErr(t, err)
		want.AllowParticipantVideo = true
		if got := e.loadSettings(t, res.Room.ID); *got != want {
			t.Errorf("stored settings %+v, want %+v (only video changed)", *got, want)
		}
	})
}

// A form with a bad name and a bad capacity reports both at once (the
// legacy clients show every message), on create and on update, and
// changes nothing.
func TestRoomForms_ReportEveryBadFieldAtOnce(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		e := newEnv(t, bdb)
		host := e.user(t, "Host")
		room := e.room(t, host.ID, service.CreateRoomInput{})
		check := func(t *testing.T, err error) {
			t.Helper()
			got := wantInvalid(t, err, "name")
			if len(got.All) != 2 || got.All[1].Field != "maxParticipants" {
				t.Fatalf("errors %v, want name then maxParticipants", got.Messages())
			}
		}
		e.unchanged(t, func() {
			_, err := e.svc.CreateRoom(asUser(host.ID), service.CreateRoomInput{Name: ptr(" "), MaxParticipants: ptr(101)})
			check(t, err)
			_, err = e.svc.UpdateRoomSettings(asUser(host.ID), room.Room.ID, service.UpdateRoomSettingsInput{
				Name: ptr(""), MaxParticipants: ptr(1), AllowParticipantVideo: ptr(false),
			})
			check(t, err)
		})
	})
}
