package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/internal/pushpb"
	"github.com/quicpush/quicpush/store"
)

// RouteReader is the cluster's route store as core reads it (a
// *store.Routes, which caches lookups): which edges are alive, which have
// members in a room, which hold a user's connections.
type RouteReader interface {
	LiveEdges(ctx context.Context) ([]store.EdgeInfo, error)
	RoomEdges(ctx context.Context, rooms []string) (map[string][]string, error)
	UserEdges(ctx context.Context, users []string) (map[string][]string, error)
}

// RouterConfig configures a Router. Zero values mean the documented
// defaults.
type RouterConfig struct {
	// Routes resolves targets to edges. Required.
	Routes RouteReader
	// HTTPClient reaches the edges' internal EdgeService. Nil means a client
	// speaking HTTP/2 without TLS (h2c), as the edges serve it.
	HTTPClient *http.Client
	// EdgeTimeout bounds how long one batch keeps retrying an edge that is
	// still registered as alive but does not accept it. Past it the batch
	// goes on without that edge, which is logged and counted: one broken
	// edge must not stop delivery to all the others. (An edge that left the
	// registry is skipped at once: its clients reconnect elsewhere.) Zero
	// means 5s.
	EdgeTimeout time.Duration
	// Logger receives the router's logs. Nil means discard.
	Logger *slog.Logger
	// Registerer receives the router's metrics. Nil means none are
	// registered.
	Registerer prometheus.Registerer
}

// Router sends each batch to exactly the edges that need its messages: a
// room message to the edges with members in the room, a user message to the
// edges holding the user's connections, a message to connection keys to the
// edges named by the keys, a broadcast to every live edge. Each edge gets
// one ordered sub-batch over a long-lived Deliver stream and acknowledges it;
// Route returns once all did.
type Router struct {
	cfg     RouterConfig
	metrics *routerMetrics

	mu    sync.Mutex
	links map[string]*edgeLink // by edge id
}

// NewRouter returns a Router; it connects to edges as batches need them.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Routes == nil {
		return nil, errors.New("core: RouterConfig.Routes is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = h2cClient()
	}
	if cfg.EdgeTimeout <= 0 {
		cfg.EdgeTimeout = 5 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newRouterMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Router{cfg: cfg, metrics: m, links: make(map[string]*edgeLink)}, nil
}

// h2cClient speaks HTTP/2 without TLS, which bidirectional streams need.
func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p, MaxIdleConnsPerHost: 4}}
}

// Route resolves msgs' targets and hands each edge its share. It returns an
// error only when the route store cannot be read or ctx ends; the batch is
// then not committed, and core tries again.
func (r *Router) Route(ctx context.Context, msgs []*push.Message) error {
	start := time.Now()
	live, err := r.cfg.Routes.LiveEdges(ctx)
	if err != nil {
		return fmt.Errorf("core: live edges: %w", err)
	}
	byID := make(map[string]store.EdgeInfo, len(live))
	for _, e := range live {
		byID[e.ID] = e
	}
	var rooms, users []string
	seenRoom, seenUser := map[string]bool{}, map[string]bool{}
	for _, m := range msgs {
		if m.Kind == push.KindRoom && !seenRoom[m.Room] {
			seenRoom[m.Room] = true
			rooms = append(rooms, m.Room)
		}
		for _, u := range m.Users {
			if !seenUser[u] {
				seenUser[u] = true
				users = append(users, u)
			}
		}
	}
	var roomEdges, userEdges map[string][]string
	if len(rooms) > 0 {
		if roomEdges, err = r.cfg.Routes.RoomEdges(ctx, rooms); err != nil {
			return fmt.Errorf("core: room routes: %w", err)
		}
	}
	if len(users) > 0 {
		if userEdges, err = r.cfg.Routes.UserEdges(ctx, users); err != nil {
			return fmt.Errorf("core: user routes: %w", err)
		}
	}

	// Each message is converted once and shared by every edge's batch.
	batches := make(map[string][]*edgev1.Message)
	targets := make(map[string]bool)
	for _, m := range msgs {
		clear(targets)
		switch m.Kind {
		case push.KindRoom:
			for _, id := range roomEdges[m.Room] {
				targets[id] = true
			}
		case push.KindBroadcast:
			for id := range byID {
				targets[id] = true
			}
		}
		for _, u := range m.Users {
			for _, id := range userEdges[u] {
				targets[id] = true
			}
		}
		for _, k := range m.Keys {
			if id, ok := EdgeOfKey(k); ok {
				targets[id] = true
			}
		}
		var pm *edgev1.Message
		n := 0
		for id := range targets {
			if _, ok := byID[id]; !ok {
				continue // not alive: its clients are reconnecting elsewhere
			}
			if pm == nil {
				pm = pushpb.ToProto(m)
			}
			batches[id] = append(batches[id], pm)
			n++
		}
		r.metrics.targets.Observe(float64(n))
	}

	var wg sync.WaitGroup
	for id, b := range batches {
		link := r.link(byID[id])
		wg.Go(func() { r.deliver(ctx, link, b) })
	}
	wg.Wait()
	r.metrics.routeSeconds.Observe(time.Since(start).Seconds())
	return ctx.Err()
}

// deliver hands one edge its batch, retrying a failing stream until the edge
// accepts, leaves the registry, EdgeTimeout passes or ctx ends.
func (r *Router) deliver(ctx context.Context, link *edgeLink, msgs []*edgev1.Message) {
	start := time.Now()
	deadline := start.Add(r.cfg.EdgeTimeout)
	delay := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithDeadline(ctx, deadline)
		err := link.deliver(actx, msgs)
		cancel()
		if err == nil {
			r.metrics.edgeBatches.Inc()
			r.metrics.edgeSeconds.Observe(time.Since(start).Seconds())
			return
		}
		if ctx.Err() != nil {
			return
		}
		if time.Now().After(deadline) || !r.stillLive(ctx, link.info.ID) {
			r.metrics.edgeFailures.Inc()
			r.cfg.Logger.Error("edge did not accept a batch: going on without it",
				"edge", link.info.ID, "url", link.info.URL, "messages", len(msgs), "attempts", attempt+1, "err", err)
			return
		}
		r.cfg.Logger.Warn("edge batch failed, retrying", "edge", link.info.ID, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 500*time.Millisecond)
	}
}

func (r *Router) stillLive(ctx context.Context, id string) bool {
	live, err := r.cfg.Routes.LiveEdges(ctx)
	if err != nil {
		return true // unknown: keep trying until the timeout
	}
	for _, e := range live {
		if e.ID == id {
			return true
		}
	}
	return false
}

// link returns the stream holder of an edge, replacing it when the edge's
// URL changed (an edge id reused by a restarted process elsewhere).
func (r *Router) link(info store.EdgeInfo) *edgeLink {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.links[info.ID]
	if l != nil && l.info.URL == info.URL {
		return l
	}
	if l != nil {
		l.close()
	}
	l = newEdgeLink(info, r.cfg.HTTPClient, r.cfg.Logger)
	r.links[info.ID] = l
	r.metrics.edges.Set(float64(len(r.links)))
	return l
}

// Prune closes the streams of edges that are no longer alive.
func (r *Router) Prune(ctx context.Context) error {
	live, err := r.cfg.Routes.LiveEdges(ctx)
	if err != nil {
		return err
	}
	alive := make(map[string]bool, len(live))
	for _, e := range live {
		alive[e.ID] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, l := range r.links {
		if !alive[id] {
			l.close()
			delete(r.links, id)
		}
	}
	r.metrics.edges.Set(float64(len(r.links)))
	return nil
}

// Close ends every stream. It may be called more than once.
func (r *Router) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, l := range r.links {
		l.close()
		delete(r.links, id)
	}
	return nil
}

// EdgeOfKey returns the edge id a connection key starts with: keys are
// "<edge id>.<sequence>".
func EdgeOfKey(key string) (string, bool) {
	i := strings.LastIndexByte(key, '.')
	if i <= 0 {
		return "", false
	}
	return key[:i], true
}
