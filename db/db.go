// Package db opens the database (PostgreSQL in production, an embedded
// SQLite file by default), runs migrations and classifies driver errors.
package db

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
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

// Config selects and tunes the database.
type Config struct {
	// URL is a postgres:// URL; empty selects SQLite at SQLitePath.
	URL        string
	SQLitePath string
	// MaxOpenConns caps the PostgreSQL pool (0 = DefaultConfig's). SQLite
	// always uses one connection.
	MaxOpenConns int
	// MaxIdleConns is how many open connections are kept idle (0 = as
	// many as MaxOpenConns).
	MaxIdleConns int
	// ConnMaxLifetime retires connections after this age (0 = never), so
	// a database failover or a connection-count rebalance reaches them.
	ConnMaxLifetime time.Duration
	// ConnMaxIdleTime closes connections idle this long (0 =
	// DefaultConfig's).
	ConnMaxIdleTime time.Duration
	// StatementTimeout makes PostgreSQL cancel any statement (lock waits
	// included) running longer (0 = none): one stuck query must not hold a
	// connection, and a request, for ever.
	StatementTimeout time.Duration
	// ConnectTimeout bounds dialling PostgreSQL (0 = DefaultConfig's):
	// while the database is unreachable, requests fail fast instead of
	// queueing.
	ConnectTimeout time.Duration
	// Pooler names what stands between the pool and PostgreSQL: "" (none)
	// or PoolerPgBouncer.
	Pooler string
}

// PoolerPgBouncer is PgBouncer in transaction mode (DATABASE_POOLER): each
// transaction, and each statement outside one, may run on another server
// connection. So nothing may outlive a statement on a connection (no
// named prepared statements, SET, LISTEN or advisory locks), and the
// startup packet may carry only the parameters PgBouncer tracks.
const PoolerPgBouncer = "pgbouncer"

// DefaultConfig is what the server runs with unless configured: a pool for
// a small instance, and timeouts that keep a stuck statement or an
// unreachable database from holding requests. Connect takes the same pool
// size, idle time and connect timeout for zero fields; a zero
// StatementTimeout or ConnMaxLifetime there means none.
func DefaultConfig() Config {
	return Config{
		// Where the embedded database lives when no URL is configured.
		SQLitePath:       "./data/neuronmeet.db",
		MaxOpenConns:     20,
		ConnMaxLifetime:  30 * time.Minute,
		ConnMaxIdleTime:  5 * time.Minute,
		StatementTimeout: 10 * time.Second,
		ConnectTimeout:   5 * time.Second,
	}
}

// Open connects and verifies the connection with a ping.
func Open(ctx context.Context, cfg Config) (*bun.DB, error) {
	bdb, err := Connect(cfg)
	if err != nil {
		return nil, err
	}
	if err := bdb.PingContext(ctx); err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("open database: ping: %w", err)
	}
	return bdb, nil
}

// Connect prepares the connection pool without connecting: connections
// are made on first use. The server starts this way even while PostgreSQL
// is down, and the pool reconnects by itself when it comes back.
func Connect(cfg Config) (*bun.DB, error) {
	def := DefaultConfig()
	if cfg.URL != "" {
		if !strings.HasPrefix(cfg.URL, "postgres://") && !strings.HasPrefix(cfg.URL, "postgresql://") {
			return nil, errors.New("open database: DATABASE_URL must be a postgres:// URL")
		}
		pgcfg, err := pgx.ParseConfig(cfg.URL)
		if err != nil {
			return nil, fmt.Errorf("open database: parse DATABASE_URL: %w", err)
		}
		pgcfg.ConnectTimeout = cmp.Or(cfg.ConnectTimeout, def.ConnectTimeout)
		// Bun inlines every argument into its SQL text, so pgx's default
		// mode (cache each text as a prepared statement) cost a Parse and
		// Describe round trip per distinct statement and filled the
		// per-connection cache with texts never seen again. Exec sends
		// each as an unnamed statement in one round trip; without
		// arguments the text alone decides types, bytea and timestamps
		// (the server parses the same literals either way), results come
		// as text, which pgx decodes to the same values, and nothing
		// outlives a statement, which suits PgBouncer's transaction mode.
		// Not the simple protocol: that would run pgx batches as one
		// client-side interpolated text. The native statements
		// (internal/service/queries_pg.go) are prepared by name instead,
		// except behind a pooler.
		pgcfg.DefaultQueryExecMode = pgx.QueryExecModeExec
		// PgBouncer refuses a startup packet with parameters it does not
		// track (ignore_startup_parameters would drop it silently), so
		// behind it the timeout is the role's or the database's
		// (README, Behind PgBouncer).
		if cfg.StatementTimeout > 0 && cfg.Pooler != PoolerPgBouncer {
			pgcfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(cfg.StatementTimeout.Milliseconds(), 10)
		}
		sqldb := stdlib.OpenDB(*pgcfg)
		maxOpen := cfg.MaxOpenConns
		if maxOpen <= 0 {
			maxOpen = def.MaxOpenConns
		}
		sqldb.SetMaxOpenConns(maxOpen)
		sqldb.SetMaxIdleConns(min(cmp.Or(cfg.MaxIdleConns, maxOpen), maxOpen))
		sqldb.SetConnMaxIdleTime(cmp.Or(cfg.ConnMaxIdleTime, def.ConnMaxIdleTime))
		sqldb.SetConnMaxLifetime(cfg.ConnMaxLifetime)
		return bun.NewDB(sqldb, pgdialect.New()), nil
	}
	path := cmp.Or(cfg.SQLitePath, def.SQLitePath)
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
	return bun.NewDB(sqldb, sqlitedialect.New()), nil
}

// IsPostgres tells whether db speaks PostgreSQL (row locks, NOTIFY, ...).
func IsPostgres(db bun.IDB) bool {
	return db.Dialect().Name().String() == "pg"
}

// migrator runs the migration history on db. A migration is marked
// applied (or rolled back) only once its up (or down) has succeeded, so
// one that fails, a database gone mid-way included, is tried again rather
// than taken as done.
func migrator(db *bun.DB) *migrate.Migrator {
	return migrate.NewMigrator(db, migrations.Migrations, migrate.WithMarkAppliedOnSuccess(true))
}

// locked runs fn holding the migration lock (bun's lock table), after
// creating bun's tables if needed, so two instances never migrate at once.
func locked(ctx context.Context, m *migrate.Migrator, fn func() error) error {
	if err := m.Init(ctx); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := m.Lock(ctx); err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	defer func() { _ = m.Unlock(ctx) }()
	return fn()
}

// Migrate applies every pending migration and returns the names applied.
func Migrate(ctx context.Context, db *bun.DB) ([]string, error) {
	m := migrator(db)
	var group *migrate.MigrationGroup
	err := locked(ctx, m, func() (err error) {
		group, err = m.Migrate(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return names(group), nil
}

// Rollback undoes the last group of migrations (those one Migrate
// applied), newest first, and returns the names rolled back. It refuses,
// changing nothing, when one of them cannot be undone: bun would mark it
// pending and leave its schema in place.
func Rollback(ctx context.Context, db *bun.DB) ([]string, error) {
	m := migrator(db)
	var group *migrate.MigrationGroup
	err := locked(ctx, m, func() error {
		status, err := m.MigrationsWithStatus(ctx)
		if err != nil {
			return err
		}
		for _, mig := range status.LastGroup().Migrations {
			if mig.Down == nil {
				return fmt.Errorf("%s has no down migration", mig.Name)
			}
		}
		group, err = m.Rollback(ctx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: rollback: %w", err)
	}
	// The group lists them oldest first; they were undone in reverse.
	rolledBack := names(group)
	slices.Reverse(rolledBack)
	return rolledBack, nil
}

// MigrationState is one migration of the history and whether it is
// applied.
type MigrationState struct {
	Name    string
	Applied bool
	// Group and At say when it was applied (zero while pending): the
	// migrations one Migrate applied share a group, which Rollback undoes.
	Group int64
	At    time.Time
}

// MigrationStatus lists every migration, oldest first, applied or
// pending. On a fresh database it creates bun's (empty) bookkeeping
// tables, and everything is pending.
func MigrationStatus(ctx context.Context, db *bun.DB) ([]MigrationState, error) {
	m := migrator(db)
	if err := m.Init(ctx); err != nil {
		return nil, fmt.Errorf("migrate: status: init: %w", err)
	}
	status, err := m.MigrationsWithStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: status: %w", err)
	}
	out := make([]MigrationState, 0, len(status))
	for _, mig := range status {
		out = append(out, MigrationState{Name: mig.Name, Applied: mig.IsApplied(), Group: mig.GroupID, At: mig.MigratedAt})
	}
	return out, nil
}

func names(group *migrate.MigrationGroup) []string {
	var out []string
	for _, mig := range group.Migrations {
		out = append(out, mig.Name)
	}
	return out
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
