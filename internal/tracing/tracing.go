// Package tracing is the OpenTelemetry hook: spans for HTTP requests and
// SQL statements, exported over OTLP/HTTP only when an endpoint is
// configured. Unconfigured, the global tracer is OpenTelemetry's no-op and
// the hooks cost next to nothing.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/uptrace/bun"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/neuronmeet/api/internal/recorder"
)

const scope = "github.com/neuronmeet/api"

// Setup starts exporting when OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set; the exporter, sampler and
// resource read the standard OTEL_* variables (OTEL_SERVICE_NAME,
// OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, ...). It returns a
// function that flushes and stops the exporter, and whether tracing is on.
func Setup(ctx context.Context, getenv func(string) string) (shutdown func(context.Context) error, enabled bool, err error) {
	noop := func(context.Context) error { return nil }
	endpoint := getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if base := getenv("OTEL_EXPORTER_OTLP_ENDPOINT"); endpoint == "" && base != "" {
		endpoint = strings.TrimSuffix(base, "/") + "/v1/traces" // as the OTLP spec derives it
	}
	if endpoint == "" {
		return noop, false, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(endpoint))
	if err != nil {
		return noop, false, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(attribute.String("service.name", serviceName(getenv))))
	if err != nil {
		return noop, false, fmt.Errorf("tracing: resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return tp.Shutdown, true, nil
}

func serviceName(getenv func(string) string) string {
	if n := getenv("OTEL_SERVICE_NAME"); n != "" {
		return n
	}
	return "neuronmeet-api"
}

// Middleware opens a server span per request, continuing the caller's
// trace (W3C traceparent), named by the route once it is known.
func Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := otel.Tracer(scope).Start(ctx, r.Method, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		rec := recorder.Wrap(w)
		inner := r.WithContext(ctx)
		next.ServeHTTP(rec, inner)
		if inner.Pattern != "" {
			span.SetName(inner.Pattern)
			span.SetAttributes(attribute.String("http.route", inner.Pattern))
		}
		span.SetAttributes(attribute.Int("http.response.status_code", rec.Status()))
		if rec.Status() >= 500 {
			span.SetStatus(codes.Error, http.StatusText(rec.Status()))
		}
	})
}

// QueryHook opens a span per SQL statement. It records the operation
// (SELECT, INSERT, ...) but never the statement: Bun's text has the
// arguments inlined, password hashes included.
type QueryHook struct{}

var _ bun.QueryHook = QueryHook{}

// BeforeQuery implements bun.QueryHook.
func (QueryHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx // no trace to join: skip the span
	}
	ctx, _ = otel.Tracer(scope).Start(ctx, "db "+e.Operation(), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.operation.name", e.Operation())))
	return ctx
}

// AfterQuery implements bun.QueryHook.
func (QueryHook) AfterQuery(ctx context.Context, e *bun.QueryEvent) {
	span := trace.SpanFromContext(ctx)
	if e.Err != nil {
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}
