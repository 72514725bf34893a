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

// httpService is an HTTP listener serving HTTP/1.1 and HTTP/2 without TLS
// (h2c), which gRPC and the internal Deliver streams need: the push API of
// the single process and of `quicpush api`, and an edge's internal service.
type httpService struct {
	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// listenHTTP binds addr and serves h on it in the background; name says
// what it is in logs and errors.
func listenHTTP(name, addr string, h http.Handler, log *slog.Logger) (*httpService, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listener: %w", name, err)
	}
	return serveHTTP(name, ln, h, log), nil
}

// serveHTTP serves h on ln in the background.
func serveHTTP(name string, ln net.Listener, h http.Handler, log *slog.Logger) *httpService {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	s := &httpService{
		ln: ln,
		srv: &http.Server{Handler: h, Protocols: protocols, ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)},
		done: make(chan struct{}),
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
