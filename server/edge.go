package server

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
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/gen/quicpush/edge/v1/edgev1connect"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/proxy"
	"github.com/quicpush/quicpush/store"
)

// EdgeConfig configures `quicpush edge`: client connections in a cluster.
type EdgeConfig struct {
	// Edge configures the listeners and sessions. Its ID names the edge in
	// the cluster and prefixes its connection keys (empty means a random
	// id); its Auth, TLS, Routes, History, Presence, JoinLeave, Logger and
	// Registerer are set here.
	Edge edge.Config
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
	// ServerRooms is how long a user's server-side rooms are remembered
	// after the user's last subscription or connection: each Auth sets it
	// again. Zero means store.DefaultServerRoomsTTL (24 hours).
	ServerRooms time.Duration
	// RegistryTTL is how long the edge stays registered without a
	// heartbeat. Zero means store.DefaultTTL.
	RegistryTTL time.Duration
	// Certificate serves QUIC, WebTransport and TLS.
	Certificate tls.Certificate
	// Auth verifies client tokens: a kid-less HS256 secret (HMACSecret),
	// keys with ids, a JWKS URL, the expected audience and issuer. At least
	// one key is required. Its Logger defaults to Logger.
	Auth auth.VerifierConfig
	// Proxy configures the edge's hooks to the application's backend
	// (docs/proxy.md); its Logger and Registerer are set here. The zero
	// value means none.
	Proxy proxy.Config
	// Logger receives the logs. Nil means discard.
	Logger *slog.Logger
}

// Edge is a running `quicpush edge`.
type Edge struct {
	Edge     *edge.Edge
	Registry *prometheus.Registry
	// Admin is the admin listener, nil without EdgeConfig.AdminAddr.
	Admin *Admin
	// Info is the edge as the registry shows it.
	Info store.EdgeInfo

	routes   *store.EdgeRoutes
	verifier *auth.Verifier
	rdb      *redis.Client
	ln       net.Listener // the internal port, served by internal
	internal *httpService
	// stopJoinLeave ends the subscription to other edges' join and leave
	// notices; nil when no namespace has them on.
	stopJoinLeave func()
	log           *slog.Logger
	draining      atomic.Bool // Drain was asked for (the admin page)
	shutdown      sync.Once
	shutErr       error
	close         sync.Once
}

// registerTimeout bounds the edge's first registration in Redis.
const registerTimeout = 30 * time.Second

// StartEdge serves the internal EdgeService, binds the client ports,
// registers the edge in Redis and starts taking clients.
func StartEdge(cfg EdgeConfig) (*Edge, error) {
	log := orDiscard(cfg.Logger)
	reg := newRegistry()
	s := &Edge{Registry: reg, rdb: cfg.Redis.client(), log: log}
	fail := func(err error) (*Edge, error) {
		_ = s.Close()
		return nil, err
	}
	var err error
	if s.verifier, err = newVerifier(cfg.Auth, log); err != nil {
		return fail(err)
	}
	ec := cfg.Edge
	if ec.ID == "" {
		ec.ID = rand.Text()[:8]
	}
	// The internal port is bound first, since its URL is part of the edge's
	// registration, and served once the edge exists.
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
	s.Info = store.EdgeInfo{ID: ec.ID, URL: url, QUICAddr: ec.QUICAddr, TCPAddr: ec.TCPAddr, Started: time.Now()}

	// The edge records its routes from its first connection on, and the
	// route store republishes the edge's state from it: each needs the
	// other.
	var e *edge.Edge
	s.routes, err = store.NewEdgeRoutes(store.EdgeRoutesConfig{
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
		Members: func(room string) []push.PresenceConn {
			if e == nil {
				return nil
			}
			return e.RoomMembers(room)
		},
		Logger:     log.With("component", "routes"),
		Registerer: reg,
	})
	if err != nil {
		return fail(err)
	}
	ec.Auth = s.verifier
	if ec.Proxy, err = proxyHooks(cfg.Proxy, log, reg); err != nil {
		return fail(err)
	}
	ec.TLS = &tls.Config{Certificates: []tls.Certificate{cfg.Certificate}, MinVersion: tls.VersionTLS12}
	ec.Routes = s.routes
	ec.History = store.NewHistory(s.rdb, cfg.Redis.Prefix, cfg.History)
	// Clients' PresenceGet reads what the push API's Presence reads.
	ec.Presence = store.NewPresence(s.rdb, cfg.Redis.Prefix)
	var joinLeave *store.JoinLeave
	if ec.Namespaces.Any(func(o namespace.Options) bool { return o.JoinLeave }) {
		joinLeave = store.NewJoinLeave(s.rdb, cfg.Redis.Prefix, log.With("component", "joinleave"))
		ec.JoinLeave = joinLeave
	}
	ec.ServerRooms = store.NewServerRooms(s.rdb, cfg.Redis.Prefix, cfg.ServerRooms)
	ec.Logger = log.With("component", "edge")
	ec.Registerer = reg
	if e, err = edge.Listen(ec); err != nil {
		return fail(err)
	}
	s.Edge = e
	if joinLeave != nil {
		ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
		s.stopJoinLeave, err = joinLeave.Subscribe(ctx, e.MergeJoinLeave)
		cancel()
		if err != nil {
			return fail(err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle(edgev1connect.NewEdgeServiceHandler(&edgeAdminService{EdgeServiceHandler: e.Service(), s: s, reg: reg}))
	s.internal = serveHTTP("internal listener", s.ln, mux, log)
	s.Info.QUICAddr, s.Info.TCPAddr = e.QUICAddr().String(), e.TCPAddr().String()
	s.routes.SetClientAddrs(s.Info.QUICAddr, s.Info.TCPAddr)

	ctx, cancel := context.WithTimeout(context.Background(), registerTimeout)
	defer cancel()
	if err := s.routes.Start(ctx); err != nil {
		return fail(fmt.Errorf("registering the edge: %w", err))
	}
	if s.Admin, err = startAdmin(cfg.AdminAddr, reg, log); err != nil {
		return fail(err)
	}
	if s.Admin != nil {
		s.Admin.AddCheck("redis", func(ctx context.Context) error { return s.rdb.Ping(ctx).Err() })
	}
	log.Info("edge registered", "id", ec.ID, "internal", url, "quic", s.Info.QUICAddr, "tcp", s.Info.TCPAddr, "redis", cfg.Redis.Addr)
	return s, nil
}

// InternalAddr is the EdgeService's address.
func (s *Edge) InternalAddr() net.Addr { return s.ln.Addr() }

// Shutdown drains the edge: it stops accepting, tells every client to
// reconnect elsewhere (3000) and waits for them to leave within ctx, then
// leaves the registry (so cores stop routing here) and stops.
// After a drain asked from the admin page, it returns that drain's result.
func (s *Edge) Shutdown(ctx context.Context) error {
	s.shutdown.Do(func() {
		if s.Admin != nil {
			s.Admin.Draining("draining")
		}
		err := s.Edge.Shutdown(ctx)
		// Leaving the registry needs a little time even when ctx is spent.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
		defer cancel()
		err = errors.Join(err, s.routes.Shutdown(lctx))
		_ = s.internal.Shutdown(lctx)
		_ = s.Close()
		s.shutErr = err
	})
	return s.shutErr
}

// Close stops everything at once, without leaving the registry: the entry
// expires and a core's janitor removes the routes, as when the process dies.
func (s *Edge) Close() error {
	s.close.Do(func() {
		if s.stopJoinLeave != nil {
			s.stopJoinLeave()
		}
		if s.routes != nil {
			_ = s.routes.Close()
		}
		if s.Edge != nil {
			_ = s.Edge.Close()
		}
		if s.internal != nil {
			_ = s.internal.Close()
		} else if s.ln != nil {
			_ = s.ln.Close()
		}
		if s.Admin != nil {
			_ = s.Admin.Close()
		}
		if s.verifier != nil {
			_ = s.verifier.Close()
		}
		_ = s.rdb.Close()
	})
	return nil
}
