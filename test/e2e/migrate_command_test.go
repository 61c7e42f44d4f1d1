package e2e

// `migrate`, `migrate status` and `migrate rollback`, run as a developer
// runs them, on each store.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/db/migrations"
	"github.com/neuronmeet/api/test/harness"
)

// status prints one line per migration; rollback undoes the last group
// (here the whole history, which one migrate applied) and says so; migrate
// applies it again.
func TestMigrateCommand_StatusRollbackAndMigrateAgain(t *testing.T) {
	history := migrations.Migrations.Sorted()
	var rolledBack strings.Builder
	for i := len(history) - 1; i >= 0; i-- {
		rolledBack.WriteString("rolled back  " + history[i].Name + "\n")
	}
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{"SQLITE_PATH": filepath.Join(t.TempDir(), "neuronmeet.db")}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.NewPostgresDatabase(t)
			}
			status := func(want string) {
				t.Helper()
				out := harness.Command(t, env, "migrate", "status")
				lines := strings.Split(strings.TrimSpace(out), "\n")
				if len(lines) != len(history) {
					t.Fatalf("status printed %d lines, want one per migration (%d):\n%s", len(lines), len(history), out)
				}
				for i, l := range lines {
					if !strings.HasPrefix(l, want+"  "+history[i].Name) {
						t.Errorf("status line %q, want %s %s", l, history[i].Name, want)
					}
				}
			}
			status("pending")
			harness.Command(t, env, "migrate")
			status("applied")
			out := harness.Command(t, env, "migrate", "rollback")
			if out != rolledBack.String() {
				t.Errorf("rollback printed:\n%s\nwant every migration, newest first:\n%s", out, rolledBack.String())
			}
			status("pending")
			harness.Command(t, env, "migrate")
			status("applied")
		})
	}
}

// DB_STATEMENT_TIMEOUT bounds what requests run, not migrations: one held
// up for longer (here by a lock on bun's history table, as a large table's
// index build would take) waits it out, applying and rolling back, instead
// of being cancelled part way.
func TestMigrateCommand_OutlastsTheStatementTimeout(t *testing.T) {
	url := dbtest.NewPostgresDatabase(t)
	env := map[string]string{"DATABASE_URL": url, "DB_STATEMENT_TIMEOUT": "100ms"}
	pool, err := db.Open(context.Background(), db.Config{URL: url, MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	const held = time.Second
	waitedOut := func(args ...string) {
		t.Helper()
		tx, err := pool.BeginTx(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(context.Background(), "LOCK TABLE bun_migrations IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		released := make(chan error, 1)
		go func() {
			time.Sleep(held)
			released <- tx.Commit()
		}()
		start := time.Now()
		harness.Command(t, env, args...)
		if took := time.Since(start); took < held {
			t.Errorf("neuronmeet %s took %v: it never waited for the lock, so this tested nothing", strings.Join(args, " "), took)
		}
		if err := <-released; err != nil {
			t.Fatal(err)
		}
	}
	harness.Command(t, env, "migrate") // bun's tables, to lock
	waitedOut("migrate", "rollback")
	waitedOut("migrate")
	out := harness.Command(t, env, "migrate", "status")
	if n := strings.Count(out, "applied  "); n != len(migrations.Migrations.Sorted()) {
		t.Errorf("%d migrations applied, want all:\n%s", n, out)
	}
}
