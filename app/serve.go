package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/tracing"
)

// NewLogger logs JSON to w from level up ("debug", "info", "warn",
// "error"; anything else is info).
func NewLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// RouteStandardLog sends what the libraries write through the standard
// library's logger (gqlgen's transports, among others, call log.Printf)
// to log, as JSON records at warn level, instead of plain text beside it
// on stderr. It changes the process's standard logger, so it is for the
// commands, which own the process, not for servers started by tests.
func RouteStandardLog(log *slog.Logger) {
	slog.SetDefault(log)
	slog.SetLogLoggerLevel(slog.LevelWarn)
}

// NewHTTPServer bounds what one connection may cost: slow or huge headers,
// slow bodies, slow readers and idle keep-alives all end in a timeout.
func NewHTTPServer(cfg Config, h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              ":" + cfg.Port,
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve listens on cfg.Port and serves until ctx ends (see Run), with
// traces exported when OTLP is configured.
func Serve(ctx context.Context, cfg Config, log *slog.Logger) error {
	tuneGC(os.Getenv, cfg, log)
	stopTracing, tracingOn, err := tracing.Setup(ctx, os.Getenv)
	if err != nil {
		return err
	}
	if tracingOn {
		log.Info("exporting traces over OTLP")
	}
	defer func() {
		// Flush the last spans; the exporter gets a few seconds at most.
		flushCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			log.Warn("flushing traces failed", "err", err)
		}
	}()
	ln, err := net.Listen("tcp", ":"+cfg.Port)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	return Run(ctx, cfg, log, ln)
}

// Run serves on ln until ctx ends, then finishes in-flight requests.
//
// It does not wait for the database: the pool connects lazily, migrations
// run in the background until they succeed, and until then /readyz and
// every API route answer 503. So a server started while PostgreSQL is
// briefly down (a deploy racing a database restart) comes up by itself,
// and an orchestrator sends it traffic only once it can serve.
func Run(ctx context.Context, cfg Config, log *slog.Logger, ln net.Listener) error {
	if err := useSecretFile(&cfg, log); err != nil {
		return err
	}
	bdb, err := db.Connect(cfg.DB)
	if err != nil {
		return err
	}
	defer bdb.Close()
	a, err := New(cfg, bdb, log)
	if err != nil {
		return err
	}
	a.ready.Store(false)
	go a.migrateUntilDone(ctx)
	defer a.CloseLive()
	srv := NewHTTPServer(cfg, a.handler, log)
	srv.RegisterOnShutdown(a.CloseLive)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	store := "sqlite:" + cfg.SQLitePath
	if cfg.DatabaseURL != "" {
		store = "postgres"
	}
	log.Info("listening", "addr", ln.Addr().String(), "store", store, "playground", "http://localhost:"+cfg.Port+"/")
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// migrateUntilDone applies migrations, retrying with backoff while the
// database is unreachable, then marks the app ready.
func (a *App) migrateUntilDone(ctx context.Context) {
	wait := 100 * time.Millisecond
	for {
		// The bound is on reaching the database, not on the migrations:
		// those take as long as they take (see migrate).
		attempt, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := a.db.PingContext(attempt)
		cancel()
		var applied []string
		if err == nil {
			applied, err = migrate(ctx, a.cfg.DB, a.db)
		}
		if err == nil {
			if len(applied) > 0 {
				a.log.Info("applied migrations", "migrations", applied)
			}
			a.ready.Store(true)
			a.log.Info("database ready")
			return
		}
		a.log.Warn("database not ready; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

// Migrate applies the database migrations and exits.
func Migrate(ctx context.Context, cfg Config, log *slog.Logger) error {
	bdb, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	return bdb.Close()
}

// MigrateStatus writes one line per migration to out, oldest first:
// applied (with its group and time) or pending.
func MigrateStatus(ctx context.Context, cfg Config, out io.Writer) error {
	bdb, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return err
	}
	defer bdb.Close()
	status, err := db.MigrationStatus(ctx, bdb)
	if err != nil {
		return err
	}
	for _, m := range status {
		if m.Applied {
			fmt.Fprintf(out, "applied  %s  (group %d, %s)\n", m.Name, m.Group, m.At.UTC().Format(time.RFC3339))
		} else {
			fmt.Fprintf(out, "pending  %s\n", m.Name)
		}
	}
	return nil
}

// MigrateRollback undoes the last group of migrations (see db.Rollback)
// and writes one line per migration rolled back to out. A server applies
// them again when it starts.
func MigrateRollback(ctx context.Context, cfg Config, out io.Writer) error {
	bdb, err := db.Open(ctx, forMigrations(cfg.DB))
	if err != nil {
		return err
	}
	defer bdb.Close()
	rolledBack, err := db.Rollback(ctx, bdb)
	if err != nil {
		return err
	}
	if len(rolledBack) == 0 {
		fmt.Fprintln(out, "nothing to roll back: no migration is applied")
	}
	for _, name := range rolledBack {
		fmt.Fprintf(out, "rolled back  %s\n", name)
	}
	return nil
}

// forMigrations is cfg for applying or rolling back migrations: without
// the statement timeout. DB_STATEMENT_TIMEOUT bounds what requests run,
// and a migration's index build on a large table outlasts it; cancelled
// part way, the migration would start again at every attempt and never
// finish, and the server would never be ready.
func forMigrations(cfg db.Config) db.Config {
	cfg.StatementTimeout = 0
	return cfg
}

// migrate applies the pending migrations to cfg's database, whose pool
// is bdb: through a pool of their own (forMigrations) where bdb's
// connections carry a statement timeout, and through bdb where they carry
// none: SQLite has no such setting, and behind PgBouncer the pool sends
// none (the role's applies; README, Behind PgBouncer).
func migrate(ctx context.Context, cfg db.Config, bdb *bun.DB) ([]string, error) {
	if cfg.URL == "" || cfg.StatementTimeout <= 0 || cfg.Pooler == db.PoolerPgBouncer {
		return db.Migrate(ctx, bdb)
	}
	mdb, err := db.Connect(forMigrations(cfg))
	if err != nil {
		return nil, err
	}
	defer mdb.Close()
	return db.Migrate(ctx, mdb)
}

// openDB connects and migrates.
func openDB(ctx context.Context, cfg Config, log *slog.Logger) (*bun.DB, error) {
	bdb, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	applied, err := migrate(ctx, cfg.DB, bdb)
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "migrations", applied)
	}
	return bdb, nil
}
