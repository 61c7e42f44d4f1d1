// Package metrics holds the server's Prometheus metrics and the hooks
// that feed them: per request (count and latency by operation and status,
// SQL statements), per dataloader batch, per rate-limit refusal, per
// GraphQL query offered to the fast path, and the database pool.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/uptrace/bun"

	"github.com/neuronmeet/api/internal/recorder"
	"github.com/neuronmeet/api/internal/respcache"
)

// maxNames bounds the operation names that become labels: GraphQL
// operation names come from clients, and each new label value is a new
// time series, kept for good. Past the bound, and for callers who may not
// claim a name (see NameOperation), an operation counts under the label
// the server bounds itself (SetOperation's).
const maxNames = 200

// Metrics is one server's registry and instruments. A nil *Metrics
// records nothing.
type Metrics struct {
	reg        *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	statements prometheus.Histogram
	batches    *prometheus.HistogramVec
	rejections *prometheus.CounterVec
	fastPath   *prometheus.CounterVec
	// Streams have instruments of their own: a websocket or SSE
	// subscription lasts minutes to hours, and counted as one request it
	// would swamp the request latencies and statements per request.
	streamsOpen     *prometheus.GaugeVec
	streamsTotal    *prometheus.CounterVec
	streamDurations *prometheus.HistogramVec

	mu    sync.Mutex
	names map[string]bool
}

// New registers the instruments, the Go runtime's and the pool's stats.
func New(pool *sql.DB) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neuronmeet_http_requests_total",
			Help: "HTTP requests by operation (GraphQL operation name or REST route) and status.",
		}, []string{"operation", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "neuronmeet_http_request_duration_seconds",
			Help:    "HTTP request latency by operation and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "status"}),
		statements: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "neuronmeet_sql_statements_per_request",
			Help:    "SQL statements one HTTP request ran.",
			Buckets: []float64{0, 1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 50},
		}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "neuronmeet_dataloader_batch_size",
			Help:    "Keys per dataloader batch, by loader.",
			Buckets: []float64{1, 2, 5, 10, 25, 50, 100, 250, 500},
		}, []string{"loader"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neuronmeet_rate_limit_rejections_total",
			Help: "Attempts refused by a rate limit, by operation and scope (ip, account).",
		}, []string{"operation", "scope"}),
		fastPath: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neuronmeet_graphql_fastpath_total",
			Help: "GraphQL queries the fast path answered, or fell back on to gqlgen's executor, by outcome (answered, fell_back) and reason (empty when answered; root, field, argument, error).",
		}, []string{"outcome", "reason"}),
		streamsOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "neuronmeet_streams_open",
			Help: "Streams open now, by transport (websocket, sse).",
		}, []string{"transport"}),
		streamsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "neuronmeet_streams_total",
			Help: "Streams started, by transport (websocket, sse).",
		}, []string{"transport"}),
		streamDurations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "neuronmeet_stream_duration_seconds",
			Help:    "How long streams lasted, by transport (websocket, sse).",
			Buckets: []float64{1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600},
		}, []string{"transport"}),
		names: map[string]bool{},
	}
	m.reg.MustRegister(m.requests, m.latency, m.statements, m.batches, m.rejections, m.fastPath,
		m.streamsOpen, m.streamsTotal, m.streamDurations,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if pool != nil {
		m.reg.MustRegister(collectors.NewDBStatsCollector(pool, "neuronmeet"))
	}
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// request is what the middleware learns about a request while it runs.
type request struct {
	m         *Metrics
	operation atomic.Pointer[string]
	// name is the client's name for its operation, and claim whether it
	// may take a free label slot (see NameOperation).
	name       atomic.Pointer[string]
	claim      atomic.Bool
	route      atomic.Pointer[string]
	statements atomic.Int64
	// stream is set once the request has become a stream.
	stream      atomic.Pointer[string]
	streamStart time.Time
	hook        *QueryHook
}

type requestKey struct{}

// SetOperation labels the request's operation with a label from a set the
// server bounds (the GraphQL edge: the operation's type and root fields,
// which the schema bounds). Without one the route pattern is used.
func SetOperation(ctx context.Context, label string) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		r.operation.Store(&label)
	}
}

// NameOperation offers the client's own name for the request's operation
// ("query MyRooms"). The request counts under it if the name already holds
// one of the maxNames label slots, or if claim is true and one is free;
// otherwise under SetOperation's label. A slot is held for good, so only
// operations the edge trusts may claim one: otherwise whoever sends the
// first 200 names, junk ones included, chooses the labels, and the real
// clients' names never get one.
func NameOperation(ctx context.Context, name string, claim bool) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		r.name.Store(&name)
		r.claim.Store(claim)
	}
}

// Middleware counts and times each request and its SQL statements.
func (m *Metrics) Middleware(hook *QueryHook) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if m == nil {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			req := &request{m: m, hook: hook}
			rec := recorder.Wrap(w)
			inner := r.WithContext(context.WithValue(r.Context(), requestKey{}, req))
			next.ServeHTTP(rec, inner)
			if transport := req.stream.Load(); transport != nil {
				m.streamDurations.WithLabelValues(*transport).Observe(time.Since(req.streamStart).Seconds())
				m.streamsOpen.WithLabelValues(*transport).Dec() // last: a stream seen closed was measured
				return
			}
			op := ""
			if route := req.route.Load(); route != nil {
				op = *route
			}
			if name := req.operation.Load(); name != nil {
				op = *name
			}
			if op == "" {
				op = "unmatched"
			}
			if name := req.name.Load(); name != nil && m.named(*name, req.claim.Load()) {
				op = *name
			}
			status := strconv.Itoa(rec.Status())
			m.requests.WithLabelValues(op, status).Inc()
			m.latency.WithLabelValues(op, status).Observe(time.Since(start).Seconds())
			m.statements.Observe(float64(req.statements.Load()))
		})
	}
}

// StreamStarted marks the request ctx belongs to as a stream over
// transport ("websocket", "sse"): from then on it counts as a stream, not
// as a request.
func StreamStarted(ctx context.Context, transport string) {
	r, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return
	}
	if r.stream.CompareAndSwap(nil, &transport) {
		r.streamStart = time.Now()
		r.m.streamsOpen.WithLabelValues(transport).Inc()
		r.m.streamsTotal.WithLabelValues(transport).Inc()
	}
}

// Routes records the route pattern mux matched for the metrics
// middleware. The mux sets it on the request it is handed, and the
// layers in between hand on copies of the request (each new context is a
// new copy), so the middleware cannot see it there.
func Routes(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Deferred: a route that panics is still counted under its name.
		defer func() {
			if req, ok := r.Context().Value(requestKey{}).(*request); ok && r.Pattern != "" {
				pattern := r.Pattern
				req.route.Store(&pattern)
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// named reports whether name is a label: it holds a slot, or claim is
// true and it takes a free one.
func (m *Metrics) named(name string, claim bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.names[name] {
		return true
	}
	if !claim || len(m.names) >= maxNames {
		return false
	}
	m.names[name] = true
	return true
}

// ObserveResponseCache exports c's counters: requests by edge and outcome
// (hit, miss, not_modified: a hit or a fresh answer revalidated with a
// 304), evictions, and the entries and bytes held.
func (m *Metrics) ObserveResponseCache(c *respcache.Cache) {
	if m != nil {
		m.reg.MustRegister(responseCacheCollector{c})
	}
}

var (
	responseCacheRequests = prometheus.NewDesc("neuronmeet_response_cache_requests_total",
		"Reads the response cache was asked for, by edge (graphql, rest) and outcome (hit, miss; not_modified counts the answers of either that were 304s).",
		[]string{"edge", "outcome"}, nil)
	responseCacheEvictions = prometheus.NewDesc("neuronmeet_response_cache_evictions_total",
		"Entries the response cache dropped to stay within RESPONSE_CACHE_MAX_BYTES.", nil, nil)
	responseCacheEntries = prometheus.NewDesc("neuronmeet_response_cache_entries",
		"Answers the response cache holds.", nil, nil)
	responseCacheBytes = prometheus.NewDesc("neuronmeet_response_cache_bytes",
		"Bytes the response cache holds (bodies, keys and bookkeeping, approximately).", nil, nil)
)

// responseCacheCollector reads the cache's own counters at each scrape, so
// the hot path counts with one atomic add.
type responseCacheCollector struct{ c *respcache.Cache }

func (rc responseCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{responseCacheRequests, responseCacheEvictions, responseCacheEntries, responseCacheBytes} {
		ch <- d
	}
}

func (rc responseCacheCollector) Collect(ch chan<- prometheus.Metric) {
	s := rc.c.Stats()
	for _, e := range respcache.Edges() {
		ch <- prometheus.MustNewConstMetric(responseCacheRequests, prometheus.CounterValue, float64(s.Hits[e]), e.String(), "hit")
		ch <- prometheus.MustNewConstMetric(responseCacheRequests, prometheus.CounterValue, float64(s.Misses[e]), e.String(), "miss")
		ch <- prometheus.MustNewConstMetric(responseCacheRequests, prometheus.CounterValue, float64(s.NotModified[e]), e.String(), "not_modified")
	}
	ch <- prometheus.MustNewConstMetric(responseCacheEvictions, prometheus.CounterValue, float64(s.Evictions))
	ch <- prometheus.MustNewConstMetric(responseCacheEntries, prometheus.GaugeValue, float64(s.Entries))
	ch <- prometheus.MustNewConstMetric(responseCacheBytes, prometheus.GaugeValue, float64(s.Bytes))
}

// ObserveBatch records one dataloader batch of size keys, fetched for the
// request ctx belongs to.
func ObserveBatch(ctx context.Context, loader string, size int) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok {
		r.m.batches.WithLabelValues(loader).Observe(float64(size))
	}
}

// FastPath counts one GraphQL query offered to the fast path, for the
// request ctx belongs to: answered, or fallen back on to the executor for
// reason (the caller keeps its values few: each is a time series).
func FastPath(ctx context.Context, answered bool, reason string) {
	r, ok := ctx.Value(requestKey{}).(*request)
	if !ok {
		return
	}
	outcome := "fell_back"
	if answered {
		outcome = "answered"
	}
	r.m.fastPath.WithLabelValues(outcome, reason).Inc()
}

// RateLimited counts one refusal.
func (m *Metrics) RateLimited(operation, scope string) {
	if m != nil {
		m.rejections.WithLabelValues(operation, scope).Inc()
	}
}

// QueryHook counts each request's SQL statements. It only counts for
// requests passed through a Middleware built with it, so several servers
// sharing one database (as tests do) do not count each other's.
type QueryHook struct{}

var _ bun.QueryHook = (*QueryHook)(nil)

// BeforeQuery implements bun.QueryHook.
func (h *QueryHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

// AfterQuery implements bun.QueryHook.
func (h *QueryHook) AfterQuery(ctx context.Context, _ *bun.QueryEvent) {
	if r, ok := ctx.Value(requestKey{}).(*request); ok && r.hook == h {
		r.statements.Add(1)
	}
}
