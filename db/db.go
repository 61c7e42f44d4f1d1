// Package db opens the database (PostgreSQL in production, an embedded
// SQLite file by default), runs migrations and classifies driver errors.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"github.com/uptrace/bun/migrate"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/neuronmeet/api/db/migrations"
)

// DefaultSQLitePath is where the embedded database lives when no
// DATABASE_URL is configured.
const DefaultSQLitePath = "./data/neuronmeet.db"

// Config selects and tunes the database.
type Config struct {
	// URL is a postgres:// URL; empty selects SQLite at SQLitePath.
	URL        string
	SQLitePath string
	// MaxOpenConns caps the PostgreSQL pool (0 = a default sized for a
	// small instance). SQLite always uses one connection.
	MaxOpenConns int
}

// Open connects and verifies the connection with a ping.
func Open(ctx context.Context, cfg Config) (*bun.DB, error) {
	var bdb *bun.DB
	if cfg.URL != "" {
		if !strings.HasPrefix(cfg.URL, "postgres://") && !strings.HasPrefix(cfg.URL, "postgresql://") {
			return nil, errors.New("open database: DATABASE_URL must be a postgres:// URL")
		}
		pgcfg, err := pgx.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("open database: parse DATABASE_URL: %w", err)
		}
		sqldb := stdlib.OpenDB(*pgcfg)
		maxOpen := cfg.MaxOpenConns
		if maxOpen <= 0 {
			maxOpen = 20
		}
		sqldb.SetMaxOpenConns(maxOpen)
		sqldb.SetMaxIdleConns(maxOpen)
		sqldb.SetConnMaxIdleTime(5 * time.Minute)
		bdb = bun.NewDB(sqldb, pgdialect.New())
	} else {
		path := cfg.SQLitePath
		if path == "" {
			path = DefaultSQLitePath
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("open database: create directory for %s: %w", path, err)
		}
		dsn := "file:" + (&url.URL{Path: path}).EscapedPath() +
			"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)"
		sqldb, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		// One connection serialises every statement and transaction, which is
		// what SQLite does internally anyway; it turns "database is locked"
		// errors into short waits and makes a transaction's reads and writes
		// atomic without row locks.
		sqldb.SetMaxOpenConns(1)
		bdb = bun.NewDB(sqldb, sqlitedialect.New())
	}
	if err := bdb.PingContext(ctx); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open database: ping: %w", err)
	}
	return bdb, nil
}

// IsPostgres tells whether db speaks PostgreSQL (row locks, NOTIFY, ...).
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name().String() == "pg"
}

// Migrate applies every pending migration and returns the names applied.
func Migrate(ctx context.Context, db *bun.DB) ([]string, error) {
	m := migrate.NewMigrator(db, migrations.Migrations)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: init: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() { _ = m.Unlock(ctx) }()
	group, err := m.Migrate(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var names []string
	for _, mig := range group.Migrations {
		names = append(names, mig.Name)
	}
	return names, nil
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either dialect.
func IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505"
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE ||
			sqliteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// ConstraintName returns the violated constraint's name on PostgreSQL, or
// the SQLite message (which names the columns), for telling conflicts apart.
func ConstraintName(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.ConstraintName
	}
	var sqliteErr *sqlite.Error
	if errors.As(err, &sqliteErr) {
		return sqliteErr.Error()
	}
	return ""
}
