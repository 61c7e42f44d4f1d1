package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
)

// IsUnavailable reports whether err means the database could not serve
// the statement for now (unreachable, restarting, connection lost, or the
// statement timed out) rather than that the statement was wrong. Such
// failures are worth a retry by the client; they are no bug of ours.
func IsUnavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case len(pgErr.Code) == 5 && pgErr.Code[:2] == "08": // connection exception
			return true
		case pgErr.Code == "57P01", pgErr.Code == "57P02", pgErr.Code == "57P03": // admin/crash shutdown, cannot connect now
			return true
		case pgErr.Code == "57014": // query_canceled: statement_timeout
			return true
		case pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) ||
		errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, context.DeadlineExceeded) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) ||
		errors.Is(err, sql.ErrConnDone)
}

// IsRetryableTx reports whether a transaction failed only because it lost
// a race with another one (serialization failure, deadlock): running it
// again from the start is correct and will usually succeed.
func IsRetryableTx(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// txAttempts bounds RunInTx's retries: a transaction that keeps losing
// races is reported rather than retried for ever.
const txAttempts = 4

// RunInTx runs fn in a transaction, and runs it again, in a new
// transaction, when PostgreSQL aborted it with a serialization failure or
// a deadlock (SQLSTATE 40001, 40P01). fn must therefore do nothing but
// database work through tx, or be safe to repeat.
func RunInTx(ctx context.Context, bdb bun.IDB, opts *sql.TxOptions, fn func(ctx context.Context, tx bun.Tx) error) error {
	var err error
	for attempt := 1; ; attempt++ {
		err = bdb.RunInTx(ctx, opts, fn)
		if err == nil || !IsRetryableTx(err) || attempt == txAttempts {
			return err
		}
		// A short random pause, growing with each attempt, so the
		// transactions that collided do not collide again in lockstep.
		pause := time.Duration(attempt) * (5*time.Millisecond + rand.N(10*time.Millisecond))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}
