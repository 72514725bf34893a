package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/bus"
	jsclient "github.com/quicpush/quicpush/clients/js"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/serverrooms"
	"github.com/quicpush/quicpush/proxy"
	"github.com/quicpush/quicpush/pushapi"
)

// SingleConfig configures `quicpush serve`: everything in one process.
type SingleConfig struct {
	// APIAddr is the TCP address of the push API (Connect, gRPC, gRPC-Web
	// and JSON over HTTP/1.1 and h2c) and of /metrics, /healthz and
	// /readyz. Empty means
	// DefaultAPIAddr.
	APIAddr string
	// APIHTTP bounds the push API's connections: timeouts and a cap. Its
	// zero value means the defaults it documents.
	APIHTTP APIHTTPConfig
	// AdminAddr serves /metrics, /healthz, /readyz and /debug/pprof/; keep
	// it on loopback. Empty means no admin listener (the API port answers
	// /metrics, /healthz and /readyz in any case).
	AdminAddr string
	// AdminUI, when set, serves the live admin page (docs/admin.md) on the
	// admin listener, which it then requires. Nil means no page.
	AdminUI *AdminUIConfig
	// Edge configures the edge; its Auth, TLS, History, Logger and
	// Registerer are set here.
	Edge edge.Config
	// Certificate serves QUIC, WebTransport and TLS on the TCP port.
	Certificate tls.Certificate
	// Auth verifies client tokens: a kid-less HS256 secret (HMACSecret),
	// keys with ids, a JWKS URL, the expected audience and issuer. At least
	// one key is required. Its Logger defaults to Logger.
	Auth auth.VerifierConfig
	// Proxy configures the edge's hooks to the application's backend
	// (docs/proxy.md); its Logger and Registerer are set here. The zero
	// value means none.
	Proxy proxy.Config
	// APIKeys authenticate backends, in pushapi.Config.APIKeys' syntax
	// (hashed, scoped). Required.
	APIKeys []string
	// APIRateLimit bounds each API key's calls per second; zero means
	// pushapi.DefaultRateLimit, negative unlimited.
	APIRateLimit float64
	// Core tunes the merge window and batch size; its Source, Edge, History,
	// Logger and Registerer are set here.
	Core core.Config
	// BusCapacity is the in-process bus length. Zero means
	// bus.DefaultCapacity.
	BusCapacity int
	// History are the streams' policies (in memory: a restart starts every
	// stream over, in a new epoch).
	History history.Policies
	// ServerRooms is how long a user's server-side rooms (the push API's
	// Subscribe) are remembered, in memory, after the user's last
	// subscription or connection. Zero means serverrooms.DefaultTTL (24
	// hours).
	ServerRooms time.Duration
	// NoHistory turns history off: messages carry no position and clients
	// cannot resume.
	NoHistory bool
	// Demo, when set, serves the browser demo page at /demo/ on the API port,
	// with these values prefilled (development only: they may hold a key).
	Demo *jsclient.DemoConfig
	// Tracer records the spans of traced pushes in the push API, core and
	// the edge (docs/tracing.md), unless their own configurations set one.
	// Nil means no tracing.
	Tracer trace.TracerProvider
	// Logger receives every component's logs. Nil means discard.
	Logger *slog.Logger
}

// Single is a running `quicpush serve`.
type Single struct {
	Edge     *edge.Edge
	Registry *prometheus.Registry
	// Admin is the admin listener, nil without SingleConfig.AdminAddr.
	Admin *Admin

	bus      *bus.Memory
	health   *health // /readyz on the API port and the admin listener
	hist     *history.Memory
	verifier *auth.Verifier
	api      *httpService
	ui       *adminUI
	draining atomic.Bool    // the edge was drained from the admin page
	drains   sync.WaitGroup // edge drains under way
	log      *slog.Logger
	cancel   context.CancelFunc
	done     sync.WaitGroup
	close    sync.Once
}

// StartSingle starts every component and returns once all ports are bound.
func StartSingle(cfg SingleConfig) (*Single, error) {
	log := orDiscard(cfg.Logger)
	reg := newRegistry()
	s := &Single{Registry: reg, bus: bus.NewMemory(cfg.BusCapacity), health: &health{}, log: log}
	fail := func(err error) (*Single, error) {
		_ = s.Close()
		return nil, err
	}
	var err error
	if s.verifier, err = newVerifier(cfg.Auth, log); err != nil {
		return fail(err)
	}
	if !cfg.NoHistory {
		s.hist = history.NewMemory(cfg.History)
	}

	rooms := serverrooms.NewMemory(cfg.ServerRooms)
	ec := cfg.Edge
	if s.hist != nil {
		ec.History = s.hist
	}
	ec.ServerRooms = rooms
	ec.Auth = s.verifier
	if ec.Proxy, err = proxyHooks(cfg.Proxy, log, reg); err != nil {
		return fail(err)
	}
	ec.TLS = &tls.Config{Certificates: []tls.Certificate{cfg.Certificate}, MinVersion: tls.VersionTLS12}
	ec.Logger = log.With("component", "edge")
	if ec.Tracer == nil {
		ec.Tracer = cfg.Tracer
	}
	ec.Registerer = reg
	if s.Edge, err = edge.Listen(ec); err != nil {
		return fail(err)
	}

	cc := cfg.Core
	cc.Source = s.bus
	cc.Edge = s.Edge
	if s.hist != nil {
		cc.History = s.hist
	}
	cc.Logger = log.With("component", "core")
	if cc.Tracer == nil {
		cc.Tracer = cfg.Tracer
	}
	cc.Registerer = reg
	c, err := core.New(cc)
	if err != nil {
		return fail(err)
	}

	var publisher bus.Publisher = s.bus
	var rates *roomRates
	if cfg.AdminUI != nil {
		if cfg.AdminAddr == "" {
			return fail(errors.New("server: the admin page needs an admin listener (AdminAddr)"))
		}
		rates = newRoomRates(s.bus)
		publisher = rates
	}
	pc := pushapi.Config{
		Publisher:   publisher,
		Online:      s.Edge,
		Presence:    s.Edge,
		ServerRooms: rooms,
		APIKeys:     cfg.APIKeys,
		Logger:      log.With("component", "pushapi"),
		Registerer:  reg,
		RateLimit:   cfg.APIRateLimit,
		Namespaces:  cfg.Edge.Namespaces,
		Tracer:      cfg.Tracer,
	}
	if s.hist != nil {
		pc.History = s.hist
	}
	api, err := pushapi.New(pc)
	if err != nil {
		return fail(err)
	}
	// The single process is often run without an admin listener: its API
	// port answers /healthz and /readyz as well, from the same checks.
	s.health.AddCheck("bus", s.bus.Ping)
	s.health.AddCheck("edge", s.Edge.Ping)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	s.health.handle(mux)
	mux.Handle("/", api.Handler())
	if cfg.Demo != nil {
		mux.Handle("/demo/", http.StripPrefix("/demo", jsclient.DemoHandler(cfg.Demo)))
	}
	addr := cfg.APIAddr
	if addr == "" {
		addr = DefaultAPIAddr
	}
	if s.api, err = listenAPI(addr, mux, log, cfg.APIHTTP); err != nil {
		return fail(err)
	}
	if cfg.AdminUI != nil {
		src := adminSource{gather: reg, latency: famEdgeLatency, edgeFigures: true, online: s.Edge, rates: rates, nodes: s.adminNodes, drain: s.drainEdge}
		if s.ui, err = newAdminUI(*cfg.AdminUI, src, log.With("component", "admin")); err != nil {
			return fail(err)
		}
	}
	if cfg.AdminAddr != "" {
		if s.Admin, err = startAdminWith(cfg.AdminAddr, reg, log, s.health, s.ui); err != nil {
			return fail(err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done.Go(func() {
		if err := c.Run(ctx); err != nil {
			log.Error("core stopped", "err", err)
		}
	})
	if s.ui != nil {
		s.done.Go(func() { s.ui.run(ctx) })
	}
	return s, nil
}

// nodeID names the single process on the admin page.
func (s *Single) nodeID() string {
	if id := s.Edge.ID(); id != "" {
		return id
	}
	return "serve"
}

// adminNodes is the admin page's node list: the one process, without
// Kafka.
func (s *Single) adminNodes(ctx context.Context) ([]adminNode, []partitionLag) {
	return []adminNode{{ID: s.nodeID(), Role: "serve", Health: healthText(s.health.status(ctx)), Drainable: !s.draining.Load()}}, nil
}

// drainTimeout bounds an edge drain asked from the admin page, as the
// command's shutdown on SIGTERM is bounded.
const drainTimeout = 10 * time.Second

// drainEdge drains the edge as on SIGTERM, asked from the admin page: it
// stops taking connections, /readyz fails so that load balancers move new
// clients away, and every client is told to reconnect elsewhere (Disconnect
// 3000, shutdown). The push API keeps answering; pushes to clients still
// here reach them until they leave.
func (s *Single) drainEdge(id string) error {
	if id != s.nodeID() {
		return errNoSuchNode
	}
	if !s.draining.CompareAndSwap(false, true) {
		return errAlreadyDrain
	}
	s.health.Draining("edge drained from the admin page")
	s.drains.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
		defer cancel()
		if err := s.Edge.Shutdown(ctx); err != nil {
			s.log.Warn("edge drain", "err", err)
		}
	})
	return nil
}

// APIAddr is the push API's address.
func (s *Single) APIAddr() net.Addr { return s.api.Addr() }

// Shutdown stops taking pushes, lets core deliver what was accepted, drains
// the edge (clients are told to reconnect) and stops, all within ctx.
func (s *Single) Shutdown(ctx context.Context) error {
	s.health.Draining("shutting down")
	apiErr := s.api.Shutdown(ctx)
	_ = s.bus.Close()
	// Give core the time to hand over what the bus still holds.
	for s.bus.Len() > 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	s.stopCore()
	edgeErr := s.Edge.Shutdown(ctx)
	_ = s.Close()
	if err := errors.Join(apiErr, edgeErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// stopCore ends core's loop and waits for it.
func (s *Single) stopCore() {
	if s.cancel != nil {
		s.cancel()
		s.done.Wait()
	}
}

// Close stops everything at once.
func (s *Single) Close() error {
	s.close.Do(func() {
		if s.api != nil {
			_ = s.api.Close()
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		_ = s.bus.Close()
		s.stopCore()
		if s.Edge != nil {
			_ = s.Edge.Close()
		}
		s.drains.Wait()
		if s.verifier != nil {
			_ = s.verifier.Close()
		}
		if s.hist != nil {
			s.hist.Close()
		}
	})
	return nil
}
