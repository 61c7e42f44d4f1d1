// Command refserver is reference (a) of the benchmark: it answers
// GET /users/me/rooms with one hand-written SQL statement that builds the
// whole JSON document inside PostgreSQL, in the cheapest form measured
// (sql/*.sql; bench/README.md has the figures). It is a bound, not a
// product: timestamps are in PostgreSQL's own JSON format, not the
// contract's, and json_agg's separators differ in white space. Every other
// variant stays reachable at /q/{name}/users/me/rooms, "exact" among them:
// the previous reference, which formats every value to the contract in SQL.
// Not part of the product.
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/neuronmeet/api/bench/internal/ref"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

// fastest is the variant served at /users/me/rooms.
const fastest = "fast"

// variant is one way to build the answer. A statement returning two
// columns starts with the viewer check: NULL when the user does not exist.
type variant struct {
	sql  string
	mode pgx.QueryExecMode
}

func loadVariants() (map[string]variant, error) {
	entries, err := sqlFiles.ReadDir("sql")
	if err != nil {
		return nil, err
	}
	out := map[string]variant{}
	for _, e := range entries {
		raw, err := sqlFiles.ReadFile(path.Join("sql", e.Name()))
		if err != nil {
			return nil, err
		}
		// Prepared once per connection and reused: pgx's statement cache.
		out[strings.TrimSuffix(e.Name(), ".sql")] = variant{sql: string(raw), mode: pgx.QueryExecModeCacheStatement}
	}
	if _, ok := out[fastest]; !ok {
		return nil, fmt.Errorf("sql/%s.sql is missing", fastest)
	}
	// The same statement parsed and planned for every request, to measure
	// what preparing it saves.
	f := out[fastest]
	out[fastest+"-unprepared"] = variant{sql: f.sql, mode: pgx.QueryExecModeExec}
	return out, nil
}

type handler struct {
	pool *pgxpool.Pool
	auth *ref.Verifier
	v    variant
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	uid := h.auth.UserID(r)
	if uid == "" {
		ref.WriteUnauthorized(w)
		return
	}
	rows, err := h.pool.Query(r.Context(), h.v.sql, h.v.mode, uid)
	if err != nil {
		fail(w, err)
		return
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			fail(w, err)
			return
		}
		fail(w, fmt.Errorf("no row"))
		return
	}
	// The document is written from the driver's read buffer as it came:
	// nothing is decoded or copied.
	vals := rows.RawValues()
	if len(vals) == 2 {
		if vals[0] == nil {
			rows.Close()
			ref.WriteUnauthorized(w)
			return
		}
		vals = vals[1:]
	}
	body := vals[0]
	if fd := rows.FieldDescriptions()[len(rows.FieldDescriptions())-1]; fd.DataTypeOID == pgtype.JSONBOID && fd.Format == pgx.BinaryFormatCode {
		body = body[1:] // jsonb's binary form is a version byte and the text
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func newPool(ctx context.Context, dsn string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = ref.PoolConns()
	// PostgreSQL writes timestamps into JSON in the session's time zone:
	// UTC, as the contract's are.
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	return pgxpool.NewWithConfig(ctx, cfg)
}

func fail(w http.ResponseWriter, err error) {
	http.Error(w, `{"statusCode":500,"message":`+strconv.Quote(err.Error())+`}`, http.StatusInternalServerError)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	dsn, secret := os.Getenv("DATABASE_URL"), os.Getenv("JWT_SECRET")
	if dsn == "" || secret == "" {
		log.Fatal("refserver: DATABASE_URL and JWT_SECRET are required")
	}
	variants, err := loadVariants()
	if err != nil {
		log.Fatal(err)
	}
	pool, err := newPool(context.Background(), dsn)
	if err != nil {
		log.Fatal(err)
	}
	auth := ref.NewVerifier([]byte(secret))
	mux := http.NewServeMux()
	mux.Handle("GET /users/me/rooms", &handler{pool: pool, auth: auth, v: variants[fastest]})
	names := make([]string, 0, len(variants))
	for name, v := range variants {
		mux.Handle("GET /q/"+name+"/users/me/rooms", &handler{pool: pool, auth: auth, v: v})
		names = append(names, name)
	}
	slices.Sort(names)
	log.Printf("refserver: %s serves sql/%s.sql; variants at /q/{%s}/users/me/rooms", *addr, fastest, strings.Join(names, ","))
	log.Fatal(http.ListenAndServe(*addr, mux))
}
