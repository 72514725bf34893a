package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"golang.org/x/net/netutil"

	"github.com/quicpush/quicpush/internal/auth"
)

// DefaultAPIAddr is where the push API listens when no address is given.
const DefaultAPIAddr = ":8080"

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

// newVerifier builds the client-token verifier, logging as "auth" unless cfg
// names a logger of its own.
func newVerifier(cfg auth.VerifierConfig, log *slog.Logger) (*auth.Verifier, error) {
	if cfg.Logger == nil {
		cfg.Logger = log.With("component", "auth")
	}
	return auth.NewVerifier(cfg)
}

// Defaults of APIHTTPConfig.
const (
	DefaultAPIReadHeaderTimeout = 10 * time.Second
	DefaultAPIReadTimeout       = 30 * time.Second
	DefaultAPIIdleTimeout       = 2 * time.Minute
	DefaultAPIMaxConns          = 4096
)

// APIHTTPConfig bounds the push API's connections, so that a client sending
// slowly, or not at all, cannot hold one for ever, nor many clients exhaust
// the process's file descriptors.
type APIHTTPConfig struct {
	// ReadHeaderTimeout bounds reading a request's headers. Zero means
	// DefaultAPIReadHeaderTimeout (10s), negative none.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (over
	// HTTP/2, each stream's body). Every PushService method is unary, so no
	// call needs long; a gRPC reflection stream left open is cut after it.
	// Zero means DefaultAPIReadTimeout (30s), negative none.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that carries no request
	// for this long. Zero means DefaultAPIIdleTimeout (2 min), negative
	// none.
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once; a connection past it
	// waits in the listen backlog, unanswered, until another closes. Zero
	// means DefaultAPIMaxConns (4096), negative unlimited.
	MaxConns int
}

// orDefault is d for zero; a negative value, which net/http takes as no
// timeout, is kept.
func orDefault(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

// apply sets the timeouts on srv.
func (c APIHTTPConfig) apply(srv *http.Server) {
	srv.ReadHeaderTimeout = orDefault(c.ReadHeaderTimeout, DefaultAPIReadHeaderTimeout)
	srv.ReadTimeout = orDefault(c.ReadTimeout, DefaultAPIReadTimeout)
	srv.IdleTimeout = orDefault(c.IdleTimeout, DefaultAPIIdleTimeout)
}

// listenAPI binds addr and serves the push API h on it with cfg's limits.
func listenAPI(addr string, h http.Handler, log *slog.Logger, cfg APIHTTPConfig) (*httpService, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("push API listener: %w", err)
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = DefaultAPIMaxConns
	}
	if maxConns > 0 {
		ln = netutil.LimitListener(ln, maxConns)
	}
	return serveHTTP("push API", ln, h, log, cfg.apply), nil
}

// httpService is an HTTP listener serving HTTP/1.1 and HTTP/2 without TLS
// (h2c), which gRPC and the internal Deliver streams need: the push API of
// the single process and of `quicpush api`, and an edge's internal service.
type httpService struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// serveHTTP serves h on ln in the background; name says what it is in logs.
// Each setup, when given, adjusts the server before it starts.
func serveHTTP(name string, ln net.Listener, h http.Handler, log *slog.Logger, setup ...func(*http.Server)) *httpService {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s := &httpService{
		ln: ln,
		srv: &http.Server{Handler: h, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		done: make(chan struct{}),
	}
	for _, f := range setup {
		f(s.srv)
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(name+" stopped", "err", err)
		}
	}()
	return s
}

// Addr is the bound address.
func (s *httpService) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops taking connections and waits, within ctx, for requests in
// flight.
func (s *httpService) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// Close closes the listener and every connection, and waits for the server
// goroutine.
func (s *httpService) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}
