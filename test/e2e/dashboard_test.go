package e2e

// The dashboard's connections over GraphQL: User.roomsConnection and
// User.attended, paged by cursor, counted, refused with the argument named,
// a fixed number of statements for any page, cached like me.rooms.

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

type connectionPage struct {
	TotalCount int
	PageInfo   struct {
		HasNextPage, HasPreviousPage bool
		StartCursor, EndCursor       *string
	}
	Edges []struct {
		Cursor string
		Node   struct{ ID, Name string }
	}
	Nodes []struct{ ID string }
}

const roomsConnectionQuery = `query($filter: RoomFilter, $order: RoomOrder, $first: Int, $after: String, $last: Int, $before: String) {
	me { roomsConnection(filter: $filter, orderBy: $order, first: $first, after: $after, last: $last, before: $before) {
		totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { id name } } nodes { id }
	} } }`

func roomsConnection(t *testing.T, c *harness.Client, vars map[string]any) connectionPage {
	t.Helper()
	var data struct {
		Me struct{ RoomsConnection connectionPage }
	}
	c.GQL(roomsConnectionQuery, vars).Decode(t, &data)
	return data.Me.RoomsConnection
}

// A dashboard pages through a host's rooms by name, forward and back,
// sees the total the filter lets through, and finds every room once.
func TestDashboard_RoomsConnectionPagesByCursorBothWays(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		host := srv.WithToken(hostU.Token)
		var names []string
		for i := range 7 {
			name := fmt.Sprintf("Sync %d", 6-i)
			if i == 3 {
				name = "100%_done"
			}
			host.CreateRoom(map[string]any{"name": name})
			names = append(names, name)
		}
		slices.Sort(names)
		order := map[string]any{"field": "NAME", "direction": "ASC"}

		var got []string
		vars := map[string]any{"order": order, "first": 3}
		for {
			page := roomsConnection(t, host, vars)
			if page.TotalCount != 7 || len(page.Edges) != len(page.Nodes) {
				t.Fatalf("page %+v", page)
			}
			for i, e := range page.Edges {
				if e.Node.ID != page.Nodes[i].ID {
					t.Fatalf("edges and nodes differ: %+v", page)
				}
				got = append(got, e.Node.Name)
			}
			if *page.PageInfo.EndCursor != page.Edges[len(page.Edges)-1].Cursor {
				t.Fatalf("endCursor is not the last edge's: %+v", page.PageInfo)
			}
			if !page.PageInfo.HasNextPage {
				break
			}
			vars = map[string]any{"order": order, "first": 3, "after": *page.PageInfo.EndCursor}
		}
		if !slices.Equal(got, names) {
			t.Fatalf("forward by name: %v, want %v", got, names)
		}
		back := roomsConnection(t, host, map[string]any{"order": order, "last": 2})
		if len(back.Edges) != 2 || back.Edges[1].Node.Name != names[6] || !back.PageInfo.HasPreviousPage || back.PageInfo.HasNextPage {
			t.Fatalf("last page: %+v", back)
		}
		prev := roomsConnection(t, host, map[string]any{"order": order, "last": 2, "before": *back.PageInfo.StartCursor})
		if prev.Edges[0].Node.Name != names[3] || prev.Edges[1].Node.Name != names[4] || !prev.PageInfo.HasNextPage {
			t.Fatalf("the page before: %+v", prev)
		}

		found := roomsConnection(t, host, map[string]any{"filter": map[string]any{"search": "%_"}})
		if found.TotalCount != 1 || found.Edges[0].Node.Name != "100%_done" {
			t.Fatalf("search for %%_: %+v", found)
		}
	})
}

// Every bad argument is BAD_USER_INPUT naming it, and changes nothing; a
// cursor of another order or another user's list is refused, and so is
// another user's list.
func TestDashboard_BadArgumentsAreNamed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU, annU := srv.Register("host@example.com", "Host"), srv.Register("ann@example.com", "Ann")
		host, ann := srv.WithToken(hostU.Token), srv.WithToken(annU.Token)
		room := host.CreateRoom(nil)
		host.CreateRoom(nil)
		ann.CreateRoom(nil)
		_, res := ann.Join(room.Code, nil)
		harness.MustSucceed(t, "join", res)
		cursor := *roomsConnection(t, host, map[string]any{"first": 1}).PageInfo.EndCursor
		annCursor := *roomsConnection(t, ann, map[string]any{"first": 1}).PageInfo.EndCursor

		for _, c := range []struct {
			name  string
			vars  map[string]any
			field string
		}{
			{"first 0", map[string]any{"first": 0}, "first"},
			{"first 101", map[string]any{"first": 101}, "first"},
			{"last 0", map[string]any{"last": 0}, "last"},
			{"first and last", map[string]any{"first": 1, "last": 1}, "last"},
			{"a cursor of another order", map[string]any{"after": cursor, "order": map[string]any{"field": "PEAK_PARTICIPANTS"}}, "after"},
			{"another user's cursor", map[string]any{"before": annCursor}, "before"},
			{"a forged cursor", map[string]any{"after": cursor[:len(cursor)-2] + "AA"}, "after"},
			{"a long search", map[string]any{"filter": map[string]any{"search": fmt.Sprintf("%0101d", 0)}}, "filter.search"},
		} {
			res := host.GQL(roomsConnectionQuery, c.vars)
			if res.Code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != c.field {
				t.Errorf("%s: %+v, want BAD_USER_INPUT on %s", c.name, res.Errors, c.field)
			}
		}

		// Ann took part in the host's room, so she may see its host, but
		// not his lists.
		res = ann.GQL(`query($id: ID!) { room(id: $id) { host { roomsConnection { totalCount } } } }`, map[string]any{"id": room.ID})
		if res.Outcome() != "FORBIDDEN/NOT_SELF" {
			t.Errorf("another user's roomsConnection: %+v", res.Errors)
		}
		res = ann.GQL(`query($id: ID!) { room(id: $id) { host { attended { totalCount } } } }`, map[string]any{"id": room.ID})
		if res.Outcome() != "FORBIDDEN/NOT_SELF" {
			t.Errorf("another user's attended: %+v", res.Errors)
		}
	})
}

// A whole page of the dashboard, stats, participants and their names, the
// total and the cursors included, costs the same statements for 1, 10 or
// 100 rooms; so does a page of attended rooms.
func TestDashboard_StatementsConstantInRooms(t *testing.T) {
	const hosted = `{ me { roomsConnection(first: 100, filter: {hasActiveParticipants: true}, orderBy: {field: PEAK_PARTICIPANTS}) {
		totalCount pageInfo { hasNextPage endCursor }
		edges { cursor node { id name settings { allowChat } ` + allStats + ` participants { displayName user { id } } } }
	} } }`
	const attended = `{ me { attended(first: 100) {
		totalCount edges { cursor myPresence { joinedAt leftAt seconds } node { id ` + allStats + ` participants { displayName } } }
	} } }`
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		counts := map[string]map[int]int64{"hosted": {}, "attended": {}}
		for _, n := range []int{1, 10, 100} {
			host := srv.Register(fmt.Sprintf("host%d@example.com", n), "Host")
			guest := srv.Register(fmt.Sprintf("guest%d@example.com", n), "Guest")
			seedHostedRooms(t, srv.App().Service(), host.ID, guest.ID, n)
			for _, c := range []struct {
				list, query string
				token       string
			}{{"hosted", hosted, host.Token}, {"attended", attended, guest.Token}} {
				var res harness.GQLResponse
				counts[c.list][n] = srv.StatementsDuring(func() { res = srv.WithToken(c.token).GQL(c.query, nil) })
				var data struct {
					Me map[string]struct {
						TotalCount int
						Edges      []struct {
							Node struct {
								Stats        roomStats
								Participants []struct{ DisplayName string }
							}
						}
					}
				}
				res.Decode(t, &data)
				page := data.Me[map[string]string{"hosted": "roomsConnection", "attended": "attended"}[c.list]]
				if page.TotalCount != n || len(page.Edges) != n {
					t.Fatalf("%s with %d rooms: totalCount %d, %d edges", c.list, n, page.TotalCount, len(page.Edges))
				}
				for _, e := range page.Edges {
					if e.Node.Stats.PeakParticipants != 3 || len(e.Node.Participants) != 3 {
						t.Fatalf("%s: room %+v", c.list, e.Node)
					}
				}
			}
		}
		t.Logf("statements per page by room count: %v", counts)
		for list, c := range counts {
			if c[1] != c[10] || c[10] != c[100] {
				t.Errorf("%s: statement count grows with rooms: %v", list, c)
			}
		}
	})
}

// roomsConnection is served from the response cache like me.rooms, and a
// join that lets a room through hasActiveParticipants shows at once.
func TestDashboard_RoomsConnectionIsCachedAndNeverStale(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		host := srv.WithToken(hostU.Token)
		room := host.CreateRoom(nil)
		host.CreateRoom(nil)
		occupied := map[string]any{"filter": map[string]any{"hasActiveParticipants": true}}
		if page := roomsConnection(t, host, occupied); page.TotalCount != 0 {
			t.Fatalf("before any join: %+v", page)
		}
		if n := srv.StatementsDuring(func() { roomsConnection(t, host, occupied) }); n != 1 {
			t.Fatalf("a repeated read cost %d statements, want 1", n)
		}
		walkIn := "Walk-in"
		_, res := srv.Join(room.Code, &walkIn)
		harness.MustSucceed(t, "join", res)
		if page := roomsConnection(t, host, occupied); page.TotalCount != 1 || page.Edges[0].Node.ID != room.ID {
			t.Fatalf("after a join: %+v", page)
		}
	})
}

// The README's Dashboard example runs as written, within the limits, and
// shows the host's room with its stats and the rooms the user attended.
func TestDashboard_READMEExampleRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "### Dashboard\n")
	_, block, _ := strings.Cut(section, "```graphql\n")
	query, _, found := strings.Cut(block, "```")
	if !found {
		t.Fatal("README: no graphql block under ### Dashboard")
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU, annU := srv.Register("host@example.com", "Host"), srv.Register("ann@example.com", "Ann")
		host, ann := srv.WithToken(hostU.Token), srv.WithToken(annU.Token)
		room := host.CreateRoom(map[string]any{"name": "Daily Standup"})
		_, res := host.Join(room.Code, nil)
		harness.MustSucceed(t, "host joins", res)
		other := ann.CreateRoom(map[string]any{"name": "Ann's"})
		_, res = host.Join(other.Code, nil)
		harness.MustSucceed(t, "host attends", res)

		var data struct {
			Me struct {
				RoomsConnection struct {
					TotalCount int
					Nodes      []struct {
						Name  string
						Stats roomStats
					}
				}
				Attended struct {
					Edges []struct {
						MyPresence struct{ JoinedAt string }
						Node       struct{ ID string }
					}
				}
			}
		}
		host.GQL(query, nil).Decode(t, &data)
		conn := data.Me.RoomsConnection
		if conn.TotalCount != 1 || conn.Nodes[0].Name != "Daily Standup" || conn.Nodes[0].Stats.ActiveParticipants != 1 {
			t.Fatalf("roomsConnection: %+v", conn)
		}
		if a := data.Me.Attended.Edges; len(a) != 1 || a[0].Node.ID != other.ID || a[0].MyPresence.JoinedAt == "" {
			t.Fatalf("attended: %+v", a)
		}
	})
}

// TestDashboard_READMEFeedExampleRuns runs the README's live dashboard
// subscription (the Dashboard section's second graphql block) as written:
// a join in one of the host's rooms arrives with the room's statistics as
// they are after it.
func TestDashboard_READMEFeedExampleRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "### Dashboard\n")
	_, rest, _ := strings.Cut(section, "```graphql\n")
	_, rest, _ = strings.Cut(rest, "```graphql\n")
	doc, _, found := strings.Cut(rest, "```")
	if !found || !strings.Contains(doc, "myRooms") {
		t.Fatal("README: no myRooms graphql block under ### Dashboard")
	}
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU, annU := srv.Register("host@example.com", "Host"), srv.Register("ann@example.com", "Ann")
		host := srv.WithToken(hostU.Token)
		room := host.CreateRoom(map[string]any{"name": "Daily Standup"})
		feed := harness.SubscribeSSE(t, srv.URL, hostU.Token, doc, nil)
		srv.WaitSubscribers(1)
		_, res := host.Join(room.Code, nil)
		harness.MustSucceed(t, "host joins", res)
		_, res = srv.WithToken(annU.Token).Join(room.Code, nil)
		harness.MustSucceed(t, "ann joins", res)
		type event struct {
			MyRooms struct {
				Type               string
				RoomID             string
				ActiveParticipants *int
				Room               struct {
					Name  string
					Stats roomStats
				}
			}
		}
		for want := 1; want <= 2; want++ {
			ev, ok := feed.Next(10 * time.Second)
			if !ok || ev.Event != "next" || len(ev.Data.Errors) > 0 {
				t.Fatalf("event %d: %q %+v", want, ev.Event, ev.Data)
			}
			var got event
			if err := json.Unmarshal(ev.Data.Data, &got); err != nil {
				t.Fatal(err)
			}
			m := got.MyRooms
			if m.Type != "PARTICIPANT_JOINED" || m.RoomID != room.ID || m.ActiveParticipants == nil || *m.ActiveParticipants != want ||
				m.Room.Name != "Daily Standup" || m.Room.Stats.UniqueParticipants < want || m.Room.Stats.PeakParticipants < want {
				t.Fatalf("event %d: %+v", want, m)
			}
		}
	})
}

// me { roomsConnection } loads the viewer with its page (one round trip on
// PostgreSQL): a token whose user is gone is still refused, and the page
// is never answered for it.
func TestDashboard_RoomsConnectionOfADeletedUserIsRefused(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"RESPONSE_CACHE": "off"}))
		hostU := srv.Register("gone@example.com", "Gone")
		host := srv.WithToken(hostU.Token)
		host.CreateRoom(nil)
		if got := roomsConnection(t, host, map[string]any{"first": 5}); got.TotalCount != 1 {
			t.Fatalf("before: totalCount %d, want 1", got.TotalCount)
		}
		dbtest.Exec(t, bdb, `DELETE FROM users WHERE id = ?`, hostU.ID)
		for _, vars := range []map[string]any{{"first": 5}, {"first": 0}, {"after": "not-a-cursor"}} {
			res := host.GQL(roomsConnectionQuery, vars)
			if res.Code() != "UNAUTHENTICATED" || strings.Contains(string(res.Data), "roomsConnection\":{") {
				t.Errorf("vars %v: %+v %s, want UNAUTHENTICATED and no page", vars, res.Errors, res.Data)
			}
		}
	})
}
