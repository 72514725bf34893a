package pushapi

import (
	"context"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/quicpush/quicpush/internal/push"
)

const (
	metricsNamespace = "quicpush"
	metricsSubsystem = "pushapi"
)

// metrics holds the push API's collectors. Labels stay low-cardinality: method
// is one of the PushService methods, code one of the Connect codes, kind one of
// the push.Kind names.
type metrics struct {
	requests *prometheus.CounterVec   // method, code
	duration *prometheus.HistogramVec // method
	accepted *prometheus.CounterVec   // kind
	// replayedCalls counts calls answered from the idempotency store.
	replayedCalls prometheus.Counter
	// rateLimited counts calls refused by the per-key rate limit.
	rateLimited prometheus.Counter
}

// newMetrics creates the collectors and registers them with reg, unless reg
// is nil.
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "requests_total",
			Help:      "PushService requests by method and result code (ok or a Connect error code).",
		}, []string{"method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "request_duration_seconds",
			Help:      "PushService request handling time by method; pushes include the wait for the bus to accept.",
			Buckets:   []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method"}),
		accepted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "messages_accepted_total",
			Help:      "Messages (pushes and disconnect orders) the bus accepted, by kind.",
		}, []string{"kind"}),
		replayedCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "idempotent_replays_total",
			Help:      "Push calls answered with an earlier call's reply because they repeated its idempotency key.",
		}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: metricsNamespace,
			Subsystem: metricsSubsystem,
			Name:      "rate_limited_total",
			Help:      "Calls refused because their API key exceeded its calls per second.",
		}),
	}
	// Export every kind from the start, so that rate() sees the first message.
	for _, k := range []push.Kind{push.KindKeys, push.KindUsers, push.KindRoom, push.KindBroadcast, push.KindDisconnect, push.KindSubscribe, push.KindUnsubscribe} {
		m.accepted.WithLabelValues(k.String())
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.accepted, m.replayedCalls, m.rateLimited} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// interceptor returns the interceptor that counts and times requests. It runs
// outside authentication, so rejected calls are counted too.
func (m *metrics) interceptor() connect.Interceptor { return metricsInterceptor{m} }

type metricsInterceptor struct{ m *metrics }

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		resp, err := next(ctx, req)
		method := methodName(req.Spec().Procedure)
		i.m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
		i.m.requests.WithLabelValues(method, codeLabel(err)).Inc()
		return resp, err
	}
}

func (metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		method := methodName(conn.Spec().Procedure)
		i.m.duration.WithLabelValues(method).Observe(time.Since(start).Seconds())
		i.m.requests.WithLabelValues(method, codeLabel(err)).Inc()
		return err
	}
}

// methodName turns "/quicpush.push.v1.PushService/PushRoom" into "PushRoom".
func methodName(procedure string) string {
	return procedure[strings.LastIndexByte(procedure, '/')+1:]
}

// codeLabel is "ok" for nil and the Connect code name otherwise.
func codeLabel(err error) string {
	if err == nil {
		return "ok"
	}
	return connect.CodeOf(err).String()
}
