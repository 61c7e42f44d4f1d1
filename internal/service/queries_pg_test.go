package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/models"
)

// TestNativeColumns_MatchModels holds the native statements' column lists
// to the Bun models: a column added to a model must be decoded natively
// too (and then TestNativeQueries_MatchBun checks how).
func TestNativeColumns_MatchModels(t *testing.T) {
	bdb := dbtest.Open(t, "sqlite") // only the models' tables are read
	for _, c := range []struct {
		model any
		cols  []string
		types []uint32
	}{
		{models.Participant{}, participantColumns, participantTypes},
		{models.User{}, userColumns, userTypes},
		{models.Room{}, roomColumns, roomTypes},
		{models.RoomSettings{}, settingsColumnList, settingsTypes},
	} {
		var want []string
		for _, f := range bdb.Table(reflect.TypeOf(c.model)).Fields {
			want = append(want, f.Name)
		}
		if !slices.Equal(c.cols, want) {
			t.Errorf("%T: native columns %v, model has %v", c.model, c.cols, want)
		}
		if len(c.types) != len(c.cols) {
			t.Errorf("%T: %d column types for %d columns", c.model, len(c.types), len(c.cols))
		}
	}
}

// TestNativeQueries_MatchBun runs each native statement and its Bun
// counterpart on the same random data on PostgreSQL and requires identical
// results: NULLs, guests, departed participants, rooms without settings,
// ties in every ordering, unicode, empty strings, and timestamps with
// microseconds written in several time zones.
func TestNativeQueries_MatchBun(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	ctx := context.Background()
	users, rooms := seedRandom(t, bdb, rng)
	// Both ways of sending the native statements: prepared by name, and
	// unnamed (behind a pooler); both decode binary results.
	for _, unnamed := range []bool{false, true} {
		t.Run(statementMode(unnamed), func(t *testing.T) {
			s := New(Deps{DB: bdb, Tokens: auth.NewTokens([]byte("a-test-secret-that-is-32-bytes!!"), time.Hour), UnnamedStatements: unnamed})
			if !s.postgres {
				t.Fatal("not PostgreSQL")
			}

			same := func(what string, bunV, pgV any, bunErr, pgErr error) {
				t.Helper()
				if (bunErr == nil) != (pgErr == nil) || (bunErr != nil && bunErr.Error() != pgErr.Error()) {
					t.Fatalf("%s: errors differ: bun %v, native %v", what, bunErr, pgErr)
				}
				// An empty result is nil from Bun, an empty slice natively: the
				// same answer to every caller.
				if a, b := reflect.ValueOf(bunV), reflect.ValueOf(pgV); a.Kind() == reflect.Slice && a.Len() == 0 && b.Len() == 0 {
					return
				}
				if !reflect.DeepEqual(bunV, pgV) {
					t.Fatalf("%s: results differ\nbun:    %s\nnative: %s", what, dump(bunV), dump(pgV))
				}
			}

			for i := range 40 {
				ids := pick(rng, rooms, rng.IntN(len(rooms)+1))
				if i%5 == 0 {
					ids = append(ids, "cnosuchroom000000000000000")
				}
				if len(ids) == 0 {
					continue // Bun renders IN () for an empty list; callers never pass one
				}
				b, bErr := s.participantsByRoomIDsBun(ctx, ids)
				p, pErr := s.participantsByRoomIDsPG(ctx, ids)
				same(fmt.Sprintf("participants of %d rooms", len(ids)), b, p, bErr, pErr)
			}
			for range 20 {
				ids := append(pick(rng, users, 1+rng.IntN(len(users))), "cnosuchuser000000000000000")
				b, bErr := s.usersByIDsBun(ctx, ids)
				p, pErr := s.usersByIDsPG(ctx, ids)
				byID := func(a, b *models.User) int { return strings.Compare(a.ID, b.ID) }
				slices.SortFunc(b, byID) // neither statement orders users
				slices.SortFunc(p, byID)
				same("users", b, p, bErr, pErr)
			}
			for _, id := range append(slices.Clone(users), "cnosuchuser000000000000000") {
				b, bErr := s.userByIDBun(ctx, id)
				p, pErr := s.userByIDPG(ctx, id)
				same("user "+id, b, p, bErr, pErr)
				p, _, pErr = s.viewerAndRoomsPG(ctx, id, RoomPage{})
				same("user "+id+" with their rooms", b, p, bErr, pErr)
				bv, bVersion, bvErr := s.userAndVersionByIDBun(ctx, id)
				pv, pVersion, pvErr := s.userAndVersionByIDPG(ctx, id)
				same("user "+id+" and their answers version", []any{bv, bVersion}, []any{pv, pVersion}, bvErr, pvErr)
			}
			hosts := users[:3]
			for _, host := range hosts {
				var hosted []string
				if err := bdb.NewSelect().Table("rooms").Column("id").Where("host_id = ?", host).Scan(ctx, &hosted); err != nil {
					t.Fatal(err)
				}
				afters := []*string{nil, ptrTo("cnosuchroom000000000000000")}
				for _, id := range pick(rng, hosted, min(4, len(hosted))) {
					afters = append(afters, ptrTo(id))
				}
				for _, status := range []RoomStatus{"", RoomStatusAll, RoomStatusActive, RoomStatusEnded} {
					for _, first := range []*int{nil, ptrTo(1), ptrTo(3), ptrTo(MaxPageSize)} {
						for _, after := range afters {
							for _, with := range []bool{false, true} {
								page := RoomPage{Status: status, First: first, After: after, WithSettings: with}
								b, bErr := s.hostedRoomsBun(ctx, host, page)
								p, pErr := s.hostedRoomsPG(ctx, host, page)
								same(fmt.Sprintf("rooms of %s, page %s", host, dump(page)), b, p, bErr, pErr)
								// The same in one round trip with the viewer.
								bu, buErr := s.userByIDBun(ctx, host)
								pu, p, pErr := s.viewerAndRoomsPG(ctx, host, page)
								same("viewer "+host, bu, pu, buErr, pErr)
								same(fmt.Sprintf("rooms of %s with the viewer, page %s", host, dump(page)), b, p, bErr, pErr)
							}
						}
					}
				}
			}
		})
	}
}

func statementMode(unnamed bool) string {
	if unnamed {
		return "unnamed"
	}
	return "prepared"
}

func ptrTo[T any](v T) *T { return &v }

// pick returns n distinct random elements of from.
func pick(rng *rand.Rand, from []string, n int) []string {
	out := slices.Clone(from)
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out[:n]
}

func dump(v any) string {
	switch v := v.(type) {
	case []models.Participant:
		var b strings.Builder
		for _, p := range v {
			fmt.Fprintf(&b, "\n  %s", dump(p))
		}
		return b.String()
	case []*models.User:
		var b strings.Builder
		for _, u := range v {
			fmt.Fprintf(&b, "\n  %s", dump(*u))
		}
		return b.String()
	case []*models.Room:
		var b strings.Builder
		for _, r := range v {
			fmt.Fprintf(&b, "\n  %s settings %s", dump(*r), dump(r.JoinedSettings))
		}
		return b.String()
	}
	rv := reflect.Indirect(reflect.ValueOf(v))
	if !rv.IsValid() {
		return "nil"
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Sprintf("%#v", rv.Interface())
	}
	var b strings.Builder
	b.WriteString("{")
	for i := range rv.NumField() {
		f := rv.Field(i)
		name := rv.Type().Field(i).Name
		if name == "BaseModel" || name == "JoinedSettings" {
			continue
		}
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				fmt.Fprintf(&b, " %s:nil", name)
				continue
			}
			f = f.Elem()
		}
		if tm, ok := f.Interface().(time.Time); ok {
			fmt.Fprintf(&b, " %s:%s(%s)", name, tm.Format(time.RFC3339Nano), tm.Location())
			continue
		}
		fmt.Fprintf(&b, " %s:%q", name, fmt.Sprint(f.Interface()))
	}
	b.WriteString(" }")
	return b.String()
}

// seedRandom writes random users, rooms, settings and participants
// directly (the service would normalise what the test wants varied) and
// returns the user and room ids.
func seedRandom(t *testing.T, bdb *bun.DB, rng *rand.Rand) (users, rooms []string) {
	t.Helper()
	names := []string{"", "Ada", "Zoë Ωmega", "李小龙", "emoji 🎉🚀", "O'Brien \"quoted\"", "tab\tand\nnewline", "ß", "Ünïcödé"}
	zones := []*time.Location{time.UTC, time.FixedZone("X", -7*3600-1800), time.FixedZone("Y", 13*3600+2700)}
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	// Few distinct instants, so that orderings tie; microseconds and odd
	// zones, which PostgreSQL must normalise.
	instant := func() time.Time {
		us := rng.IntN(6) * 1_000_123
		if rng.IntN(3) == 0 {
			us = rng.IntN(1 << 40)
		}
		return base.Add(time.Duration(us) * time.Microsecond).In(zones[rng.IntN(len(zones))])
	}
	maybe := func(s string) any {
		if rng.IntN(3) == 0 {
			return nil
		}
		return s
	}
	maybeTime := func() any {
		if rng.IntN(3) == 0 {
			return nil
		}
		return instant()
	}
	id := func(prefix string, i int) string { return fmt.Sprintf("c%s%0*d", prefix, 24-len(prefix), i) }
	for i := range 12 {
		u := id("u", i)
		users = append(users, u)
		dbtest.Exec(t, bdb, `INSERT INTO users (id, email, password_hash, name, display_name, avatar_url, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			u, fmt.Sprintf("user%d@exämple.com", i), "$2a$04$hash"+fmt.Sprint(i), maybe(names[rng.IntN(len(names))]),
			names[rng.IntN(len(names))], maybe("https://example.com/ä/"+fmt.Sprint(i)), instant(), instant())
	}
	for i := range 30 {
		r := id("r", i)
		rooms = append(rooms, r)
		host := users[rng.IntN(3)] // the first three users host every room
		dbtest.Exec(t, bdb, `INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r, fmt.Sprintf("abc-%04d-x", i), names[rng.IntN(len(names))], host, rng.IntN(2) == 0, rng.IntN(2) == 0,
			maybeTime(), maybeTime(), instant(), instant())
		if rng.IntN(5) != 0 { // some rooms have no settings row
			dbtest.Exec(t, bdb, `INSERT INTO room_settings (id, room_id, allow_chat, allow_screen_share, allow_guest_access,
				waiting_room, mute_participants_on_join, max_participants, allow_participant_video, allow_participant_audio)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				id("s", i), r, rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0, rng.IntN(2) == 0,
				rng.IntN(1000)-10, rng.IntN(2) == 0, rng.IntN(2) == 0)
		}
		for j := range rng.IntN(9) {
			var user, guest any
			if rng.IntN(2) == 0 {
				user = users[rng.IntN(len(users))]
			} else {
				guest = names[rng.IntN(len(names))]
			}
			if rng.IntN(6) == 0 {
				user, guest = nil, nil // neither, which the schema allows
			}
			active := rng.IntN(3) != 0
			var left any
			if !active {
				left = instant()
			}
			// Not unique per room among active users: drop the duplicate.
			dbtest.Exec(t, bdb, `INSERT INTO participants (id, room_id, user_id, guest_name, is_active, is_host, joined_at, left_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
				id(fmt.Sprintf("p%d_", i), j), r, user, guest, active, rng.IntN(4) == 0, instant(), left)
		}
	}
	return users, rooms
}

// A native statement is bounded like any other: by the request's context
// (PostgreSQL is told to cancel it) and by DB_STATEMENT_TIMEOUT, whose
// error still reads as the database being unavailable. A table lock held
// by another transaction keeps the statement waiting.
func TestNativeQueries_CancelledAndTimedOut(t *testing.T) {
	bdb, s := openPostgres(t, db.Config{StatementTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	tx, err := bdb.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0; LOCK TABLE participants IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	_, err = s.ParticipantsByRoomIDs(ctx, []string{"croom"})
	if !db.IsUnavailable(err) || time.Since(start) > 5*time.Second {
		t.Fatalf("after %v: err %v, want the statement timeout (unavailable)", time.Since(start), err)
	}

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = s.ParticipantsByRoomIDs(cctx, []string{"croom"})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("after %v: err %v, want the context's deadline, before the statement timeout", time.Since(start), err)
	}
	// The pool is healthy afterwards.
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ParticipantsByRoomIDs(ctx, []string{"croom"}); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
}

// BenchmarkViewerAndRooms compares the viewer lookup and the rooms'
// statement in one round trip (a batch) with the two run one after the
// other.
func BenchmarkViewerAndRooms(b *testing.B) {
	bdb := dbtest.Open(b, "postgres")
	s := New(Deps{DB: bdb, Tokens: auth.NewTokens([]byte("a-test-secret-that-is-32-bytes!!"), time.Hour)})
	ctx := context.Background()
	host := "cbenchhost"
	dbtest.Exec(b, bdb, `INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES (?, 'h@x', 'x', 'Host', now(), now())`, host)
	for i := range 50 {
		dbtest.Exec(b, bdb, `INSERT INTO rooms (id, code, name, host_id, created_at, updated_at) VALUES (?, ?, 'Room', ?, now(), now())`,
			fmt.Sprintf("croom%02d", i), fmt.Sprintf("abc-%04d-x", i), host)
		dbtest.Exec(b, bdb, `INSERT INTO room_settings (id, room_id) VALUES (?, ?)`, fmt.Sprintf("cset%02d", i), fmt.Sprintf("croom%02d", i))
	}
	page := RoomPage{WithSettings: true}
	b.Run("batched", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.viewerAndRoomsPG(ctx, host, page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("sequential", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.userByIDPG(ctx, host); err != nil {
				b.Fatal(err)
			}
			if _, err := s.hostedRoomsPG(ctx, host, page); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Only the native statements are prepared on a connection: Bun's, whose
// arguments are inlined into each text, run unnamed (db.Connect's exec
// mode) instead of each costing a Parse round trip and a slot in pgx's
// statement cache. The native ones, alone or batched, stay prepared;
// behind a pooler (UnnamedStatements) nothing is.
func TestStatements_OnlyNativeArePrepared(t *testing.T) {
	for _, unnamed := range []bool{false, true} {
		t.Run(statementMode(unnamed), func(t *testing.T) { onlyNativeArePrepared(t, unnamed) })
	}
}

func onlyNativeArePrepared(t *testing.T, unnamed bool) {
	bdb, s := openPostgres(t, db.Config{MaxOpenConns: 1})
	s.unnamed = unnamed
	ctx := context.Background()
	host := "cprephost"
	dbtest.Exec(t, bdb, `INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES (?, 'p@x', 'x', 'Host', now(), now())`, host)
	for i := range 3 { // Bun reads and writes, each text a new one
		dbtest.Exec(t, bdb, `INSERT INTO rooms (id, code, name, host_id, created_at, updated_at) VALUES (?, ?, 'Room', ?, now(), now())`,
			fmt.Sprintf("cproom%d", i), fmt.Sprintf("prp-%04d-x", i), host)
		if err := bdb.NewSelect().Model(new(models.Room)).Where("id = ?", fmt.Sprintf("cproom%d", i)).Scan(ctx); err != nil {
			t.Fatal(err)
		}
	}
	page := RoomPage{WithSettings: true}
	for range 2 {
		if _, err := s.userByIDPG(ctx, host); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.viewerAndRoomsPG(ctx, host, page); err != nil {
			t.Fatal(err)
		}
		if _, err := s.participantsByRoomIDsPG(ctx, []string{"cproom0"}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string // one connection: the session every statement ran on
	if err := bdb.NewRaw("SELECT statement FROM pg_prepared_statements ORDER BY statement").Scan(ctx, &got); err != nil {
		t.Fatal(err)
	}
	roomsSQL, _, _ := roomsQuery(host, page)
	want := []string{sqlParticipantsByRoomIDs, roomsSQL, sqlUserByID}
	slices.Sort(want)
	if unnamed {
		want = nil
	}
	if !slices.Equal(got, want) {
		t.Fatalf("prepared statements:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// openPostgres is a service over a fresh migrated PostgreSQL database
// opened with cfg (its URL filled in), for tests that tune the pool.
func openPostgres(t *testing.T, cfg db.Config) (*bun.DB, *Service) {
	t.Helper()
	cfg.URL = dbtest.NewPostgresDatabase(t)
	// Migrated without cfg's statement timeout: a test's short one is for
	// the statements it measures, and building an index on a busy machine
	// can outlast it.
	migrator, err := db.Connect(db.Config{URL: cfg.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Migrate(context.Background(), migrator)
	_ = migrator.Close()
	if err != nil {
		t.Fatal(err)
	}
	bdb, err := db.Connect(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bdb.Close() })
	return bdb, New(Deps{DB: bdb, Tokens: auth.NewTokens([]byte("a-test-secret-that-is-32-bytes!!"), time.Hour)})
}

// TestNativeConnection_MatchesBun runs the connections' pages natively and
// through Bun on the same random data on PostgreSQL: every order (and the
// default) both ways, random filters (names holding % and _, statuses,
// creation bounds, occupancy), walked forwards with first/after and
// backwards with last/before, and pages between two cursors; the hosted
// and the attended lists. Both must answer the same rooms in the same
// order, the same cursors, page info and total count, and the same errors.
func TestNativeConnection_MatchesBun(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	ctx := context.Background()
	users, rooms := seedRandom(t, bdb, rng)
	// The stored statistics and names a filter or an order reads, with
	// ties; and a few more rooms per host, for pages to walk.
	names := []string{"50% off", "a_b", "A_B", "ab", "aXb", "Zoë", "zoë", "", "100%", "_"}
	base := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	instant := func() time.Time { return base.Add(time.Duration(rng.IntN(8)*1_000_123) * time.Microsecond) }
	for i := range 30 {
		r := fmt.Sprintf("cxroom%019d", i)
		rooms = append(rooms, r)
		var started, ended any
		if rng.IntN(3) != 0 {
			started = instant()
		}
		if rng.IntN(3) != 0 {
			ended = instant()
		}
		dbtest.Exec(t, bdb, `INSERT INTO rooms (id, code, name, host_id, is_active, is_locked, started_at, ended_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, false, ?, ?, ?, ?)`,
			r, fmt.Sprintf("xyz-%04d-x", i), names[rng.IntN(len(names))], users[rng.IntN(3)], rng.IntN(2) == 0, started, ended, instant(), instant())
	}
	for _, r := range rooms {
		name := any(nil)
		if rng.IntN(2) == 0 {
			name = names[rng.IntN(len(names))]
		}
		dbtest.Exec(t, bdb, `UPDATE rooms SET peak_participants = ?, active_participants = ?, last_activity_at = ?, name = COALESCE(?, name) WHERE id = ?`,
			rng.IntN(4), rng.IntN(3), instant(), name, r)
	}
	now := base.Add(time.Hour)
	s := New(Deps{DB: bdb, Tokens: auth.NewTokens([]byte("a-test-secret-that-is-32-bytes!!"), time.Hour), Now: func() time.Time { return now }})

	type answer struct {
		Rooms    []*models.Room
		Cursors  []string
		Presence []any
		PageInfo PageInfo
		Count    int
	}
	run := func(native bool, list roomList, args ConnectionArgs) (answer, error) {
		args.WithCount = native // the Bun path counts when asked, as before
		p, err := s.planConnection(auth.WithPrincipal(ctx, &auth.Principal{UserID: list.userID}), list, args)
		if err != nil {
			return answer{}, err
		}
		var page connectionPage
		if native {
			page, err = s.connectionPagePG(ctx, p, nil)
		} else {
			page, err = s.connectionPageBun(ctx, p)
		}
		if err != nil {
			return answer{}, err
		}
		conn, err := s.finishConnection(ctx, p, page)
		if err != nil {
			return answer{}, err
		}
		a := answer{Rooms: conn.Nodes(), PageInfo: conn.PageInfo}
		for _, e := range conn.Edges {
			a.Cursors = append(a.Cursors, e.Cursor())
			if e.MyPresence != nil {
				a.Presence = append(a.Presence, *e.MyPresence)
			}
		}
		a.Count, err = conn.TotalCount(ctx)
		return a, err
	}
	pages, nonEmpty := 0, 0
	same := func(what string, list roomList, args ConnectionArgs) answer {
		t.Helper()
		b, bErr := run(false, list, args)
		p, pErr := run(true, list, args)
		if (bErr == nil) != (pErr == nil) || (bErr != nil && bErr.Error() != pErr.Error()) {
			t.Fatalf("%s: errors differ: bun %v, native %v", what, bErr, pErr)
		}
		if !reflect.DeepEqual(b, p) {
			t.Fatalf("%s: answers differ\nbun:    %s %+v %v %d\nnative: %s %+v %v %d", what,
				dump(b.Rooms), b.PageInfo, b.Cursors, b.Count, dump(p.Rooms), p.PageInfo, p.Cursors, p.Count)
		}
		pages++
		if len(p.Rooms) > 0 {
			nonEmpty++
		}
		return p
	}
	randomFilter := func() *RoomFilter {
		if rng.IntN(4) == 0 {
			return nil
		}
		var f RoomFilter
		if rng.IntN(3) == 0 {
			f.Status = ptrTo([]RoomStatus{RoomStatusAll, RoomStatusActive, RoomStatusEnded}[rng.IntN(3)])
		}
		if rng.IntN(4) == 0 {
			f.CreatedAfter = ptrTo(instant())
		}
		if rng.IntN(4) == 0 {
			f.CreatedBefore = ptrTo(instant())
		}
		if rng.IntN(3) == 0 {
			f.Search = ptrTo([]string{"%", "_", "a_", "A", "b", "zoË", "", "0%", "x"}[rng.IntN(9)])
		}
		if rng.IntN(4) == 0 {
			f.HasActiveParticipants = ptrTo(rng.IntN(2) == 0)
		}
		return &f
	}
	var lists []roomList
	for _, u := range users[:3] {
		lists = append(lists, roomList{userID: u})
	}
	for _, u := range users[3:6] {
		lists = append(lists, roomList{attended: true, userID: u})
	}
	orders := []*RoomOrder{nil}
	for _, f := range []RoomOrderField{OrderCreatedAt, OrderStartedAt, OrderEndedAt, OrderName, OrderLastActivity, OrderPeakParticipants} {
		for _, d := range []OrderDirection{OrderAsc, OrderDesc} {
			orders = append(orders, &RoomOrder{Field: f, Direction: d})
		}
	}
	for _, list := range lists {
		for _, order := range orders {
			for range 3 {
				filter := randomFilter()
				what := fmt.Sprintf("%s of %s, order %+v, filter %s", list.kind(), list.userID, order, dump(filter))
				for _, with := range []bool{false, true} {
					k := 1 + rng.IntN(4)
					// Forwards to the end, then backwards to the start.
					var all []string
					var after *string
					for i := 0; ; i++ {
						a := same(fmt.Sprintf("%s, first %d after page %d", what, k, i), list,
							ConnectionArgs{Filter: filter, OrderBy: order, First: &k, After: after, WithSettings: with})
						all = append(all, a.Cursors...)
						if !a.PageInfo.HasNextPage {
							break
						}
						after = a.PageInfo.EndCursor
					}
					var before *string
					for i := 0; ; i++ {
						a := same(fmt.Sprintf("%s, last %d before page %d", what, k, i), list,
							ConnectionArgs{Filter: filter, OrderBy: order, Last: &k, Before: before, WithSettings: with})
						if !a.PageInfo.HasPreviousPage {
							break
						}
						before = a.PageInfo.StartCursor
					}
					// Between two cursors, both ways, and a default-sized page
					// from a cursor.
					if len(all) > 0 {
						x, y := all[rng.IntN(len(all))], all[rng.IntN(len(all))]
						same(what+", first between", list, ConnectionArgs{Filter: filter, OrderBy: order, First: &k, After: &x, Before: &y, WithSettings: with})
						same(what+", last between", list, ConnectionArgs{Filter: filter, OrderBy: order, Last: &k, After: &x, Before: &y, WithSettings: with})
						same(what+", default page", list, ConnectionArgs{Filter: filter, OrderBy: order, After: &x, WithSettings: with})
					}
				}
			}
		}
		// A cursor of another list or order is refused the same way.
		bad := "not-a-cursor"
		same("bad cursor", list, ConnectionArgs{After: &bad})
	}
	t.Logf("%d pages compared, %d not empty", pages, nonEmpty)
	if nonEmpty < pages/2 {
		t.Fatalf("only %d of %d pages hold rooms: the data tests too little", nonEmpty, pages)
	}
}
