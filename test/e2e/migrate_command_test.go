package e2e

// `migrate`, `migrate status` and `migrate rollback`, run as a developer
// runs them, on each store.

import (
	"path/filepath"
	"strings"
	"testing"

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
