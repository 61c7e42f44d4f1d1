// Package app wires the NeuronMeet API: configuration, construction of
// the service and its edges, routes, the middleware chain, readiness,
// serving and shutdown. server.go (package main) only picks a subcommand.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/internal/admission"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/metrics"
	"github.com/neuronmeet/api/internal/playground"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/internal/requestid"
	"github.com/neuronmeet/api/internal/respcache"
	"github.com/neuronmeet/api/internal/service"
	"github.com/neuronmeet/api/internal/tracing"
)

// App is the wired server: what Serve runs and the end-to-end tests drive.
type App struct {
	cfg    Config
	log    *slog.Logger
	db     *bun.DB
	svc    *service.Service
	tokens *auth.Tokens
	// ready is false until the database is migrated (see Run); New's
	// callers hand it a migrated database, so it starts true.
	ready atomic.Bool
	// events carries live room events; stopLive ends websockets and SSE
	// streams.
	events   events.Broker
	stopLive context.CancelFunc
	closing  context.Context
	gate     *admission.Gate
	metrics  *metrics.Metrics
	sqlHook  *metrics.QueryHook
	// answers is the response cache the GraphQL and REST edges share (one
	// memory bound); nil when it is off.
	answers *respcache.Cache
	// playground serves GraphiQL at GET /; nil when PLAYGROUND is off.
	playground *playground.Playground
	handler    http.Handler
}

// Option changes how New wires the app.
type Option func(*options)

type options struct {
	now func() time.Time
}

// WithClock makes the service take every timestamp it writes from now
// instead of time.Now. It is for tests: with a clock they move themselves,
// one change's time differs from the next without sleeping between them.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// New wires the service, the GraphQL and REST edges and the middleware
// over an open database.
func New(cfg Config, bdb *bun.DB, log *slog.Logger, opts ...Option) (*App, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// Every line logged while serving a request carries its id.
	log = slog.New(requestid.LogHandler(log.Handler()))
	passwords, err := auth.NewPasswords(cfg.BcryptCost)
	if err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, log: log, db: bdb, tokens: auth.NewTokens(cfg.JWTSecret, cfg.JWTTTL).WithLeeway(cfg.JWTLeeway), sqlHook: &metrics.QueryHook{}}
	a.ready.Store(true)
	a.closing, a.stopLive = context.WithCancel(context.Background())
	postgres := db.IsPostgres(bdb)
	if !postgres && (cfg.DB.Pooler != "" || cfg.RateLimitStore == RateLimitStorePostgres) {
		return nil, errors.New("DATABASE_POOLER and RATE_LIMIT_STORE=postgres need PostgreSQL (DATABASE_URL)")
	}
	if a.events, err = newBroker(cfg, bdb, log); err != nil {
		return nil, err
	}
	if cfg.Tracing {
		bdb.AddQueryHook(tracing.QueryHook{})
	}
	if cfg.Metrics {
		a.metrics = metrics.New(bdb.DB)
		bdb.AddQueryHook(a.sqlHook)
	}
	if cfg.ResponseCacheMaxBytes > 0 {
		a.answers = respcache.New(cfg.ResponseCacheMaxBytes)
		a.metrics.ObserveResponseCache(a.answers)
	}
	var guard *ratelimit.Guard
	if cfg.RateLimits != nil {
		var store ratelimit.Store = ratelimit.NewMemoryStore()
		if cfg.RateLimitStore == RateLimitStorePostgres {
			store = ratelimit.NewPostgresStore(bdb)
		}
		guard = ratelimit.NewGuardWith(cfg.RateLimits, store)
		guard.OnReject = func(op ratelimit.Op, scope string) { a.metrics.RateLimited(string(op), scope) }
		guard.OnStoreError = func(op ratelimit.Op, err error) {
			log.Error("rate limits: the store failed", "op", string(op), "err", err)
		}
	}
	a.svc = service.New(service.Deps{
		DB: bdb, Tokens: a.tokens, Passwords: passwords, Events: a.events, RateLimits: guard, Now: o.now,
		UnnamedStatements: cfg.DB.Pooler != "",
	})
	a.gate = admission.New(cfg.MaxConcurrentRequests, cfg.AdmissionMaxWait)
	if cfg.Playground {
		if a.playground, err = playground.New(playground.Config{Title: "NeuronMeet API", Endpoint: "/query"}); err != nil {
			return nil, err
		}
	}
	a.handler = a.Wrap(a.routes())
	return a, nil
}

// newBroker picks how live events travel: through PostgreSQL between every
// instance sharing the database, or within the process on SQLite (one
// instance owns the file). The LISTEN connection is configured like the
// pool's unless DATABASE_LISTEN_URL says otherwise (behind a pooler).
func newBroker(cfg Config, bdb *bun.DB, log *slog.Logger) (events.Broker, error) {
	opts := events.Options{Buffer: cfg.Subscriptions.Buffer}
	if !db.IsPostgres(bdb) {
		return events.NewLocal(opts), nil
	}
	connect := events.PoolConnector(bdb.DB)
	if cfg.DatabaseListenURL != "" {
		var err error
		if connect, err = events.URLConnector(cfg.DatabaseListenURL, cfg.DB.ConnectTimeout); err != nil {
			return nil, fmt.Errorf("DATABASE_LISTEN_URL: %w", err)
		}
	}
	return events.NewPostgres(bdb, connect, log, opts), nil
}

// Handler serves every route behind the middleware.
func (a *App) Handler() http.Handler { return a.handler }

// DB is the app's database.
func (a *App) DB() *bun.DB { return a.db }

// Service is the rules the edges share.
func (a *App) Service() *service.Service { return a.svc }

// Tokens signs and verifies bearer tokens.
func (a *App) Tokens() *auth.Tokens { return a.tokens }

// Events is the live-event broker.
func (a *App) Events() events.Broker { return a.events }

// Gate is the admission gate API requests pass.
func (a *App) Gate() *admission.Gate { return a.gate }

// CloseLive ends live events: websockets close, SSE streams and
// subscriptions end, the LISTEN connection closes. Shutdown calls it first,
// since http.Server.Shutdown would wait for SSE streams that never end and
// ignores websockets. It is idempotent.
func (a *App) CloseLive() {
	a.stopLive()
	_ = a.events.Close()
}
