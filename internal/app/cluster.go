package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/pushapi"
	"github.com/quicpush/quicpush/store"
)

// RedisConfig locates the cluster's Redis.
type RedisConfig struct {
	// Addr is "host:port". Empty means "127.0.0.1:6379".
	Addr string
	// Password and DB, when the server needs them.
	Password string
	DB       int
	// Prefix starts every key quicpush writes. Empty means "qp:".
	Prefix string
}

// client returns a go-redis client with short timeouts: a Redis outage must
// surface as errors within a second or so, never as hangs.
func (c RedisConfig) client() *redis.Client {
	addr := c.Addr
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	return redis.NewClient(&redis.Options{
		Addr:         addr,
		Password:     c.Password,
		DB:           c.DB,
		DialTimeout:  time.Second,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   1,
	})
}

// newRegistry is a registry with the Go runtime's and the process's
// collectors, as every process exports them.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// startAdmin starts the admin listener unless addr is empty.
func startAdmin(addr string, reg *prometheus.Registry, log *slog.Logger) (*Admin, error) {
	if addr == "" {
		return nil, nil
	}
	return StartAdmin(addr, reg, log)
}

// APIConfig configures `quicpush api`: the push API on Kafka and Redis.
type APIConfig struct {
	// Addr serves the push API (Connect, gRPC, gRPC-Web, JSON; HTTP/1.1 and
	// h2c) and /metrics. Empty means ":8080".
	Addr string
	// AdminAddr serves /metrics, /healthz, /readyz and pprof. Empty means
	// none.
	AdminAddr string
	// Kafka is where pushes are published. Brokers are required.
	Kafka core.KafkaConfig
	// Redis answers online counts and history, and remembers idempotency
	// keys.
	Redis RedisConfig
	// History are the streams' policies, the same in every process.
	History history.Policies
	// APIKeys authenticate backends. Required.
	APIKeys []string
	// PublishTimeout bounds a push's wait for the brokers. Zero means
	// pushapi.DefaultPublishTimeout.
	PublishTimeout time.Duration
	// IdempotencyWindow is how long idempotency keys are remembered. Zero
	// means pushapi.DefaultIdempotencyWindow.
	IdempotencyWindow time.Duration
	// RateLimit bounds each API key's calls per second; zero means
	// pushapi.DefaultRateLimit, negative unlimited. Each api process counts
	// on its own.
	RateLimit float64
	// StartTimeout bounds the wait for Kafka at start. Zero means 60s.
	StartTimeout time.Duration
	// Logger receives the logs. Nil means discard.
	Logger *slog.Logger
}

// APIServer is a running `quicpush api`.
type APIServer struct {
	Registry *prometheus.Registry
	Admin    *Admin

	pub   *core.KafkaPublisher
	rdb   *redis.Client
	srv   *http.Server
	ln    net.Listener
	done  chan struct{}
	close sync.Once
}

// StartAPI connects to Kafka (creating the topic when needed) and Redis and
// serves the push API.
func StartAPI(cfg APIConfig) (*APIServer, error) {
	log := orDiscard(cfg.Logger)
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	reg := newRegistry()
	kc := cfg.Kafka
	kc.Logger = log.With("component", "kafka")
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	pub, err := core.NewKafkaPublisher(ctx, kc)
	if err != nil {
		return nil, err
	}
	s := &APIServer{Registry: reg, pub: pub, rdb: cfg.Redis.client(), done: make(chan struct{})}
	fail := func(err error) (*APIServer, error) {
		s.Close()
		return nil, err
	}
	svc, err := pushapi.New(pushapi.Config{
		Publisher:         pub,
		Online:            store.NewOnlineCounts(s.rdb, cfg.Redis.Prefix),
		History:           store.NewHistory(s.rdb, cfg.Redis.Prefix, cfg.History),
		Idempotency:       store.NewIdempotency(s.rdb, cfg.Redis.Prefix),
		IdempotencyWindow: cfg.IdempotencyWindow,
		RateLimit:         cfg.RateLimit,
		APIKeys:           cfg.APIKeys,
		PublishTimeout:    cfg.PublishTimeout,
		Logger:            log.With("component", "pushapi"),
		Registerer:        reg,
	})
	if err != nil {
		return fail(err)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = ":8080"
	}
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		return fail(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", svc.Handler())
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.srv = &http.Server{Handler: mux, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	if s.Admin, err = startAdmin(cfg.AdminAddr, reg, log); err != nil {
		return fail(err)
	}
	if s.Admin != nil {
		s.Admin.AddCheck("kafka", pub.Ping)
		s.Admin.AddCheck("redis", func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("push API stopped", "err", err)
		}
	}()
	log.Info("push API listening", "addr", s.ln.Addr().String(), "brokers", kc.Brokers, "redis", cfg.Redis.Addr)
	return s, nil
}

// Addr is the push API's address.
func (s *APIServer) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops taking calls, lets calls in flight finish within ctx, then
// disconnects.
func (s *APIServer) Shutdown(ctx context.Context) error {
	if s.Admin != nil {
		s.Admin.Draining("shutting down")
	}
	err := s.srv.Shutdown(ctx)
	s.Close()
	return err
}

// Close stops everything at once.
func (s *APIServer) Close() {
	s.close.Do(func() {
		if s.srv != nil {
			_ = s.srv.Close()
			<-s.done
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		s.pub.Close()
		_ = s.rdb.Close()
	})
}

// CoreConfig configures `quicpush core`: the consumer that routes pushes to
// the edges.
type CoreConfig struct {
	// AdminAddr serves /metrics, /healthz, /readyz and pprof. Empty means
	// none.
	AdminAddr string
	// Kafka is the bus to consume, with the consumer group. Brokers are
	// required.
	Kafka core.KafkaSourceConfig
	// Redis holds the routes and history.
	Redis RedisConfig
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

// CoreServer is a running `quicpush core`.
type CoreServer struct {
	Registry *prometheus.Registry
	Admin    *Admin

	src    *core.KafkaSource
	rdb    *redis.Client
	routes *store.Routes
	router *core.Router
	cancel context.CancelFunc
	done   chan struct{}
	err    error
	log    *slog.Logger
	close  sync.Once
}

// StartCore joins the consumer group and starts moving messages to the
// edges.
func StartCore(cfg CoreConfig) (*CoreServer, error) {
	log := orDiscard(cfg.Logger)
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = time.Minute
	}
	reg := newRegistry()
	s := &CoreServer{Registry: reg, rdb: cfg.Redis.client(), done: make(chan struct{}), log: log}
	fail := func(err error) (*CoreServer, error) {
		s.Close()
		return nil, err
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	var err error
	s.routes, err = store.NewRoutes(store.RoutesConfig{
		Client:     s.rdb,
		Prefix:     cfg.Redis.Prefix,
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
	if s.src, err = core.NewKafkaSource(sctx, kc); err != nil {
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
		s.err = c.Run(ctx)
		if s.err != nil && ctx.Err() == nil {
			log.Error("core stopped", "err", s.err)
		}
	}()
	log.Info("core consuming", "brokers", kc.Brokers, "topic", kc.Topic, "group", kc.Group, "redis", cfg.Redis.Addr)
	return s, nil
}

// prune closes streams to edges that left, every few seconds.
func (s *CoreServer) prune(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
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
func (s *CoreServer) Done() <-chan struct{} { return s.done }

// Shutdown finishes the batch in flight, commits what reached the edges
// (within ctx), leaves the consumer group and disconnects.
func (s *CoreServer) Shutdown(ctx context.Context) error {
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
		err = errors.Join(err, s.src.Close(ctx))
	}
	s.Close()
	return err
}

// Close stops everything at once; what was not committed is delivered again
// by the partitions' next owner.
func (s *CoreServer) Close() {
	s.close.Do(func() {
		if s.cancel != nil {
			s.cancel()
			<-s.done
		}
		if s.src != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = s.src.Close(ctx)
			cancel()
		}
		if s.router != nil {
			s.router.Close()
		}
		if s.routes != nil {
			_ = s.routes.Close()
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		_ = s.rdb.Close()
	})
}

// EdgeConfig configures `quicpush edge`: client connections in a cluster.
type EdgeConfig struct {
	// Edge configures the listeners and sessions; its ID, Auth, TLS,
	// Presence, Logger and Registerer are set here.
	Edge edge.Config
	// ID names the edge in the cluster and prefixes its connection keys.
	// Empty means a random id.
	ID string
	// InternalAddr serves the EdgeService that cores call (h2c). Empty
	// means "127.0.0.1:0" (a free port on loopback, registered in Redis).
	InternalAddr string
	// InternalURL is how cores reach InternalAddr. Empty means
	// "http://" + the bound address, which needs InternalAddr to name a
	// reachable host (not 0.0.0.0).
	InternalURL string
	// AdminAddr serves /metrics, /healthz, /readyz and pprof. Empty means
	// none.
	AdminAddr string
	// Redis holds the routes, the edge registry and history.
	Redis RedisConfig
	// History are the streams' policies, the same in every process.
	History history.Policies
	// RegistryTTL is how long the edge stays registered without a
	// heartbeat. Zero means store.DefaultTTL.
	RegistryTTL time.Duration
	// Certificate serves QUIC, WebTransport and TLS.
	Certificate tls.Certificate
	// JWTSecret verifies client tokens signed HS256 without a kid: the
	// same as Auth.HMACSecret (set one of them, or both to the same value).
	JWTSecret []byte
	// Auth configures client-token verification beyond JWTSecret: keys
	// with ids, a JWKS URL, the expected audience and issuer. Its Logger
	// defaults to Logger. JWTSecret or a key in Auth is required.
	Auth auth.VerifierConfig
	// Logger receives the logs. Nil means discard.
	Logger *slog.Logger
}

// EdgeServer is a running `quicpush edge`.
type EdgeServer struct {
	Edge     *edge.Edge
	Registry *prometheus.Registry
	Admin    *Admin
	Info     store.EdgeInfo

	presence *store.EdgeRoutes
	verifier *auth.Verifier
	rdb      *redis.Client
	internal *http.Server
	ln       net.Listener
	done     chan struct{}
	log      *slog.Logger
	close    sync.Once
}

// StartEdge serves the internal EdgeService, binds the client ports,
// registers the edge in Redis and starts taking clients.
func StartEdge(cfg EdgeConfig) (*EdgeServer, error) {
	log := orDiscard(cfg.Logger)
	verifier, err := newVerifier(cfg.JWTSecret, cfg.Auth, log)
	if err != nil {
		return nil, err
	}
	id := cfg.ID
	if id == "" {
		id = rand.Text()[:8]
	}
	reg := newRegistry()
	s := &EdgeServer{Registry: reg, rdb: cfg.Redis.client(), done: make(chan struct{}), log: log, verifier: verifier}
	fail := func(err error) (*EdgeServer, error) {
		s.Close()
		return nil, err
	}
	addr := cfg.InternalAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if s.ln, err = net.Listen("tcp", addr); err != nil {
		return fail(fmt.Errorf("internal listener: %w", err))
	}
	url := cfg.InternalURL
	if url == "" {
		url = "http://" + s.ln.Addr().String()
	}
	s.Info = store.EdgeInfo{ID: id, URL: url, QUICAddr: cfg.Edge.QUICAddr, TCPAddr: cfg.Edge.TCPAddr, Started: time.Now()}

	// The edge reports to presence from its first connection on, and
	// presence republishes the edge's state from it: each needs the other.
	var e *edge.Edge
	s.presence, err = store.NewEdgeRoutes(store.EdgeRoutesConfig{
		Client: s.rdb,
		Prefix: cfg.Redis.Prefix,
		Edge:   s.Info,
		TTL:    cfg.RegistryTTL,
		Snapshot: func() store.Snapshot {
			if e == nil {
				return store.Snapshot{}
			}
			snap := e.Snapshot()
			return store.Snapshot{Conns: snap.Conns, Rooms: snap.Rooms}
		},
		Logger:     log.With("component", "presence"),
		Registerer: reg,
	})
	if err != nil {
		return fail(err)
	}
	ec := cfg.Edge
	ec.ID = id
	ec.Auth = verifier
	ec.TLS = &tls.Config{Certificates: []tls.Certificate{cfg.Certificate}, MinVersion: tls.VersionTLS12}
	ec.Routes = s.presence
	ec.History = store.NewHistory(s.rdb, cfg.Redis.Prefix, cfg.History)
	ec.Logger = log.With("component", "edge")
	ec.Registerer = reg
	if e, err = edge.Listen(ec); err != nil {
		return fail(err)
	}
	s.Edge = e
	s.Info.QUICAddr, s.Info.TCPAddr = e.QUICAddr().String(), e.TCPAddr().String()
	s.presence.SetClientAddrs(s.Info.QUICAddr, s.Info.TCPAddr)

	mux := http.NewServeMux()
	mux.Handle(e.ServiceHandler())
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.internal = &http.Server{Handler: mux, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	go func() {
		defer close(s.done)
		if err := s.internal.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("internal listener stopped", "err", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.presence.Start(ctx); err != nil {
		return fail(fmt.Errorf("registering the edge: %w", err))
	}
	if s.Admin, err = startAdmin(cfg.AdminAddr, reg, log); err != nil {
		return fail(err)
	}
	if s.Admin != nil {
		s.Admin.AddCheck("redis", func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
	}
	log.Info("edge registered", "id", id, "internal", url, "quic", s.Info.QUICAddr, "tcp", s.Info.TCPAddr, "redis", cfg.Redis.Addr)
	return s, nil
}

// InternalAddr is the EdgeService's address.
func (s *EdgeServer) InternalAddr() net.Addr { return s.ln.Addr() }

// Shutdown drains the edge: it stops accepting, tells every client to
// reconnect elsewhere (3000) and waits for them to leave within ctx, then
// leaves the registry (so cores stop routing here) and stops.
func (s *EdgeServer) Shutdown(ctx context.Context) error {
	if s.Admin != nil {
		s.Admin.Draining("draining")
	}
	err := s.Edge.Shutdown(ctx)
	// Leaving the registry needs a little time even when ctx is spent.
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	err = errors.Join(err, s.presence.Shutdown(pctx))
	_ = s.internal.Shutdown(pctx)
	s.Close()
	return err
}

// Close stops everything at once, without leaving the registry: the entry
// expires and a core's janitor removes the routes, as when the process dies.
func (s *EdgeServer) Close() {
	s.close.Do(func() {
		if s.presence != nil {
			_ = s.presence.Close()
		}
		if s.Edge != nil {
			_ = s.Edge.Close()
		}
		if s.internal != nil {
			_ = s.internal.Close()
			<-s.done
		} else if s.ln != nil {
			_ = s.ln.Close()
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		s.verifier.Close()
		_ = s.rdb.Close()
	})
}
