package e2e

// The response cache: a viewer's repeated reads of their own data are
// answered from memory for one SQL statement, revalidated with ETags, never
// shared between viewers, and never stale, whoever wrote last.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// dashboardQuery is a dashboard's poll: every documented field of me.rooms.
const dashboardQuery = `query Dashboard { me { id email displayName rooms {
	id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt
	settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants allowParticipantVideo allowParticipantAudio }
	participants { id roomId userId guestName displayName isActive isHost joinedAt leftAt user { id displayName avatarUrl } }
} } }`

// cachedRead is one way to read the viewer's own rooms that the cache
// answers.
type cachedRead struct {
	name string
	// showsUsers: the answer shows participants' names (the REST
	// contract's participants have none).
	showsUsers bool
	try        func(c *harness.Client, opts ...harness.RequestOption) (harness.Response, error)
}

var cachedReads = []cachedRead{
	{"graphql", true, func(c *harness.Client, opts ...harness.RequestOption) (harness.Response, error) {
		return c.TryREST(http.MethodPost, "/query", map[string]any{"query": dashboardQuery}, opts...)
	}},
	{"rest", false, func(c *harness.Client, opts ...harness.RequestOption) (harness.Response, error) {
		return c.TryREST(http.MethodGet, "/users/me/rooms", nil, opts...)
	}},
}

// get is try from the test's goroutine.
func (r cachedRead) get(t *testing.T, c *harness.Client, opts ...harness.RequestOption) harness.Response {
	t.Helper()
	res, err := r.try(c, opts...)
	if err != nil {
		t.Fatalf("%s read: %v", r.name, err)
	}
	return res
}

// seedDashboard gives a new host two rooms, one with a user and a guest in
// it, and returns the host and the user who joined.
func seedDashboard(t *testing.T, srv *harness.Server, prefix string) (host, guest harness.User, room harness.Room) {
	t.Helper()
	host = srv.Register(prefix+"-host@example.com", "Host "+prefix)
	guest = srv.Register(prefix+"-guest@example.com", "Guest "+prefix)
	hostC := srv.WithToken(host.Token)
	room = hostC.CreateRoom(map[string]any{"name": "Standup " + prefix})
	srv.Pause()
	hostC.CreateRoom(map[string]any{"name": "Retro " + prefix})
	if _, res := srv.WithToken(guest.Token).Join(room.Code, nil); len(res.Errors) > 0 {
		t.Fatalf("join: %+v", res.Errors)
	}
	walkIn := "Walk-in"
	if _, res := srv.Join(room.Code, &walkIn); len(res.Errors) > 0 {
		t.Fatalf("guest join: %+v", res.Errors)
	}
	return host, guest, room
}

func TestResponseCache_ARepeatedReadCostsOneStatement(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host, _, _ := seedDashboard(t, srv, "one")
		c := srv.WithToken(host.Token)
		for _, read := range cachedReads {
			t.Run(read.name, func(t *testing.T) {
				var first, second harness.Response
				missCost := srv.StatementsDuring(func() { first = read.get(t, c) })
				hitCost := srv.StatementsDuring(func() { second = read.get(t, c) })
				if first.Status != http.StatusOK || !bytes.Equal(first.Body, second.Body) {
					t.Fatalf("answers differ: HTTP %d %s\nthen HTTP %d %s", first.Status, first.Body, second.Status, second.Body)
				}
				if hitCost != 1 {
					t.Errorf("a repeated read cost %d statements, want 1 (the viewer and its version); the first cost %d", hitCost, missCost)
				}
				etag := second.Header.Get("ETag")
				if !regexp.MustCompile(`^"[0-9a-z]+"$`).MatchString(etag) || first.Header.Get("ETag") != etag {
					t.Errorf("ETag %q then %q, want one strong tag for the same bytes", first.Header.Get("ETag"), etag)
				}
				if cc := second.Header.Get("Cache-Control"); cc != "private, no-cache" {
					t.Errorf("Cache-Control = %q, want private, no-cache (every reuse revalidated, never shared)", cc)
				}
				expectJSONContentType(t, read.name, second)
			})
		}
		// The first read of each edge missed, the second hit; the answers
		// are held.
		metrics := string(srv.REST(http.MethodGet, "/metrics", nil).Body)
		for _, edge := range []string{"graphql", "rest"} {
			for outcome, want := range map[string]float64{"hit": 1, "miss": 1, "not_modified": 0} {
				series := fmt.Sprintf(`neuronmeet_response_cache_requests_total{edge=%q,outcome=%q}`, edge, outcome)
				if got := metricValue(t, metrics, series); got != want {
					t.Errorf("%s = %v, want %v", series, got, want)
				}
			}
		}
		if n := metricValue(t, metrics, "neuronmeet_response_cache_entries"); n != 2 {
			t.Errorf("neuronmeet_response_cache_entries = %v, want 2 (one per edge)", n)
		}
	})
}

// A read made again after a write is kept again: its first read after
// the write makes and tags the new answer, the next costs one statement.
// (A GraphQL body answered from the cache before is recognised before it
// is parsed; once its entry is stale the request must still be cached.)
func TestResponseCache_ARereadAfterAWriteIsKeptAgain(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host, _, _ := seedDashboard(t, srv, "again")
		c := srv.WithToken(host.Token)
		for i, read := range cachedReads {
			t.Run(read.name, func(t *testing.T) {
				before := read.get(t, c)
				read.get(t, c) // a hit
				c.CreateRoom(map[string]any{"name": fmt.Sprintf("Another %d", i)})
				after := read.get(t, c)
				var again harness.Response
				hitCost := srv.StatementsDuring(func() { again = read.get(t, c) })
				tag := after.Header.Get("ETag")
				if tag == "" || tag == before.Header.Get("ETag") || again.Header.Get("ETag") != tag {
					t.Errorf("ETags %q before the write, %q and %q after: want a new tag, kept", before.Header.Get("ETag"), tag, again.Header.Get("ETag"))
				}
				if hitCost != 1 || !bytes.Equal(after.Body, again.Body) {
					t.Errorf("the read after the write's answer was read again for %d statements (want 1), same bytes: %v", hitCost, bytes.Equal(after.Body, again.Body))
				}
			})
		}
	})
}

// The contract's bytes do not depend on whether the cache answered.
func TestResponseCache_AnswersAreTheUncachedBytes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		cached := harness.Start(t, harness.WithDB(bdb))
		uncached := harness.Start(t, harness.WithDB(bdb), harness.WithEnv(map[string]string{"RESPONSE_CACHE": "off"}))
		host, _, _ := seedDashboard(t, cached, "bytes")
		for _, read := range cachedReads {
			want := read.get(t, uncached.WithToken(host.Token))
			for i := range 2 { // a miss, then a hit
				got := read.get(t, cached.WithToken(host.Token))
				if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) {
					t.Errorf("%s read %d: HTTP %d %s\nwithout the cache: HTTP %d %s", read.name, i, got.Status, got.Body, want.Status, want.Body)
				}
			}
			if tag := want.Header.Get("ETag"); tag != "" {
				t.Errorf("%s: RESPONSE_CACHE=off still sent ETag %s", read.name, tag)
			}
		}
	})
}

func TestResponseCache_IfNoneMatchRevalidates(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host, _, room := seedDashboard(t, srv, "etag")
		c := srv.WithToken(host.Token)
		for _, read := range cachedReads {
			t.Run(read.name, func(t *testing.T) {
				first := read.get(t, c)
				etag := first.Header.Get("ETag")
				var notModified harness.Response
				cost := srv.StatementsDuring(func() { notModified = read.get(t, c, harness.Header("If-None-Match", etag)) })
				if notModified.Status != http.StatusNotModified || len(notModified.Body) != 0 {
					t.Fatalf("If-None-Match with the current tag: HTTP %d %q, want 304 and no body", notModified.Status, notModified.Body)
				}
				if notModified.Header.Get("ETag") != etag || cost != 1 {
					t.Errorf("304: ETag %q (want %q), %d statements (want 1)", notModified.Header.Get("ETag"), etag, cost)
				}
				// A list of tags, one of them weak, matches as RFC 9110 says.
				if res := read.get(t, c, harness.Header("If-None-Match", `"other", W/`+etag)); res.Status != http.StatusNotModified {
					t.Errorf("If-None-Match with the tag in a list: HTTP %d, want 304", res.Status)
				}

				srv.Pause()
				c.UpdateSettings(room.ID, map[string]any{"name": "Renamed " + read.name})
				changed := read.get(t, c, harness.Header("If-None-Match", etag))
				if changed.Status != http.StatusOK || !bytes.Contains(changed.Body, []byte("Renamed "+read.name)) {
					t.Fatalf("after a change, the old tag got HTTP %d %s, want 200 with the new name", changed.Status, changed.Body)
				}
				if changed.Header.Get("ETag") == etag {
					t.Errorf("a changed answer kept the ETag %s", etag)
				}
			})
		}
	})
}

// Two viewers asking the same question get their own answers; a tag of one
// viewer's answer never revalidates another's; a refusal is never kept.
func TestResponseCache_ViewersNeverShareAnswers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		alice, _, _ := seedDashboard(t, srv, "alice")
		bob, _, _ := seedDashboard(t, srv, "bob")
		for _, read := range cachedReads {
			t.Run(read.name, func(t *testing.T) {
				a1 := read.get(t, srv.WithToken(alice.Token))
				b1 := read.get(t, srv.WithToken(bob.Token))
				a2 := read.get(t, srv.WithToken(alice.Token))
				b2 := read.get(t, srv.WithToken(bob.Token), harness.Header("If-None-Match", a1.Header.Get("ETag")))
				for _, c := range []struct {
					res        harness.Response
					mine, them string
				}{{a1, "Standup alice", "Standup bob"}, {a2, "Standup alice", "Standup bob"}, {b1, "Standup bob", "Standup alice"}, {b2, "Standup bob", "Standup alice"}} {
					if c.res.Status != http.StatusOK || !bytes.Contains(c.res.Body, []byte(c.mine)) || bytes.Contains(c.res.Body, []byte(c.them)) {
						t.Errorf("HTTP %d %s: want the viewer's own rooms (%s) only", c.res.Status, c.res.Body, c.mine)
					}
				}
				if !bytes.Equal(b1.Body, b2.Body) {
					t.Errorf("bob's answer changed between reads")
				}
				// The same question with a bad token or a participant's
				// token is refused every time, never answered from the cache.
				for i := range 2 {
					res := read.get(t, srv.WithToken("not-a-token"))
					if res.Status == http.StatusOK && !bytes.Contains(res.Body, []byte(`"errors"`)) || bytes.Contains(res.Body, []byte("Standup")) {
						t.Errorf("bad token, read %d: HTTP %d %s", i, res.Status, res.Body)
					}
				}
			})
		}
	})
}

// TestResponseCache_ReadsAfterAWriteSeeIt is the freshness guarantee: a
// read that starts after a write has committed reflects it, whichever
// instance wrote (or plain SQL, straight in the database), while other
// reads race the writes. The writer renames a room and a participant
// through the API and through SQL, counting up; every read must show a
// count no lower than the last write that had committed when it started.
func TestResponseCache_ReadsAfterAWriteSeeIt(t *testing.T) {
	t.Run("postgres, two instances", func(t *testing.T) {
		a, b, admin := harness.TwoInstances(t)
		freshness(t, a, b, admin)
	})
	t.Run("sqlite", func(t *testing.T) {
		srv := harness.Start(t)
		freshness(t, srv, srv, srv.DB())
	})
}

var countRE = regexp.MustCompile(`(room|user)-(\d+)`)

func freshness(t *testing.T, writer, reader *harness.Server, admin *bun.DB) {
	host, guest, room := seedDashboard(t, writer, "fresh")
	hostW, guestW := writer.WithToken(host.Token), writer.WithToken(guest.Token)
	hostR := reader.WithToken(host.Token)
	ctx := context.Background()

	const writes = 60
	// committed[kind] is the count of the last write of that kind known
	// to have committed (the API answered, or the SQL returned).
	var committed [2]atomic.Int64
	write := func(i int) {
		switch i % 4 {
		case 0:
			harness.MustSucceed(t, "rename", hostW.UpdateSettings(room.ID, map[string]any{"name": fmt.Sprintf("room-%d", i)}))
		case 1:
			dbtest.Exec(t, admin, "UPDATE rooms SET name = ? WHERE id = ?", fmt.Sprintf("room-%d", i), room.ID)
		case 2:
			res := guestW.REST(http.MethodPatch, "/users/me", map[string]any{"displayName": fmt.Sprintf("user-%d", i)})
			if res.Status != http.StatusOK {
				t.Errorf("PATCH /users/me: HTTP %d %s", res.Status, res.Body)
			}
		case 3:
			if _, err := admin.NewRaw("UPDATE users SET display_name = ? WHERE id = ?", fmt.Sprintf("user-%d", i), guest.ID).Exec(ctx); err != nil {
				t.Errorf("rename the guest in SQL: %v", err)
			}
		}
		committed[i%4/2].Store(int64(i))
	}
	for i := range 4 { // every kind has committed once before the reads start
		write(i)
	}

	done := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for _, read := range cachedReads {
		for range 2 {
			wg.Go(func() {
				for {
					select {
					case <-done:
						return
					default:
					}
					floor := [2]int64{committed[0].Load(), committed[1].Load()}
					res, err := read.try(hostR)
					if err != nil || res.Status != http.StatusOK {
						t.Errorf("%s: HTTP %d %s %v", read.name, res.Status, res.Body, err)
						return
					}
					reads.Add(1)
					seen := [2]int64{-1, -1}
					for _, m := range countRE.FindAllSubmatch(res.Body, -1) {
						n, _ := strconv.ParseInt(string(m[2]), 10, 64)
						kind := 0
						if string(m[1]) == "user" {
							kind = 1
						}
						seen[kind] = max(seen[kind], n)
					}
					for kind, what := range []string{"the room's name", "the participant's name"} {
						if kind == 1 && !read.showsUsers {
							continue
						}
						if seen[kind] < floor[kind] {
							t.Errorf("%s read that started after write %d committed shows %s at write %d: a stale answer", read.name, floor[kind], what, seen[kind])
						}
					}
				}
			})
		}
	}
	for i := 4; i < writes; i++ {
		write(i)
		time.Sleep(2 * time.Millisecond) // let the readers' cached answers age between writes
	}
	close(done)
	wg.Wait()
	if reads.Load() < writes {
		t.Errorf("only %d reads raced %d writes", reads.Load(), writes)
	}
	t.Logf("%d reads raced %d writes", reads.Load(), writes)
}

// Only error-free reads of the viewer's own data are kept: another room's
// data (room(id)), an answer with an error, and mutations are made afresh
// every time, and get no ETag.
func TestResponseCache_KeepsOnlyTheViewersOwnErrorFreeReads(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		host, _, room := seedDashboard(t, srv, "only")
		c := srv.WithToken(host.Token)
		for _, tc := range []struct {
			name, query string
			errors      bool
		}{
			{"room(id)", fmt.Sprintf(`{ room(id: %q) { name participants { displayName } } }`, room.ID), false},
			{"me and room(id)", fmt.Sprintf(`{ me { id } room(id: %q) { name } }`, room.ID), false},
			// Another user's rooms are refused (NOT_SELF): an answer with an
			// error under me.
			{"an error under me", `{ me { rooms(first: 2) { participants { user { rooms(first: 1) { id } } } } } }`, true},
			{"a mutation", fmt.Sprintf(`mutation { updateRoomSettings(roomId: %q, input: {allowChat: true}) { id } }`, room.ID), false},
		} {
			for i := range 2 {
				var res harness.Response
				cost := srv.StatementsDuring(func() {
					res = c.REST(http.MethodPost, "/query", map[string]any{"query": tc.query})
				})
				if hasErrors := bytes.Contains(res.Body, []byte(`"errors"`)); hasErrors != tc.errors {
					t.Fatalf("%s: HTTP %d %s", tc.name, res.Status, res.Body)
				}
				if cost <= 1 || res.Header.Get("ETag") != "" {
					t.Errorf("%s, request %d: %d statements, ETag %q: answered like a cached read", tc.name, i, cost, res.Header.Get("ETag"))
				}
			}
		}
	})
}
