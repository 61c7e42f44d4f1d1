package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"

	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/internal/admission"
	"github.com/neuronmeet/api/internal/apperr"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/clientip"
	"github.com/neuronmeet/api/internal/metrics"
	"github.com/neuronmeet/api/internal/playground"
	"github.com/neuronmeet/api/internal/recorder"
	"github.com/neuronmeet/api/internal/requestid"
	"github.com/neuronmeet/api/internal/rest"
	"github.com/neuronmeet/api/internal/tracing"
)

// probes are the routes an orchestrator or scraper calls. They skip the
// readiness check and the admission gate: a full queue or a database
// still migrating must not look like a dead process, and /readyz tells
// the orchestrator whether to send traffic.
var probes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true, "/health": true, "/api/health": true}

// outsideTheGate reports whether a request skips readiness and the gate:
// the probes, and the playground's files, which are embedded and touch no
// database, while a slow browser downloading their 5 MB would otherwise
// hold an API slot for as long as it takes.
func outsideTheGate(path string) bool {
	return probes[path] || strings.HasPrefix(path, playground.AssetsPath)
}

// routes is every endpoint the server answers.
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	gql := graph.HandlerConfig{
		Production: a.cfg.Production, Limits: a.cfg.GraphQL, APQCacheSize: a.cfg.APQCacheSize, Gate: a.gate,
		ShadowFastPath: a.cfg.FastPathShadow, Answers: a.answers,
		Subscriptions: graph.SubscriptionConfig{
			Tokens: a.tokens, KeepAlive: a.cfg.Subscriptions.KeepAlive, AllowedOrigins: a.cfg.CORSOrigins, Closing: a.closing,
			Limits: a.cfg.Subscriptions.Limits,
		},
	}
	mux.Handle("/query", graph.NewHandler(a.svc, a.log, gql))
	if gql.SchemaOpen() {
		// Where introspection is closed, so is this: a 404 like any
		// unknown path.
		mux.Handle("GET /schema.graphql", graph.SchemaSource)
	}
	if a.playground != nil {
		a.playground.Register(mux)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /readyz", a.readiness)
	rest.New(a.svc, a.log, a.answers).Register(mux)
	if a.metrics != nil {
		// Same port as the API: restrict /metrics at the proxy (or set
		// METRICS=off and scrape nothing) where the API is public.
		mux.Handle("GET /metrics", a.metrics.Handler())
	}
	return metrics.Routes(mux)
}

// readiness answers 200 once migrations have run and the database
// answers a ping.
func (a *App) readiness(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "application/json")
	err := errors.New("migrations not applied yet")
	if a.ready.Load() {
		err = a.db.PingContext(ctx)
	}
	if err != nil {
		a.log.WarnContext(ctx, "readiness check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"unavailable"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ok"}`))
}

// Wrap puts h behind the middleware every request goes through. New wraps
// the routes with it; tests wrap handlers of their own (one that panics)
// to see what a client and the logs get.
func (a *App) Wrap(h http.Handler) http.Handler {
	cfg, log := a.cfg, a.log
	// Outermost first: each entry sees what the ones after it do.
	chain := []func(http.Handler) http.Handler{
		// An id for the request, in the response and on every log line.
		requestid.Middleware,
		// A span per request (when OTLP is configured), tagged with the id.
		when(cfg.Tracing, tracing.Middleware),
		// The client's address, from trusted proxies' headers only, for
		// the log and the per-address limits.
		clientip.Middleware(cfg.TrustedProxies),
		// One line per request with its final status, panics included.
		accessLog(log),
		// Request counts, latency and SQL statements per request; outside
		// recovery, so a panicking request is counted as the 500 it is.
		a.metrics.Middleware(a.sqlHook),
		// A panic becomes a masked 500; the details go to the log.
		recoverPanics(log),
		// Cross-origin callers from CORS_ALLOWED_ORIGINS only.
		cors.New(cors.Options{
			AllowedOrigins: cfg.CORSOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodOptions},
			AllowedHeaders: []string{"Authorization", "Content-Type", requestid.Header},
			ExposedHeaders: []string{requestid.Header, "Retry-After"},
			MaxAge:         600,
		}).Handler,
		// Probes and the playground's files go straight to their routes;
		// everything else waits for readiness and passes the steps below.
		skipForProbes(
			// 503 until migrations have run.
			untilReady(&a.ready),
			// Bodies are read before the gate, so a slow upload waits
			// outside it.
			admission.BufferBodies(max(cfg.GraphQL.MaxBodyBytes, rest.MaxBodyBytes)),
			// At most MAX_CONCURRENT_REQUESTS run at once; the rest queue
			// up to ADMISSION_MAX_WAIT. Streams take a slot like any
			// request and give it back once the server has made them
			// streams (admission.Leave).
			a.gate.Middleware(busy),
		),
		// The bearer token's principal, for every route that needs one.
		auth.Middleware(a.tokens),
	}
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	return h
}

// when is mw when on is set, or nothing.
func when(on bool, mw func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	if on {
		return mw
	}
	return func(h http.Handler) http.Handler { return h }
}

// skipForProbes runs a request through steps (outermost first) unless its
// path is outside the gate (see outsideTheGate).
func skipForProbes(steps ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		stepped := next
		for i := len(steps) - 1; i >= 0; i-- {
			stepped = steps[i](stepped)
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if outsideTheGate(r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			stepped.ServeHTTP(w, r)
		})
	}
}

// recoverPanics turns a handler panic into a bare 500; the panic goes to
// the log (with the request id the client also got), never to the client.
func recoverPanics(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.ErrorContext(r.Context(), "handler panicked", "panic", p, "method", r.Method, "path", r.URL.Path)
					w.Header().Set("Content-Type", "application/json; charset=utf-8")
					w.WriteHeader(http.StatusInternalServerError)
					_, _ = w.Write([]byte(`{"statusCode":500,"message":"Internal server error"}`))
				}
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// accessLog writes one line per request. It logs the path without the
// query string: GET /query carries whole documents and variables there.
func accessLog(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := recorder.Wrap(w)
			next.ServeHTTP(rec, r)
			level := slog.LevelInfo
			if rec.Status() >= 500 {
				level = slog.LevelWarn
			}
			log.Log(r.Context(), level, "request",
				"method", r.Method, "path", r.URL.Path, "status", rec.Status(), "bytes", rec.Bytes(),
				"duration_ms", float64(time.Since(start).Microseconds())/1000, "client_ip", clientip.FromContext(r.Context()).String())
		})
	}
}

// untilReady answers 503 (with Retry-After) while ready is false: before
// migrations have run, the schema may not exist, and an honest "not yet"
// beats an internal error.
func untilReady(ready *atomic.Bool) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if ready.Load() {
				next.ServeHTTP(w, r)
				return
			}
			serviceUnavailable(w, r, "service starting: the database is not reachable yet")
		})
	}
}

// busy answers a request that waited the admission gate's longest wait.
var busy = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	serviceUnavailable(w, r, "server busy: please retry")
})

// serviceUnavailable answers 503 with Retry-After in the edge's own shape:
// a GraphQL error with SERVICE_UNAVAILABLE on /query, the legacy NestJS
// body elsewhere. message is GraphQL's; the legacy body is fixed.
func serviceUnavailable(w http.ResponseWriter, r *http.Request, message string) {
	w.Header().Set("Retry-After", "1")
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.URL.Path == "/query" {
		body, _ := json.Marshal(map[string]any{"errors": []map[string]any{{
			"message": message, "extensions": map[string]any{"code": apperr.ServiceUnavailable},
		}}})
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write([]byte(`{"statusCode":503,"message":"Service Unavailable"}`))
}
