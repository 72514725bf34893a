package store

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	metricsNamespace = "quicpush"
	metricsSubsystem = "store"
)

// edgeMetrics are EdgeRoutes's collectors.
type edgeMetrics struct {
	redisErrors *prometheus.CounterVec
	republishes prometheus.Counter
	flushes     prometheus.Counter
	flushOps    prometheus.Histogram
	flushTime   prometheus.Histogram
}

// routesMetrics are Routes' collectors.
type routesMetrics struct {
	redisErrors *prometheus.CounterVec
	lookups     *prometheus.CounterVec
	lookupTime  *prometheus.HistogramVec
	cacheHits   *prometheus.CounterVec
	cacheMisses *prometheus.CounterVec
	deadCleaned prometheus.Counter
	stateLost   prometheus.Counter

	// The children of each lookup kind, resolved once: lookups are hot.
	room, user, edges kindMetrics
}

type kindMetrics struct {
	lookups, hits, misses prometheus.Counter
	time                  prometheus.Observer
}

func newRedisErrors() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "redis_errors_total", Help: "Failed Redis operations, by operation."}, []string{"op"})
}

func newEdgeMetrics(reg prometheus.Registerer) (*edgeMetrics, error) {
	ns, sub := metricsNamespace, metricsSubsystem
	m := &edgeMetrics{
		redisErrors: newRedisErrors(),
		republishes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "republishes_total", Help: "Times an edge rewrote its whole state after Redis lost it."}),
		flushes: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "flushes_total", Help: "Pipelines an edge sent to write coalesced route and room changes."}),
		flushOps: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "flush_ops", Help: "Coalesced route and room changes per flush.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}),
		flushTime: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "flush_seconds", Help: "Time to write one flush to Redis.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
	}
	var err error
	if m.redisErrors, err = register(reg, m.redisErrors); err != nil {
		return nil, err
	}
	if m.republishes, err = register(reg, m.republishes); err != nil {
		return nil, err
	}
	if m.flushes, err = register(reg, m.flushes); err != nil {
		return nil, err
	}
	if m.flushOps, err = register(reg, m.flushOps); err != nil {
		return nil, err
	}
	if m.flushTime, err = register(reg, m.flushTime); err != nil {
		return nil, err
	}
	return m, nil
}

func newRoutesMetrics(reg prometheus.Registerer) (*routesMetrics, error) {
	ns, sub := metricsNamespace, metricsSubsystem
	m := &routesMetrics{
		redisErrors: newRedisErrors(),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "lookups_total", Help: "Route lookups, by kind (room, user, edges)."}, []string{"kind"}),
		lookupTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name: "lookup_seconds", Help: "Time to answer one route lookup, cache included.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2.5, 12)}, []string{"kind"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_hits_total", Help: "Route names answered from the cache, by kind."}, []string{"kind"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_misses_total", Help: "Route names read from Redis, by kind."}, []string{"kind"}),
		deadCleaned: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "dead_edges_cleaned_total", Help: "Dead edges whose routes and room counts the janitor removed."}),
		stateLost: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "state_lost_total", Help: "Times a Routes found Redis had lost its state and held lookups while the edges republished."}),
	}
	var err error
	if m.redisErrors, err = register(reg, m.redisErrors); err != nil {
		return nil, err
	}
	if m.lookups, err = register(reg, m.lookups); err != nil {
		return nil, err
	}
	if m.lookupTime, err = register(reg, m.lookupTime); err != nil {
		return nil, err
	}
	if m.cacheHits, err = register(reg, m.cacheHits); err != nil {
		return nil, err
	}
	if m.cacheMisses, err = register(reg, m.cacheMisses); err != nil {
		return nil, err
	}
	if m.deadCleaned, err = register(reg, m.deadCleaned); err != nil {
		return nil, err
	}
	if m.stateLost, err = register(reg, m.stateLost); err != nil {
		return nil, err
	}
	for kind, km := range map[string]*kindMetrics{"room": &m.room, "user": &m.user, "edges": &m.edges} {
		*km = kindMetrics{
			lookups: m.lookups.WithLabelValues(kind),
			hits:    m.cacheHits.WithLabelValues(kind),
			misses:  m.cacheMisses.WithLabelValues(kind),
			time:    m.lookupTime.WithLabelValues(kind),
		}
	}
	return m, nil
}

// register registers c, or returns the identical collector registered
// before: one process may run an EdgeRoutes and a Routes (or several) on
// one registry, and they share redis_errors_total.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if reg == nil {
		return c, nil
	}
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
