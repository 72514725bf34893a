package server

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/internal/promscrape"

	"github.com/quicpush/quicpush/pushapi"
)

// The admin page's figures come from the process's own Prometheus registry,
// sampled every second into a ring, so that the page shows exactly what
// /metrics exports and the hot paths gain no bookkeeping of their own.
const (
	adminSampleEvery = time.Second
	// adminHistory is how many samples the ring keeps: five minutes.
	adminHistory = 300
	// adminLatencyWindow is how many seconds of histogram deltas each push
	// latency point covers: enough pushes for a p99 at modest rates.
	adminLatencyWindow = 5
	// adminRoomWindow is how many seconds the hottest rooms are averaged
	// over.
	adminRoomWindow = 10
	// adminTopRooms is how many rooms each top list shows.
	adminTopRooms = 10
)

// Metric families the page reads.
const (
	famDeliveries     = "quicpush_edge_deliveries_total"
	famAccepted       = "quicpush_pushapi_messages_accepted_total"
	famConnections    = "quicpush_edge_connections"
	famSlow           = "quicpush_edge_slow_consumers_total"
	famLimited        = "quicpush_edge_limited_total"
	famHandshakeFails = "quicpush_edge_handshake_failures_total"
	famAuthFails      = "quicpush_edge_auth_failures_total"
	famBadFrames      = "quicpush_edge_bad_frames_total"
	famAPIRateLimited = "quicpush_pushapi_rate_limited_total"
	// famEdgeLatency is the push latency of a process with an edge: from
	// acceptance by the push API to queueing on connections.
	famEdgeLatency = "quicpush_edge_accept_to_queue_seconds"
)

// adminNode is one process of the deployment and its health.
type adminNode struct {
	ID   string `json:"id"`
	Role string `json:"role"` // serve, edge, core or api
	// Health is "ok", or why the node is not ready ("draining", a failed
	// check).
	Health string `json:"health"`
	// Drainable says whether the page offers to drain the node.
	Drainable bool `json:"drainable"`
}

// adminSource is where a process's admin page takes its figures.
type adminSource struct {
	gather prometheus.Gatherer
	// latency is the histogram family of push latency; latencyKeep, when
	// set, picks its series.
	latency     string
	latencyKeep func(*dto.Metric) bool
	// edgeFigures says whether the process has an edge, whose figures
	// (deliveries, connections, cuts) the registry then holds.
	edgeFigures bool
	// online answers the top rooms by members.
	online pushapi.OnlineCounter
	// rates counts room messages; nil means none.
	rates *roomRates
	// nodes lists the deployment's processes with their health, and the
	// Kafka consumer group's lag (nil without Kafka).
	nodes func(context.Context) ([]adminNode, []partitionLag)
	// drain drains the node with that id; nil means no node can be.
	drain func(id string) error
	// edges asks the cluster's edges for their figures (the api process);
	// nil in a process with an edge of its own. With it, deliveries, push
	// latency (acceptance to queueing, on the edges), connections and cuts
	// are the edges' sums.
	edges func(context.Context) []edgeResult
}

// adminSample is one second's reading.
type adminSample struct {
	at         time.Time
	deliveries float64
	accepted   float64
	bounds     []float64 // the latency histogram's upper bounds
	buckets    []uint64  // cumulative counts per bound
	count      uint64    // observations, those above the last bound included
	rooms      map[string]uint64
}

// adminSampler reads the source every second into a ring of samples.
type adminSampler struct {
	src adminSource

	mu     sync.Mutex
	ring   []adminSample // oldest first, at most adminHistory
	latest promscrape.Metrics
	// edges and edgeSum are the edges' latest answers and their sum.
	edges   []edgeResult
	edgeSum *edgev1.FiguresResponse
}

func newAdminSampler(src adminSource) *adminSampler { return &adminSampler{src: src} }

// run samples until ctx ends.
func (a *adminSampler) run(ctx context.Context) {
	a.sample(time.Now())
	t := time.NewTicker(adminSampleEvery)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			a.sample(now)
		case <-ctx.Done():
			return
		}
	}
}

func (a *adminSampler) sample(now time.Time) {
	fams, _ := a.src.gather.Gather() // a partial gather still has the families that worked
	byName := make(promscrape.Metrics, len(fams))
	for _, f := range fams {
		byName[f.GetName()] = f
	}
	s := adminSample{at: now, deliveries: byName.Sum(famDeliveries, nil), accepted: byName.Sum(famAccepted, nil)}
	if f := byName[a.src.latency]; f != nil {
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h == nil || (a.src.latencyKeep != nil && !a.src.latencyKeep(m)) {
				continue
			}
			s.count += h.GetSampleCount()
			if s.bounds == nil {
				for _, b := range h.GetBucket() {
					s.bounds = append(s.bounds, b.GetUpperBound())
					s.buckets = append(s.buckets, 0)
				}
			}
			for i, b := range h.GetBucket() {
				if i < len(s.buckets) {
					s.buckets[i] += b.GetCumulativeCount()
				}
			}
		}
	}
	if a.src.rates != nil {
		s.rooms = a.src.rates.take()
	}
	var edges []edgeResult
	var edgeSum *edgev1.FiguresResponse
	if a.src.edges != nil {
		ctx, cancel := context.WithTimeout(context.Background(), adminSampleEvery)
		edges = a.src.edges(ctx)
		cancel()
		edgeSum = sumFigures(edges)
		s.deliveries = edgeSum.GetDeliveries()
		s.bounds, s.buckets, s.count = edgeSum.GetLatencyBounds(), edgeSum.GetLatencyBuckets(), edgeSum.GetLatencyCount()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.edges, a.edgeSum = edges, edgeSum
	if len(a.ring) == adminHistory {
		a.ring = slices.Delete(a.ring, 0, 1)
	}
	a.ring = append(a.ring, s)
	a.latest = byName
}

// adminState is what /admin/api/state answers.
type adminState struct {
	Time int64 `json:"time"` // Unix milliseconds
	// EdgeFigures is false in a process without an edge (api): deliveries,
	// connections, cuts and handshake failures are then not known here.
	EdgeFigures bool             `json:"edge_figures"`
	Nodes       []adminNode      `json:"nodes"`
	Connections map[string]int64 `json:"connections"` // by transport
	TopRooms    []roomMembers    `json:"top_rooms"`
	HotRooms    []roomRate       `json:"hot_rooms"`
	Series      []adminPoint     `json:"series"`
	Counters    adminCounters    `json:"counters"`
	// Kafka is the consumer group's lag per partition; nil without Kafka
	// (the single process's bus is in memory).
	Kafka []partitionLag `json:"kafka"`
}

type roomMembers struct {
	Room    string `json:"room"`
	Members int64  `json:"members"`
}

type partitionLag struct {
	Partition int32 `json:"partition"`
	Lag       int64 `json:"lag"`
}

// adminPoint is one second of the chart. A latency is nil when no push was
// delivered in its window.
type adminPoint struct {
	Time         int64    `json:"t"`
	DeliveriesPS float64  `json:"deliveries_per_s"`
	PushesPS     float64  `json:"pushes_per_s"`
	P50Millis    *float64 `json:"p50_ms"`
	P99Millis    *float64 `json:"p99_ms"`
}

// adminCounters are totals since the process started.
type adminCounters struct {
	SlowConsumerCuts  int64            `json:"slow_consumer_cuts"`
	Limited           map[string]int64 `json:"limited"` // by limit
	APIRateLimited    int64            `json:"api_rate_limited"`
	BadFrames         int64            `json:"bad_frames"`
	HandshakeFailures map[string]int64 `json:"handshake_failures"` // by reason
}

// state builds the page's state from the ring and the latest gather.
func (a *adminSampler) state(ctx context.Context) adminState {
	a.mu.Lock()
	ring := slices.Clone(a.ring)
	latest := a.latest
	edges, edgeSum := a.edges, a.edgeSum
	a.mu.Unlock()

	st := adminState{
		Time:        time.Now().UnixMilli(),
		EdgeFigures: a.src.edgeFigures,
		Connections: byLabel(latest[famConnections], "transport"),
		TopRooms:    []roomMembers{},
		Series:      series(ring),
		Counters: adminCounters{
			SlowConsumerCuts: int64(latest.Sum(famSlow, nil)),
			Limited:          byLabel(latest[famLimited], "limit"),
			APIRateLimited:   int64(latest.Sum(famAPIRateLimited, nil)),
			BadFrames:        int64(latest.Sum(famBadFrames, nil)),
			// A refused token fails the protocol's handshake (Auth).
			HandshakeFailures: map[string]int64{"auth": int64(latest.Sum(famAuthFails, nil))},
		},
	}
	// A failed TLS, QUIC or upgrade handshake is counted by transport: the
	// reason is the layer that failed.
	for t, n := range byLabel(latest[famHandshakeFails], "transport") {
		st.Counters.HandshakeFailures[t+"_handshake"] = n
	}
	if a.src.nodes != nil {
		st.Nodes, st.Kafka = a.src.nodes(ctx)
	}
	if edgeSum != nil {
		st.EdgeFigures = true
		st.Connections = edgeSum.GetConnections()
		st.Counters.SlowConsumerCuts = edgeSum.GetSlowConsumerCuts()
		st.Counters.BadFrames = edgeSum.GetBadFrames()
		st.Counters.Limited = edgeSum.GetLimited()
		st.Counters.HandshakeFailures = edgeSum.GetHandshakeFailures()
		markEdges(st.Nodes, edges)
	}
	if a.src.online != nil {
		if on, err := a.src.online.Online(ctx, nil, adminTopRooms); err == nil {
			for _, r := range on.Top {
				st.TopRooms = append(st.TopRooms, roomMembers{Room: r.Room, Members: r.Count})
			}
		}
	}
	var windows []map[string]uint64
	for i := max(0, len(ring)-adminRoomWindow); i < len(ring); i++ {
		windows = append(windows, ring[i].rooms)
	}
	st.HotRooms = hottest(windows, adminTopRooms)
	return st
}

// series turns the ring's counters into rates and the latency histogram's
// deltas into quantiles, one point per second.
func series(ring []adminSample) []adminPoint {
	var out []adminPoint
	for i := 1; i < len(ring); i++ {
		prev, cur := ring[i-1], ring[i]
		dt := cur.at.Sub(prev.at).Seconds()
		if dt <= 0 {
			continue
		}
		p := adminPoint{
			Time:         cur.at.UnixMilli(),
			DeliveriesPS: math.Max(0, cur.deliveries-prev.deliveries) / dt,
			PushesPS:     math.Max(0, cur.accepted-prev.accepted) / dt,
		}
		from := ring[max(0, i-adminLatencyWindow)]
		p.P50Millis = quantileMillis(0.5, from, cur)
		p.P99Millis = quantileMillis(0.99, from, cur)
		out = append(out, p)
	}
	return out
}

// quantileMillis estimates the q quantile of the observations made between
// two samples, interpolating linearly within a bucket as Prometheus'
// histogram_quantile does; nil when there were none.
func quantileMillis(q float64, from, to adminSample) *float64 {
	n := len(to.buckets)
	if n == 0 || len(from.buckets) != n || to.count < from.count {
		return nil
	}
	for i := range n {
		if to.buckets[i] < from.buckets[i] { // an edge left the sum
			return nil
		}
	}
	delta := func(i int) float64 { return float64(to.buckets[i] - from.buckets[i]) }
	// The total counts the observations above the last bound too (the
	// bucket list has no +Inf); a quantile among them is shown as the last
	// bound.
	total := float64(to.count - from.count)
	if total == 0 {
		return nil
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for i := range n {
		c := delta(i)
		if c >= rank {
			v := to.bounds[i]
			if c > below {
				v = lower + (to.bounds[i]-lower)*(rank-below)/(c-below)
			}
			v *= 1000
			return &v
		}
		lower, below = to.bounds[i], c
	}
	v := to.bounds[n-1] * 1000
	return &v
}

// byLabel sums a counter or gauge family by one label's values.
func byLabel(f *dto.MetricFamily, label string) map[string]int64 {
	out := map[string]int64{}
	for _, m := range f.GetMetric() {
		v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out[strings.ToLower(l.GetValue())] += int64(v)
			}
		}
	}
	return out
}

// markEdges sets the health of the edge nodes from their Figures answers:
// unreachable, draining, or drainable.
func markEdges(nodes []adminNode, edges []edgeResult) {
	for i := range nodes {
		n := &nodes[i]
		if n.Role != "edge" {
			continue
		}
		for _, r := range edges {
			switch {
			case r.id != n.ID:
			case r.err != nil:
				n.Health = "unreachable: " + r.err.Error()
			case r.figs.GetDraining():
				n.Health = "draining"
			default:
				n.Drainable = true
			}
		}
	}
}
