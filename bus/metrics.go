package bus

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// busMetrics are the Kafka consumer's collectors.
type busMetrics struct {
	lag        *prometheus.GaugeVec
	badRecords prometheus.Counter
}

func newBusMetrics(reg prometheus.Registerer) (*busMetrics, error) {
	// The consumer runs in the core process: its metrics keep core's
	// subsystem, next to the batches they feed.
	const ns, sub = "quicpush", "core"
	m := &busMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "kafka_lag_records", Help: "Records behind the partition's end, as of the last fetch, per partition this core consumes."},
			[]string{"partition"}),
		badRecords: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "kafka_bad_records_total", Help: "Records skipped because they did not decode."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.lag, m.badRecords} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// forget drops the lag of partitions this core no longer consumes.
func (m *busMetrics) forget(partitions []int32) {
	for _, p := range partitions {
		m.lag.DeleteLabelValues(strconv.Itoa(int(p)))
	}
}
