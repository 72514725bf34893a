package core

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are core's Prometheus collectors.
type metrics struct {
	handoffFailures prometheus.Counter
	historyFailures prometheus.Counter
	batches         prometheus.Counter
	batchSize       prometheus.Histogram
	latency         prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "quicpush", "core"
	m := &metrics{
		historyFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "history_failures_total", Help: "Attempts to append a batch to history that failed and were retried."}),
		handoffFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "handoff_failures_total", Help: "Attempts to hand a batch to the edges that failed and were retried."}),
		batches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "batches_total", Help: "Batches handed to edges."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_messages", Help: "Messages per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "accept_to_edge_seconds", Help: "Time from acceptance by the push API to hand-off to edges.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.historyFailures, m.handoffFailures, m.batches, m.batchSize, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// routerMetrics are the cluster router's collectors.
type routerMetrics struct {
	targets      prometheus.Histogram
	routeSeconds prometheus.Histogram
	edgeBatches  prometheus.Counter
	edgeSeconds  prometheus.Histogram
	edgeFailures prometheus.Counter
	edges        prometheus.Gauge
}

func newRouterMetrics(reg prometheus.Registerer) (*routerMetrics, error) {
	const ns, sub = "quicpush", "core"
	m := &routerMetrics{
		targets: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "message_edges", Help: "Edges each message was sent to.", Buckets: []float64{0, 1, 2, 4, 8, 16, 32, 64}}),
		routeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "route_seconds", Help: "Time to resolve a batch's routes and have every edge accept its share.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		edgeBatches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "edge_batches_total", Help: "Batches edges acknowledged."}),
		edgeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "edge_batch_seconds", Help: "Time from sending a batch to an edge to its acknowledgement, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		edgeFailures: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "edge_batch_failures_total", Help: "Batches an edge still registered as alive did not accept within the edge timeout."}),
		edges: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "edge_streams", Help: "Edges this core holds a Deliver stream to."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.targets, m.routeSeconds, m.edgeBatches, m.edgeSeconds, m.edgeFailures, m.edges} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
