package app

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/neuronmeet/api/db/dbtest"
	"github.com/neuronmeet/api/internal/metrics"
	"github.com/neuronmeet/api/internal/playground"
)

func newTestApp(t *testing.T, env ...string) *App {
	t.Helper()
	vars := map[string]string{"JWT_SECRET": "app-test-secret-of-at-least-32-bytes", "BCRYPT_COST": "4"}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := LoadConfig(envFrom(vars))
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, dbtest.Open(t, "sqlite"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.CloseLive)
	return a
}

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// Metrics sit outside panic recovery: a route that panics is counted as
// the 500 its client got, under its own name.
func TestMiddleware_PanickingRoutesAreCounted(t *testing.T) {
	a := newTestApp(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	h := a.Wrap(metrics.Routes(mux))
	if status, body := get(t, h, "/boom"); status != http.StatusInternalServerError || body != `{"statusCode":500,"message":"Internal server error"}` {
		t.Fatalf("a panicking route answered %d %s", status, body)
	}
	_, scrape := get(t, a.Handler(), "/metrics")
	if want := `neuronmeet_http_requests_total{operation="GET /boom",status="500"} 1`; !strings.Contains(scrape, want) {
		t.Errorf("metrics lack %s:\n%s", want, grep(scrape, "neuronmeet_http_requests_total"))
	}
}

// Every probe, the legacy ones too, answers while migrations have not
// run; readiness says not yet, and the API answers an honest 503.
func TestProbes_AnswerBeforeTheDatabaseIsReady(t *testing.T) {
	a := newTestApp(t)
	a.ready.Store(false)
	h := a.Handler()
	for path, want := range map[string]int{
		"/healthz": http.StatusOK, "/health": http.StatusOK, "/api/health": http.StatusOK, "/metrics": http.StatusOK,
		"/readyz": http.StatusServiceUnavailable, "/users/me/rooms": http.StatusServiceUnavailable,
		"/query?query={__typename}": http.StatusServiceUnavailable,
	} {
		if status, body := get(t, h, path); status != want {
			t.Errorf("GET %s before migrations: %d %s, want %d", path, status, body, want)
		}
	}
	a.ready.Store(true)
	if status, body := get(t, h, "/readyz"); status != http.StatusOK {
		t.Errorf("GET /readyz once ready: %d %s", status, body)
	}
}

// Probes never wait in the admission gate: a full gate must not look like
// a dead process to the orchestrator.
func TestProbes_SkipAFullGate(t *testing.T) {
	a := newTestApp(t, "MAX_CONCURRENT_REQUESTS", "1", "ADMISSION_MAX_WAIT", "50ms")
	for range a.cfg.MaxConcurrentRequests {
		release, err := a.gate.Enter(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(release)
	}
	for _, path := range []string{"/healthz", "/readyz", "/health", "/api/health", "/metrics"} {
		if status, body := get(t, a.Handler(), path); status != http.StatusOK {
			t.Errorf("GET %s with the gate full: %d %s", path, status, body)
		}
	}
	// A playground file (here one that does not exist) is answered at
	// once, not after the wait.
	if status, body := get(t, a.Handler(), playground.AssetsPath+"nothing.js"); status != http.StatusNotFound {
		t.Errorf("GET a playground file with the gate full: %d %s, want its own 404", status, body)
	}
	if status, body := get(t, a.Handler(), "/users/me/rooms"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /users/me/rooms with the gate full: %d %s, want 503 once the wait is over", status, body)
	}
}

func grep(body, word string) string {
	var out []string
	for _, line := range strings.Split(body, "\n") {
		if strings.Contains(line, word) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
