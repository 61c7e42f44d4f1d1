package e2e

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// The benchmark's request shapes (bench/run.sh sends the same documents).
const (
	benchQueryA = `{ me { rooms { id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt ` +
		`settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants } ` +
		`participants { id roomId userId guestName isActive isHost joinedAt leftAt } } } }`
	benchQueryB = `{ me { rooms { id code name hostId isActive isLocked startedAt endedAt createdAt updatedAt ` +
		`host { displayName } ` +
		`settings { allowChat allowScreenShare allowGuestAccess waitingRoom muteParticipantsOnJoin maxParticipants } ` +
		`participants { id roomId userId guestName isActive isHost joinedAt leftAt user { displayName } } } } }`
	benchHostID    = "cbenchhost000000000000001"
	benchHostEmail = "bench@neuronmeet.dev"
)

// BenchmarkMeRooms measures the handler in-process on PostgreSQL seeded
// with bench/sql/host.sql (50 rooms, 400 participants): allocations and
// SQL statements per request for the three benchmarked shapes.
func BenchmarkMeRooms(b *testing.B) {
	bdb := dbtest.Open(b, "postgres")
	execSQLFile(b, bdb, harness.Path(b, "bench", "sql", "host.sql"))
	execSQLFile(b, bdb, harness.Path(b, "bench", "sql", "bighost.sql"))
	srv := harness.Start(b, harness.WithDB(bdb))
	token, err := srv.App().Tokens().IssueUser(benchHostID, benchHostEmail)
	if err != nil {
		b.Fatal(err)
	}
	bigToken, err := srv.App().Tokens().IssueUser("cbighost00000000000000001", "bighost@neuronmeet.dev")
	if err != nil {
		b.Fatal(err)
	}
	cases := []struct {
		name, method, path, body, token string
	}{
		{"graphql-a", http.MethodPost, "/query", gqlBody(benchQueryA), token},
		{"graphql-b", http.MethodPost, "/query", gqlBody(benchQueryB), token},
		{"rest-c", http.MethodGet, "/users/me/rooms", "", token},
		// A host with 1,000 rooms: the whole list, and the first page.
		{"rest-c-1000", http.MethodGet, "/users/me/rooms", "", bigToken},
		{"graphql-page-1000", http.MethodPost, "/query", gqlBody(strings.Replace(benchQueryA, "rooms {", "rooms(first: 50) {", 1)), bigToken},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var stmts atomic.Int64
			ctx := db.WithStatementCount(context.Background(), &stmts)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequestWithContext(ctx, c.method, c.path, strings.NewReader(c.body))
				req.Header.Set("Authorization", "Bearer "+c.token)
				if c.body != "" {
					req.Header.Set("Content-Type", "application/json")
				}
				rec := httptest.NewRecorder()
				srv.App().Handler().ServeHTTP(rec, req)
				if rec.Code != http.StatusOK || bytes.Contains(rec.Body.Bytes(), []byte(`"errors"`)) {
					b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body.Bytes())
				}
			}
			b.ReportMetric(float64(stmts.Load())/float64(b.N), "stmts/op")
		})
	}
}

func gqlBody(query string) string { return harness.JSON(map[string]string{"query": query}) }

// execSQLFile runs a fixture file of statements each ending in ";\n".
func execSQLFile(t testing.TB, bdb *bun.DB, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range strings.Split(string(raw), ";\n") {
		if s := strings.TrimSpace(stripComments(stmt)); s != "" {
			dbtest.Exec(t, bdb, s)
		}
	}
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "--") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
