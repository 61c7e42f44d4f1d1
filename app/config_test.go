package app

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/internal/ratelimit"
)

func envFrom(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// Unset, every setting has its documented safe default.
func TestConfig_Defaults(t *testing.T) {
	cfg, err := LoadConfig(envFrom(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.secretFile != filepath.Join("data", "jwt-secret") || cfg.Production || !cfg.Metrics || cfg.Tracing || cfg.FastPathShadow || !cfg.Playground {
		t.Errorf("defaults: secretFile %q production %v metrics %v tracing %v fast path shadow %v playground %v",
			cfg.secretFile, cfg.Production, cfg.Metrics, cfg.Tracing, cfg.FastPathShadow, cfg.Playground)
	}
	g := cfg.GraphQL
	if g.MaxBodyBytes != 256<<10 || g.MaxTokens != 2000 || g.MaxDepth != 10 || g.MaxAliases != 30 ||
		g.MaxComplexity != 250000 || g.DefaultListSize != 100 || g.MaxSubscriptionComplexity != 1000 || g.MaxSignIns != 1 || cfg.APQCacheSize != 1000 {
		t.Errorf("GraphQL limits %+v, APQ %d", g, cfg.APQCacheSize)
	}
	if got := cfg.RateLimits[ratelimit.Login]; got.PerIP != (ratelimit.Rate{N: 30, Per: time.Minute}) ||
		got.PerAccountIP != (ratelimit.Rate{N: 10, Per: 15 * time.Minute}) || got.PerAccount != (ratelimit.Rate{N: 100, Per: time.Hour}) || !got.FailuresOnly {
		t.Errorf("login limits %+v", got)
	}
	if got := cfg.RateLimits[ratelimit.RoomCode].PerIP; got != (ratelimit.Rate{N: 300, Per: time.Minute}) {
		t.Errorf("room code lookups per address %v", got)
	}
	if got := cfg.RateLimits[ratelimit.CreateRoom].PerAccount; got != (ratelimit.Rate{N: 30, Per: time.Hour}) {
		t.Errorf("rooms created per user %v", got)
	}
	if cfg.DB.MaxOpenConns != 20 || cfg.DB.StatementTimeout != 10*time.Second || cfg.DB.ConnectTimeout != 5*time.Second {
		t.Errorf("database %+v", cfg.DB)
	}
	if want := min(2*runtime.GOMAXPROCS(0), cfg.DB.MaxOpenConns); cfg.MaxConcurrentRequests != want {
		t.Errorf("MAX_CONCURRENT_REQUESTS defaults to %d, want two per core within the pool, %d", cfg.MaxConcurrentRequests, want)
	}
	if small, _ := LoadConfig(envFrom(map[string]string{"DB_MAX_OPEN_CONNS": "1"})); small.MaxConcurrentRequests != 1 {
		t.Errorf("with a pool of 1 the gate admits %d at once, want 1", small.MaxConcurrentRequests)
	}
	if cfg.HTTP.ReadHeaderTimeout != 10*time.Second || cfg.HTTP.MaxHeaderBytes != 64<<10 || cfg.HTTP.ShutdownTimeout != 20*time.Second {
		t.Errorf("HTTP %+v", cfg.HTTP)
	}
	if cfg.JWTLeeway != 30*time.Second {
		t.Errorf("JWT_LEEWAY defaults to %s, want 30s", cfg.JWTLeeway)
	}
	if exact, _ := LoadConfig(envFrom(map[string]string{"JWT_LEEWAY": "0s"})); exact.JWTLeeway != 0 {
		t.Errorf("JWT_LEEWAY=0s gives %s", exact.JWTLeeway)
	}
	if cfg.AdmissionMaxWait != 10*time.Second {
		t.Errorf("ADMISSION_MAX_WAIT defaults to %s, want 10s", cfg.AdmissionMaxWait)
	}
	if short, _ := LoadConfig(envFrom(map[string]string{"HTTP_WRITE_TIMEOUT": "4s"})); short.AdmissionMaxWait != 2*time.Second {
		t.Errorf("with a 4s write timeout the gate waits %s, want half of it", short.AdmissionMaxWait)
	}
	if cfg.ResponseCacheMaxBytes != 64<<20 {
		t.Errorf("the response cache holds %d bytes by default, want 64 MiB", cfg.ResponseCacheMaxBytes)
	}
	if off, _ := LoadConfig(envFrom(map[string]string{"RESPONSE_CACHE": "off"})); off.ResponseCacheMaxBytes != 0 {
		t.Errorf("RESPONSE_CACHE=off still sizes a cache of %d bytes", off.ResponseCacheMaxBytes)
	}
	if l := cfg.Subscriptions.Limits; l != (graph.StreamLimits{PerUser: 16, PerAddress: 256, SubscriptionsPerConnection: 50,
		OperationsPerConnection: 8, InitTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second}) {
		t.Errorf("stream limits %+v", l)
	}
}

// A bad value stops the server at start, naming the variable; it never
// silently falls back to a default.
func TestConfig_RefusesBadValues(t *testing.T) {
	for key, value := range map[string]string{
		"GRAPHQL_MAX_DEPTH": "-1", "GRAPHQL_MAX_COMPLEXITY": "lots", "GRAPHQL_MAX_BODY_BYTES": "-5",
		"RATE_LIMITS": "maybe", "RATE_LIMIT_LOGIN_IP": "10", "RATE_LIMIT_JOIN_ACCOUNT": "5/never",
		"RATE_LIMIT_LOGIN_ACCOUNT_IP": "ten/15m", "RATE_LIMIT_ROOM_CODE_IP": "300", "RATE_LIMIT_CREATE_ROOM_ACCOUNT": "-3/1h",
		"TRUSTED_PROXIES": "10.0.0.0/33", "HTTP_READ_TIMEOUT": "soon", "SHUTDOWN_TIMEOUT": "-1s",
		"DB_STATEMENT_TIMEOUT": "0", "DB_MAX_OPEN_CONNS": "0", "METRICS": "sometimes",
		"MAX_CONCURRENT_REQUESTS": "-1", "ADMISSION_MAX_WAIT": "60s", "STREAMS_PER_USER": "-1",
		"SUBSCRIPTIONS_PER_CONNECTION": "many", "WEBSOCKET_INIT_TIMEOUT": "0", "STREAM_WRITE_TIMEOUT": "-2s",
		"GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY": "-1", "GRAPHQL_FASTPATH_SHADOW": "yes",
		"RESPONSE_CACHE": "sometimes", "RESPONSE_CACHE_MAX_BYTES": "1000",
		"JWT_LEEWAY": "-1s", "PLAYGROUND": "maybe",
	} {
		_, err := LoadConfig(envFrom(map[string]string{key: value}))
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s=%q: error %v, want one naming %s", key, value, err, key)
		}
	}
	if _, err := LoadConfig(envFrom(map[string]string{"APP_ENV": "production", "JWT_SECRET": "too-short"})); err == nil {
		t.Error("production accepted a JWT_SECRET under 32 bytes")
	}
	if _, err := LoadConfig(envFrom(map[string]string{"APP_ENV": "production", "JWT_SECRET": strings.Repeat("s", 32), "GRAPHQL_FASTPATH_SHADOW": "on"})); err == nil || !strings.Contains(err.Error(), "GRAPHQL_FASTPATH_SHADOW") {
		t.Errorf("production with the test-only fast-path shadow: %v, want a refusal naming it", err)
	}
	cfg, err := LoadConfig(envFrom(map[string]string{"RATE_LIMITS": "off", "RATE_LIMIT_LOGIN_IP": "off"}))
	if err != nil || cfg.RateLimits != nil {
		t.Errorf("RATE_LIMITS=off: %v, %v", cfg.RateLimits, err)
	}
	if cfg, err := LoadConfig(envFrom(map[string]string{"GRAPHQL_FASTPATH_SHADOW": "on", "METRICS": "off"})); err != nil || !cfg.FastPathShadow || cfg.Metrics {
		t.Errorf("GRAPHQL_FASTPATH_SHADOW=on METRICS=off: shadow %v, metrics %v, %v", cfg.FastPathShadow, cfg.Metrics, err)
	}
}

// Unless the deployment chooses, the server collects garbage less often,
// within a memory limit that leaves the response cache its budget.
func TestGCDefaults(t *testing.T) {
	percent, limit, ok := gcDefaults(envFrom(nil), 64<<20)
	if !ok || percent != 400 || limit != 128<<20 {
		t.Errorf("defaults: GOGC %d, GOMEMLIMIT %d (%v); want 400 and 128 MiB", percent, limit, ok)
	}
	for _, key := range []string{"GOGC", "GOMEMLIMIT"} {
		if _, _, ok := gcDefaults(envFrom(map[string]string{key: "200"}), 64<<20); ok {
			t.Errorf("%s set: the server still imposed its defaults", key)
		}
	}
}

// The memory store and no pooler are the defaults; PgBouncer needs a
// direct URL for LISTEN, and unknown values are refused.
func TestConfig_PoolerAndRateLimitStore(t *testing.T) {
	cfg, err := LoadConfig(envFrom(nil))
	if err != nil || cfg.RateLimitStore != RateLimitStoreMemory || cfg.DB.Pooler != "" || cfg.DatabaseListenURL != "" {
		t.Fatalf("defaults: store %q pooler %q listen %q, %v", cfg.RateLimitStore, cfg.DB.Pooler, cfg.DatabaseListenURL, err)
	}
	cfg, err = LoadConfig(envFrom(map[string]string{
		"DATABASE_POOLER": "pgbouncer", "DATABASE_LISTEN_URL": "postgres://db/x", "RATE_LIMIT_STORE": "postgres",
	}))
	if err != nil || cfg.DB.Pooler != "pgbouncer" || cfg.DatabaseListenURL != "postgres://db/x" || cfg.RateLimitStore != RateLimitStorePostgres {
		t.Fatalf("pgbouncer: %+v, %v", cfg.DB, err)
	}
	for _, env := range []map[string]string{
		{"DATABASE_POOLER": "pgbouncer"},
		{"DATABASE_POOLER": "pgpool"},
		{"RATE_LIMIT_STORE": "redis"},
	} {
		if _, err := LoadConfig(envFrom(env)); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
}
