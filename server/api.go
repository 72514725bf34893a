package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/bus"
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

	pub   *bus.KafkaPublisher
	rdb   *redis.Client
	http  *httpService
	close sync.Once
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
	svc, err := pushapi.New(pushapi.Config{
		Publisher:         s.pub,
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
	if s.Admin, err = startAdmin(cfg.AdminAddr, reg, log); err != nil {
		return fail(err)
	}
	if s.Admin != nil {
		s.Admin.AddCheck("kafka", s.pub.Ping)
		s.Admin.AddCheck("redis", func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
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
		if s.pub != nil {
			_ = s.pub.Close()
		}
		_ = s.rdb.Close()
	})
	return nil
}
