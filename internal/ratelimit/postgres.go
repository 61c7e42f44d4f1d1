package ratelimit

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"
)

// PostgresStore keeps the buckets in PostgreSQL (the tables of migration
// 20261215000000_rate_limit_buckets), so every instance on the database
// spends one allowance (RATE_LIMIT_STORE=postgres).
//
// A check is one statement: an UPSERT that spends a token from each bucket
// taken (its refill computed from the row as locked, so concurrent checks
// on any instance queue on the row and each sees the last one's spend),
// RETURNING what is left, joined with a read of the buckets only looked at.
// A refusal costs a second statement that gives the tokens back, as the
// memory store cancels its reservations; meanwhile a concurrent attempt
// sees the bucket in debt, as it would in memory. Rows are locked in key
// order, so checks never deadlock one another.
//
// Times are the Guard's clock, as Unix seconds: instances' clocks agree to
// well within a bucket's period, and a clock behind the row's time
// refills nothing rather than taking tokens away.
type PostgresStore struct {
	db        bun.IDB
	lastSweep atomic.Int64 // Unix nanoseconds
}

var _ Store = (*PostgresStore)(nil)

// NewPostgresStore returns a store on db, which must be PostgreSQL and
// migrated.
func NewPostgresStore(db bun.IDB) *PostgresStore { return &PostgresStore{db: db} }

// pgKey is a bucket's row key: bytea, since keys hold what clients typed.
func pgKey(b Bucket) []byte {
	return []byte(string(b.Op) + "\x00" + b.Scope + "\x00" + b.Key)
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func perSecond(r Rate) float64 { return float64(r.N) / r.Per.Seconds() }

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// pgQuery builds a statement and its arguments in step.
type pgQuery struct {
	sql  strings.Builder
	args []any
}

func (q *pgQuery) add(sql string, args ...any) {
	q.sql.WriteString(sql)
	q.args = append(q.args, args...)
}

// values adds the CTE name(key, rate, burst[, known]) of buckets.
func (q *pgQuery) values(name string, buckets []Bucket, withKnown bool) {
	cols := " (key, rate, burst) AS (VALUES "
	if withKnown {
		cols = " (key, rate, burst, known) AS (VALUES "
	}
	q.add(name + cols)
	for i, b := range buckets {
		if i > 0 {
			q.add(", ")
		}
		if withKnown {
			var known any // NULL: no exemption
			if b.Known != "" {
				known = []byte(b.Known)
			}
			q.add("(?::bytea, ?::float8, ?::float8, ?::bytea)", pgKey(b), perSecond(b.Rate), float64(b.Rate.N), known)
		} else {
			q.add("(?::bytea, ?::float8, ?::float8)", pgKey(b), perSecond(b.Rate), float64(b.Rate.N))
		}
	}
	q.add(")")
}

// upsert adds the INSERT that sets each bucket of CTE take(key, rate,
// burst) at now: a missing row is a full bucket, set to full less one on
// insert; an existing one to set (an expression of the refilled tokens
// "refilled" and the row b).
func (q *pgQuery) upsert(now float64, set string) {
	q.add(`INSERT INTO rate_limit_buckets AS b (key, tokens, rate, burst, at)
		SELECT key, burst - 1, rate, burst, ?::float8 FROM take ORDER BY key
		ON CONFLICT (key) DO UPDATE SET tokens = `+set+`,
			rate = EXCLUDED.rate, burst = EXCLUDED.burst, at = GREATEST(b.at, EXCLUDED.at)`, now)
}

// refilled is a row's tokens at EXCLUDED.at, at most its burst.
const refilled = `LEAST(EXCLUDED.burst, b.tokens + GREATEST(0, EXCLUDED.at - b.at) * EXCLUDED.rate)`

type pgBucket struct {
	Key    []byte  `bun:"key"`
	Tokens float64 `bun:"tokens"`
	Rate   float64 `bun:"rate"`
	Taken  bool    `bun:"taken"`
}

// Check implements Store: one statement, two when it refuses.
func (p *PostgresStore) Check(ctx context.Context, now time.Time, take, peek []Bucket) (time.Duration, Bucket, error) {
	defer p.maybeSweep(ctx, now)
	t := unix(now)
	var q pgQuery
	q.add("WITH ")
	if len(take) > 0 {
		q.values("take", take, false)
		q.add(", taken AS (")
		q.upsert(t, refilled+" - 1")
		q.add(" RETURNING b.key, b.tokens, b.rate)")
		if len(peek) > 0 {
			q.add(", ")
		}
	}
	if len(peek) > 0 {
		q.values("peek", peek, true)
	}
	if len(take) > 0 {
		q.add(" SELECT key, tokens, rate, true AS taken FROM taken")
		if len(peek) > 0 {
			q.add(" UNION ALL")
		}
	}
	if len(peek) > 0 {
		q.add(` SELECT p.key, LEAST(p.burst, b.tokens + GREATEST(0, ?::float8 - b.at) * p.rate) AS tokens, p.rate, false AS taken
			FROM peek AS p JOIN rate_limit_buckets AS b ON b.key = p.key
			WHERE NOT EXISTS (SELECT FROM rate_limit_known AS k WHERE k.key = p.known AND k.at > ?::float8)`,
			t, t-knownFor.Seconds())
	}
	var rows []pgBucket
	if err := p.db.NewRaw(q.sql.String(), q.args...).Scan(ctx, &rows); err != nil {
		return 0, Bucket{}, fmt.Errorf("check buckets: %w", err)
	}
	byKey := make(map[string]Bucket, len(take)+len(peek))
	for _, b := range append(append([]Bucket{}, take...), peek...) {
		byKey[string(pgKey(b))] = b
	}
	var wait time.Duration
	var worst Bucket
	for _, r := range rows {
		var d time.Duration
		switch {
		case r.Taken && r.Tokens < 0:
			d = seconds(-r.Tokens / r.Rate)
		case !r.Taken && r.Tokens < 1:
			d = seconds((1 - r.Tokens) / r.Rate)
		}
		if d > wait {
			wait, worst = d, byKey[string(r.Key)]
		}
	}
	if wait > 0 && len(take) > 0 {
		var refund pgQuery
		refund.add("WITH ")
		refund.values("take", take, false)
		refund.add(" ")
		refund.upsert(t, "LEAST(b.burst, b.tokens + 1)")
		if _, err := p.db.NewRaw(refund.sql.String(), refund.args...).Exec(context.WithoutCancel(ctx)); err != nil {
			return 0, Bucket{}, fmt.Errorf("give back refused tokens: %w", err)
		}
	}
	return wait, worst, nil
}

// Spend implements Store: one statement.
func (p *PostgresStore) Spend(ctx context.Context, now time.Time, buckets []Bucket) error {
	var q pgQuery
	q.add("WITH ")
	q.values("take", buckets, false)
	q.add(" ")
	q.upsert(unix(now), refilled+" - 1")
	if _, err := p.db.NewRaw(q.sql.String(), q.args...).Exec(ctx); err != nil {
		return fmt.Errorf("spend tokens: %w", err)
	}
	return nil
}

// Remember implements Store: one statement.
func (p *PostgresStore) Remember(ctx context.Context, known string, now time.Time) error {
	_, err := p.db.NewRaw(`INSERT INTO rate_limit_known AS k (key, at) VALUES (?::bytea, ?::float8)
		ON CONFLICT (key) DO UPDATE SET at = GREATEST(k.at, EXCLUDED.at)`, []byte(known), unix(now)).Exec(ctx)
	if err != nil {
		return fmt.Errorf("remember a known address: %w", err)
	}
	return nil
}

// maybeSweep deletes, at most once every sweepEvery per store, the
// buckets that have refilled (a full bucket is the same as none) and the
// known addresses that expired, so the tables follow recent callers. It
// skips rows a check holds, so it never waits on one nor deadlocks with
// it. A failed sweep is left to the next: what it would have deleted
// reads the same as nothing.
func (p *PostgresStore) maybeSweep(ctx context.Context, now time.Time) {
	last := p.lastSweep.Load()
	if now.UnixNano()-last < int64(sweepEvery) || !p.lastSweep.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	t := unix(now)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = p.db.NewRaw(`WITH forgotten AS (DELETE FROM rate_limit_known WHERE at <= ?::float8)
		DELETE FROM rate_limit_buckets WHERE key IN (
			SELECT key FROM rate_limit_buckets WHERE at + (burst - tokens) / rate <= ?::float8
			ORDER BY key FOR UPDATE SKIP LOCKED)`, t-knownFor.Seconds(), t).Exec(ctx)
}
