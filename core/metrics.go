package core

import "github.com/prometheus/client_golang/prometheus"

// metrics are core's Prometheus collectors.
type metrics struct {
	batches   prometheus.Counter
	batchSize prometheus.Histogram
	latency   prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "quicpush", "core"
	m := &metrics{
		batches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "batches_total", Help: "Batches handed to edges."}),
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "batch_messages", Help: "Messages per batch.", Buckets: prometheus.ExponentialBuckets(1, 2, 10)}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "accept_to_edge_seconds", Help: "Time from acceptance by the push API to hand-off to edges.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.batches, m.batchSize, m.latency} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
