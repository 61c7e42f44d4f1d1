package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/service"
)

// On PostgreSQL, for a host with 10,000 rooms over more than a year (each
// with three presences) among 30,000, usage reads the rooms through their
// indexes and the presences by room, never scanning either table; the
// last week's reads only the rooms that can show in it (those active
// since its start, and the occupied ones), with no row filtered out. A
// week long ago reads, from the same index, the rooms active since then,
// and filters out those created after it: an interval's overlap has no
// one-dimensional index; see the README. The plans are logged (go test
// -v -run TestUsage_ReadsOnlyTheWindowsRoomsOnPostgres ./internal/service).
func TestUsage_ReadsOnlyTheWindowsRoomsOnPostgres(t *testing.T) {
	t.Parallel()
	bdb := dbtest.Open(t, "postgres")
	ctx := context.Background()
	e := newEnv(t, bdb)
	host := e.user(t, "Host")
	// Room i was created i hours ago and lasted 30 minutes; every 50th is
	// still running, with someone in it. Other hosts' rooms are as many
	// again, twice.
	for _, q := range []string{
		`ALTER TABLE rooms DISABLE TRIGGER rooms_answers_version`,
		`ALTER TABLE participants DISABLE TRIGGER USER`,
		`INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
		SELECT 'other' || h, 'other' || h || '@example.com', 'x', 'Other', now(), now() FROM generate_series(1, 20) AS h`,
		`INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at,
			last_activity_at, peak_participants, active_participants)
		SELECT 'room' || lpad(i::text, 8, '0'), 'code' || i, 'Room ' || i,
			CASE WHEN i % 3 = 0 THEN '` + host.ID + `' ELSE 'other' || (i % 20 + 1) END,
			i % 50 = 0, false,
			now() - (i / 3) * interval '1 hour',
			CASE WHEN i % 50 <> 0 THEN now() - (i / 3) * interval '1 hour' + interval '30 minutes' END,
			now() - (i / 3) * interval '1 hour', now() - (i / 3) * interval '1 hour',
			CASE WHEN i % 50 = 0 THEN now() - (i / 3) * interval '1 hour' ELSE now() - (i / 3) * interval '1 hour' + interval '30 minutes' END,
			3, CASE WHEN i % 50 = 0 THEN 1 ELSE 0 END
		FROM generate_series(1, 30000) AS i`,
		`INSERT INTO participants (id, room_id, guest_name, is_active, is_host, joined_at, left_at)
		SELECT 'p' || r.id || '-' || k, r.id, 'Guest ' || k, r.is_active AND k = 1, false, r.started_at,
			CASE WHEN NOT (r.is_active AND k = 1) THEN r.started_at + k * interval '10 minutes' END
		FROM rooms AS r, generate_series(1, 3) AS k`,
		`ALTER TABLE participants ENABLE TRIGGER USER`,
		`ALTER TABLE rooms ENABLE TRIGGER rooms_answers_version`,
		`ANALYZE rooms`,
		`ANALYZE participants`,
	} {
		if _, err := bdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	hook := &lastQueries{}
	bdb.AddQueryHook(hook)
	now := time.Now()
	for _, w := range []struct {
		name     string
		from, to time.Time
		tight    bool
	}{
		{"the last week", now.AddDate(0, 0, -7), now.Add(time.Hour), true},
		{"a week 200 days ago", now.AddDate(0, 0, -207), now.AddDate(0, 0, -200), false},
	} {
		rows, err := e.svc.Usage(asUser(host.ID), host.ID, service.UsageArgs{From: w.from, To: w.to})
		mustNoErr(t, err)
		sessions := 0
		for _, r := range rows {
			sessions += r.Sessions
		}
		if sessions < 7*24-1 || sessions > 8*24+1 {
			t.Fatalf("%s: %d sessions, want one an hour", w.name, sessions)
		}
		for _, q := range hook.take() {
			if strings.HasPrefix(q, "EXPLAIN") {
				continue // the last window's
			}
			var lines []string
			if err := bdb.NewRaw("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "+q).Scan(ctx, &lines); err != nil {
				t.Fatalf("%s: explain %s: %v", w.name, q, err)
			}
			plan := strings.Join(lines, "\n")
			t.Logf("%s:\n%.300s\n%s", w.name, q, plan)
			if strings.Contains(plan, "Seq Scan") {
				t.Errorf("%s: a sequential scan:\n%s", w.name, plan)
			}
			if w.tight && strings.HasPrefix(q, "SELECT room.") && strings.Contains(plan, "Rows Removed") {
				t.Errorf("%s: rooms read and filtered out:\n%s", w.name, plan)
			}
		}
	}
}
