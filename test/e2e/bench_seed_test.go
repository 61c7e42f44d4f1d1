package e2e

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/test/harness"
)

// TestBenchSeed_LoadsOnAFreshlyMigratedDatabase runs make bench's seed
// files on a database migrated to today's schema, as bench/lib.sh does,
// and checks that the benchmarked hosts answer what the load generator
// expects (-expect-rooms, -expect-participants): a migration that the
// seed does not satisfy fails here, not in the next make bench.
func TestBenchSeed_LoadsOnAFreshlyMigratedDatabase(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	for _, f := range []string{"bulk.sql", "host.sql", "bighost.sql", "diffhost.sql"} {
		execSQLFile(t, bdb, harness.Path(t, "bench", "sql", f))
	}
	srv := harness.Start(t, harness.WithDB(bdb))
	for _, host := range []struct {
		id, email           string
		rooms, participants int
	}{
		{benchHostID, benchHostEmail, 50, 400},
		{"cbighost00000000000000001", "bighost@neuronmeet.dev", 1000, 8000},
	} {
		token, err := srv.App().Tokens().IssueUser(host.id, host.email)
		if err != nil {
			t.Fatal(err)
		}
		res := srv.WithToken(token).REST(http.MethodGet, "/users/me/rooms", nil)
		if res.Status != http.StatusOK {
			t.Fatalf("%s: HTTP %d %.300s", host.id, res.Status, res.Body)
		}
		var rooms []struct {
			Participants []struct{} `json:"participants"`
		}
		if err := json.Unmarshal(res.Body, &rooms); err != nil {
			t.Fatalf("%s: %v", host.id, err)
		}
		people := 0
		for _, r := range rooms {
			people += len(r.Participants)
		}
		if len(rooms) != host.rooms || people != host.participants {
			t.Errorf("%s: %d rooms with %d participants, the benchmark expects %d with %d", host.id, len(rooms), people, host.rooms, host.participants)
		}
	}
	var users, rooms int
	if err := bdb.NewRaw("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM rooms)").Scan(t.Context(), &users, &rooms); err != nil {
		t.Fatal(err)
	}
	if users < 10000 || rooms < 100000 {
		t.Errorf("the bulk data holds %d users and %d rooms, want at least 10,000 and 100,000", users, rooms)
	}
}
