// Command neuronmeet serves the NeuronMeet API: GraphQL at /query (with
// the playground at /), the legacy REST shim, and health checks.
//
//	neuronmeet           serve (default)
//	neuronmeet migrate   apply database migrations and exit
//	neuronmeet seed      create a demo host with rooms and print its token
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/admission"
	"github.com/neuronmeet/api/auth"
	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/events"
	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/metrics"
	"github.com/neuronmeet/api/ratelimit"
	"github.com/neuronmeet/api/requestid"
	"github.com/neuronmeet/api/rest"
	"github.com/neuronmeet/api/service"
	"github.com/neuronmeet/api/tracing"
)

func main() {
	cmd := "serve"
	if len(os.Args) > 1 {
		cmd = os.Args[1]
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "configuration:", err)
		os.Exit(2)
	}
	log := newLogger(cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve":
		err = serve(ctx, cfg, log)
	case "migrate":
		err = migrateOnly(ctx, cfg, log)
	case "seed":
		err = seed(ctx, cfg, log, os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q (want serve, migrate or seed)", cmd)
	}
	if err != nil {
		log.Error("exiting", "err", err)
		os.Exit(1)
	}
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// app is the wired server: everything main and the end-to-end tests share.
type app struct {
	db      *bun.DB
	svc     *service.Service
	tokens  *auth.Tokens
	handler http.Handler
	// ready is false until the database is migrated (see run); newApp's
	// callers hand it a migrated database, so it starts true.
	ready *atomic.Bool
	// events carries live room events; stopLive closes websockets.
	events   events.Broker
	stopLive context.CancelFunc
	// gate admits API requests (admission.Gate).
	gate *admission.Gate
}

// openDB connects and migrates.
func openDB(ctx context.Context, cfg config, log *slog.Logger) (*bun.DB, error) {
	bdb, err := db.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	applied, err := db.Migrate(ctx, bdb)
	if err != nil {
		_ = bdb.Close()
		return nil, err
	}
	if len(applied) > 0 {
		log.Info("applied migrations", "migrations", applied)
	}
	return bdb, nil
}

// newApp wires the service, the GraphQL and REST edges and the middleware
// over an open database.
func newApp(cfg config, bdb *bun.DB, log *slog.Logger) (*app, error) {
	// Every line logged while serving a request carries its id.
	log = slog.New(requestid.LogHandler(log.Handler()))
	passwords, err := auth.NewPasswords(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	tokens := auth.NewTokens(cfg.JWTSecret, cfg.JWTTTL)
	svc := service.New(bdb, tokens, passwords)
	broker := newBroker(cfg, bdb, log)
	svc.SetEvents(broker)
	closing, stopLive := context.WithCancel(context.Background())
	if cfg.Tracing {
		bdb.AddQueryHook(tracing.QueryHook{})
	}
	var m *metrics.Metrics
	sqlHook := &metrics.QueryHook{}
	if cfg.Metrics {
		m = metrics.New(bdb.DB)
		bdb.AddQueryHook(sqlHook)
	}
	if cfg.RateLimits != nil {
		guard := ratelimit.NewGuard(cfg.RateLimits)
		guard.OnReject = func(op ratelimit.Op, scope string) { m.RateLimited(string(op), scope) }
		svc.SetRateLimits(guard)
	}

	gate := admission.New(cfg.MaxConcurrentRequests, cfg.AdmissionMaxWait)
	mux := http.NewServeMux()
	mux.Handle("/query", graph.NewHandler(svc, log, graph.HandlerConfig{
		Production: cfg.Production, Limits: cfg.GraphQL, APQCacheSize: cfg.APQCacheSize, Gate: gate,
		Subscriptions: graph.SubscriptionConfig{
			Tokens: tokens, KeepAlive: cfg.Subscriptions.KeepAlive, AllowedOrigins: cfg.CORSOrigins, Closing: closing,
			Limits: cfg.Subscriptions.Limits,
		},
	}))
	mux.Handle("GET /{$}", playground.Handler("NeuronMeet API", "/query"))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	ready := new(atomic.Bool)
	ready.Store(true)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		err := errors.New("migrations not applied yet")
		if ready.Load() {
			err = bdb.PingContext(ctx)
		}
		if err != nil {
			log.WarnContext(ctx, "readiness check failed", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	rest.New(svc, log).Register(mux)
	if m != nil {
		// Same port as the API: restrict /metrics at the proxy (or set
		// METRICS=off and scrape nothing) where the API is public.
		mux.Handle("GET /metrics", m.Handler())
	}

	// The gate sits inside the middleware (so queued requests are logged,
	// measured and time out like any other) and outside every handler.
	// Probes and scrapes bypass it: a full queue must not look like a dead
	// process to the orchestrator. Streams take a slot like any request
	// and give it back once the server has made them streams (see
	// admission.Leave).
	// Bodies are read before the gate, so a slow upload waits outside it.
	gated := admission.BufferBodies(max(cfg.GraphQL.MaxBodyBytes, rest.MaxBodyBytes))(gate.Middleware(busy)(metrics.Routes(mux)))
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics", "/health", "/api/health":
			mux.ServeHTTP(w, r)
		default:
			gated.ServeHTTP(w, r)
		}
	})
	h := withMiddleware(m.Middleware(sqlHook)(untilReady(ready, api)), cfg, log, tokens, svc)
	return &app{db: bdb, svc: svc, tokens: tokens, handler: h, ready: ready, events: broker, stopLive: stopLive, gate: gate}, nil
}

// newBroker picks how live events travel: through PostgreSQL between every
// instance sharing the database, or within the process on SQLite (one
// instance owns the file).
func newBroker(cfg config, bdb *bun.DB, log *slog.Logger) events.Broker {
	opts := events.Options{Buffer: cfg.Subscriptions.Buffer}
	if db.IsPostgres(bdb) {
		return events.NewPostgres(bdb, events.PoolConnector(bdb.DB), log, opts)
	}
	return events.NewLocal(opts)
}

// closeLive ends live events: websockets close, SSE streams and
// subscriptions end, the LISTEN connection closes. Shutdown calls it first,
// since http.Server.Shutdown would wait for SSE streams that never end and
// ignores websockets. It is idempotent.
func (a *app) closeLive() {
	a.stopLive()
	_ = a.events.Close()
}

// newHTTPServer bounds what one connection may cost: slow or huge headers,
// slow bodies, slow readers and idle keep-alives all end in a timeout.
func newHTTPServer(cfg config, h http.Handler, log *slog.Logger) *http.Server {
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

func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	if cfg.generatedSecret {
		log.Warn("JWT_SECRET is not set: using a random secret for this process only; " +
			"tokens will stop working on restart. Set JWT_SECRET (APP_ENV=production refuses to start without it).")
	}
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
		return err
	}
	return run(ctx, cfg, log, ln)
}

// run serves on ln until ctx ends, then finishes in-flight requests.
//
// It does not wait for the database: the pool connects lazily, migrations
// run in the background until they succeed, and until then /readyz and
// every API route answer 503. So a server started while PostgreSQL is
// briefly down (a deploy racing a database restart) comes up by itself,
// and an orchestrator sends it traffic only once it can serve.
func run(ctx context.Context, cfg config, log *slog.Logger, ln net.Listener) error {
	bdb, err := db.Connect(cfg.DB)
	if err != nil {
		return err
	}
	defer bdb.Close()
	a, err := newApp(cfg, bdb, log)
	if err != nil {
		return err
	}
	a.ready.Store(false)
	go a.migrateUntilDone(ctx, log)
	defer a.closeLive()
	srv := newHTTPServer(cfg, a.handler, log)
	srv.RegisterOnShutdown(a.closeLive)
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
func (a *app) migrateUntilDone(ctx context.Context, log *slog.Logger) {
	wait := 100 * time.Millisecond
	for {
		attempt, cancel := context.WithTimeout(ctx, 30*time.Second)
		applied, err := db.Migrate(attempt, a.db)
		cancel()
		if err == nil {
			if len(applied) > 0 {
				log.Info("applied migrations", "migrations", applied)
			}
			a.ready.Store(true)
			log.Info("database ready")
			return
		}
		log.Warn("database not ready; retrying", "err", err, "retry_in", wait.String())
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}

func migrateOnly(ctx context.Context, cfg config, log *slog.Logger) error {
	bdb, err := openDB(ctx, cfg, log)
	if err != nil {
		return err
	}
	return bdb.Close()
}
