package service_test

import (
	"fmt"
	"testing"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/service"
)

// BenchmarkMutations times the write paths on PostgreSQL, whose
// statements go through Bun (their arguments inlined into the text), not
// the native hot reads: the exec mode db.Connect sets is what they feel.
// rooms=1 repeats the same texts (the best case for a per-text statement
// cache); rooms=600 cycles through more rooms than pgx's 512-entry cache
// holds, as a server with many rooms sees.
func BenchmarkMutations(b *testing.B) {
	e := newEnv(b, dbtest.Open(b, "postgres"))
	host := e.user(b, "Host")
	hostCtx := asUser(host.ID)
	rooms := make([]*service.RoomWithSettings, 600)
	for i := range rooms {
		rooms[i] = e.room(b, host.ID, service.CreateRoomInput{})
	}
	b.Run("CreateRoom", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.svc.CreateRoom(hostCtx, service.CreateRoomInput{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, n := range []int{1, len(rooms)} {
		b.Run(fmt.Sprintf("JoinLeave/rooms=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			name := "Guest"
			i := 0
			for b.Loop() {
				i++
				j, err := e.svc.JoinRoom(anon(), rooms[i%n].Room.Code, &name)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.svc.LeaveRoom(asGuest(j), j.Participant.ID); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("UpdateRoomSettings/rooms=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				locked := i/n%2 == 0 // each room's value changes every visit
				in := service.UpdateRoomSettingsInput{IsLocked: &locked, MaxParticipants: ptr(50)}
				if _, err := e.svc.UpdateRoomSettings(hostCtx, rooms[i%n].Room.ID, in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
