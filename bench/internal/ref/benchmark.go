package ref

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/neuronmeet/api/internal/auth"
)

// BenchmarkSecret signs the tokens of the references' in-process
// benchmarks.
var BenchmarkSecret = []byte("bench-reference-secret")

// BenchmarkDSN is the seeded nm_bench database the in-process benchmarks
// run on (bench/run.sh sets BENCH_DATABASE_URL); without it they skip.
func BenchmarkDSN(b *testing.B) string {
	if dsn := os.Getenv("BENCH_DATABASE_URL"); dsn != "" {
		return dsn
	}
	b.Skip("BENCH_DATABASE_URL is not set (bench/run.sh sets it to the seeded nm_bench)")
	return ""
}

// BenchmarkMyRooms runs GET /users/me/rooms through h as user, in-process,
// for the allocations per request bench/RESULTS.md sets beside the
// product's.
func BenchmarkMyRooms(b *testing.B, name string, h http.Handler, user string) {
	token, err := auth.NewTokens(BenchmarkSecret, time.Hour).IssueUser(user, "bench@neuronmeet.dev")
	if err != nil {
		b.Fatal(err)
	}
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest(http.MethodGet, "/users/me/rooms", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("HTTP %d: %.300s", rec.Code, rec.Body.Bytes())
			}
		}
	})
}
