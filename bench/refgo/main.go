// Command refgo is reference (b) of the benchmark, the Go limit for
// GET /users/me/rooms: a hand-written Go + pgx server that verifies the JWT
// as the product does, runs the minimal prepared statements in one round
// trip (pgconn batch over a pgxpool connection, binary results), and
// encodes the contract's exact bytes by hand from the raw column values,
// with pooled buffers and no per-row allocation. bench/run.sh fails unless
// its answer is byte-identical to the product's. Not part of the product.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"
	"os"
	"slices"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neuronmeet/api/bench/internal/ref"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	variant := flag.String("variant", variantPipeline, "handler variant served at /users/me/rooms")
	flag.Parse()
	if !slices.Contains(variants, *variant) {
		log.Fatalf("refgo: unknown -variant %q (one of %v)", *variant, variants)
	}
	dsn, secret := os.Getenv("DATABASE_URL"), os.Getenv("JWT_SECRET")
	if dsn == "" || secret == "" {
		log.Fatal("refgo: DATABASE_URL and JWT_SECRET are required")
	}
	pool, err := newPool(context.Background(), dsn)
	if err != nil {
		log.Fatal(err)
	}
	h := &handler{pool: pool, auth: ref.NewVerifier([]byte(secret)), variant: *variant}
	mux := http.NewServeMux()
	mux.Handle("GET /users/me/rooms", h)
	// The revalidation bound (revalidate.go).
	mux.HandleFunc("GET /revalidate/users/me/rooms", h.revalidate)
	// Every variant stays reachable for bench/variants.sh.
	mux.HandleFunc("GET /v/{variant}/users/me/rooms", func(w http.ResponseWriter, r *http.Request) {
		v := r.PathValue("variant")
		if !slices.Contains(variants, v) {
			http.NotFound(w, r)
			return
		}
		h.serve(w, r, v)
	})
	log.Fatal(http.ListenAndServe(*addr, mux))
}

// newPool opens the pool (ref.PoolConns connections) with the statements
// prepared on every connection.
func newPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = ref.PoolConns()
	cfg.AfterConnect = prepare
	return pgxpool.NewWithConfig(ctx, cfg)
}
