package app

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/neuronmeet/api/db"
	"github.com/neuronmeet/api/graph"
	"github.com/neuronmeet/api/internal/clientip"
	"github.com/neuronmeet/api/internal/events"
	"github.com/neuronmeet/api/internal/ratelimit"
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
	Production   bool
	CORSOrigins  []string
	BcryptCost   int
	LogLevel     string
	GraphQL      graph.Limits
	APQCacheSize int
	// RateLimits is nil when RATE_LIMITS=off.
	RateLimits     map[ratelimit.Op]ratelimit.Rates
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
	// FastPathShadow checks every fast-path GraphQL answer against gqlgen's
	// executor (graph.HandlerConfig.ShadowFastPath): for tests only.
	FastPathShadow bool
	// Subscriptions tunes live events (SUBSCRIPTION_KEEPALIVE,
	// SUBSCRIPTION_BUFFER).
	Subscriptions subscriptionConfig
	// Tracing is on when an OTLP endpoint is configured (tracing.Setup).
	Tracing bool
	// generatedSecret is true when JWT_SECRET was unset and a random one
	// was made up for this process (development only).
	generatedSecret bool
}

// httpConfig bounds connections (see NewHTTPServer).
type httpConfig struct {
	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout, ShutdownTimeout time.Duration
	MaxHeaderBytes                                                             int
}

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
		SQLitePath:  envOr(getenv, "SQLITE_PATH", "./data/neuronmeet.db"),
		Production:  strings.EqualFold(getenv("APP_ENV"), "production"),
		LogLevel:    envOr(getenv, "LOG_LEVEL", "info"),
	}
	var err error
	if cfg.JWTTTL, err = parseTTL(envOr(getenv, "JWT_TTL", "7d")); err != nil {
		return cfg, fmt.Errorf("JWT_TTL: %w", err)
	}
	if err := loadDBConfig(getenv, &cfg); err != nil {
		return cfg, err
	}
	if cfg.BcryptCost, err = atoiEnv(getenv, "BCRYPT_COST", 10); err != nil {
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
	if cfg.TrustedProxies, err = clientip.ParsePrefixes(getenv("TRUSTED_PROXIES")); err != nil {
		return cfg, fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	for _, v := range []struct {
		dst *time.Duration
		key string
		def time.Duration
	}{
		{&cfg.HTTP.ReadHeaderTimeout, "HTTP_READ_HEADER_TIMEOUT", 10 * time.Second},
		{&cfg.HTTP.ReadTimeout, "HTTP_READ_TIMEOUT", 30 * time.Second},
		{&cfg.HTTP.WriteTimeout, "HTTP_WRITE_TIMEOUT", 60 * time.Second},
		{&cfg.HTTP.IdleTimeout, "HTTP_IDLE_TIMEOUT", 120 * time.Second},
		{&cfg.HTTP.ShutdownTimeout, "SHUTDOWN_TIMEOUT", 20 * time.Second},
	} {
		if *v.dst, err = durationEnv(getenv, v.key, v.def); err != nil {
			return cfg, err
		}
	}
	if cfg.HTTP.MaxHeaderBytes, err = atoiEnv(getenv, "HTTP_MAX_HEADER_BYTES", 64<<10); err != nil {
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
	if cfg.FastPathShadow, err = switchEnv(getenv, "GRAPHQL_FASTPATH_SHADOW", false); err != nil {
		return cfg, err
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
		// Tokens then die with the process, which is fine for trying the
		// server out and safe: nobody can know the secret.
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		cfg.JWTSecret = b
		cfg.generatedSecret = true
	case cfg.Production && len(secret) < minProductionSecret:
		return cfg, fmt.Errorf("JWT_SECRET must be at least %d bytes when APP_ENV=production", minProductionSecret)
	default:
		cfg.JWTSecret = []byte(secret)
	}
	return cfg, nil
}

// loadStreamLimits reads the admission gate's longest wait and the limits
// of streams (graph.StreamLimits).
func loadStreamLimits(getenv func(string) string, cfg *Config) error {
	// Half the write timeout leaves the admitted request the other half.
	wait, err := durationEnv(getenv, "ADMISSION_MAX_WAIT", min(10*time.Second, cfg.HTTP.WriteTimeout/2))
	if err != nil {
		return err
	}
	if wait >= cfg.HTTP.WriteTimeout {
		return fmt.Errorf("ADMISSION_MAX_WAIT (%s) must be shorter than HTTP_WRITE_TIMEOUT (%s): an answer after the write timeout is never delivered", wait, cfg.HTTP.WriteTimeout)
	}
	cfg.AdmissionMaxWait = wait
	l := &cfg.Subscriptions.Limits
	for _, v := range []struct {
		dst *int
		key string
		def int
	}{
		{&l.PerUser, "STREAMS_PER_USER", graph.DefaultStreamsPerUser},
		{&l.PerAddress, "STREAMS_PER_ADDRESS", graph.DefaultStreamsPerAddress},
		{&l.SubscriptionsPerConnection, "SUBSCRIPTIONS_PER_CONNECTION", graph.DefaultSubscriptionsPerConnection},
		{&l.OperationsPerConnection, "OPERATIONS_PER_CONNECTION", graph.DefaultOperationsPerConnection},
	} {
		if *v.dst, err = atoiEnv(getenv, v.key, v.def); err != nil {
			return err
		}
		if *v.dst < 0 {
			return fmt.Errorf("%s must not be negative (0 turns the limit off)", v.key)
		}
	}
	if l.InitTimeout, err = durationEnv(getenv, "WEBSOCKET_INIT_TIMEOUT", graph.DefaultInitTimeout); err != nil {
		return err
	}
	if l.WriteTimeout, err = durationEnv(getenv, "STREAM_WRITE_TIMEOUT", graph.DefaultStreamWriteTimeout); err != nil {
		return err
	}
	return nil
}

// loadDBConfig reads the pool and timeout settings.
func loadDBConfig(getenv func(string) string, cfg *Config) error {
	d := &cfg.DB
	d.URL, d.SQLitePath = cfg.DatabaseURL, cfg.SQLitePath
	var err error
	if d.MaxOpenConns, err = atoiEnv(getenv, "DB_MAX_OPEN_CONNS", 20); err != nil {
		return err
	}
	if d.MaxIdleConns, err = atoiEnv(getenv, "DB_MAX_IDLE_CONNS", 0); err != nil {
		return err
	}
	if d.MaxOpenConns < 1 || d.MaxIdleConns < 0 {
		return errors.New("DB_MAX_OPEN_CONNS must be at least 1 and DB_MAX_IDLE_CONNS not negative")
	}
	for _, v := range []struct {
		dst *time.Duration
		key string
		def time.Duration
	}{
		{&d.StatementTimeout, "DB_STATEMENT_TIMEOUT", 10 * time.Second},
		{&d.ConnectTimeout, "DB_CONNECT_TIMEOUT", 5 * time.Second},
		{&d.ConnMaxIdleTime, "DB_CONN_MAX_IDLE_TIME", 5 * time.Minute},
		{&d.ConnMaxLifetime, "DB_CONN_MAX_LIFETIME", 30 * time.Minute},
	} {
		if *v.dst, err = durationEnv(getenv, v.key, v.def); err != nil {
			return err
		}
	}
	return nil
}

// loadGraphQLLimits reads the GraphQL request limits. The defaults admit
// every query the clients send (the largest, me.rooms with every nested
// field and no page size, costs 102,002, and 1,020 per room beyond 100, so
// it lists up to 245 rooms unpaged) with room to spare, and nothing that
// could make one request run for long. A subscription's events are
// resolved once per subscriber, up to 101 in a room: its limit of 1,000
// admits the fullest roomEvents selection (28) many times over, and keeps
// one event's work for a full room (101 x 1,000) near one largest query's.
func loadGraphQLLimits(getenv func(string) string, cfg *Config) error {
	l := &cfg.GraphQL
	maxBody, err := atoiEnv(getenv, "GRAPHQL_MAX_BODY_BYTES", 256<<10)
	if err != nil {
		return err
	}
	l.MaxBodyBytes = int64(maxBody)
	for _, v := range []struct {
		dst *int
		key string
		def int
	}{
		{&l.MaxTokens, "GRAPHQL_MAX_TOKENS", 2000},
		{&l.MaxDepth, "GRAPHQL_MAX_DEPTH", 10},
		{&l.MaxAliases, "GRAPHQL_MAX_ALIASES", 30},
		{&l.MaxComplexity, "GRAPHQL_MAX_COMPLEXITY", 250000},
		{&l.DefaultListSize, "GRAPHQL_DEFAULT_LIST_SIZE", 100},
		{&l.MaxSubscriptionComplexity, "GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY", 1000},
		{&l.MaxSignIns, "GRAPHQL_MAX_SIGN_INS", 1},
		{&cfg.APQCacheSize, "GRAPHQL_APQ_CACHE_SIZE", 1000},
	} {
		if *v.dst, err = atoiEnv(getenv, v.key, v.def); err != nil {
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

// loadRateLimits reads the per-operation limits. The defaults let a
// person mistype a password a few times, and a meeting of a hundred
// people behind one office address join at once, while a guesser gets 10
// tries per account per quarter hour.
func loadRateLimits(getenv func(string) string) (map[ratelimit.Op]ratelimit.Rates, error) {
	if on, err := switchEnv(getenv, "RATE_LIMITS", true); !on || err != nil {
		return nil, err
	}
	out := map[ratelimit.Op]ratelimit.Rates{}
	for _, v := range []struct {
		op          ratelimit.Op
		name        string
		ip, perAcct string
	}{
		{ratelimit.Login, "LOGIN", "30/1m", "10/15m"},
		{ratelimit.Register, "REGISTER", "20/1h", "5/1h"},
		{ratelimit.JoinRoom, "JOIN", "120/1m", "30/1m"},
	} {
		var r ratelimit.Rates
		var err error
		key := "RATE_LIMIT_" + v.name + "_IP"
		if r.PerIP, err = ratelimit.ParseRate(envOr(getenv, key, v.ip)); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		key = "RATE_LIMIT_" + v.name + "_ACCOUNT"
		if r.PerAccount, err = ratelimit.ParseRate(envOr(getenv, key, v.perAcct)); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
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
