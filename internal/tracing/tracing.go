// Package tracing is authd's OpenTelemetry adapter: a tracer provider that
// exports spans over OTLP/HTTP when an endpoint is configured, and a
// tracer that records nothing otherwise. The provider is handed to each
// adapter that makes spans (HTTP, PostgreSQL, Valkey, SMTP, the hash
// pool); nothing is registered globally.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config says where spans go.
type Config struct {
	// Endpoint is the OTLP/HTTP base URL (http://collector:4318); spans are
	// posted to its /v1/traces. Empty turns tracing off.
	Endpoint string
	// ServiceName and Version are the service.name and service.version
	// of every span.
	ServiceName string
	Version     string
	// SampleRatio is the share of new traces recorded; a request whose
	// caller sampled its trace is always recorded (parent-based).
	SampleRatio float64
}

// Provider makes tracers and, when it exports, flushes them at Shutdown.
type Provider struct {
	trace.TracerProvider
	shutdown func(context.Context) error
}

// Enabled says spans are exported; adapters skip their instrumentation
// when they are not.
func (p *Provider) Enabled() bool { return p.shutdown != nil }

// Shutdown exports what is buffered, within ctx. A provider that does not
// export has nothing to do.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p.shutdown == nil {
		return nil
	}
	return p.shutdown(ctx)
}

// New builds the provider for cfg. Exporting is asynchronous and batched:
// an unreachable collector costs dropped spans, never a request.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	if cfg.Endpoint == "" {
		return &Provider{TracerProvider: noop.NewTracerProvider()}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.Endpoint+"/v1/traces"), otlptracehttp.WithTimeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", cfg.ServiceName),
		attribute.String("service.version", cfg.Version),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Second)),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
	)
	return &Provider{TracerProvider: tp, shutdown: func(ctx context.Context) error {
		return errors.Join(tp.ForceFlush(ctx), tp.Shutdown(ctx))
	}}, nil
}
