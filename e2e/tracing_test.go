package e2e

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/tracing"
)

// TestTraceAcrossTheCluster: a backend's traced PushRoom call becomes one
// trace across the cluster's path, api -> Kafka -> core -> edge: the API's
// RPC span continues the backend's trace, the push span is its child, core's
// route span follows the Kafka record's traceparent header, and the edge's
// fan-out span, with the member count, follows the internal stream's
// message. Spans of every process go to one in-memory exporter.
func TestTraceAcrossTheCluster(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	// Only the backend's own sampled traces: nothing else is recorded.
	tr, err := tracing.New(t.Context(), tracing.Config{Exporter: exp, SampleRatio: -1, Synchronous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tr.Shutdown(context.Background()) }()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	c := startClusterWith(t, kf.ListenAddrs(), 3*time.Second, 1, 2, func(c *testCluster) { c.tracer = tr.Enabled() })
	_, in := c.client("alice", []string{"traced"}, c.edges[0])
	_, _ = c.client("bob", []string{"traced"}, c.edges[0])
	api := c.apiClient()

	// An untraced push leaves no span anywhere.
	id := pushRoom(t, api, "traced", "plain")
	eventually(t, 10*time.Second, "the untraced push", func() bool { return in.has(id) })
	if spans := exp.GetSpans(); len(spans) != 0 {
		t.Fatalf("an untraced push recorded %d spans: %v", len(spans), spans)
	}

	// The backend's traced call.
	backend := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	ctx, span := backend.Tracer("backend").Start(t.Context(), "backend.notify")
	req := connect.NewRequest(&pushv1.PushRoomRequest{Room: "traced", Text: "traced"})
	req.Header().Set("traceparent", tracing.Inject(ctx))
	rsp, err := api.PushRoom(ctx, req)
	span.End()
	if err != nil {
		t.Fatal(err)
	}
	id = rsp.Msg.GetMessageId()
	eventually(t, 10*time.Second, "the traced push", func() bool { return in.has(id) })

	byName := map[string]tracetest.SpanStub{}
	// Each process ends its span on its own schedule (the edge's fan-out
	// before core's route, which waits for the edges' acknowledgement).
	eventually(t, 10*time.Second, "the spans of api, core and edge", func() bool {
		for _, s := range exp.GetSpans() {
			byName[s.Name] = s
		}
		for _, name := range []string{"quicpush.push.v1.PushService/PushRoom", "quicpush.push", "quicpush.route", "quicpush.fanout"} {
			if _, ok := byName[name]; !ok {
				return false
			}
		}
		return true
	})
	trace0 := span.SpanContext().TraceID()
	rpc, push, route, fan := byName["quicpush.push.v1.PushService/PushRoom"], byName["quicpush.push"], byName["quicpush.route"], byName["quicpush.fanout"]
	for _, s := range []tracetest.SpanStub{rpc, push, route, fan} {
		if s.SpanContext.TraceID() != trace0 {
			t.Fatalf("span %q is in trace %s, want the backend's %s (spans: %v)", s.Name, s.SpanContext.TraceID(), trace0, names(byName))
		}
	}
	for _, link := range []struct {
		child, parent tracetest.SpanStub
	}{{rpc, tracetest.SpanStub{SpanContext: span.SpanContext()}}, {push, rpc}, {route, push}, {fan, route}} {
		if link.child.Parent.SpanID() != link.parent.SpanContext.SpanID() {
			t.Errorf("%q's parent is %s, want %q (%s)", link.child.Name, link.child.Parent.SpanID(), link.parent.Name, link.parent.SpanContext.SpanID())
		}
	}
	if push.SpanKind != trace.SpanKindProducer || attr(push, "quicpush.message_id") != id || attr(push, "quicpush.room") != "traced" {
		t.Errorf("push span %v %v", push.SpanKind, push.Attributes)
	}
	if attr(fan, "quicpush.members") != "2" || attr(fan, "quicpush.edge") != c.edges[0].Edge.ID() {
		t.Errorf("fan-out span attributes %v, want 2 members on %s", fan.Attributes, c.edges[0].Edge.ID())
	}
	// The other edge holds no member, so it was never sent the message.
	n := 0
	for _, s := range exp.GetSpans() {
		if s.Name == "quicpush.fanout" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d fan-out spans, want 1 (the edge without members gets nothing)", n)
	}
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == attribute.Key(key) {
			return kv.Value.String()
		}
	}
	return ""
}

func names(m map[string]tracetest.SpanStub) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	return out
}
