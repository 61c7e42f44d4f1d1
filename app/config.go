package app

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/internal/auth"
	"github.com/neuronmeet/api/internal/clientip"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
	"github.com/neuronmeet/api/internal/respcache"
)

// Config is everything the server reads from its environment. See the
// README's configuration table for the meaning and default of each.
type Config struct {
	Port         string
	DatabaseURL  string
	SQLitePath   string
	DB           db.Config
	JWTSecret    []byte
	JWTTTL       time.Duration
	JWTLeeway    time.Duration // skew tolerated after exp; streams end then too
	Production   bool
	CORSOrigins  []string
	BcryptCost   int
	LogLevel     string
	GraphQL      graph.Limits
	APQCacheSize int
	// DatabaseListenURL is where the live events' LISTEN connection goes
	// (DATABASE_LISTEN_URL); empty: where the pool's connections go.
	DatabaseListenURL string
	// RateLimits is nil when RATE_LIMITS=off.
	RateLimits map[ratelimit.Op]ratelimit.Rates
	// RateLimitStore is where the buckets live: RateLimitStoreMemory or
	// RateLimitStorePostgres (RATE_LIMIT_STORE).
	RateLimitStore string
	TrustedProxies []netip.Prefix
	HTTP           httpConfig
	// MaxConcurrentRequests caps API requests running at once (the rest
	// wait their turn in arrival order); 0 turns the gate off.
	MaxConcurrentRequests int
	// AdmissionMaxWait is the longest a request waits in the gate before
	// it is answered 503: less than the write timeout, so the answer can
	// still be delivered.
	AdmissionMaxWait time.Duration
	Metrics          bool
	// Playground serves GraphiQL at GET / (internal/playground).
	Playground bool
	// ResponseCacheMaxBytes bounds the response cache (internal/respcache);
	// 0 when RESPONSE_CACHE=off.
	ResponseCacheMaxBytes int64
	// FastPathShadow checks every fast-path GraphQL answer against gqlgen's
	// executor (graph.HandlerConfig.ShadowFastPath): for tests only.
	FastPathShadow bool
	// Subscriptions tunes live events (SUBSCRIPTION_KEEPALIVE,
	// SUBSCRIPTION_BUFFER).
	Subscriptions subscriptionConfig
	// Tracing is on when an OTLP endpoint is configured (tracing.Setup).
	Tracing bool
	// secretFile is set when JWT_SECRET is unset in development: the file
	// that keeps the development secret (see useSecretFile), which Run and
	// Seed sign with. Until then JWTSecret is random, so an App made from
	// this Config alone (as tests make them) still signs, for its process
	// only.
	secretFile string
}

// httpConfig bounds connections (see NewHTTPServer).
type httpConfig struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout, ShutdownTimeout time.Duration
	MaxHeaderBytes                                                             int
}

// defaultHTTP bounds connections unless configured: generous for a real
// client on a slow network, short for one that trickles bytes to hold a
// connection open.
var defaultHTTP = httpConfig{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       30 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       120 * time.Second,
	ShutdownTimeout:   20 * time.Second,
	MaxHeaderBytes:    64 << 10,
}

// maxAdmissionWait caps ADMISSION_MAX_WAIT's default (which is otherwise
// half the write timeout).
const maxAdmissionWait = 10 * time.Second

// subscriptionConfig tunes live events (see graph.SubscriptionConfig and
// events.Options).
type subscriptionConfig struct {
	KeepAlive time.Duration
	Buffer    int
	Limits    graph.StreamLimits
}

const minProductionSecret = 32

// LoadConfig reads the configuration from getenv (os.Getenv in the
// server), refusing values that are malformed or unsafe in production.
func LoadConfig(getenv func(string) string) (Config, error) {
	cfg := Config{
		Port:        envOr(getenv, "PORT", "8080"),
		DatabaseURL: getenv("DATABASE_URL"),
		SQLitePath:  envOr(getenv, "SQLITE_PATH", db.DefaultConfig().SQLitePath),
		Production:  strings.EqualFold(getenv("APP_ENV"), "production"),
		LogLevel:    envOr(getenv, "LOG_LEVEL", "info"),
		HTTP:        defaultHTTP,
	}
	var err error
	if cfg.JWTTTL, err = parseTTL(envOr(getenv, "JWT_TTL", "7d")); err != nil {
		return cfg, fmt.Errorf("JWT_TTL: %w", err)
	}
	if cfg.JWTLeeway, err = parseLeeway(envOr(getenv, "JWT_LEEWAY", auth.DefaultLeeway.String())); err != nil {
		return cfg, fmt.Errorf("JWT_LEEWAY: %w", err)
	}
	if err := loadDBConfig(getenv, &cfg); err != nil {
		return cfg, err
	}
	if cfg.BcryptCost, err = atoiEnv(getenv, "BCRYPT_COST", auth.DefaultCost); err != nil {
		return cfg, err
	}
	if cfg.MaxConcurrentRequests, err = atoiEnv(getenv, "MAX_CONCURRENT_REQUESTS", defaultConcurrency(cfg.DB.MaxOpenConns)); err != nil {
		return cfg, err
	}
	if cfg.MaxConcurrentRequests < 0 {
		return cfg, errors.New("MAX_CONCURRENT_REQUESTS must not be negative (0 turns the gate off)")
	}
	if err := loadGraphQLLimits(getenv, &cfg); err != nil {
		return cfg, err
	}
	if cfg.RateLimits, err = loadRateLimits(getenv); err != nil {
		return cfg, err
	}
	switch cfg.RateLimitStore = envOr(getenv, "RATE_LIMIT_STORE", RateLimitStoreMemory); cfg.RateLimitStore {
	case RateLimitStoreMemory, RateLimitStorePostgres:
	default:
		return cfg, fmt.Errorf("RATE_LIMIT_STORE: want memory or postgres, got %q", cfg.RateLimitStore)
	}
	if cfg.TrustedProxies, err = clientip.ParsePrefixes(getenv("TRUSTED_PROXIES")); err != nil {
		return cfg, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	if err := durationsEnv(getenv,
		durationVar{&cfg.HTTP.ReadHeaderTimeout, "HTTP_READ_HEADER_TIMEOUT"},
		durationVar{&cfg.HTTP.ReadTimeout, "HTTP_READ_TIMEOUT"},
		durationVar{&cfg.HTTP.WriteTimeout, "HTTP_WRITE_TIMEOUT"},
		durationVar{&cfg.HTTP.IdleTimeout, "HTTP_IDLE_TIMEOUT"},
		durationVar{&cfg.HTTP.ShutdownTimeout, "SHUTDOWN_TIMEOUT"},
	); err != nil {
		return cfg, err
	}
	if cfg.HTTP.MaxHeaderBytes, err = atoiEnv(getenv, "HTTP_MAX_HEADER_BYTES", cfg.HTTP.MaxHeaderBytes); err != nil {
		return cfg, err
	}
	if cfg.Subscriptions.KeepAlive, err = durationEnv(getenv, "SUBSCRIPTION_KEEPALIVE", graph.DefaultKeepAlive); err != nil {
		return cfg, err
	}
	if cfg.Subscriptions.Buffer, err = atoiEnv(getenv, "SUBSCRIPTION_BUFFER", events.DefaultBuffer); err != nil {
		return cfg, err
	}
	if cfg.Subscriptions.Buffer < 1 {
		return cfg, fmt.Errorf("SUBSCRIPTION_BUFFER: want at least 1, got %d", cfg.Subscriptions.Buffer)
	}
	if err := loadStreamLimits(getenv, &cfg); err != nil {
		return cfg, err
	}
	cfg.Tracing = getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
	if cfg.Metrics, err = switchEnv(getenv, "METRICS", true); err != nil {
		return cfg, err
	}
	// A development tool: on unless the deployment is production, where
	// it must be asked for.
	if cfg.Playground, err = switchEnv(getenv, "PLAYGROUND", !cfg.Production); err != nil {
		return cfg, err
	}
	if err := loadResponseCache(getenv, &cfg); err != nil {
		return cfg, err
	}
	if cfg.FastPathShadow, err = switchEnv(getenv, "GRAPHQL_FASTPATH_SHADOW", false); err != nil {
		return cfg, err
	}
	if cfg.FastPathShadow && cfg.Production {
		// It doubles the cost of the hottest query and answers any
		// difference with an error: a test instrument, never a setting.
		return cfg, errors.New("GRAPHQL_FASTPATH_SHADOW is for tests and is refused when APP_ENV=production")
	}
	for _, o := range strings.Split(getenv("CORS_ALLOWED_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.CORSOrigins = append(cfg.CORSOrigins, o)
		}
	}
	secret := getenv("JWT_SECRET")
	switch {
	case secret == "" && cfg.Production:
		return cfg, errors.New("JWT_SECRET must be set when APP_ENV=production")
	case secret == "":
		// Kept beside the SQLite file, so seed's token works against run
		// and outlives restarts; in the same directory with PostgreSQL
		// too, so that one rule serves both stores.
		cfg.JWTSecret = newSecret()
		cfg.secretFile = filepath.Join(filepath.Dir(cfg.SQLitePath), devSecretFile)
	case cfg.Production && len(secret) < minProductionSecret:
		return cfg, fmt.Errorf("JWT_SECRET must be at least %d bytes when APP_ENV=production", minProductionSecret)
	default:
		cfg.JWTSecret = []byte(secret)
	}
	return cfg, nil
}

// loadResponseCache reads RESPONSE_CACHE and RESPONSE_CACHE_MAX_BYTES.
func loadResponseCache(getenv func(string) string, cfg *Config) error {
	on, err := switchEnv(getenv, "RESPONSE_CACHE", true)
	if err != nil || !on {
		return err
	}
	maxBytes, err := atoiEnv(getenv, "RESPONSE_CACHE_MAX_BYTES", respcache.DefaultMaxBytes)
	if err != nil {
		return err
	}
	if maxBytes < 1<<20 {
		// Below a megabyte, one dashboard's answer would not fit in the
		// eighth an entry may take.
		return fmt.Errorf("RESPONSE_CACHE_MAX_BYTES must be at least 1048576 (1 MiB), got %d; RESPONSE_CACHE=off turns the cache off", maxBytes)
	}
	cfg.ResponseCacheMaxBytes = int64(maxBytes)
	return nil
}

// loadStreamLimits reads the admission gate's longest wait and the limits
// of streams (graph.StreamLimits).
func loadStreamLimits(getenv func(string) string, cfg *Config) error {
	// Half the write timeout leaves the admitted request the other half.
	wait, err := durationEnv(getenv, "ADMISSION_MAX_WAIT", min(maxAdmissionWait, cfg.HTTP.WriteTimeout/2))
	if err != nil {
		return err
	}
	if wait >= cfg.HTTP.WriteTimeout {
		return fmt.Errorf("ADMISSION_MAX_WAIT (%s) must be shorter than HTTP_WRITE_TIMEOUT (%s): an answer after the write timeout is never delivered", wait, cfg.HTTP.WriteTimeout)
	}
	cfg.AdmissionMaxWait = wait
	cfg.Subscriptions.Limits = graph.DefaultStreamLimits()
	l := &cfg.Subscriptions.Limits
	for _, v := range []intVar{
		{&l.PerUser, "STREAMS_PER_USER"},
		{&l.PerAddress, "STREAMS_PER_ADDRESS"},
		{&l.SubscriptionsPerConnection, "SUBSCRIPTIONS_PER_CONNECTION"},
		{&l.OperationsPerConnection, "OPERATIONS_PER_CONNECTION"},
	} {
		if err := v.read(getenv); err != nil {
			return err
		}
		if *v.dst < 0 {
			return fmt.Errorf("%s must not be negative (0 turns the limit off)", v.key)
		}
	}
	return durationsEnv(getenv,
		durationVar{&l.InitTimeout, "WEBSOCKET_INIT_TIMEOUT"},
		durationVar{&l.WriteTimeout, "STREAM_WRITE_TIMEOUT"},
	)
}

// The rate limits' stores (RATE_LIMIT_STORE).
const (
	RateLimitStoreMemory   = "memory"
	RateLimitStorePostgres = "postgres"
)

// loadDBConfig reads the pool and timeout settings, and what stands
// between the pool and PostgreSQL.
func loadDBConfig(getenv func(string) string, cfg *Config) error {
	cfg.DB = db.DefaultConfig()
	d := &cfg.DB
	d.URL, d.SQLitePath = cfg.DatabaseURL, cfg.SQLitePath
	cfg.DatabaseListenURL = getenv("DATABASE_LISTEN_URL")
	switch p := getenv("DATABASE_POOLER"); p {
	case "", "none":
	case db.PoolerPgBouncer:
		d.Pooler = p
		if cfg.DatabaseListenURL == "" {
			// Through PgBouncer's transaction mode a LISTEN lasts one
			// statement: live events would quietly never arrive.
			return errors.New("DATABASE_POOLER=pgbouncer needs DATABASE_LISTEN_URL, a URL straight to PostgreSQL for the live events' LISTEN connection")
		}
	default:
		return fmt.Errorf("DATABASE_POOLER: want none or pgbouncer, got %q", p)
	}
	for _, v := range []intVar{{&d.MaxOpenConns, "DB_MAX_OPEN_CONNS"}, {&d.MaxIdleConns, "DB_MAX_IDLE_CONNS"}} {
		if err := v.read(getenv); err != nil {
			return err
		}
	}
	if d.MaxOpenConns < 1 || d.MaxIdleConns < 0 {
		return errors.New("DB_MAX_OPEN_CONNS must be at least 1 and DB_MAX_IDLE_CONNS not negative")
	}
	return durationsEnv(getenv,
		durationVar{&d.StatementTimeout, "DB_STATEMENT_TIMEOUT"},
		durationVar{&d.ConnectTimeout, "DB_CONNECT_TIMEOUT"},
		durationVar{&d.ConnMaxIdleTime, "DB_CONN_MAX_IDLE_TIME"},
		durationVar{&d.ConnMaxLifetime, "DB_CONN_MAX_LIFETIME"},
	)
}

// loadGraphQLLimits reads the GraphQL request limits (defaults: see
// graph.DefaultLimits).
func loadGraphQLLimits(getenv func(string) string, cfg *Config) error {
	cfg.GraphQL, cfg.APQCacheSize = graph.DefaultLimits(), graph.DefaultAPQCacheSize
	l := &cfg.GraphQL
	maxBody, err := atoiEnv(getenv, "GRAPHQL_MAX_BODY_BYTES", int(l.MaxBodyBytes))
	if err != nil {
		return err
	}
	l.MaxBodyBytes = int64(maxBody)
	for _, v := range []intVar{
		{&l.MaxTokens, "GRAPHQL_MAX_TOKENS"},
		{&l.MaxDepth, "GRAPHQL_MAX_DEPTH"},
		{&l.MaxAliases, "GRAPHQL_MAX_ALIASES"},
		{&l.MaxComplexity, "GRAPHQL_MAX_COMPLEXITY"},
		{&l.DefaultListSize, "GRAPHQL_DEFAULT_LIST_SIZE"},
		{&l.MaxSubscriptionComplexity, "GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY"},
		{&l.MaxSignIns, "GRAPHQL_MAX_SIGN_INS"},
		{&cfg.APQCacheSize, "GRAPHQL_APQ_CACHE_SIZE"},
	} {
		if err := v.read(getenv); err != nil {
			return err
		}
		if *v.dst < 0 {
			return fmt.Errorf("%s must not be negative", v.key)
		}
	}
	if l.MaxBodyBytes < 0 {
		return errors.New("GRAPHQL_MAX_BODY_BYTES must not be negative")
	}
	return nil
}

// loadRateLimits reads the per-operation limits (defaults: see
// ratelimit.Defaults).
func loadRateLimits(getenv func(string) string) (map[ratelimit.Op]ratelimit.Rates, error) {
	if on, err := switchEnv(getenv, "RATE_LIMITS", true); !on || err != nil {
		return nil, err
	}
	out := ratelimit.Defaults()
	for _, v := range []struct {
		op     ratelimit.Op
		name   string
		scopes []string // the limits the operation has (see ratelimit.Defaults)
	}{
		{ratelimit.Login, "LOGIN", []string{"IP", "ACCOUNT", "ACCOUNT_IP"}},
		{ratelimit.Register, "REGISTER", []string{"IP", "ACCOUNT"}},
		{ratelimit.JoinRoom, "JOIN", []string{"IP", "ACCOUNT"}},
		{ratelimit.RoomCode, "ROOM_CODE", []string{"IP"}},
		{ratelimit.CreateRoom, "CREATE_ROOM", []string{"ACCOUNT"}},
		{ratelimit.SendMessage, "MESSAGE", []string{"PARTICIPANT"}},
	} {
		r := out[v.op]
		// A message's account is its sender's presence in the room.
		dst := map[string]*ratelimit.Rate{"IP": &r.PerIP, "ACCOUNT": &r.PerAccount, "ACCOUNT_IP": &r.PerAccountIP, "PARTICIPANT": &r.PerAccount}
		for _, scope := range v.scopes {
			key := "RATE_LIMIT_" + v.name + "_" + scope
			if s := getenv(key); s != "" {
				rate, err := ratelimit.ParseRate(s)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", key, err)
				}
				*dst[scope] = rate
			}
		}
		out[v.op] = r
	}
	return out, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// intVar is an integer setting: key's value read into dst, whose value
// until then is the default.
type intVar struct {
	dst *int
	key string
}

func (v intVar) read(getenv func(string) string) (err error) {
	*v.dst, err = atoiEnv(getenv, v.key, *v.dst)
	return err
}

// durationVar is a duration setting, as intVar is an integer one.
type durationVar struct {
	dst *time.Duration
	key string
}

// durationsEnv reads each of vars (see durationEnv).
func durationsEnv(getenv func(string) string, vars ...durationVar) error {
	for _, v := range vars {
		d, err := durationEnv(getenv, v.key, *v.dst)
		if err != nil {
			return err
		}
		*v.dst = d
	}
	return nil
}

// switchEnv reads an on/off setting (also true/false, 1/0).
func switchEnv(getenv func(string) string, key string, def bool) (bool, error) {
	switch v := getenv(key); strings.ToLower(v) {
	case "":
		return def, nil
	case "on", "true", "1":
		return true, nil
	case "off", "false", "0":
		return false, nil
	default:
		return false, fmt.Errorf("%s: want on or off, got %q", key, v)
	}
}

func atoiEnv(getenv func(string) string, key string, def int) (int, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: not an integer: %q", key, v)
	}
	return n, nil
}

// durationEnv reads a positive Go duration ("500ms", "30s").
func durationEnv(getenv func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := getenv(key)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: want a positive duration such as 30s, got %q", key, v)
	}
	return d, nil
}

// maxLeeway bounds JWT_LEEWAY: skew beyond minutes is a broken clock, and
// a long leeway would quietly extend every token's life.
const maxLeeway = 5 * time.Minute

// parseLeeway reads a Go duration from 0 (exp is exact) to maxLeeway.
func parseLeeway(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxLeeway {
		return 0, fmt.Errorf("want a duration from 0s to %v, got %q", maxLeeway, s)
	}
	return d, nil
}

// parseTTL accepts Go durations ("168h") and the day suffix the legacy
// service's configuration used ("7d").
func parseTTL(s string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, fmt.Errorf("invalid duration %q", s)
		}
	}
	if d <= 0 {
		return 0, fmt.Errorf("duration must be positive, got %q", s)
	}
	return d, nil
}

// defaultConcurrency is how many API requests run at once unless
// configured: two per core (a request alternates between CPU and short
// database waits), and never more than the pool has connections, so a
// running request never queues for one. Measured with make bench on two
// cores: 4 keeps the p99 within 1.5x the median at full throughput, where
// 20 let it drift to 2.3x (bench/README.md).
func defaultConcurrency(poolSize int) int {
	return max(1, min(2*runtime.GOMAXPROCS(0), poolSize))
}
