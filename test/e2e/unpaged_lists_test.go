package e2e

// Lists a client did not page: costed before they run, and charged for
// what they return once it is known.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// Lists without `first` are costed at GRAPHQL_DEFAULT_LIST_SIZE items
// before anything runs, and charged for the items beyond that once they
// are known, before anything under them is resolved. Small limits keep the
// arithmetic readable (see each case).
var smallListLimits = map[string]string{
	"GRAPHQL_DEFAULT_LIST_SIZE": "5",
	"GRAPHQL_MAX_COMPLEXITY":    "2000",
}

// me 1 + rooms (1 + 5 × (id 1 + settings 2 + participants (1 + 5 × id 1))):
// 47 before it runs; with 15 rooms of 3 participants, 10 more rooms at 9
// each, 137 in all. Thirty aliases cost 1,410 before they run, and the
// 590 left pays for six of them.
const unpagedRoomsQuery = `me { rooms { id settings { maxParticipants } participants { id } } }`

func aliased(n int, field string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, " a%d: %s", i, field)
	}
	b.WriteString(" }")
	return b.String()
}

func TestUnpagedLists_ChargedForWhatTheyReturn(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		// Without the response cache: the statements compared below are the
		// executor's, and the cache would answer a repeated query for one.
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(smallListLimits), harness.WithEnv(map[string]string{"RESPONSE_CACHE": "off"}))
		hostUser := srv.Register("host@example.com", "Host")
		guest := srv.Register("guest@example.com", "Guest")
		seedHostedRooms(t, srv.App().Service(), hostUser.ID, guest.ID, 15)
		host := srv.WithToken(hostUser.Token)

		t.Run("one unpaged list that fits returns every room", func(t *testing.T) {
			res := host.For(t).GQL("{ "+unpagedRoomsQuery+" }", nil)
			var data struct {
				Me struct {
					Rooms []struct {
						ID           string
						Participants []struct{ ID string }
					}
				}
			}
			res.Decode(t, &data)
			if len(data.Me.Rooms) != 15 || len(data.Me.Rooms[0].Participants) != 3 {
				t.Fatalf("got %d rooms, want all 15 with their 3 participants", len(data.Me.Rooms))
			}
		})

		var oneAlias int64
		t.Run("thirty aliases of it are refused, at no more SQL than one", func(t *testing.T) {
			host := host.For(t)
			oneAlias = srv.StatementsDuring(func() { host.GQL("{ "+unpagedRoomsQuery+" }", nil) })
			var res harness.GQLResponse
			spent := srv.StatementsDuring(func() { res = host.GQL(aliased(30, unpagedRoomsQuery), nil) })
			if res.Status != http.StatusOK || string(res.Data) != "null" || len(res.Errors) == 0 {
				t.Fatalf("HTTP %d, data %.200s…, errors %+v; want 200, no data, errors", res.Status, res.Data, res.Errors)
			}
			for _, e := range res.Errors {
				if e.Extensions["code"] != "QUERY_TOO_COMPLEX" || !strings.Contains(e.Message, "page it with first and after") ||
					len(e.Path) != 2 || e.Path[1] != "rooms" {
					t.Fatalf("error %+v; want QUERY_TOO_COMPLEX on a rooms field, telling the client to page", e)
				}
			}
			// Six aliases fit the 590 left (90 each); the rest are refused.
			if len(res.Errors) != 24 {
				t.Errorf("%d aliases refused, want 24", len(res.Errors))
			}
			if spent > oneAlias {
				t.Errorf("the refused request cost %d statements, one alias %d: refused fields must load nothing", spent, oneAlias)
			}
		})

		t.Run("paged with first it works", func(t *testing.T) {
			host := host.For(t)
			var page struct {
				Me struct{ Rooms []struct{ ID string } }
			}
			host.GQL(`{ me { rooms(first: 10) { id settings { maxParticipants } participants { id } } } }`, nil).Decode(t, &page)
			if len(page.Me.Rooms) != 10 {
				t.Fatalf("first: 10 returned %d rooms", len(page.Me.Rooms))
			}
			var rest struct {
				Me struct{ Rooms []struct{ ID string } }
			}
			host.GQL(`query($after: ID) { me { rooms(first: 10, after: $after) { id } } }`,
				map[string]any{"after": page.Me.Rooms[9].ID}).Decode(t, &rest)
			if len(rest.Me.Rooms) != 5 {
				t.Fatalf("the second page has %d rooms, want 5", len(rest.Me.Rooms))
			}
		})
	})
}

// A room's participant history can outgrow the size a list without
// `first` is costed at; the items beyond it are charged too. Here a room
// has 20 participants (10 of them gone), and participants { id displayName }
// costs 1 + 5 × 2 = 11 before it runs and 15 × 2 = 30 more once the list
// is known.
func TestUnpagedLists_ParticipantHistoryIsCharged(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"GRAPHQL_DEFAULT_LIST_SIZE": "5", "GRAPHQL_MAX_COMPLEXITY": "100"}))
		hostUser := srv.Register("host@example.com", "Host")
		host := srv.WithToken(hostUser.Token)
		room := host.CreateRoom(nil)
		seedParticipantHistory(t, srv.App().Service(), room.Code, 20, 10)
		vars := map[string]any{"id": room.ID}

		// room 1 + 11 = 12 before, 42 in all: it fits, and lists everyone.
		var data struct {
			Room struct{ Participants []struct{ ID string } }
		}
		host.GQL(`query($id: ID!) { room(id: $id) { participants { id displayName } } }`, vars).Decode(t, &data)
		if len(data.Room.Participants) != 20 {
			t.Fatalf("got %d participants, want the whole history of 20", len(data.Room.Participants))
		}

		// Three aliases: 36 before, 64 left, which pays for two of the
		// three lists; the third is refused.
		three := `query($id: ID!) { a: room(id: $id) { participants { id displayName } } b: room(id: $id) { participants { id displayName } } c: room(id: $id) { participants { id displayName } } }`
		var res harness.GQLResponse
		spent := srv.StatementsDuring(func() { res = host.GQL(three, vars) })
		if len(res.Errors) != 1 || res.Code() != "QUERY_TOO_COMPLEX" || res.Errors[0].Path[1] != "participants" {
			t.Fatalf("three aliases: %+v; want one QUERY_TOO_COMPLEX on a participants field", res.Errors)
		}
		t.Logf("three aliases: %d statements; %s", spent, res.Errors[0].Message)

		// Only who is present: 10 items, 5 × 2 more, 22 in all; three
		// aliases 66. The same limit admits them.
		active := strings.ReplaceAll(three, "participants {", "participants(activeOnly: true) {")
		if res := host.GQL(active, vars); len(res.Errors) != 0 {
			t.Fatalf("three aliases of the present participants: %+v", res.Errors)
		}

		// Under me.rooms (the fast path's query) it is charged the same:
		// me 1 + rooms (1 + 5 × 11) = 57 before, 30 more for the history,
		// 87, which a limit of 100 admits and one of 80 refuses.
		if res := host.GQL(`{ me { rooms { participants { id displayName } } } }`, nil); len(res.Errors) != 0 {
			t.Fatalf("me.rooms with the history: %+v", res.Errors)
		}
		srv2 := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"GRAPHQL_DEFAULT_LIST_SIZE": "5", "GRAPHQL_MAX_COMPLEXITY": "80"}))
		res = srv2.WithToken(hostUser.Token).GQL(`{ me { rooms { participants { id displayName } } } }`, nil)
		if res.Code() != "QUERY_TOO_COMPLEX" || len(res.Errors[0].Path) != 4 || res.Errors[0].Path[3] != "participants" {
			t.Fatalf("me.rooms over the limit of 80: %+v; want QUERY_TOO_COMPLEX on me.rooms.0.participants", res.Errors)
		}
	})
}
