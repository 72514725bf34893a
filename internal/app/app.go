// Package app wires quicpush's components into the single-process server
// that `quicpush serve` runs: an edge, core, the push API and an in-process
// bus, sharing one Prometheus registry. cmd/quicpush and the end-to-end tests
// both start it from here, so the tests run exactly what users run.
package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	jsclient "github.com/quicpush/quicpush/clients/js"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/pushapi"
)

// Config configures a single-process server.
type Config struct {
	// APIAddr is the TCP address of the push API (Connect, gRPC, gRPC-Web
	// and JSON over HTTP/1.1 and h2c) and of /metrics. Empty means ":8080".
	APIAddr string
	// Edge configures the edge; its Auth, TLS, Logger and Registerer are set
	// from the fields below.
	Edge edge.Config
	// Certificate serves QUIC, WebTransport and TLS on the TCP port.
	Certificate tls.Certificate
	// JWTSecret verifies client tokens signed HS256 without a kid: the
	// same as Auth.HMACSecret (set one of them, or both to the same value).
	JWTSecret []byte
	// Auth configures client-token verification beyond JWTSecret: keys
	// with ids, a JWKS URL, the expected audience and issuer. Its Logger
	// defaults to Logger. JWTSecret or a key in Auth is required.
	Auth auth.VerifierConfig
	// APIKeys authenticate backends, in pushapi.Config.APIKeys' syntax
	// (hashed, scoped). Required.
	APIKeys []string
	// Core tunes the merge window and batch size; Source and Edge are set here.
	Core core.Config
	// BusCapacity is the in-process bus length. Zero means core.DefaultBusCapacity.
	BusCapacity int
	// History are the streams' policies (in memory: a restart starts every
	// stream over, in a new epoch).
	History history.Policies
	// NoHistory turns history off: messages carry no position and clients
	// cannot resume.
	NoHistory bool
	// Demo, when set, serves the browser demo page at /demo/ on the API port,
	// with these values prefilled (development only: they may hold a key).
	Demo *jsclient.DemoConfig
	// APIRateLimit bounds each API key's calls per second; zero means
	// pushapi.DefaultRateLimit, negative unlimited.
	APIRateLimit float64
	// AdminAddr serves /debug/pprof/ when set; keep it on loopback. Empty
	// means no admin listener.
	AdminAddr string
	// Logger receives every component's logs. Nil means discard.
	Logger *slog.Logger
}

// Server is a running single-process quicpush.
type Server struct {
	Edge     *edge.Edge
	Registry *prometheus.Registry

	bus   *core.MemoryBus
	hist  *history.Memory
	api   *http.Server
	apiLn net.Listener
	admin *http.Server
	// AdminLn is the admin listener, nil without Config.AdminAddr.
	AdminLn  net.Listener
	cancel   context.CancelFunc
	done     sync.WaitGroup
	verifier *auth.Verifier
}

// Start starts every component and returns once all ports are bound.
func Start(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	verifier, err := newVerifier(cfg.JWTSecret, cfg.Auth, log)
	if err != nil {
		return nil, err
	}
	started := false
	defer func() {
		if !started {
			verifier.Close()
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var hist *history.Memory
	if !cfg.NoHistory {
		hist = history.NewMemory(cfg.History)
	}
	ec := cfg.Edge
	if hist != nil {
		ec.History = hist
	}
	ec.Auth = verifier
	ec.TLS = &tls.Config{Certificates: []tls.Certificate{cfg.Certificate}, MinVersion: tls.VersionTLS12}
	ec.Logger = log.With("component", "edge")
	ec.Registerer = reg
	e, err := edge.Listen(ec)
	if err != nil {
		if hist != nil {
			hist.Close()
		}
		return nil, err
	}
	s := &Server{Edge: e, Registry: reg, bus: core.NewMemoryBus(cfg.BusCapacity), hist: hist, verifier: verifier}

	cc := cfg.Core
	cc.Source = s.bus
	cc.Edge = e
	if hist != nil {
		cc.History = hist
	}
	cc.Logger = log.With("component", "core")
	cc.Registerer = reg
	c, err := core.New(cc)
	if err != nil {
		s.closeStores()
		return nil, err
	}
	pc := pushapi.Config{
		Publisher:  s.bus,
		Online:     e,
		APIKeys:    cfg.APIKeys,
		Logger:     log.With("component", "pushapi"),
		Registerer: reg,
		RateLimit:  cfg.APIRateLimit,
	}
	if hist != nil {
		pc.History = hist
	}
	api, err := pushapi.New(pc)
	if err != nil {
		s.closeStores()
		return nil, err
	}
	addr := cfg.APIAddr
	if addr == "" {
		addr = ":8080"
	}
	s.apiLn, err = net.Listen("tcp", addr)
	if err != nil {
		s.closeStores()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.Handle("/", api.Handler())
	if cfg.Demo != nil {
		mux.Handle("/demo/", http.StripPrefix("/demo", jsclient.DemoHandler(cfg.Demo)))
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s.api = &http.Server{Handler: mux, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	if cfg.AdminAddr != "" {
		if s.AdminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			s.closeStores()
			_ = s.apiLn.Close()
			return nil, err
		}
		admin := http.NewServeMux()
		admin.HandleFunc("/debug/pprof/", pprof.Index)
		admin.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		admin.HandleFunc("/debug/pprof/profile", pprof.Profile)
		admin.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		admin.HandleFunc("/debug/pprof/trace", pprof.Trace)
		admin.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		s.admin = &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = s.admin.Serve(s.AdminLn) }()
	}

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done.Add(2)
	go func() {
		defer s.done.Done()
		if err := c.Run(ctx); err != nil {
			log.Error("core stopped", "err", err)
		}
	}()
	go func() {
		defer s.done.Done()
		if err := s.api.Serve(s.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("push API stopped", "err", err)
		}
	}()
	started = true
	return s, nil
}

// newVerifier builds the client-token verifier from a kid-less HS256 secret
// (the historical JWTSecret) and the rest of the configuration.
func newVerifier(secret []byte, cfg auth.VerifierConfig, log *slog.Logger) (*auth.Verifier, error) {
	if len(secret) > 0 {
		if cfg.HMACSecret != nil && !bytes.Equal(cfg.HMACSecret, secret) {
			return nil, errors.New("app: JWTSecret and Auth.HMACSecret differ; set one")
		}
		cfg.HMACSecret = secret
	}
	if cfg.Logger == nil {
		cfg.Logger = log.With("component", "auth")
	}
	return auth.NewVerifier(cfg)
}

// closeStores undoes a Start that failed after the edge was up.
func (s *Server) closeStores() {
	s.Edge.Close()
	if s.hist != nil {
		s.hist.Close()
	}
}

// APIAddr is the push API's address.
func (s *Server) APIAddr() net.Addr { return s.apiLn.Addr() }

// Shutdown stops taking pushes, lets core deliver what was accepted, drains
// the edge (clients are told to reconnect) and stops, all within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	apiErr := s.api.Shutdown(ctx)
	if s.admin != nil {
		_ = s.admin.Close()
	}
	s.bus.Close()
	// Give core the time to hand over what the bus still holds.
	for s.bus.Len() > 0 && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}
	s.cancel()
	s.done.Wait()
	edgeErr := s.Edge.Shutdown(ctx)
	s.verifier.Close()
	if s.hist != nil {
		s.hist.Close()
	}
	if err := errors.Join(apiErr, edgeErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// Close stops everything at once.
func (s *Server) Close() {
	_ = s.api.Close()
	if s.admin != nil {
		_ = s.admin.Close()
	}
	s.bus.Close()
	s.cancel()
	s.done.Wait()
	s.Edge.Close()
	s.verifier.Close()
	if s.hist != nil {
		s.hist.Close()
	}
}
