package e2e

// What a request costs in SQL statements: a fixed number however much it
// returns, and no more for aliases repeating one list.

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// The heart of the API must cost a fixed number of SQL statements however
// many rooms the host has: settings, participants, their users and the
// host are each loaded in one batch.
func TestMeRooms_StatementCountIndependentOfRoomCount(t *testing.T) {
	const query = `{ me { rooms { settings { allowChat } participants { user { id } } host { id } } } }`
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		counts := map[int]int64{}
		for _, n := range []int{1, 10, 100} {
			host := srv.Register(fmt.Sprintf("host%d@example.com", n), "Host")
			guest := srv.Register(fmt.Sprintf("guest%d@example.com", n), "Guest")
			seedHostedRooms(t, srv.App().Service(), host.ID, guest.ID, n)

			var res harness.GQLResponse
			counts[n] = srv.StatementsDuring(func() { res = srv.WithToken(host.Token).GQL(query, nil) })

			var data struct {
				Me struct {
					Rooms []struct {
						Settings     struct{ AllowChat bool }
						Participants []struct{ User *struct{ ID string } }
						Host         struct{ ID string }
					}
				}
			}
			res.Decode(t, &data)
			if len(data.Me.Rooms) != n {
				t.Fatalf("%d rooms seeded, me.rooms returned %d", n, len(data.Me.Rooms))
			}
			for _, r := range data.Me.Rooms {
				if len(r.Participants) != 3 || r.Host.ID != host.ID || !r.Settings.AllowChat {
					t.Fatalf("room incomplete: %+v", r)
				}
				if r.Participants[1].User == nil || r.Participants[1].User.ID != guest.ID || r.Participants[2].User != nil {
					t.Fatalf("participants' users wrong: %+v", r.Participants)
				}
			}
		}
		t.Logf("statements per request by room count: %v", counts)
		if counts[1] != counts[10] || counts[10] != counts[100] {
			t.Fatalf("statement count grows with rooms: %v", counts)
		}
		// viewer, rooms, settings, participants, participants' users.
		if counts[1] > 5 {
			t.Fatalf("me.rooms costs %d statements, want at most 5", counts[1])
		}
	})
}

// Aliases repeating one list fetch it once: the same host's rooms with the
// same arguments are loaded once per request, and rooms whose settings and
// participants are already loaded cost no statement more. (A list size of
// 5 lets thirty aliases pass the complexity limit: 30 × 47.)
func TestMeRooms_AliasesOfOneListCostTheStatementsOfOne(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"GRAPHQL_DEFAULT_LIST_SIZE": "5"}))
		hostUser := srv.Register("host@example.com", "Host")
		guest := srv.Register("guest@example.com", "Guest")
		seedHostedRooms(t, srv.App().Service(), hostUser.ID, guest.ID, 10)
		host := srv.WithToken(hostUser.Token)
		for _, field := range []string{
			unpagedRoomsQuery,
			`me { rooms(status: ACTIVE, first: 3) { id participants { displayName user { id } } } }`,
		} {
			// Another root field sends the document to the generated
			// executor, which resolves the aliases concurrently; without it
			// the fast path answers them one after another.
			for _, extra := range []string{"", `roomByCode(code: "none") { id }`} {
				var one, thirty harness.GQLResponse
				oneCost := srv.StatementsDuring(func() { one = host.GQL("{ "+extra+" a0: "+field+" }", nil) })
				thirtyCost := srv.StatementsDuring(func() { thirty = host.GQL("{ "+extra+aliased(30, field)[1:], nil) })

				var want, got map[string]json.RawMessage
				one.Decode(t, &want)
				thirty.Decode(t, &got)
				for i := range 30 {
					if a := got[fmt.Sprintf("a%d", i)]; string(a) != string(want["a0"]) {
						t.Fatalf("alias a%d answered %s, want %s", i, a, want["a0"])
					}
				}
				if thirtyCost != oneCost {
					t.Errorf("%s %s: 30 aliases cost %d statements, one costs %d", extra, field, thirtyCost, oneCost)
				}
			}
		}
	})
}
