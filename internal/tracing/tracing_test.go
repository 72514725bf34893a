package tracing_test

import (
	"context"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/internal/tracing"
)

// TestPropagation: a sampled span's context survives Inject and Extract, so
// a span started from the extracted context joins the same trace; an
// unsampled one carries nothing.
func TestPropagation(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tr, err := tracing.New(t.Context(), tracing.Config{Exporter: exp, SampleRatio: 1, Synchronous: true, Service: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	ctx, parent := tr.Tracer("t").Start(t.Context(), "api")
	tp := tracing.Inject(ctx)
	parent.End()
	if !strings.HasPrefix(tp, "00-"+parent.SpanContext().TraceID().String()+"-") {
		t.Fatalf("traceparent %q", tp)
	}
	_, child := tr.Tracer("t").Start(tracing.Extract(context.Background(), tp), "edge")
	child.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[1].Parent.SpanID() != parent.SpanContext().SpanID() || spans[1].SpanContext.TraceID() != parent.SpanContext().TraceID() {
		t.Fatalf("spans %+v", spans)
	}

	// Not sampled: nothing to carry.
	off, err := tracing.New(t.Context(), tracing.Config{Exporter: exp, SampleRatio: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := off.Tracer("t").Start(t.Context(), "api")
	if tp := tracing.Inject(ctx); tp != "" || span.SpanContext().IsSampled() {
		t.Fatalf("an unsampled span carries %q", tp)
	}
	if tracing.Inject(context.Background()) != "" {
		t.Fatal("no span, yet a traceparent")
	}
	if got := tracing.Extract(context.Background(), "garbage"); trace.SpanContextFromContext(got).IsValid() {
		t.Fatal("garbage extracted as a span context")
	}
}

// TestNew: no endpoint is off (a no-op provider); endpoints are checked.
func TestNew(t *testing.T) {
	tr, err := tracing.New(t.Context(), tracing.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if _, span := tr.Tracer("t").Start(t.Context(), "x"); span.IsRecording() {
		t.Fatal("the default provider records")
	}
	for _, ep := range []string{"http://127.0.0.1:4318", "https://collector:4318/v1/traces", "grpc://127.0.0.1:4317", "grpcs://collector:4317"} {
		tr, err := tracing.New(t.Context(), tracing.Config{Endpoint: ep})
		if err != nil {
			t.Errorf("%s: %v", ep, err)
			continue
		}
		_ = tr.Shutdown(context.Background())
	}
	for _, ep := range []string{"127.0.0.1:4318", "ftp://x", "http://"} {
		if _, err := tracing.New(t.Context(), tracing.Config{Endpoint: ep}); err == nil {
			t.Errorf("%s accepted", ep)
		}
	}
	if _, err := tracing.New(t.Context(), tracing.Config{Exporter: tracetest.NewInMemoryExporter(), SampleRatio: 2}); err == nil {
		t.Error("a ratio of 2 accepted")
	}
	var _ sdktrace.SpanExporter = tracetest.NewInMemoryExporter()
}
