// Package dbtest gives tests a fresh, migrated database of each dialect:
// an SQLite file in the test's temp dir, and a PostgreSQL database created
// for the test and dropped after it. Tests never share data.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
)

// DefaultPostgresURL is the local server CI and developer machines run.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Dialects are the stores every behaviour is tested against.
var Dialects = []string{"sqlite", "postgres"}

// ForEachDialect runs fn as a subtest per dialect, each with its own fresh
// database.
func ForEachDialect(t *testing.T, fn func(t *testing.T, bdb *bun.DB)) {
	t.Helper()
	for _, d := range Dialects {
		t.Run(d, func(t *testing.T) {
			fn(t, Open(t, d))
		})
	}
}

// Open returns a fresh migrated database of dialect ("sqlite" or
// "postgres"), closed and removed when the test ends. Without a reachable
// PostgreSQL the test is skipped, except with CI=true, where it fails:
// CI must never pass by skipping the production store.
func Open(t testing.TB, dialect string) *bun.DB {
	t.Helper()
	ctx := context.Background()
	var cfg db.Config
	switch dialect {
	case "sqlite":
		cfg.SQLitePath = filepath.Join(t.TempDir(), "test.db")
	case "postgres":
		cfg.URL = createPostgresDB(t)
		cfg.MaxOpenConns = 20
	default:
		t.Fatalf("unknown dialect %q", dialect)
	}
	bdb, err := db.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", dialect, err)
	}
	// Registered after the drop in createPostgresDB, so it runs first.
	t.Cleanup(func() { _ = bdb.Close() })
	if _, err := db.Migrate(ctx, bdb); err != nil {
		t.Fatalf("migrate %s: %v", dialect, err)
	}
	return bdb
}

// NewPostgresDatabase creates an empty PostgreSQL database for the test
// (dropped after it) and returns its URL, for tests that connect, migrate
// or break connections themselves. It skips or fails like Open.
func NewPostgresDatabase(t testing.TB) string {
	t.Helper()
	return createPostgresDB(t)
}

// PostgresURL is the admin URL tests create their databases through.
func PostgresURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

func createPostgresDB(t testing.TB) string {
	t.Helper()
	admin, err := openAdmin()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PostgreSQL unreachable at %s (CI=true requires it): %v", redact(PostgresURL()), err)
		}
		t.Skipf("PostgreSQL unreachable at %s: %v (set TEST_DATABASE_URL)", redact(PostgresURL()), err)
	}
	var suffix [6]byte
	_, _ = rand.Read(suffix[:])
	name := "nm_test_" + hex.EncodeToString(suffix[:])
	if _, err := admin.Exec("CREATE DATABASE " + name); err != nil {
		_ = admin.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer admin.Close()
		// FORCE ends connections a failed test may have left open.
		if _, err := admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(PostgresURL())
	if err != nil {
		t.Fatalf("parse TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func openAdmin() (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(PostgresURL())
	if err != nil {
		return nil, err
	}
	cfg.ConnectTimeout = 5 * time.Second
	admin := stdlib.OpenDB(*cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		_ = admin.Close()
		return nil, err
	}
	return admin, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return strings.TrimSpace(u.String())
}

// Exec runs SQL fixtures, failing the test on error.
func Exec(t testing.TB, bdb *bun.DB, query string, args ...any) {
	t.Helper()
	if _, err := bdb.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("exec %q: %v", firstLine(query), err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return fmt.Sprintf("%.60s", s)
}
