package proxy

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the hooks' Prometheus collectors, labelled by hook ("connect",
// "join") and outcome, never by user or room.
type metrics struct {
	// calls by hook and outcome: ok, refused (a disconnect), denied (join
	// refused with Error 101), error, timeout, overloaded, breaker_open.
	calls       *prometheus.CounterVec
	latency     *prometheus.HistogramVec
	breakerOpen *prometheus.GaugeVec
	inFlight    *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	const ns, sub = "quicpush", "proxy"
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "calls_total", Help: "Hook calls by hook and outcome (ok, refused, denied, error, timeout, overloaded, breaker_open)."},
			[]string{"hook", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "call_duration_seconds", Help: "Time of the hook calls that reached the backend, by hook.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"hook"}),
		breakerOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "breaker_open", Help: "1 while the hook's circuit breaker is open (calls fail fast), 0 while closed."}, []string{"hook"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "in_flight", Help: "Hook calls under way, by hook."}, []string{"hook"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.latency, m.breakerOpen, m.inFlight} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("proxy: metrics: %w", err)
		}
	}
	return m, nil
}
