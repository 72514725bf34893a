package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/bus"
	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/pushapi"
	"github.com/quicpush/quicpush/store"
)

// APIConfig configures `quicpush api`: the push API on Kafka and Redis.
type APIConfig struct {
	// Addr serves the push API (Connect, gRPC, gRPC-Web, JSON; HTTP/1.1 and
	// h2c) and /metrics. Empty means DefaultAPIAddr.
	Addr string
	// AdminAddr serves /metrics, /healthz, /readyz and pprof. Empty means
	// none.
	AdminAddr string
	// AdminUI, when set, serves the live admin page (docs/admin.md) on the
	// admin listener, which it then requires: the cluster's nodes (this
	// process, the edges in the Redis registry, the cores in CoreGroup),
	// the cores' Kafka lag per partition, and this process's pushes. Nil
	// means no page.
	AdminUI *AdminUIConfig
	// CoreGroup is the cores' consumer group, whose members and lag the
	// admin page shows. Empty means bus.DefaultGroup.
	CoreGroup string
	// HTTP bounds the push API's connections: timeouts and a cap. Its zero
	// value means the defaults it documents.
	HTTP APIHTTPConfig
	// Kafka is where pushes are published. Brokers are required.
	Kafka bus.KafkaConfig
	// Redis answers online counts and history, and remembers idempotency
	// keys.
	Redis RedisConfig
	// History are the streams' policies, the same in every process.
	History history.Policies
	// Namespaces are the rooms' options, the same in every process; the API
	// reads which rooms refuse ephemeral pushes. Nil means the defaults.
	Namespaces *namespace.Set
	// APIKeys authenticate backends. Required.
	APIKeys []string
	// PublishTimeout bounds a push's wait for the brokers. Zero means
	// pushapi.DefaultPublishTimeout.
	PublishTimeout time.Duration
	// IdempotencyWindow is how long idempotency keys are remembered. Zero
	// means pushapi.DefaultIdempotencyWindow.
	IdempotencyWindow time.Duration
	// ServerRoomsTTL is how long a user's server-side rooms (Subscribe) are
	// remembered after the user's last subscription or connection. Zero
	// means store.DefaultServerRoomsTTL (24 hours).
	ServerRoomsTTL time.Duration
	// RateLimit bounds each API key's calls per second; zero means
	// pushapi.DefaultRateLimit, negative unlimited. Each api process counts
	// on its own.
	RateLimit float64
	// StartTimeout bounds the wait for Kafka at start. Zero means 60s.
	StartTimeout time.Duration
	// Tracer records a span of each traced push and continues backends'
	// traces (docs/tracing.md). Nil means no tracing.
	Tracer trace.TracerProvider
	// Logger receives the logs. Nil means discard.
	Logger *slog.Logger
}

// API is a running `quicpush api`.
type API struct {
	Registry *prometheus.Registry
	// Admin is the admin listener, nil without APIConfig.AdminAddr.
	Admin *Admin

	pub    *bus.KafkaPublisher
	rdb    *redis.Client
	http   *httpService
	routes *store.Routes // the edge registry, for the admin page
	cancel context.CancelFunc
	done   sync.WaitGroup
	close  sync.Once
}

// StartAPI connects to Kafka (creating the topic when needed) and Redis and
// serves the push API.
func StartAPI(cfg APIConfig) (*API, error) {
	log := orDiscard(cfg.Logger)
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	reg := newRegistry()
	s := &API{Registry: reg, rdb: cfg.Redis.client()}
	fail := func(err error) (*API, error) {
		_ = s.Close()
		return nil, err
	}
	kc := cfg.Kafka
	kc.Logger = log.With("component", "kafka")
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	var err error
	if s.pub, err = bus.NewKafkaPublisher(ctx, kc); err != nil {
		return fail(err)
	}
	var publisher bus.Publisher = s.pub
	var ui *adminUI
	if cfg.AdminUI != nil {
		if ui, publisher, err = s.adminUI(cfg, reg, log); err != nil {
			return fail(err)
		}
	}
	svc, err := pushapi.New(pushapi.Config{
		Publisher:         publisher,
		Online:            store.NewOnlineCounts(s.rdb, cfg.Redis.Prefix),
		Presence:          store.NewPresence(s.rdb, cfg.Redis.Prefix),
		History:           store.NewHistory(s.rdb, cfg.Redis.Prefix, cfg.History),
		Idempotency:       store.NewIdempotency(s.rdb, cfg.Redis.Prefix),
		IdempotencyWindow: cfg.IdempotencyWindow,
		ServerRooms:       store.NewServerRooms(s.rdb, cfg.Redis.Prefix, cfg.ServerRoomsTTL),
		RateLimit:         cfg.RateLimit,
		Namespaces:        cfg.Namespaces,
		Tracer:            cfg.Tracer,
		APIKeys:           cfg.APIKeys,
		PublishTimeout:    cfg.PublishTimeout,
		Logger:            log.With("component", "pushapi"),
		Registerer:        reg,
	})
	if err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", svc.Handler())
	addr := cfg.Addr
	if addr == "" {
		addr = DefaultAPIAddr
	}
	if s.http, err = listenAPI(addr, mux, log, cfg.HTTP); err != nil {
		return fail(err)
	}
	if cfg.AdminAddr != "" {
		if s.Admin, err = startAdminWith(cfg.AdminAddr, reg, log, &health{}, ui); err != nil {
			return fail(err)
		}
	}
	if s.Admin != nil {
		s.Admin.AddCheck("kafka", s.pub.Ping)
		s.Admin.AddCheck("redis", func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
	}
	if ui != nil {
		uctx, cancel := context.WithCancel(context.Background())
		s.cancel = cancel
		s.done.Go(func() { ui.run(uctx) })
	}
	log.Info("push API listening", "addr", s.http.Addr().String(), "brokers", kc.Brokers, "redis", cfg.Redis.Addr)
	return s, nil
}

// Addr is the push API's address.
func (s *API) Addr() net.Addr { return s.http.Addr() }

// Shutdown stops taking calls, lets calls in flight finish within ctx, then
// disconnects.
func (s *API) Shutdown(ctx context.Context) error {
	if s.Admin != nil {
		s.Admin.Draining("shutting down")
	}
	err := s.http.Shutdown(ctx)
	_ = s.Close()
	return err
}

// Close stops everything at once.
func (s *API) Close() error {
	s.close.Do(func() {
		if s.http != nil {
			_ = s.http.Close()
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		if s.cancel != nil {
			s.cancel()
			s.done.Wait()
		}
		if s.routes != nil {
			_ = s.routes.Close()
		}
		if s.pub != nil {
			_ = s.pub.Close()
		}
		_ = s.rdb.Close()
	})
	return nil
}

// adminUI builds the admin page of the api process and the publisher that
// counts room pushes for it.
func (s *API) adminUI(cfg APIConfig, reg *prometheus.Registry, log *slog.Logger) (*adminUI, bus.Publisher, error) {
	if cfg.AdminAddr == "" {
		return nil, nil, errors.New("server: the admin page needs an admin listener (AdminAddr)")
	}
	var err error
	// Only LiveEdges is used: no Start (no invalidations to follow), no
	// janitor (the cores run it).
	if s.routes, err = store.NewRoutes(store.RoutesConfig{Client: s.rdb, Prefix: cfg.Redis.Prefix, JanitorInterval: -1,
		Logger: log.With("component", "routes")}); err != nil {
		return nil, nil, err
	}
	rates := newRoomRates(s.pub)
	clients := newEdgeClients()
	src := adminSource{
		gather: reg,
		// Push latency as this process sees it: a push call, the brokers'
		// acknowledgement included.
		latency: famAPIDuration,
		latencyKeep: func(m *dto.Metric) bool {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" {
					return pushMethods[l.GetValue()]
				}
			}
			return false
		},
		online: store.NewOnlineCounts(s.rdb, cfg.Redis.Prefix),
		rates:  rates,
		nodes:  func(ctx context.Context) ([]adminNode, []partitionLag) { return s.adminNodes(ctx, cfg.CoreGroup) },
		edges:  func(ctx context.Context) []edgeResult { return s.edgeFigures(ctx, clients) },
		drain:  func(id string) error { return s.drainEdge(id, clients) },
	}
	ui, err := newAdminUI(*cfg.AdminUI, src, log.With("component", "admin"))
	if err != nil {
		return nil, nil, err
	}
	return ui, rates, nil
}

// edgeFigures asks every live edge for its figures, at once.
func (s *API) edgeFigures(ctx context.Context, clients *edgeClients) []edgeResult {
	edges, err := s.routes.LiveEdges(ctx)
	if err != nil {
		return nil
	}
	out := make([]edgeResult, len(edges))
	var wg sync.WaitGroup
	for i, e := range edges {
		wg.Go(func() {
			resp, err := clients.get(e.URL).Figures(ctx, connect.NewRequest(&edgev1.FiguresRequest{}))
			out[i] = edgeResult{id: e.ID, err: err}
			if err == nil {
				out[i].figs = resp.Msg
			}
		})
	}
	wg.Wait()
	return out
}

// drainEdge asks the live edge id to drain (EdgeService.Drain).
func (s *API) drainEdge(id string, clients *edgeClients) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	edges, err := s.routes.LiveEdges(ctx)
	if err != nil {
		return err
	}
	for _, e := range edges {
		if e.ID == id {
			if _, err := clients.get(e.URL).Drain(ctx, connect.NewRequest(&edgev1.DrainRequest{})); err != nil {
				return fmt.Errorf("server: drain %s: %w", id, err)
			}
			return nil
		}
	}
	return errNoSuchNode
}

// famAPIDuration is the push API's call duration histogram.
const famAPIDuration = "quicpush_pushapi_request_duration_seconds"

// pushMethods are the PushService methods that push.
var pushMethods = map[string]bool{"PushKeys": true, "PushUsers": true, "PushRoom": true, "Broadcast": true}

// adminNodes lists the cluster: this process, the edges registered in Redis
// (alive: their registration has not expired) and the cores in the
// consumer group, with the group's lag. What cannot be read is shown as a
// node that is not ok.
func (s *API) adminNodes(ctx context.Context, group string) ([]adminNode, []partitionLag) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	nodes := []adminNode{{ID: s.http.Addr().String(), Role: "api", Health: healthText(s.Admin.status(ctx))}}
	if edges, err := s.routes.LiveEdges(ctx); err != nil {
		nodes = append(nodes, adminNode{ID: "edges", Role: "edge", Health: "registry: " + err.Error()})
	} else {
		for _, e := range edges {
			nodes = append(nodes, adminNode{ID: e.ID, Role: "edge", Health: "ok"})
		}
	}
	g, err := s.pub.Group(ctx, group)
	if err != nil {
		return append(nodes, adminNode{ID: "cores", Role: "core", Health: err.Error()}), []partitionLag{}
	}
	for _, m := range g.Members {
		nodes = append(nodes, adminNode{ID: m.Host + " " + m.ID, Role: "core", Health: fmt.Sprintf("ok (%d partitions, group %s)", m.Partitions, g.State)})
	}
	lag := make([]partitionLag, 0, len(g.Lag))
	for _, l := range g.Lag {
		lag = append(lag, partitionLag{Partition: l.Partition, Lag: l.Lag})
	}
	return nodes, lag
}
