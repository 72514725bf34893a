package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/store"
)

// CoreConfig configures `quicpush core`: the consumer that routes pushes to
// the edges.
type CoreConfig struct {
	// AdminAddr serves /metrics, /healthz, /readyz and pprof. Empty means
	// none.
	AdminAddr string
	// Kafka is the bus to consume, with the consumer group. Brokers are
	// required.
	Kafka bus.KafkaSourceConfig
	// Redis holds the routes and history.
	Redis RedisConfig
	// RegistryTTL is the edges' EdgeConfig.RegistryTTL: after Redis lost
	// its state, routes are held (batches wait, uncommitted) this long while
	// the edges republish. Zero means store.DefaultTTL.
	RegistryTTL time.Duration
	// History are the streams' policies, the same in every process.
	History history.Policies
	// Core tunes merging and batches; Source, Router and History are set
	// here.
	Core core.Config
	// Router tunes the hand-off to edges; Routes is set here.
	Router core.RouterConfig
	// StartTimeout bounds the wait for Kafka at start. Zero means 60s.
	StartTimeout time.Duration
	// Logger receives the logs. Nil means discard.
	Logger *slog.Logger
}

// Core is a running `quicpush core`.
type Core struct {
	Registry *prometheus.Registry
	// Admin is the admin listener, nil without CoreConfig.AdminAddr.
	Admin *Admin

	src    *bus.KafkaSource
	rdb    *redis.Client
	routes *store.Routes
	router *core.Router
	cancel context.CancelFunc
	done   chan struct{}
	close  sync.Once
}

// pruneInterval is how often a core closes its streams to edges that left.
const pruneInterval = 5 * time.Second

// StartCore joins the consumer group and starts moving messages to the
// edges.
func StartCore(cfg CoreConfig) (*Core, error) {
	log := orDiscard(cfg.Logger)
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	reg := newRegistry()
	s := &Core{Registry: reg, rdb: cfg.Redis.client(), done: make(chan struct{})}
	fail := func(err error) (*Core, error) {
		_ = s.Close()
		return nil, err
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	var err error
	s.routes, err = store.NewRoutes(store.RoutesConfig{
		Client:     s.rdb,
		Prefix:     cfg.Redis.Prefix,
		EdgeTTL:    cfg.RegistryTTL,
		Logger:     log.With("component", "routes"),
		Registerer: reg,
	})
	if err != nil {
		return fail(err)
	}
	if err := s.routes.Start(sctx); err != nil {
		return fail(err)
	}
	rc := cfg.Router
	rc.Routes = s.routes
	rc.Logger = log.With("component", "router")
	rc.Registerer = reg
	if s.router, err = core.NewRouter(rc); err != nil {
		return fail(err)
	}
	kc := cfg.Kafka
	kc.Logger = log.With("component", "kafka")
	kc.Registerer = reg
	if s.src, err = bus.NewKafkaSource(sctx, kc); err != nil {
		return fail(err)
	}
	cc := cfg.Core
	cc.Source = s.src
	cc.Router = s.router
	cc.History = store.NewHistory(s.rdb, cfg.Redis.Prefix, cfg.History)
	cc.Logger = log.With("component", "core")
	cc.Registerer = reg
	c, err := core.New(cc)
	if err != nil {
		return fail(err)
	}
	if s.Admin, err = startAdmin(cfg.AdminAddr, reg, log); err != nil {
		return fail(err)
	}
	if s.Admin != nil {
		s.Admin.AddCheck("kafka", s.src.Ping)
		s.Admin.AddCheck("redis", func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
	}
	ctx, stop := context.WithCancel(context.Background())
	s.cancel = stop
	go func() {
		defer close(s.done)
		go s.prune(ctx)
		if err := c.Run(ctx); err != nil && ctx.Err() == nil {
			log.Error("core stopped", "err", err)
		}
	}()
	log.Info("core consuming", "brokers", kc.Brokers, "topic", kc.Topic, "group", kc.Group, "redis", cfg.Redis.Addr)
	return s, nil
}

// prune closes streams to edges that left, every few seconds.
func (s *Core) prune(ctx context.Context) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = s.router.Prune(ctx)
		}
	}
}

// Done is closed when core stops moving messages.
func (s *Core) Done() <-chan struct{} { return s.done }

// Shutdown finishes the batch in flight, commits what reached the edges
// (within ctx), leaves the consumer group and disconnects.
func (s *Core) Shutdown(ctx context.Context) error {
	if s.Admin != nil {
		s.Admin.Draining("shutting down")
	}
	var err error
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			err = fmt.Errorf("core: shutdown: %w", ctx.Err())
		}
	}
	if s.src != nil {
		err = errors.Join(err, s.src.Shutdown(ctx))
	}
	_ = s.Close()
	return err
}

// Close stops everything at once; what was not committed is delivered again
// by the partitions' next owner.
func (s *Core) Close() error {
	s.close.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
		if s.src != nil {
			_ = s.src.Close()
		}
		if s.router != nil {
			_ = s.router.Close()
		}
		if s.routes != nil {
			_ = s.routes.Close()
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		_ = s.rdb.Close()
	})
	return nil
}
