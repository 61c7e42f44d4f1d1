package harness

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/app"
	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/db/dbtest"
)

// Server is one running instance of the API and an anonymous Client of it
// (WithToken gives a signed-in one).
type Server struct {
	*Client
	t testing.TB
	// app, stmts, clock: in process only (not RealServer or RealProcess).
	app   *app.App
	stmts *db.StatementCounter
	clock *Clock
	// store is the server's database, as the harness reaches it.
	store *store
	// Logs holds what the server logged, with CaptureLogs.
	Logs *LogBuffer
	// stop ends RealServer's app.Run; proc is RealProcess's child.
	stop func() error
	proc *process
}

// store is a server's database: the pool the app runs on, or for servers
// that open their own, one the harness opens on first use (the database may
// be unreachable when the server starts).
type store struct {
	once sync.Once
	open func(t testing.TB) *bun.DB
	db   *bun.DB
}

type mode int

const (
	inProcess   mode = iota // app.New behind httptest.Server
	realServer              // app.Run on a listener
	realProcess             // the built binary
)

// Option configures Start.
type Option func(*options)

type options struct {
	mode    mode
	db      *bun.DB
	dialect string
	env     []map[string]string
	logs    bool
	noWait  bool
}

// WithDB runs the server on bdb, which the test has opened and migrated.
func WithDB(bdb *bun.DB) Option { return func(o *options) { o.db = bdb } }

// Dialect runs the server on a fresh database of dialect ("sqlite", the
// default, or "postgres").
func Dialect(dialect string) Option { return func(o *options) { o.dialect = dialect } }

// WithEnv overrides the default configuration (variable to value); several
// apply in order.
func WithEnv(env map[string]string) Option { return func(o *options) { o.env = append(o.env, env) } }

// CaptureLogs records the server's JSON logs, from debug level up, in
// Server.Logs. Otherwise they are discarded (shown at warn level and up
// with -v). A RealProcess logs to its stderr, shown when the test fails;
// with CaptureLogs, at debug level, its whole stderr is in Server.Logs too,
// so the standard library logger's lines are caught as well.
func CaptureLogs() Option { return func(o *options) { o.logs = true } }

// RealServer serves through app.Run, as the serve command does: its own
// connection pool, connected lazily, background migrations and readiness,
// the HTTP server's timeouts, and a graceful shutdown (Server.Stop). Start
// returns once it is ready, unless DontWaitForReady.
func RealServer() Option { return func(o *options) { o.mode = realServer } }

// RealProcess runs the built server binary (ServerBinary) as a child
// process, to signal it as deployed. It binds port 0 and logs the address
// it got, which the harness reads back; its stderr is shown when the test
// fails.
func RealProcess() Option { return func(o *options) { o.mode = realProcess } }

// DontWaitForReady returns from Start as soon as a RealServer or
// RealProcess listens, before its database is ready.
func DontWaitForReady() Option { return func(o *options) { o.noWait = true } }

// Start starts a server for the rest of the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{dialect: "sqlite"}
	if _, bench := t.(*testing.B); bench {
		o.env = append(o.env, benchmarkEnv)
	}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Server{t: t}
	if o.logs {
		s.Logs = &LogBuffer{}
	}
	var url string
	switch o.mode {
	case inProcess:
		url = s.startInProcess(o)
	case realServer:
		url = s.startRealServer(o)
	case realProcess:
		url = s.startProcess(o)
	}
	s.Client = newClient(t, url)
	s.Client.checkOpenAPI = true
	if o.mode != inProcess && !o.noWait {
		Eventually(t, 20*time.Second, "the server is ready", func() bool {
			res, err := s.send(http.MethodGet, "/readyz", nil, nil)
			return err == nil && res.Status == http.StatusOK
		})
	}
	return s
}

// Pause makes the server's next write strictly later, to the millisecond,
// than its last one, for tests that order by time: in process it moves the
// server's clock; a server in its own goroutine or process keeps the real
// clock, so there it waits.
func (s *Server) Pause() {
	if s.clock != nil {
		s.clock.Advance(2 * time.Millisecond)
		return
	}
	time.Sleep(5 * time.Millisecond)
}

// Advance moves an in-process server's clock forward by d, for tests of
// what grows with time (a room's duration): no test sleeps for it.
func (s *Server) Advance(d time.Duration) {
	if s.clock == nil {
		s.t.Fatal("harness: Advance: this server does not run in the test's process")
	}
	s.clock.Advance(d)
}

func (s *Server) startInProcess(o options) string {
	t := s.t
	t.Helper()
	cfg := loadConfig(t, Env(o.env...))
	bdb := o.db
	if bdb == nil {
		bdb = dbtest.Open(t, o.dialect)
	}
	s.stmts = &db.StatementCounter{}
	bdb.AddQueryHook(s.stmts)
	s.clock = &Clock{}
	a, err := app.New(cfg, bdb, s.logger(), app.WithClock(s.clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	s.app, s.store = a, &store{open: func(testing.TB) *bun.DB { return bdb }}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(srv.Close)
	// Before the server closes (cleanups run last first): end the streams
	// it would otherwise wait for, and the LISTEN connection.
	t.Cleanup(a.CloseLive)
	return srv.URL
}

func (s *Server) startRealServer(o options) string {
	t := s.t
	t.Helper()
	env := s.serverEnv(o)
	cfg := loadConfig(t, env)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx, cfg, s.logger(), ln) }()
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case runErr = <-errc:
			case <-time.After(30 * time.Second):
				runErr = context.DeadlineExceeded
			}
		})
		return runErr
	}
	t.Cleanup(func() { _ = s.stop() })
	return "http://" + ln.Addr().String()
}

// serverEnv is the configuration of a server that opens its own database:
// the test's, or a fresh database of the dialect.
func (s *Server) serverEnv(o options) map[string]string {
	t := s.t
	t.Helper()
	if o.db != nil {
		t.Fatal("harness: WithDB serves in process only; RealServer and RealProcess open their own database")
	}
	env := Env(o.env...)
	if env["DATABASE_URL"] == "" && env["SQLITE_PATH"] == "" {
		if o.dialect == "postgres" {
			env["DATABASE_URL"] = dbtest.NewPostgresDatabase(t)
		} else {
			env["SQLITE_PATH"] = filepath.Join(t.TempDir(), "server.db")
		}
	}
	cfg := db.Config{URL: env["DATABASE_URL"], SQLitePath: env["SQLITE_PATH"], MaxOpenConns: 4}
	s.store = &store{open: func(t testing.TB) *bun.DB { return openPool(t, cfg) }}
	return env
}

func loadConfig(t testing.TB, env map[string]string) app.Config {
	t.Helper()
	cfg, err := app.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func (s *Server) logger() *slog.Logger {
	switch {
	case s.Logs != nil:
		return slog.New(slog.NewJSONHandler(s.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case testing.Verbose():
		return slog.New(slog.NewTextHandler(testWriter{s.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	default:
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// For returns the server with its client and helpers reporting to t, for
// use within a subtest.
func (s *Server) For(t testing.TB) *Server {
	c := *s
	c.t = t
	c.Client = s.Client.For(t)
	return &c
}

// App is the wiring behind an in-process server.
func (s *Server) App() *app.App {
	if s.app == nil {
		s.t.Fatal("harness: App: this server does not run in the test's process")
	}
	return s.app
}

// DB is the server's database: in process, the pool the app runs on;
// otherwise a small pool of the harness's own, opened on first use.
func (s *Server) DB() *bun.DB {
	s.store.once.Do(func() { s.store.db = s.store.open(s.t) })
	return s.store.db
}

// Statements is how many SQL statements the server has run so far (in
// process only).
func (s *Server) Statements() int64 {
	if s.stmts == nil {
		s.t.Fatal("harness: Statements: this server does not run in the test's process")
	}
	return s.stmts.Total()
}

// StatementsDuring returns how many SQL statements the server ran while fn
// did.
func (s *Server) StatementsDuring(fn func()) int64 {
	before := s.Statements()
	fn()
	return s.Statements() - before
}

// WaitSubscribers waits until the server has n open subscriptions: a
// client cannot tell when its subscribe message has been acted on, and
// events published before that are not its to receive. (A subscription
// counts from when it is registered, just before its caller's right to it
// is checked.)
func (s *Server) WaitSubscribers(n int) {
	s.t.Helper()
	events := s.App().Events()
	deadline := time.Now().Add(5 * time.Second)
	for events.Subscribers() != n {
		if time.Now().After(deadline) {
			s.t.Fatalf("%d subscriptions open, want %d", events.Subscribers(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Stop shuts a RealServer down as SIGTERM would and returns what app.Run
// returned (a shutdown that waited out its timeout is an error).
func (s *Server) Stop() error {
	if s.stop == nil {
		s.t.Fatal("harness: Stop: only a RealServer stops")
	}
	return s.stop()
}

// TwoInstances starts two in-process servers over one fresh PostgreSQL
// database, each with its own connection pool and its own LISTEN
// connection, as two servers behind a load balancer; admin is a third pool
// on that database for the test.
func TwoInstances(t testing.TB, opts ...Option) (a, b *Server, admin *bun.DB) {
	t.Helper()
	url := dbtest.NewPostgresDatabase(t)
	return twoInstances(t, db.Config{URL: url, MaxOpenConns: 20}, url, opts)
}

// TwoInstancesBehindPgBouncer is TwoInstances as deployed behind PgBouncer
// in transaction mode: both instances' pools go through bouncer
// (DATABASE_POOLER=pgbouncer), and so do the migrations; their LISTEN
// connections and admin go straight to PostgreSQL (DATABASE_LISTEN_URL).
func TwoInstancesBehindPgBouncer(t testing.TB, bouncer *PgBouncer, opts ...Option) (a, b *Server, admin *bun.DB) {
	t.Helper()
	url := dbtest.NewPostgresDatabase(t)
	cfg := db.Config{URL: bouncer.URL(url), MaxOpenConns: 20, Pooler: db.PoolerPgBouncer}
	env := WithEnv(map[string]string{"DATABASE_POOLER": db.PoolerPgBouncer, "DATABASE_LISTEN_URL": url})
	return twoInstances(t, cfg, url, slices.Concat([]Option{env}, opts))
}

// twoInstances starts two in-process servers, each on its own pool opened
// with cfg (migrated through the first), and opens admin at direct.
func twoInstances(t testing.TB, cfg db.Config, direct string, opts []Option) (a, b *Server, admin *bun.DB) {
	t.Helper()
	dbA, dbB := openPool(t, cfg), openPool(t, cfg)
	admin = openPool(t, db.Config{URL: direct, MaxOpenConns: 20})
	if _, err := db.Migrate(context.Background(), dbA); err != nil {
		t.Fatal(err)
	}
	a = Start(t, slices.Concat(opts, []Option{WithDB(dbA)})...)
	b = Start(t, slices.Concat(opts, []Option{WithDB(dbB)})...)
	return a, b, admin
}

// OpenDB opens a small pool of the test's own on the PostgreSQL database
// at url, to inspect, lock or break what a server writes there.
func OpenDB(t testing.TB, url string) *bun.DB {
	t.Helper()
	return openPool(t, db.Config{URL: url, MaxOpenConns: 4})
}

func openPool(t testing.TB, cfg db.Config) *bun.DB {
	t.Helper()
	bdb, err := db.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bdb.Close() })
	return bdb
}
