package service_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/service"
)

// lastQueries records the statements a service runs, for EXPLAIN, and
// the parameters of those it runs natively (which Bun's hooks do not see).
type lastQueries struct {
	mu      sync.Mutex
	queries []string
	args    map[string][]any
}

func (h *lastQueries) native(sqlText string, args []any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.args == nil {
		h.args = map[string][]any{}
	}
	h.args[sqlText] = args
}

// explain is q's plan, run with the parameters it last ran with.
func (h *lastQueries) explain(ctx context.Context, bdb *bun.DB, q string) ([]string, error) {
	h.mu.Lock()
	args := h.args[q]
	h.mu.Unlock()
	// database/sql directly: Bun would read $n as its own text, not
	// parameters.
	rows, err := bdb.DB.QueryContext(ctx, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) "+q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	return lines, rows.Err()
}

func (h *lastQueries) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (h *lastQueries) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.queries = append(h.queries, e.Query)
}

func (h *lastQueries) take() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := h.queries
	h.queries = nil
	return out
}

// On PostgreSQL, for a host with 10,000 rooms among 30,000, every order of
// roomsConnection, both ways, first page and a page after a cursor, is
// read from its index in order, with no sort of the host's rooms; the
// hasActiveParticipants filter reads its partial index. The plans are
// logged (go test -v -run TestRoomsConnection_EveryOrderReadsItsIndex):
// they are the EXPLAIN evidence the README's Dashboard section cites.
func TestRoomsConnection_EveryOrderReadsItsIndexOnPostgres(t *testing.T) {
	t.Parallel()
	bdb := dbtest.Open(t, "postgres")
	ctx := context.Background()
	e := newEnv(t, bdb)
	host := e.user(t, "Host")
	// 10,000 rooms of the host and 20,000 of 20 other hosts, with starts,
	// ends and peaks spread out (NULLs included) and a few rooms occupied.
	for _, q := range []string{
		// One answers-version bump per inserted room would take most of
		// the test's time; nothing here reads the versions.
		`ALTER TABLE rooms DISABLE TRIGGER rooms_answers_version`,
		`INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
		SELECT 'other' || h, 'other' || h || '@example.com', 'x', 'Other', now(), now() FROM generate_series(1, 20) AS h`,
		`INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at,
			last_activity_at, peak_participants, active_participants)
		SELECT 'room' || lpad(i::text, 8, '0'), 'code' || i, 'Room ' || (i % 997),
			CASE WHEN i <= 10000 THEN '` + host.ID + `' ELSE 'other' || (i % 20 + 1) END,
			i % 4 <> 0, false,
			CASE WHEN i % 5 = 0 THEN NULL ELSE now() - i * interval '1 minute' END,
			CASE WHEN i % 4 = 0 AND i % 5 <> 0 THEN now() - i * interval '1 minute' + interval '30 minutes' END,
			now() - i * interval '1 minute', now(), now() - (i % 5000) * interval '1 second', i % 37,
			CASE WHEN i % 100 = 1 THEN 3 ELSE 0 END
		FROM generate_series(1, 30000) AS i`,
		`ALTER TABLE rooms ENABLE TRIGGER rooms_answers_version`,
		`ANALYZE rooms`,
	} {
		if _, err := bdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	hook := &lastQueries{}
	bdb.AddQueryHook(hook)
	service.SetNativeArgs(e.svc, hook.native)
	ctxHost := asUser(host.ID)
	wantIndex := map[service.RoomOrderField]string{
		service.OrderCreatedAt: "rooms_host_created_idx", service.OrderStartedAt: "rooms_host_started_idx",
		service.OrderEndedAt: "rooms_host_ended_idx", service.OrderName: "rooms_host_name_idx",
		service.OrderLastActivity: "rooms_host_activity_idx", service.OrderPeakParticipants: "rooms_host_peak_idx",
	}
	explain := func(name, want string) {
		t.Helper()
		for _, q := range hook.take() {
			if !strings.Contains(q, "ORDER BY") || strings.HasPrefix(q, "EXPLAIN") {
				continue // the hasPreviousPage probe, or our own EXPLAIN
			}
			lines, err := hook.explain(ctx, bdb, q)
			if err != nil {
				t.Fatalf("%s: explain %s: %v", name, q, err)
			}
			plan := strings.Join(lines, "\n")
			t.Logf("%s:\n%s", name, plan)
			// In order from its index, and sought to the cursor: no sort,
			// and no filter passing over the rooms before it.
			if !strings.Contains(plan, "using "+want+" on rooms") || strings.Contains(plan, "Sort") || strings.Contains(plan, "Rows Removed by Filter") {
				t.Errorf("%s: the plan does not read %s in order:\n%s\n%s", name, want, q, plan)
			}
		}
	}
	occupied := true
	for field, index := range wantIndex {
		for _, dir := range []service.OrderDirection{service.OrderAsc, service.OrderDesc} {
			order := &service.RoomOrder{Field: field, Direction: dir}
			first, err := e.svc.RoomsConnection(ctxHost, host.ID, service.ConnectionArgs{OrderBy: order, First: ptr(20)})
			mustNoErr(t, err)
			explain(string(field)+" "+string(dir)+" first page", index)
			// A cursor deep in the list (going down by start or end, on a
			// NULL one: 2,000 rooms have none).
			deep, err := e.svc.RoomsConnection(ctxHost, host.ID, service.ConnectionArgs{OrderBy: order, First: ptr(100), After: first.PageInfo.EndCursor})
			mustNoErr(t, err)
			hook.take()
			_, err = e.svc.RoomsConnection(ctxHost, host.ID, service.ConnectionArgs{OrderBy: order, First: ptr(20), After: deep.PageInfo.EndCursor})
			mustNoErr(t, err)
			explain(string(field)+" "+string(dir)+" after a cursor", index)
			_, err = e.svc.RoomsConnection(ctxHost, host.ID, service.ConnectionArgs{OrderBy: order, Last: ptr(20), Before: deep.PageInfo.EndCursor})
			mustNoErr(t, err)
			explain(string(field)+" "+string(dir)+" before a cursor", index)
		}
	}
	_, err := e.svc.RoomsConnection(ctxHost, host.ID, service.ConnectionArgs{Filter: &service.RoomFilter{HasActiveParticipants: &occupied}, First: ptr(20)})
	mustNoErr(t, err)
	explain("hasActiveParticipants: true", "rooms_host_occupied_idx")

	// attended: an attendee of some 3,600 of the other hosts' rooms
	// (twice in some), among 18,000 presences of guests. Its page
	// aggregates the user's presences per room and sorts those rooms
	// (logged: it grows with the rooms one user attended, not with the
	// table); the page's presences are read from the (user_id, room_id,
	// joined_at) index.
	attendee := e.user(t, "Attendee")
	for _, q := range []string{
		`ALTER TABLE participants DISABLE TRIGGER participants_answers_version`,
		`INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at)
		SELECT 'part' || lpad(i::text, 8, '0'), 'room' || lpad((10000 + i % 20000 + 1)::text, 8, '0'),
			CASE WHEN i % 11 = 0 OR i <= 2000 THEN '` + attendee.ID + `' END, CASE WHEN i % 11 <> 0 AND i > 2000 THEN 'Guest' END,
			false, false, now() - i * interval '1 second', now()
		FROM generate_series(1, 22000) AS i`,
		`ALTER TABLE participants ENABLE TRIGGER participants_answers_version`,
		`ANALYZE participants`,
	} {
		if _, err := bdb.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	hook.take()
	page, err := e.svc.AttendedConnection(asUser(attendee.ID), attendee.ID, service.ConnectionArgs{First: ptr(20)})
	mustNoErr(t, err)
	if len(page.Edges) != 20 {
		t.Fatalf("attended: %d edges", len(page.Edges))
	}
	explainOnly := func(name, index string) {
		t.Helper()
		for _, q := range hook.take() {
			if !strings.Contains(q, "ORDER BY") || strings.HasPrefix(q, "EXPLAIN") {
				continue
			}
			lines, err := hook.explain(ctx, bdb, q)
			if err != nil {
				t.Fatalf("%s: explain %s: %v", name, q, err)
			}
			plan := strings.Join(lines, "\n")
			t.Logf("%s:\n%s", name, plan)
			if strings.HasPrefix(q, `SELECT "participant".`) && !strings.Contains(plan, index) {
				t.Errorf("%s: the plan does not read %s:\n%s", name, index, plan)
			}
		}
	}
	explainOnly("attended, latest presence first", "participants_user_room_joined_idx")
}
