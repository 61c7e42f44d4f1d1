package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/cors"

	"github.com/neuronmeet/api/auth"
	"github.com/neuronmeet/api/clientip"
	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/recorder"
	"github.com/neuronmeet/api/requestid"
	"github.com/neuronmeet/api/service"
	"github.com/neuronmeet/api/tracing"
)

// withMiddleware wraps the routes in what every request goes through,
// outermost first: a request id and the client's address (so everything
// after can log them), the access log (which sees the final status,
// panics included), panic recovery, CORS, the bearer token, and the
// per-request loaders.
func withMiddleware(h http.Handler, cfg config, log *slog.Logger, tokens *auth.Tokens, svc *service.Service) http.Handler {
	h = graph.LoadersMiddleware(svc)(h)
	h = auth.Middleware(tokens)(h)
	h = cors.New(cors.Options{
		AllowedOrigins: cfg.CORSOrigins,
		AllowedMethods: []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodOptions},
		AllowedHeaders: []string{"Authorization", "Content-Type", requestid.Header},
		ExposedHeaders: []string{requestid.Header, "Retry-After"},
		MaxAge:         600,
	}).Handler(h)
	h = recoverMiddleware(log)(h)
	h = accessLog(log)(h)
	h = clientip.Middleware(cfg.TrustedProxies)(h)
	if cfg.Tracing {
		h = tracing.Middleware(h)
	}
	return requestid.Middleware(h)
}

// recoverMiddleware turns a handler panic into a bare 500; the panic goes
// to the log (with the request id the client also got), never to the
// client.
func recoverMiddleware(log *slog.Logger) func(http.Handler) http.Handler {
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

// untilReady answers 503 (with Retry-After) on every route but the health
// checks while ready is false: before migrations have run, the schema may
// not exist, and an honest "not yet" beats an internal error.
func untilReady(ready *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ready.Load() || r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		serviceUnavailable(w, r, "service starting: the database is not reachable yet")
	})
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
			"message": message, "extensions": map[string]any{"code": "SERVICE_UNAVAILABLE"},
		}}})
		_, _ = w.Write(body)
		return
	}
	_, _ = w.Write([]byte(`{"statusCode":503,"message":"Service Unavailable"}`))
}
