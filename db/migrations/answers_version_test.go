package migrations_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db/dbtest"
)

// The response cache is only as fresh as the answers versions: every write
// that changes what a user's own answers show must give that user a new
// version, whoever makes it. These writes are plain SQL, as an operator's
// or another program's would be.
func TestAnswersVersion_EveryShownWriteBumpsItsUsers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		const now = "2026-01-01 10:00:00+00"
		for _, q := range []string{
			`INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES
				('host', 'h@x', 'x', 'Host', '` + now + `', '` + now + `'),
				('guest', 'g@x', 'x', 'Guest', '` + now + `', '` + now + `'),
				('other', 'o@x', 'x', 'Other', '` + now + `', '` + now + `')`,
			`INSERT INTO rooms (id, code, name, host_id, created_at, updated_at) VALUES
				('r1', 'aaa-aaa-aaa', 'One', 'host', '` + now + `', '` + now + `'),
				('r2', 'bbb-bbb-bbb', 'Two', 'other', '` + now + `', '` + now + `')`,
			`INSERT INTO room_settings (id, room_id) VALUES ('s1', 'r1'), ('s2', 'r2')`,
			`INSERT INTO participants (id, room_id, user_id, joined_at) VALUES ('p1', 'r1', 'guest', '` + now + `')`,
		} {
			dbtest.Exec(t, bdb, q)
		}
		for _, tc := range []struct {
			name    string
			sql     string
			changes []string // whose versions change; the others' must not
		}{
			{"a new room", `INSERT INTO rooms (id, code, name, host_id, created_at, updated_at) VALUES ('r3', 'ccc-ccc-ccc', 'Three', 'host', '` + now + `', '` + now + `')`, []string{"host"}},
			{"a room's name", `UPDATE rooms SET name = 'Renamed' WHERE id = 'r1'`, []string{"host"}},
			{"another host's room", `UPDATE rooms SET is_locked = TRUE WHERE id = 'r2'`, []string{"other"}},
			{"a room moved to another host", `UPDATE rooms SET host_id = 'host' WHERE id = 'r2'`, []string{"host", "other"}},
			{"settings", `UPDATE room_settings SET allow_chat = FALSE WHERE room_id = 'r1'`, []string{"host"}},
			{"new settings", `INSERT INTO room_settings (id, room_id) VALUES ('s3', 'r3')`, []string{"host"}},
			{"a join", `INSERT INTO participants (id, room_id, guest_name, joined_at) VALUES ('p2', 'r1', 'Walk-in', '` + now + `')`, []string{"host"}},
			{"a leave", `UPDATE participants SET is_active = FALSE, left_at = '` + now + `' WHERE id = 'p1'`, []string{"host"}},
			{"a participant removed", `DELETE FROM participants WHERE id = 'p2'`, []string{"host"}},
			{"a participant's display name", `UPDATE users SET display_name = 'Guest Two' WHERE id = 'guest'`, []string{"host", "guest"}},
			{"a participant's avatar", `UPDATE users SET avatar_url = 'https://a/b.png' WHERE id = 'guest'`, []string{"host", "guest"}},
			{"the host's own profile", `UPDATE users SET name = 'H' WHERE id = 'host'`, []string{"host"}},
			{"a password (not shown)", `UPDATE users SET password_hash = 'y', updated_at = '` + now + `' WHERE id = 'guest'`, nil},
			{"a profile set to what it was", `UPDATE users SET display_name = 'Guest Two' WHERE id = 'guest'`, nilOnPostgres(bdb, []string{"host", "guest"})},
			{"a room deleted", `DELETE FROM rooms WHERE id = 'r3'`, []string{"host"}},
		} {
			before := versions(t, bdb)
			dbtest.Exec(t, bdb, tc.sql)
			after := versions(t, bdb)
			for user := range before {
				want := slices.Contains(tc.changes, user)
				if got := after[user] != before[user]; got != want {
					t.Errorf("%s: %s's version changed = %v, want %v", tc.name, user, got, want)
				}
			}
		}
	})
}

// A rolled-back write leaves the version as it was: the cache keeps
// serving the answer that is still true.
func TestAnswersVersion_RolledBackWritesLeaveIt(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		dbtest.Exec(t, bdb, `INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at)
			VALUES ('host', 'h@x', 'x', 'Host', '2026-01-01 10:00:00+00', '2026-01-01 10:00:00+00')`)
		before := versions(t, bdb)
		err := bdb.RunInTx(context.Background(), nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET display_name = 'Changed' WHERE id = 'host'`); err != nil {
				return err
			}
			return errRollBack
		})
		if err != errRollBack {
			t.Fatalf("transaction: %v", err)
		}
		if after := versions(t, bdb); after["host"] != before["host"] {
			t.Errorf("a rolled-back write changed the version: %d -> %d", before["host"], after["host"])
		}
	})
}

var errRollBack = errors.New("roll back")

// nilOnPostgres: PostgreSQL's trigger skips an update that changes no
// shown value; SQLite's fires on the columns being set. Both are safe (an
// extra version only costs a cache miss).
func nilOnPostgres(bdb *bun.DB, sqlite []string) []string {
	if bdb.Dialect().Name().String() == "pg" {
		return nil
	}
	return sqlite
}

func versions(t *testing.T, bdb *bun.DB) map[string]int64 {
	t.Helper()
	var rows []struct {
		ID      string `bun:"id"`
		Version int64  `bun:"answers_version"`
	}
	if err := bdb.NewRaw("SELECT id, answers_version FROM users").Scan(context.Background(), &rows); err != nil {
		t.Fatalf("read versions: %v", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.ID] = r.Version
	}
	return out
}
