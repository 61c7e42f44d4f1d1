package e2e

// User.usage over GraphQL: a host's activity per bucket, every bad
// argument named, only for oneself, a fixed number of statements for any
// number of rooms, and a response cache that never serves grown presence.

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/models"
	"github.com/neuronmeet/api/test/harness"
)

const usageQuery = `query($from: Time!, $to: Time!, $bucket: UsageBucket, $tz: String) {
  me { usage(from: $from, to: $to, bucket: $bucket, timeZone: $tz) {
    start end roomsCreated sessions participantSeconds peakParticipants uniqueParticipants } } }`

type usageRow struct {
	Start, End                                 string
	RoomsCreated, Sessions, ParticipantSeconds int
	PeakParticipants, UniqueParticipants       int
}

// usageVars asks for the hours from an hour ago to a day ahead of the
// wall clock, which the server's clock only ever runs ahead of.
func usageVars() map[string]any {
	now := time.Now()
	return map[string]any{"from": models.FormatTime(now.Add(-time.Hour)), "to": models.FormatTime(now.Add(24 * time.Hour)), "bucket": "HOUR"}
}

func usageRows(t *testing.T, c *harness.Client, vars map[string]any) []usageRow {
	t.Helper()
	res := c.GQL(usageQuery, vars)
	harness.MustSucceed(t, "usage", res)
	var data struct{ Me struct{ Usage []usageRow } }
	res.Decode(t, &data)
	return data.Me.Usage
}

// usageTotals sums the counts over the rows and takes the largest peak
// and unique count: the meeting may straddle an hour.
func usageTotals(rows []usageRow) (created, sessions, seconds, peak, unique int) {
	for _, r := range rows {
		created += r.RoomsCreated
		sessions += r.Sessions
		seconds += r.ParticipantSeconds
		peak = max(peak, r.PeakParticipants)
		unique = max(unique, r.UniqueParticipants)
	}
	return
}

// A meeting in the host's usage: one room created and started, a user who
// leaves and rejoins and a guest, their presence summed with the clock,
// hours without anything present with zeros, contiguous.
func TestUsage_AMeetingInTheHostsHours(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		ann := srv.Register("ann@example.com", "Ann")
		host, annC := srv.WithToken(hostU.Token), srv.WithToken(ann.Token)
		vars := usageVars()
		room := host.CreateRoom(map[string]any{"name": "Standup"})
		first, res := annC.Join(room.Code, nil)
		harness.MustSucceed(t, "ann joins", res)
		guestName := "Walk-in"
		_, res = srv.Join(room.Code, &guestName)
		harness.MustSucceed(t, "a guest joins", res)
		srv.Advance(10 * time.Minute)
		harness.MustSucceed(t, "ann leaves", annC.Leave(first.ParticipantID))
		srv.Advance(10 * time.Minute)
		_, res = annC.Join(room.Code, nil)
		harness.MustSucceed(t, "ann rejoins", res)
		harness.MustSucceed(t, "end", host.EndRoom(room.ID))

		rows := usageRows(t, host, vars)
		if len(rows) < 25 || len(rows) > 26 {
			t.Fatalf("%d hourly rows for 25 hours", len(rows))
		}
		for i := 1; i < len(rows); i++ {
			if rows[i].Start != rows[i-1].End {
				t.Fatalf("row %d starts at %s, the last ended at %s", i, rows[i].Start, rows[i-1].End)
			}
		}
		created, sessions, seconds, peak, unique := usageTotals(rows)
		// Ann 10 min, the guest 20 min; a few milliseconds of real time
		// pass between the requests, and a meeting across an hour loses
		// up to a second to each row's rounding down.
		if created != 1 || sessions != 1 || peak != 2 || unique != 2 || seconds < 1799 || seconds > 1802 {
			t.Fatalf("usage: %d created, %d sessions, %d s, peak %d, %d people; want 1, 1, 1800 s, 2, 2", created, sessions, seconds, peak, unique)
		}
		// Another host's usage is their own.
		if _, _, seconds, _, _ := usageTotals(usageRows(t, annC, vars)); seconds != 0 {
			t.Fatalf("ann hosts nothing, but her usage holds %d s", seconds)
		}
	})
}

// Every bad argument is BAD_USER_INPUT naming it, before anything is read;
// an enum value the schema lacks is the schema's refusal; another user's
// usage is theirs alone.
func TestUsage_BadArgumentsAreNamedAndOthersRefused(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		ann := srv.Register("ann@example.com", "Ann")
		host, annC := srv.WithToken(hostU.Token), srv.WithToken(ann.Token)
		day := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		at := func(d time.Duration) string { return models.FormatTime(day.Add(d)) }
		for _, c := range []struct {
			name  string
			vars  map[string]any
			field string
		}{
			{"to before from", map[string]any{"from": at(time.Hour), "to": at(0)}, "to"},
			{"an empty window", map[string]any{"from": at(0), "to": at(0)}, "to"},
			{"an unknown zone", map[string]any{"from": at(0), "to": at(time.Hour), "tz": "Europe/Atlantis"}, "timeZone"},
			{"an empty zone", map[string]any{"from": at(0), "to": at(time.Hour), "tz": ""}, "timeZone"},
			{"401 days", map[string]any{"from": at(0), "to": at(401 * 24 * time.Hour)}, "to"},
			{"401 hours", map[string]any{"from": at(0), "to": at(401 * time.Hour), "bucket": "HOUR"}, "to"},
		} {
			var res harness.GQLResponse
			if n := srv.StatementsDuring(func() { res = host.GQL(usageQuery, c.vars) }); n > 1 {
				t.Errorf("%s: %d statements, want the viewer's only", c.name, n)
			}
			if res.Code() != "BAD_USER_INPUT" || res.Errors[0].Extensions["field"] != c.field {
				t.Errorf("%s: %+v, want BAD_USER_INPUT on %s", c.name, res.Errors, c.field)
			}
		}
		if res := host.GQL(usageQuery, map[string]any{"from": at(0), "to": at(time.Hour), "bucket": "FORTNIGHT"}); res.Code() != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("an unknown bucket: %+v", res.Errors)
		}
		if rows := usageRows(t, host, map[string]any{"from": at(0), "to": at(400 * 24 * time.Hour)}); len(rows) != 400 {
			t.Errorf("400 days: %d rows", len(rows))
		}

		// Ann took part in the host's room, so she may see its host, but
		// not his usage.
		room := host.CreateRoom(nil)
		_, res := annC.Join(room.Code, nil)
		harness.MustSucceed(t, "join", res)
		res = annC.GQL(`query($id: ID!) { room(id: $id) { host { usage(from: "2030-01-01T00:00:00Z", to: "2030-01-02T00:00:00Z") { start } } } }`, map[string]any{"id": room.ID})
		if res.Outcome() != "FORBIDDEN/NOT_SELF" {
			t.Errorf("another user's usage: %+v", res.Errors)
		}
	})
}

// Usage costs the same statements for 1, 10 or 100 rooms: the viewer, the
// rooms that can show in the window, and their presences.
func TestUsage_StatementsConstantInRooms(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		counts := map[int]int64{}
		for _, n := range []int{1, 10, 100} {
			host := srv.Register(fmt.Sprintf("host%d@example.com", n), "Host")
			guest := srv.Register(fmt.Sprintf("guest%d@example.com", n), "Guest")
			seedHostedRooms(t, srv.App().Service(), host.ID, guest.ID, n)
			var rows []usageRow
			counts[n] = srv.StatementsDuring(func() { rows = usageRows(t, srv.WithToken(host.Token), usageVars()) })
			// seedHostedRooms: the host, a user and a guest in every room,
			// all present: the host and the user once each among the people.
			created, sessions, _, peak, unique := usageTotals(rows)
			if created != n || sessions != n || peak != 3*n || unique != n+2 {
				t.Fatalf("%d rooms: %d created, %d sessions, peak %d, %d people; want %d, %d, %d, %d", n, created, sessions, peak, unique, n, n, 3*n, n+2)
			}
		}
		t.Logf("statements by room count %v", counts)
		if counts[1] != 3 || counts[10] != 3 || counts[100] != 3 {
			t.Fatalf("statements by room count %v, want 3 each (viewer, rooms, presences)", counts)
		}
	})
}

// The response cache keeps what only writes change (rooms created and
// started) and answers presence afresh: it grows with the clock while
// someone is there.
func TestUsage_CacheNeverServesGrownPresenceStale(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		srv := harness.Start(t, harness.WithDB(bdb))
		hostU := srv.Register("host@example.com", "Host")
		host := srv.WithToken(hostU.Token)
		vars := usageVars()
		room := host.CreateRoom(nil)
		guestName := "Walk-in"
		_, res := srv.Join(room.Code, &guestName)
		harness.MustSucceed(t, "join", res)

		const counts = `query($from: Time!, $to: Time!, $bucket: UsageBucket) { me { usage(from: $from, to: $to, bucket: $bucket) { start end roomsCreated sessions } } }`
		first := host.GQL(counts, vars)
		harness.MustSucceed(t, "counts", first)
		if n := srv.StatementsDuring(func() { host.GQL(counts, vars) }); n != 1 {
			t.Fatalf("a repeated read of the counts cost %d statements, want 1 (the viewer, from the cache)", n)
		}
		host.CreateRoom(nil)
		var data struct{ Me struct{ Usage []usageRow } }
		host.GQL(counts, vars).Decode(t, &data)
		if created, _, _, _, _ := usageTotals(data.Me.Usage); created != 2 {
			t.Fatalf("after a second room, the cache served %d rooms created", created)
		}

		_, _, before, _, _ := usageTotals(usageRows(t, host, vars))
		srv.Advance(10 * time.Second)
		// (9: ten seconds across an hour are rounded down in two rows.)
		if _, _, after, _, _ := usageTotals(usageRows(t, host, vars)); after < before+9 {
			t.Fatalf("presence served stale: %d s, 10 s later %d s", before, after)
		}
	})
}

// The README's usage example runs as written: March in Berlin is 31 rows,
// the day clocks go forward 23 hours long and starting at its midnight.
func TestUsage_READMEExampleRuns(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "#### Usage over time\n")
	_, block, _ := strings.Cut(section, "```graphql\n")
	query, _, found := strings.Cut(block, "```")
	if !found {
		t.Fatal("README: no graphql block under #### Usage over time")
	}
	srv := harness.Start(t)
	host := srv.WithToken(srv.Register("host@example.com", "Host").Token)
	res := host.GQL(query, nil)
	harness.MustSucceed(t, "the README's usage query", res)
	var data struct{ Me struct{ Usage []usageRow } }
	res.Decode(t, &data)
	rows := data.Me.Usage
	if len(rows) != 31 || rows[28].Start != "2026-03-28T23:00:00.000Z" || rows[28].End != "2026-03-29T22:00:00.000Z" {
		t.Fatalf("%d rows; the 29th: %+v", len(rows), rows[min(28, len(rows)-1)])
	}
}
