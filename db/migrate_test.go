package db_test

import (
	"context"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/db/migrations"
)

// Every migration can be rolled back: an SQL migration without a
// .down.sql file would be marked pending with its schema left in place.
func TestMigrations_EveryOneHasADown(t *testing.T) {
	for _, m := range migrations.Migrations.Sorted() {
		if m.Down == nil {
			t.Errorf("%s has no down migration (add %s_….down.sql)", m.Name, m.Name)
		}
	}
}

// migrate, status, rollback, status, migrate: the last group's downs undo
// its ups on a database in use, and the history applies again after.
func TestMigrate_RollbackUndoesTheLastGroupAndMigrateReappliesIt(t *testing.T) {
	ctx := context.Background()
	dbtest.ForEachDialect(t, func(t *testing.T, bdb *bun.DB) {
		all := migrationNames()
		wantStatus(t, bdb, "after migrate", all, nil)
		// Rows in every table, so the downs meet a database that was used.
		const now = "2026-01-01 10:00:00+00"
		for _, q := range []string{
			`INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at) VALUES ('u', 'u@x', 'x', 'U', '` + now + `', '` + now + `')`,
			`INSERT INTO rooms (id, code, name, host_id, created_at, updated_at) VALUES ('r', 'aaa-aaa-aaa', 'R', 'u', '` + now + `', '` + now + `')`,
			`INSERT INTO room_settings (id, room_id) VALUES ('s', 'r')`,
			`INSERT INTO participants (id, room_id, user_id, joined_at) VALUES ('p', 'r', 'u', '` + now + `')`,
		} {
			dbtest.Exec(t, bdb, q)
		}

		rolledBack, err := db.Rollback(ctx, bdb)
		if err != nil {
			t.Fatal(err)
		}
		// One Migrate applied the whole history: it is one group.
		newestFirst := slices.Clone(all)
		slices.Reverse(newestFirst)
		if !slices.Equal(rolledBack, newestFirst) {
			t.Errorf("rolled back %v, want every migration newest first", rolledBack)
		}
		wantStatus(t, bdb, "after rollback", nil, all)
		if _, err := bdb.ExecContext(ctx, "SELECT 1 FROM users"); err == nil {
			t.Error("users still exists after the initial migration was rolled back")
		}
		if again, err := db.Rollback(ctx, bdb); err != nil || len(again) != 0 {
			t.Errorf("rollback with nothing applied: %v, %v; want nothing done", again, err)
		}

		applied, err := db.Migrate(ctx, bdb)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(applied, all) {
			t.Errorf("migrate after rollback applied %v, want %v", applied, all)
		}
		wantStatus(t, bdb, "after migrating again", all, nil)
		dbtest.Exec(t, bdb, `INSERT INTO users (id, email, password_hash, display_name, created_at, updated_at, answers_version) VALUES ('u', 'u@x', 'x', 'U', '`+now+`', '`+now+`', 0)`)
	})
}

func migrationNames() []string {
	var out []string
	for _, m := range migrations.Migrations.Sorted() {
		out = append(out, m.Name)
	}
	return out
}

// wantStatus checks MigrationStatus lists applied then pending, in order.
func wantStatus(t *testing.T, bdb *bun.DB, when string, applied, pending []string) {
	t.Helper()
	status, err := db.MigrationStatus(context.Background(), bdb)
	if err != nil {
		t.Fatal(err)
	}
	var gotApplied, gotPending []string
	for _, m := range status {
		if m.Applied {
			gotApplied = append(gotApplied, m.Name)
			if m.Group == 0 || m.At.IsZero() {
				t.Errorf("%s: %s applied without a group or time: %+v", when, m.Name, m)
			}
		} else {
			gotPending = append(gotPending, m.Name)
		}
	}
	if !slices.Equal(gotApplied, applied) || !slices.Equal(gotPending, pending) {
		t.Errorf("%s: applied %v, pending %v; want applied %v, pending %v", when, gotApplied, gotPending, applied, pending)
	}
}
