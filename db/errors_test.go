package db_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
)

// Two transactions that lock two rows in opposite orders deadlock;
// PostgreSQL aborts one (40P01), RunInTx runs it again, and both writes
// land.
func TestRunInTx_RetriesADeadlockedTransaction(t *testing.T) {
	bdb := dbtest.Open(t, "postgres")
	dbtest.Exec(t, bdb, "CREATE TABLE pair (id int PRIMARY KEY, v int NOT NULL)")
	dbtest.Exec(t, bdb, "INSERT INTO pair VALUES (1, 0), (2, 0)")
	ctx := context.Background()
	var attempts atomic.Int64
	var bothLockedFirst sync.WaitGroup
	bothLockedFirst.Add(2)
	var firstRound [2]atomic.Bool
	transfer := func(i int, first, second int) error {
		return db.RunInTx(ctx, bdb, nil, func(ctx context.Context, tx bun.Tx) error {
			attempts.Add(1)
			if _, err := tx.ExecContext(ctx, "UPDATE pair SET v = v + 1 WHERE id = ?", first); err != nil {
				return err
			}
			if firstRound[i].CompareAndSwap(false, true) {
				// Only on the first attempt: wait until the other transaction
				// holds its first row too, so the two must deadlock.
				bothLockedFirst.Done()
				bothLockedFirst.Wait()
			}
			_, err := tx.ExecContext(ctx, "UPDATE pair SET v = v + 1 WHERE id = ?", second)
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- transfer(0, 1, 2) }()
	go func() { errs <- transfer(1, 2, 1) }()
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("transaction failed despite the retry: %v", err)
		}
	}
	if n := attempts.Load(); n != 3 {
		t.Errorf("%d attempts, want 3 (one deadlock victim retried once)", n)
	}
	var sum int
	if err := bdb.NewRaw("SELECT sum(v) FROM pair").Scan(ctx, &sum); err != nil {
		t.Fatal(err)
	}
	if sum != 4 {
		t.Errorf("sum %d after two transactions of two increments each, want 4", sum)
	}
}

// A transaction that keeps losing races is reported after a few attempts;
// other errors are never retried.
func TestRunInTx_RetriesOnlyRaceLosses(t *testing.T) {
	bdb := dbtest.Open(t, "sqlite")
	ctx := context.Background()
	for _, tc := range []struct {
		err  error
		runs int
	}{
		{&pgconn.PgError{Code: "40001"}, 4},
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), 4},
		{&pgconn.PgError{Code: "23505"}, 1},
		{errors.New("boom"), 1},
	} {
		runs := 0
		err := db.RunInTx(ctx, bdb, nil, func(context.Context, bun.Tx) error { runs++; return tc.err })
		if !errors.Is(err, tc.err) || runs != tc.runs {
			t.Errorf("%v: %d runs, error %v; want %d runs and the error", tc.err, runs, err, tc.runs)
		}
	}
	runs := 0
	err := db.RunInTx(ctx, bdb, nil, func(context.Context, bun.Tx) error {
		if runs++; runs < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	if err != nil || runs != 3 {
		t.Errorf("succeeds on the third run: %d runs, %v", runs, err)
	}
}

func TestIsUnavailable(t *testing.T) {
	unavailable := []error{
		&pgconn.PgError{Code: "57P01"}, &pgconn.PgError{Code: "08006"}, &pgconn.PgError{Code: "57014"},
		&pgconn.PgError{Code: "53300"}, &net.OpError{Op: "dial", Err: errors.New("connection refused")},
		fmt.Errorf("load room: %w", context.DeadlineExceeded),
	}
	for _, err := range unavailable {
		if !db.IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = false", err)
		}
	}
	for _, err := range []error{nil, &pgconn.PgError{Code: "23505"}, &pgconn.PgError{Code: "22021"}, errors.New("bug"), context.Canceled} {
		if db.IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
	}
}

// DB_STATEMENT_TIMEOUT reaches PostgreSQL: a statement running longer is
// cancelled by the server, and the error says the database is unavailable.
func TestConnect_StatementTimeout(t *testing.T) {
	bdb, err := db.Connect(db.Config{URL: dbtest.NewPostgresDatabase(t), StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	start := time.Now()
	_, err = bdb.ExecContext(context.Background(), "SELECT pg_sleep(5)")
	if err == nil || !db.IsUnavailable(err) {
		t.Fatalf("pg_sleep(5) under a 200ms statement timeout: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("statement ran %v", d)
	}
}

// Connect does not need the database up; dialling a dead one fails within
// the connect timeout, as unavailable.
func TestConnect_LazyAndFastWhileDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A listener that never answers stands in for a dead database: the port
	// stays ours, so no other process can take it and answer instead.
	defer ln.Close()
	addr := ln.Addr().String()
	bdb, err := db.Connect(db.Config{URL: "postgres://postgres@" + addr + "/x?sslmode=disable", ConnectTimeout: time.Second})
	if err != nil {
		t.Fatalf("Connect needed the database: %v", err)
	}
	defer bdb.Close()
	start := time.Now()
	err = bdb.PingContext(context.Background())
	if err == nil || !db.IsUnavailable(err) {
		t.Errorf("ping of a dead database: %v, want an unavailable error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("ping took %v", d)
	}
}
