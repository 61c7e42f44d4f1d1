package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/neuronmeet/api/bench/internal/ref"
	"github.com/neuronmeet/api/internal/auth"
)

// BenchmarkReference measures reference (a)'s handler, and the previous
// reference's, in-process on the seeded nm_bench database (bench/run.sh
// sets BENCH_DATABASE_URL), for the allocations per request that
// bench/RESULTS.md sets beside the product's.
func BenchmarkReference(b *testing.B) {
	dsn := os.Getenv("BENCH_DATABASE_URL")
	if dsn == "" {
		b.Skip("BENCH_DATABASE_URL is not set (bench/run.sh sets it to the seeded nm_bench)")
	}
	secret := []byte("bench-reference-secret")
	variants, err := loadVariants()
	if err != nil {
		b.Fatal(err)
	}
	pool, err := newPool(context.Background(), dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	tokens := auth.NewTokens(secret, time.Hour)
	for _, c := range []struct{ name, variant, user string }{
		{"ref-a", fastest, "cbenchhost000000000000001"},
		{"ref-exact", "exact", "cbenchhost000000000000001"},
		{"ref-a-1000", fastest, "cbighost00000000000000001"},
	} {
		h := &handler{pool: pool, auth: ref.NewVerifier(secret), v: variants[c.variant]}
		token, err := tokens.IssueUser(c.user, "bench@neuronmeet.dev")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
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
}
