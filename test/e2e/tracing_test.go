package e2e

// Tracing: off unless an OTLP endpoint is configured; then request and SQL
// spans are exported, without statement text.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/neuronmeet/api/app"
	"github.com/neuronmeet/api/internal/tracing"
	"github.com/neuronmeet/api/test/harness"
)

// Without an OTLP endpoint nothing is traced: no exporter, and the
// server's configuration leaves the hooks out.
func TestTracing_OffUnlessConfigured(t *testing.T) {
	stop, on, err := tracing.Setup(context.Background(), func(string) string { return "" })
	if err != nil || on {
		t.Fatalf("Setup without an endpoint: on=%v, %v", on, err)
	}
	_ = stop(context.Background())
	cfg, err := app.LoadConfig(func(k string) string { return map[string]string{"JWT_SECRET": harness.Secret}[k] })
	if err != nil || cfg.Tracing {
		t.Errorf("tracing on by default (%v)", err)
	}
}

// With an endpoint, request and SQL spans reach an OTLP/HTTP collector,
// and no statement text (with its arguments) goes with them.
func TestTracing_ExportsSpansWhenConfigured(t *testing.T) {
	var mu sync.Mutex
	var received [][]byte
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/v1/traces" {
			mu.Lock()
			received = append(received, body)
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer collector.Close()
	env := map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": collector.URL, "OTEL_SERVICE_NAME": "nm-test"}
	stop, on, err := tracing.Setup(context.Background(), func(k string) string { return env[k] })
	if err != nil || !on {
		t.Fatalf("Setup with an endpoint: on=%v, %v", on, err)
	}
	defer otel.SetTracerProvider(noop.NewTracerProvider())
	srv := harness.Start(t, harness.WithEnv(env))
	const password = "pw-Traced-Secret-42"
	srv.GQL(`mutation($in: RegisterInput!) { register(input: $in) { accessToken } }`,
		map[string]any{"in": map[string]any{"email": "ada@example.com", "password": password, "displayName": "Ada"}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	mu.Lock()
	all := bytes.Join(received, nil)
	mu.Unlock()
	for _, want := range []string{"/query", "db INSERT", "nm-test"} {
		if !bytes.Contains(all, []byte(want)) {
			t.Errorf("exported spans lack %q (%d bytes in %d exports)", want, len(all), len(received))
		}
	}
	if bytes.Contains(all, []byte(password)) || bytes.Contains(all, []byte("$2a$")) {
		t.Error("exported spans contain the password or its hash")
	}
}
