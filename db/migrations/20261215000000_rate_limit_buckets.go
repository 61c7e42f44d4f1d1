package migrations

import (
	"context"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect"
)

// The rate limits' buckets, shared by every instance on a PostgreSQL
// database (RATE_LIMIT_STORE=postgres; internal/ratelimit.PostgresStore).
// SQLite has one instance, which keeps its buckets in memory, so the
// tables exist on PostgreSQL only.
//
// UNLOGGED: a bucket is a few seconds' to an hour's worth of state, not
// worth writing every check to the WAL for; what a crash loses (the
// tables come back empty, as on a promoted standby) is allowance given
// back once. Times are Unix seconds as float8, the arithmetic the store
// does in one expression. Keys are bytea: they hold what clients typed.
func init() {
	Migrations.MustRegister(upRateLimitBuckets, downRateLimitBuckets)
}

var rateLimitBucketsUp = map[dialect.Name][]string{
	dialect.PG: {
		`CREATE UNLOGGED TABLE rate_limit_buckets (
			key BYTEA PRIMARY KEY,
			tokens DOUBLE PRECISION NOT NULL,
			rate DOUBLE PRECISION NOT NULL CHECK (rate > 0),
			burst DOUBLE PRECISION NOT NULL,
			at DOUBLE PRECISION NOT NULL
		)`,
		`CREATE UNLOGGED TABLE rate_limit_known (
			key BYTEA PRIMARY KEY,
			at DOUBLE PRECISION NOT NULL
		)`,
	},
	dialect.SQLite: {},
}

var rateLimitBucketsDown = map[dialect.Name][]string{
	dialect.PG:     {`DROP TABLE IF EXISTS rate_limit_known`, `DROP TABLE IF EXISTS rate_limit_buckets`},
	dialect.SQLite: {},
}

func upRateLimitBuckets(ctx context.Context, db *bun.DB) error {
	return runForDialect(ctx, db, rateLimitBucketsUp)
}

func downRateLimitBuckets(ctx context.Context, db *bun.DB) error {
	return runForDialect(ctx, db, rateLimitBucketsDown)
}
