package edge

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/internal/tracing"
)

// The fan-out's spans (docs/tracing.md). A push the push API sampled
// arrives with its trace context; the edge records one span per such
// message, covering its encoding and its hand-off to every receiver's
// queue (the writes follow on the flushers, on their own schedule), with
// the number of connections it addresses on this edge, counted once it was
// handed on (the pacer may queue a busy room's message for its members a
// little later). Messages that carry no trace context cost one string
// comparison.

// traced reports whether any of msgs carries a trace context, so that the
// common case allocates nothing.
func (e *Edge) traced(msgs []*push.Message) bool {
	if e.tracer == nil {
		return false
	}
	for _, m := range msgs {
		if m.TraceParent != "" {
			return true
		}
	}
	return false
}

// startFanout starts the fan-out span of each traced message of msgs; nil
// when none is traced.
func (e *Edge) startFanout(msgs []*push.Message) []trace.Span {
	if !e.traced(msgs) {
		return nil
	}
	spans := make([]trace.Span, len(msgs))
	for i, m := range msgs {
		if m.TraceParent == "" {
			continue
		}
		_, spans[i] = e.tracer.Start(tracing.Extract(context.Background(), m.TraceParent), "quicpush.fanout",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("quicpush.message_id", m.ID), attribute.String("quicpush.kind", m.Kind.String()),
				attribute.String("quicpush.room", m.Room), attribute.String("quicpush.edge", e.cfg.ID)))
	}
	return spans
}

// endFanout ends spans, each with the number of connections its message
// addresses on this edge.
func endFanout(spans []trace.Span, members int) {
	for _, s := range spans {
		if s != nil {
			s.SetAttributes(attribute.Int("quicpush.members", members))
			s.End()
		}
	}
}

// receivers counts the connections m addresses on this edge, for its span:
// work done only for traced messages.
func (e *Edge) receivers(m *push.Message) int {
	switch m.Kind {
	case push.KindRoom:
		st, _ := e.hub.presenceStats(m.Room)
		return int(st.Conns)
	case push.KindBroadcast:
		return int(e.hub.online(nil, 0).Total)
	case push.KindKeys:
		n := 0
		for _, k := range m.Keys {
			if e.hub.lookup(k) != nil {
				n++
			}
		}
		return n
	case push.KindUsers:
		n := 0
		for _, u := range m.Users {
			e.hub.forUser(u, func(*session) { n++ })
		}
		return n
	}
	return 0
}
