package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultSampleRatio is the default Config.SampleRatio: one push in a
// hundred.
const DefaultSampleRatio = 0.01

// Config configures a process's tracing. The zero value turns it off.
type Config struct {
	// Endpoint is the OTLP collector: "http://host:4318" or
	// "https://host:4318" for OTLP over HTTP (protobuf), "grpc://host:4317"
	// for OTLP over gRPC without TLS, "grpcs://host:4317" with it. Empty
	// means no exporter: tracing is off unless Exporter is set.
	Endpoint string
	// Exporter, when set, receives the spans instead of an OTLP collector
	// (tests use tracetest.InMemoryExporter).
	Exporter sdktrace.SpanExporter
	// SampleRatio is the share of new traces recorded, between 0 and 1. A
	// request that arrives with a sampled trace context (a backend that
	// traces its own calls) is always recorded. Zero means
	// DefaultSampleRatio; negative means none but those.
	SampleRatio float64
	// Service names the process in the traces ("quicpush-api", ...).
	Service string
	// Synchronous exports every span as it ends instead of in batches:
	// for tests, never for production.
	Synchronous bool
}

// Tracing is a process's tracer provider.
type Tracing struct {
	trace.TracerProvider
	sdk *sdktrace.TracerProvider
}

// New returns the tracer provider cfg describes: a no-op one when cfg has
// neither Endpoint nor Exporter.
func New(ctx context.Context, cfg Config) (*Tracing, error) {
	exp := cfg.Exporter
	if exp == nil && cfg.Endpoint == "" {
		return &Tracing{TracerProvider: noop.NewTracerProvider()}, nil
	}
	if exp == nil {
		var err error
		if exp, err = exporter(ctx, cfg.Endpoint); err != nil {
			return nil, err
		}
	}
	ratio := cfg.SampleRatio
	switch {
	case ratio == 0:
		ratio = DefaultSampleRatio
	case ratio < 0:
		ratio = 0
	case ratio > 1:
		return nil, fmt.Errorf("tracing: sample ratio %v is above 1", ratio)
	}
	service := cfg.Service
	if service == "" {
		service = "quicpush"
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(service))),
	}
	if cfg.Synchronous {
		opts = append(opts, sdktrace.WithSyncer(exp))
	} else {
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Tracing{TracerProvider: tp, sdk: tp}, nil
}

// Enabled returns the provider when tracing is on, nil when it is off: the
// components take a nil TracerProvider to mean no spans at all.
func (t *Tracing) Enabled() trace.TracerProvider {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk
}

// Shutdown flushes the spans not yet exported and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.sdk == nil {
		return nil
	}
	return t.sdk.Shutdown(ctx)
}

func exporter(ctx context.Context, endpoint string) (sdktrace.SpanExporter, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q: want http://, https://, grpc:// or grpcs:// and a host", endpoint)
	}
	switch u.Scheme {
	case "http", "https":
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(u.Host)}
		if u.Scheme == "http" {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if p := strings.TrimSuffix(u.Path, "/"); p != "" {
			opts = append(opts, otlptracehttp.WithURLPath(p))
		}
		return otlptracehttp.New(ctx, opts...)
	case "grpc", "grpcs":
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(u.Host)}
		if u.Scheme == "grpc" {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		return otlptracegrpc.New(ctx, opts...)
	}
	return nil, errors.New("tracing: endpoint " + endpoint + ": want http://, https://, grpc:// or grpcs://")
}

// Provider returns tp, or a no-op provider when tp is nil, so that
// components can take a nil TracerProvider to mean "off".
func Provider(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

var w3c = propagation.TraceContext{}

// Inject returns the W3C traceparent of ctx's span, or "" when ctx holds no
// sampled span: unsampled messages carry nothing.
func Inject(ctx context.Context) string {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() || !sc.IsSampled() {
		return ""
	}
	c := propagation.MapCarrier{}
	w3c.Inject(ctx, c)
	return c["traceparent"]
}

// Extract returns ctx with the remote span context of traceparent, or ctx
// itself when traceparent is empty or invalid.
func Extract(ctx context.Context, traceparent string) context.Context {
	if traceparent == "" {
		return ctx
	}
	return w3c.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
}
