package e2e

// Room.stats over GraphQL: exact counts and durations for a dashboard,
// a fixed number of statements for any number of rooms, and a response
// cache that never serves a duration that has grown since.

import (
	"fmt"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

const allStats = `stats { activeParticipants peakParticipants uniqueParticipants totalJoins participantSeconds durationSeconds lastActivityAt }`

type roomStats struct {
	ActiveParticipants, PeakParticipants, UniqueParticipants, TotalJoins int
	ParticipantSeconds, DurationSeconds                                  int
	LastActivityAt                                                       string
}

func meRoomStats(t *testing.T, c *harness.Client) []roomStats {
	t.Helper()
	var data struct {
		Me struct{ Rooms []struct{ Stats roomStats } }
	}
	c.GQL(`{ me { rooms { `+allStats+` } } }`, nil).Decode(t, &data)
	out := make([]roomStats, len(data.Me.Rooms))
	for i, r := range data.Me.Rooms {
		out[i] = r.Stats
	}
	return out
}

// A meeting as a host sees it: a user who leaves and rejoins counts once
// among the people, twice among the joins; guests each count; the peak is
// who was there at once; durations run with the clock until the end and
// stop there.
func TestRoomStats_AMeetingAsTheHostSeesIt(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		ann := srv.Register("ann@example.com", "Ann")
		host, annC := srv.WithToken(hostU.Token), srv.WithToken(ann.Token)
		room := host.CreateRoom(map[string]any{"name": "Standup"})
		if got := meRoomStats(t, host); len(got) != 1 || got[0].DurationSeconds != 0 || got[0].PeakParticipants != 0 || got[0].UniqueParticipants != 0 {
			t.Fatalf("before anyone joined: %+v", got)
		}

		first, res := annC.Join(room.Code, nil)
		harness.MustSucceed(t, "ann joins", res)
		guestName := "Walk-in"
		_, res = srv.Join(room.Code, &guestName)
		harness.MustSucceed(t, "a guest joins", res)
		srv.Advance(30 * time.Second)
		harness.MustSucceed(t, "ann leaves", annC.Leave(first.ParticipantID))
		srv.Advance(30 * time.Second)
		_, res = annC.Join(room.Code, nil)
		harness.MustSucceed(t, "ann rejoins", res)

		got := meRoomStats(t, host)[0]
		if got.ActiveParticipants != 2 || got.PeakParticipants != 2 || got.UniqueParticipants != 2 || got.TotalJoins != 3 {
			t.Fatalf("counts: %+v", got)
		}
		// Ann 30 s, the guest 60 s so far; the room has lasted 60 s.
		if got.DurationSeconds < 60 || got.DurationSeconds > 61 || got.ParticipantSeconds < 90 || got.ParticipantSeconds > 92 {
			t.Fatalf("durations: %+v", got)
		}

		harness.MustSucceed(t, "end", host.EndRoom(room.ID))
		ended := meRoomStats(t, host)[0]
		srv.Advance(time.Hour)
		if later := meRoomStats(t, host)[0]; later != ended {
			t.Fatalf("an ended room's stats changed with the clock: %+v, then %+v", ended, later)
		}
		if ended.ActiveParticipants != 0 || ended.PeakParticipants != 2 || ended.UniqueParticipants != 2 || ended.TotalJoins != 3 {
			t.Fatalf("after the end: %+v", ended)
		}
		var data struct {
			Me struct{ Rooms []struct{ EndedAt string } }
		}
		host.GQL(`{ me { rooms { endedAt } } }`, nil).Decode(t, &data)
		if ended.LastActivityAt != data.Me.Rooms[0].EndedAt {
			t.Fatalf("lastActivityAt %s, want the end %s", ended.LastActivityAt, data.Me.Rooms[0].EndedAt)
		}
	})
}

// Statistics for a page of rooms cost no statement more than its
// participants do: one batch for the page, with 1, 10 or 100 rooms.
func TestRoomStats_StatementsConstantInRooms(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		for _, query := range []string{
			`{ me { rooms { id ` + allStats + ` } } }`,
			`{ me { rooms { id ` + allStats + ` participants { displayName } } } }`,
			`{ me { page: rooms(first: 100) { ` + allStats + ` settings { allowChat } } } }`,
		} {
			counts := map[int]int64{}
			for _, n := range []int{1, 10, 100} {
				host := srv.Register(fmt.Sprintf("host%d-%d@example.com", n, len(query)), "Host")
				guest := srv.Register(fmt.Sprintf("guest%d-%d@example.com", n, len(query)), "Guest")
				seedHostedRooms(t, srv.App().Service(), host.ID, guest.ID, n)
				var res harness.GQLResponse
				counts[n] = srv.StatementsDuring(func() { res = srv.WithToken(host.Token).GQL(query, nil) })
				var data struct {
					Me map[string][]struct{ Stats roomStats }
				}
				res.Decode(t, &data)
				for _, rooms := range data.Me {
					if len(rooms) != n {
						t.Fatalf("%d rooms seeded, %d listed", n, len(rooms))
					}
					for _, r := range rooms {
						// seedHostedRooms: the host, a user and a guest, all present.
						if r.Stats.ActiveParticipants != 3 || r.Stats.PeakParticipants != 3 || r.Stats.UniqueParticipants != 3 || r.Stats.TotalJoins != 3 {
							t.Fatalf("stats: %+v", r.Stats)
						}
					}
				}
			}
			t.Logf("%s: statements by room count %v", query, counts)
			if counts[1] != counts[10] || counts[10] != counts[100] {
				t.Fatalf("%s: statement count grows with rooms: %v", query, counts)
			}
			// viewer, rooms (with settings), participants, and their users
			// when names are asked for.
			if counts[1] > 4 {
				t.Fatalf("%s: %d statements, want at most 4", query, counts[1])
			}
		}
	})
}

// The response cache keeps what only writes change (the counts, the last
// activity) and answers afresh what grows with the clock (an active room's
// durations): a dashboard polling an active room sees its duration grow.
func TestRoomStats_CacheNeverServesAGrownDurationStale(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		host := srv.WithToken(hostU.Token)
		room := host.CreateRoom(nil)
		guestName := "Walk-in"
		_, res := srv.Join(room.Code, &guestName)
		harness.MustSucceed(t, "join", res)

		const counts = `{ me { rooms { stats { activeParticipants peakParticipants uniqueParticipants totalJoins lastActivityAt } } } }`
		first := host.GQL(counts, nil)
		if n := srv.StatementsDuring(func() { host.GQL(counts, nil) }); n != 1 {
			t.Fatalf("a repeated read of the counts cost %d statements, want 1 (the viewer, from the cache)", n)
		}
		srv.Advance(10 * time.Second)
		if again := host.GQL(counts, nil); string(again.Data) != string(first.Data) {
			t.Fatalf("counts changed with the clock alone: %s, then %s", first.Data, again.Data)
		}

		before := meRoomStats(t, host)[0]
		srv.Advance(10 * time.Second)
		after := meRoomStats(t, host)[0]
		if after.DurationSeconds < before.DurationSeconds+10 || after.ParticipantSeconds < before.ParticipantSeconds+10 {
			t.Fatalf("durations served stale: %+v, 10 s later %+v", before, after)
		}
	})
}
