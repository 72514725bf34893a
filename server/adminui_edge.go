package server

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/gen/quicpush/edge/v1/edgev1connect"
)

// edgeAdminService is an edge process's EdgeService: the edge's own calls,
// and the two the api process's admin page makes, answered from the
// process's registry and lifecycle.
type edgeAdminService struct {
	edgev1connect.EdgeServiceHandler
	s   *Edge
	reg prometheus.Gatherer
}

// Figures reads the edge's figures from the process's registry: the same
// series its /metrics exports.
func (a *edgeAdminService) Figures(context.Context, *connect.Request[edgev1.FiguresRequest]) (*connect.Response[edgev1.FiguresResponse], error) {
	smp := newAdminSampler(adminSource{gather: a.reg, latency: famEdgeLatency, edgeFigures: true})
	smp.sample(time.Now())
	st := smp.state(context.Background())
	last := smp.ring[len(smp.ring)-1]
	return connect.NewResponse(&edgev1.FiguresResponse{
		Connections:       st.Connections,
		Deliveries:        last.deliveries,
		SlowConsumerCuts:  st.Counters.SlowConsumerCuts,
		BadFrames:         st.Counters.BadFrames,
		Limited:           st.Counters.Limited,
		HandshakeFailures: st.Counters.HandshakeFailures,
		LatencyBounds:     last.bounds,
		LatencyBuckets:    last.buckets,
		LatencyCount:      last.count,
		Draining:          a.s.draining.Load(),
	}), nil
}

// Drain starts the edge's drain (as on SIGTERM) and answers at once.
func (a *edgeAdminService) Drain(ctx context.Context, _ *connect.Request[edgev1.DrainRequest]) (*connect.Response[edgev1.DrainResponse], error) {
	if a.s.draining.CompareAndSwap(false, true) {
		a.s.log.Warn("edge draining, asked from the admin page")
		// Not cancelled with this call: the drain outlives it, and ends the
		// internal listener it came in on.
		dctx := context.WithoutCancel(ctx)
		go func() {
			ctx, cancel := context.WithTimeout(dctx, drainTimeout)
			defer cancel()
			_ = a.s.Shutdown(ctx)
		}()
	}
	return connect.NewResponse(&edgev1.DrainResponse{}), nil
}

// edgeResult is what an edge answered to Figures.
type edgeResult struct {
	id   string
	figs *edgev1.FiguresResponse
	err  error
}

// edgeClients are the api process's EdgeService clients, one per URL.
type edgeClients struct {
	hc *http.Client
	mu sync.Mutex
	by map[string]edgev1connect.EdgeServiceClient
}

func newEdgeClients() *edgeClients {
	return &edgeClients{hc: &http.Client{Transport: &http.Transport{Protocols: h2cProtocols()}}, by: map[string]edgev1connect.EdgeServiceClient{}}
}

func h2cProtocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return p
}

func (c *edgeClients) get(url string) edgev1connect.EdgeServiceClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.by[url]
	if !ok {
		cl = edgev1connect.NewEdgeServiceClient(c.hc, url)
		c.by[url] = cl
	}
	return cl
}

// sumFigures adds up the edges' figures; the latency histograms are summed
// when their bounds agree (every edge of one version has the same).
func sumFigures(rs []edgeResult) *edgev1.FiguresResponse {
	out := &edgev1.FiguresResponse{Connections: map[string]int64{}, Limited: map[string]int64{}, HandshakeFailures: map[string]int64{}}
	for _, r := range rs {
		f := r.figs
		if f == nil {
			continue
		}
		addMap(out.Connections, f.GetConnections())
		addMap(out.Limited, f.GetLimited())
		addMap(out.HandshakeFailures, f.GetHandshakeFailures())
		out.Deliveries += f.GetDeliveries()
		out.SlowConsumerCuts += f.GetSlowConsumerCuts()
		out.BadFrames += f.GetBadFrames()
		switch {
		case out.LatencyBounds == nil:
			out.LatencyBounds = slices.Clone(f.GetLatencyBounds())
			out.LatencyBuckets = slices.Clone(f.GetLatencyBuckets())
			out.LatencyCount = f.GetLatencyCount()
		case slices.Equal(out.LatencyBounds, f.GetLatencyBounds()) && len(f.GetLatencyBuckets()) == len(out.LatencyBuckets):
			for i, n := range f.GetLatencyBuckets() {
				out.LatencyBuckets[i] += n
			}
			out.LatencyCount += f.GetLatencyCount()
		}
	}
	return out
}

func addMap(dst, src map[string]int64) {
	for k, v := range src {
		dst[k] += v
	}
}
