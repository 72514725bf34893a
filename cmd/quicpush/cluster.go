package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/tracing"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/server"
)

// The flag groups the cluster's processes share. Every flag has an
// environment twin, QUICPUSH_<FLAG> (kong.DefaultEnvars).

// logFlags are the log flags of every server process: serve and the
// cluster's api, core and edge. The logger writes to stderr (the banner and
// the commands' answers go to stdout) and tags each line with the process.
type logFlags struct {
	LogLevel  slog.Level `default:"info" help:"debug, info, warn or error."`
	LogFormat string     `default:"text" enum:"text,json" help:"Log format: text or json."`
}

func (f logFlags) logger(component string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: f.LogLevel}
	var h slog.Handler = slog.NewTextHandler(os.Stderr, opts)
	if f.LogFormat == "json" {
		h = slog.NewJSONHandler(os.Stderr, opts)
	}
	return slog.New(h).With("process", component)
}

// tracingFlags turn on OpenTelemetry tracing (docs/tracing.md).
type tracingFlags struct {
	OTLPEndpoint     string  `name:"otlp-endpoint" placeholder:"URL" help:"OTLP collector to send traces to: http://HOST:4318 or https:// (OTLP over HTTP), grpc://HOST:4317 or grpcs:// (OTLP over gRPC); default: no tracing."`
	TraceSampleRatio float64 `name:"trace-sample-ratio" default:"0.01" help:"Share of pushes traced when --otlp-endpoint is set (0 to 1); a backend's call that carries a sampled trace context is always traced."`
}

// start sets up the process's tracing; its Enabled is nil when off. Stop
// it with stopTracing.
func (f tracingFlags) start(service string) (*tracing.Tracing, error) {
	ratio := f.TraceSampleRatio
	if ratio == 0 {
		ratio = -1 // 0 on the command line means none, not the default
	}
	return tracing.New(context.Background(), tracing.Config{Endpoint: f.OTLPEndpoint, SampleRatio: ratio, Service: service})
}

// stopTracing flushes the spans not yet sent, for at most 5 seconds.
func stopTracing(t *tracing.Tracing) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = t.Shutdown(ctx)
}

type kafkaFlags struct {
	KafkaBrokers    []string `name:"kafka-brokers" default:"127.0.0.1:9092" help:"Kafka seed brokers (host:port, comma-separated)."`
	KafkaTopic      string   `name:"kafka-topic" default:"quicpush.push" help:"Topic that carries accepted pushes."`
	KafkaPartitions int      `name:"kafka-partitions" default:"8" help:"Partitions of the topic when it is created on start."`
	KafkaReplicas   int      `name:"kafka-replication-factor" default:"-1" help:"Replication factor of the topic when it is created on start; -1: the brokers' default."`
}

func (f kafkaFlags) config() bus.KafkaConfig {
	return bus.KafkaConfig{
		Brokers:           f.KafkaBrokers,
		Topic:             f.KafkaTopic,
		Partitions:        f.KafkaPartitions,
		ReplicationFactor: f.KafkaReplicas,
	}
}

type redisFlags struct {
	RedisAddr     string `name:"redis-addr" default:"127.0.0.1:6379" help:"Redis address (host:port) holding routes, presence and the edge registry."`
	RedisPassword string `name:"redis-password" help:"Redis password, if the server needs one."`
	RedisDB       int    `name:"redis-db" default:"0" help:"Redis database number."`
	RedisPrefix   string `name:"redis-prefix" default:"qp:" help:"Prefix of every Redis key quicpush writes."`
}

func (f redisFlags) config() server.RedisConfig {
	return server.RedisConfig{Addr: f.RedisAddr, Password: f.RedisPassword, DB: f.RedisDB, Prefix: f.RedisPrefix}
}

// waitForSignal blocks until SIGINT or SIGTERM, or until done closes.
func waitForSignal(done <-chan struct{}) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case <-ctx.Done():
	case <-done:
	}
}

type apiCmd struct {
	APIAddr           string        `name:"api-addr" default:":8080" help:"HTTP address of the push API (Connect, gRPC, gRPC-Web, JSON) and /metrics."`
	AdminAddr         string        `name:"admin-addr" default:"127.0.0.1:9101" help:"Address of /metrics, /healthz, /readyz and /debug/pprof/; empty: off. Keep it private."`
	AdminUI           bool          `name:"admin-ui" help:"Serve the live admin page at /admin/ on the admin listener (docs/admin.md): the cluster's nodes (edges from the Redis registry, cores from --kafka-group), the cores' Kafka lag, this process's pushes. Needs --admin-token."`
	AdminToken        string        `name:"admin-token" help:"Token of the admin page: its JSON API takes it as a bearer header; open the page as http://ADMIN-ADDR/admin/#token=TOKEN."`
	CoreGroup         string        `name:"kafka-group" default:"quicpush-core" help:"The cores' consumer group, whose members and lag the admin page shows."`
	APIKeys           []string      `name:"api-key" help:"API keys accepted from backends (repeatable or comma-separated): KEY, or sha256:HEX (the key's SHA-256 in 64 hex digits, so the configuration need not hold the key). A prefix limits a key: push:KEY (PushKeys, PushUsers, PushRoom, Broadcast, Disconnect) or read:KEY (Online, History), e.g. read:sha256:HEX; without one a key may call every method. Default: the one in --dev-dir."`
	DevDir            string        `default:".quicpush-dev" help:"Where development secrets are kept (used when --api-key is not given)."`
	PublishTimeout    time.Duration `default:"5s" help:"How long a push waits for the brokers before failing with Unavailable."`
	IdempotencyWindow time.Duration `default:"10m" help:"How long a push call's idempotency key is remembered."`
	APIRateLimit      float64       `name:"api-rate-limit" default:"10000" help:"Calls per second each API key may make to this process (burst: twice that; more get ResourceExhausted); -1 (as --api-rate-limit=-1): unlimited."`
	apiHTTPFlags
	kafkaFlags
	redisFlags
	historyFlags
	serverRoomsFlags
	logFlags
	configFlags
	tracingFlags
}

func (c *apiCmd) Run() error {
	log := c.logger("api")
	keys := c.APIKeys
	if len(keys) == 0 {
		st, err := loadDevState(c.DevDir, true)
		if err != nil {
			return err
		}
		keys = []string{st.APIKey}
	}
	nss, policies, err := c.namespaces()
	if err != nil {
		return err
	}
	var ui *server.AdminUIConfig
	if c.AdminUI {
		if c.AdminToken == "" {
			return errors.New("--admin-ui needs --admin-token (or QUICPUSH_ADMIN_TOKEN)")
		}
		ui = &server.AdminUIConfig{Token: c.AdminToken}
	}
	tr, err := c.start("quicpush-api")
	if err != nil {
		return err
	}
	defer stopTracing(tr)
	srv, err := server.StartAPI(server.APIConfig{
		Tracer:            tr.Enabled(),
		Addr:              c.APIAddr,
		AdminAddr:         c.AdminAddr,
		AdminUI:           ui,
		CoreGroup:         c.CoreGroup,
		HTTP:              c.apiHTTPFlags.config(),
		Kafka:             c.kafkaFlags.config(),
		Redis:             c.redisFlags.config(),
		History:           policies,
		Namespaces:        nss,
		APIKeys:           keys,
		PublishTimeout:    c.PublishTimeout,
		IdempotencyWindow: c.IdempotencyWindow,
		ServerRoomsTTL:    c.ServerRoomsTTL,
		RateLimit:         c.APIRateLimit,
		Logger:            log,
	})
	if err != nil {
		return err
	}
	fmt.Printf("quicpush api: push API on http://%s", hostPort(srv.Addr()))
	if srv.Admin != nil {
		fmt.Printf(", admin on http://%s", srv.Admin.Addr())
	}
	if ui != nil {
		fmt.Printf(", admin page http://%s/admin/#token=$ADMIN_TOKEN", srv.Admin.Addr())
	}
	fmt.Println()
	waitForSignal(nil)
	log.Info("shutting down: finishing calls in flight")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

type coreCmd struct {
	AdminAddr      string        `name:"admin-addr" default:"127.0.0.1:9102" help:"Address of /metrics, /healthz, /readyz and /debug/pprof/; empty: off. Keep it private."`
	Group          string        `name:"kafka-group" default:"quicpush-core" help:"Consumer group; the cores in one group split the topic's partitions."`
	SessionTimeout time.Duration `name:"kafka-session-timeout" default:"6s" help:"How long the group waits for a silent core before moving its partitions."`
	CommitInterval time.Duration `name:"commit-interval" default:"1s" help:"How often offsets of delivered messages are committed."`
	MergeWindow    time.Duration `default:"1ms" help:"How long core waits to merge a room's messages into one batch."`
	MaxBatch       int           `default:"512" help:"Most messages in one batch."`
	EdgeTimeout    time.Duration `default:"5s" help:"How long a batch retries an edge that is registered but does not accept it, before going on without it."`
	RegistryTTL    time.Duration `name:"registry-ttl" default:"6s" help:"The edges' --registry-ttl: after Redis lost its state, batches wait this long while the edges republish their routes."`
	kafkaFlags
	redisFlags
	historyFlags
	logFlags
	configFlags
	tracingFlags
}

func (c *coreCmd) Run() error {
	log := c.logger("core")
	policies, err := c.policies()
	if err != nil {
		return err
	}
	tr, err := c.start("quicpush-core")
	if err != nil {
		return err
	}
	defer stopTracing(tr)
	srv, err := server.StartCore(server.CoreConfig{
		History:   policies,
		AdminAddr: c.AdminAddr,
		Kafka: bus.KafkaSourceConfig{
			KafkaConfig:    c.kafkaFlags.config(),
			Group:          c.Group,
			SessionTimeout: c.SessionTimeout,
			CommitInterval: c.CommitInterval,
		},
		Redis:       c.redisFlags.config(),
		RegistryTTL: c.RegistryTTL,
		Core:        core.Config{MergeWindow: c.MergeWindow, MaxBatch: c.MaxBatch, Tracer: tr.Enabled()},
		Router:      core.RouterConfig{EdgeTimeout: c.EdgeTimeout},
		Logger:      log,
	})
	if err != nil {
		return err
	}
	fmt.Print("quicpush core: consuming")
	if srv.Admin != nil {
		fmt.Printf(", admin on http://%s", srv.Admin.Addr())
	}
	fmt.Println()
	waitForSignal(srv.Done())
	log.Info("shutting down: finishing and committing the batch in flight")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return srv.Shutdown(ctx)
}

type edgeCmd struct {
	ID           string `name:"edge-id" help:"Name of this edge in the cluster, the prefix of its connection keys; default: random."`
	QUICAddr     string `name:"quic-addr" default:":4433" help:"UDP address for raw QUIC and WebTransport."`
	TCPAddr      string `name:"tcp-addr" default:":4434" help:"TCP address for framed TCP, TLS and WebSocket."`
	InternalAddr string `name:"internal-addr" default:"127.0.0.1:0" help:"Address of the internal service cores deliver to (h2c); keep it private. Port 0 picks a free one, registered in Redis."`
	InternalURL  string `name:"internal-url" help:"URL cores use to reach --internal-addr; default: http://<bound address>."`
	AdminAddr    string `name:"admin-addr" default:"127.0.0.1:9103" help:"Address of /metrics, /healthz, /readyz and /debug/pprof/; empty: off. Keep it private."`

	CertFile string `name:"cert-file" help:"TLS certificate (PEM); default: a development certificate in --dev-dir."`
	KeyFile  string `name:"key-file" help:"TLS private key (PEM) for --cert-file."`
	DevDir   string `default:".quicpush-dev" help:"Where the development certificate and secrets are kept."`
	jwtFlags
	proxyFlags

	edgeFlags
	RegistryTTL  time.Duration `name:"registry-ttl" default:"6s" help:"How long the edge stays registered without a heartbeat (heartbeats every third of it)."`
	DrainTimeout time.Duration `default:"10s" help:"On SIGTERM, how long clients get to leave after being told to reconnect elsewhere."`
	redisFlags
	historyFlags
	serverRoomsFlags
	logFlags
	configFlags
	tracingFlags
}

func (c *edgeCmd) Run() error {
	log := c.logger("edge")
	var cert tls.Certificate
	var err error
	if c.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	} else {
		cert, err = devcert.LoadOrCreate(c.DevDir)
	}
	if err != nil {
		return err
	}
	secret := []byte(c.JWTSecret)
	if !c.jwtFlags.configured() {
		st, err := loadDevState(c.DevDir, true)
		if err != nil {
			return err
		}
		if secret, err = st.secret(); err != nil {
			return err
		}
	}
	nss, policies, err := c.namespaces()
	if err != nil {
		return err
	}
	vc, err := c.jwtFlags.verifierConfig(secret)
	if err != nil {
		return err
	}
	pc, err := c.proxyFlags.config()
	if err != nil {
		return err
	}
	ec, err := c.edgeFlags.config(c.QUICAddr, c.TCPAddr, c.RecoveryLimit)
	if err != nil {
		return err
	}
	ec.ID = c.ID
	ec.Namespaces = nss
	tr, err := c.start("quicpush-edge")
	if err != nil {
		return err
	}
	defer stopTracing(tr)
	ec.Tracer = tr.Enabled()
	srv, err := server.StartEdge(server.EdgeConfig{
		Edge:         ec,
		History:      policies,
		InternalAddr: c.InternalAddr,
		InternalURL:  c.InternalURL,
		AdminAddr:    c.AdminAddr,
		Redis:        c.redisFlags.config(),
		RegistryTTL:  c.RegistryTTL,
		ServerRooms:  c.ServerRoomsTTL,
		Certificate:  cert,
		Auth:         vc,
		Proxy:        pc,
		Logger:       log,
	})
	if err != nil {
		return err
	}
	fmt.Printf("quicpush edge %s: quic://%s tcp://%s, internal %s", srv.Info.ID,
		hostPort(srv.Edge.QUICAddr()), hostPort(srv.Edge.TCPAddr()), srv.Info.URL)
	if srv.Admin != nil {
		fmt.Printf(", admin on http://%s", srv.Admin.Addr())
	}
	fmt.Println()
	waitForSignal(nil)
	log.Info("draining: clients are told to reconnect elsewhere")
	ctx, cancel := context.WithTimeout(context.Background(), c.DrainTimeout)
	defer cancel()
	return srv.Shutdown(ctx)
}

// serverRoomsFlags are read by serve, api and edge: the push API writes
// users' server-side rooms with the TTL, and the edges set it again at each
// Auth.
type serverRoomsFlags struct {
	ServerRoomsTTL time.Duration `name:"server-rooms-ttl" default:"24h" help:"How long a user's server-side rooms (the push API's Subscribe) are remembered after the user's last subscription or connection."`
}

// historyFlags set the rooms' namespaces and the history policies. Every
// process of a cluster must be given the same ones: core writes history by
// them, edges and the API read by them.
type historyFlags struct {
	Namespaces        []string      `name:"namespace" sep:"none" help:"Options of the rooms whose names start with PREFIX, as PREFIX:KEY=VALUE,... with keys history (messages kept, -1: none), history-ttl, presence, client-presence, join-leave, ephemeral (on or off) and join (token, proxy, public or server); e.g. 'chat/:join-leave=on,client-presence=on'. Repeatable; the longest matching prefix wins; the empty prefix sets every other room. See docs/namespaces.md."`
	HistorySize       int           `name:"history-size" default:"1000" help:"Messages each room keeps for resuming clients; -1: none."`
	HistoryTTL        time.Duration `name:"history-ttl" default:"10m" help:"How long a room message stays in history."`
	HistoryNamespaces []string      `name:"history-namespace" sep:"none" help:"Room-name prefix with its own history, as PREFIX=SIZE[:TTL], e.g. 'chat/=100:5m' or 'ticker/=-1' (repeatable; the longest matching prefix wins). The same as --namespace 'PREFIX:history=SIZE,history-ttl=TTL'."`
	UserHistorySize   int           `name:"user-history-size" default:"1000" help:"Messages each user's stream keeps (PushUsers); -1: none."`
	UserHistoryTTL    time.Duration `name:"user-history-ttl" default:"10m" help:"How long a user message stays in history."`
	HistoryMetaTTL    time.Duration `name:"history-meta-ttl" default:"24h" help:"How long an idle stream's position outlives its messages (resume without loss after a quiet spell)."`
	RecoveryLimit     int           `name:"recovery-limit" default:"1000" help:"Most messages replayed to one resuming client per stream; more is answered 'not recovered'."`
}

// policies returns the history policies of the namespaces.
func (f historyFlags) policies() (history.Policies, error) {
	_, p, err := f.namespaces()
	return p, err
}

// namespaces reads --namespace and --history-namespace (which sets only a
// namespace's history) into one set, with the history a namespace leaves
// unset taken from --history-size and --history-ttl, and returns it with
// the history policies it makes.
func (f historyFlags) namespaces() (*namespace.Set, history.Policies, error) {
	for name, d := range map[string]time.Duration{"--history-ttl": f.HistoryTTL, "--user-history-ttl": f.UserHistoryTTL, "--history-meta-ttl": f.HistoryMetaTTL} {
		if d <= 0 {
			return nil, history.Policies{}, fmt.Errorf("%s must be positive, not %v", name, d)
		}
	}
	set := &namespace.Set{}
	for _, ns := range f.HistoryNamespaces {
		prefix, spec, ok := strings.Cut(ns, "=")
		if !ok {
			return nil, history.Policies{}, fmt.Errorf("--history-namespace %q: want PREFIX=SIZE[:TTL]", ns)
		}
		sizeS, ttlS, hasTTL := strings.Cut(spec, ":")
		size, err := strconv.Atoi(sizeS)
		if err != nil {
			return nil, history.Policies{}, fmt.Errorf("--history-namespace %q: size: %w", ns, err)
		}
		pol := history.Policy{Size: size}
		if hasTTL {
			if pol.TTL, err = time.ParseDuration(ttlS); err != nil {
				return nil, history.Policies{}, fmt.Errorf("--history-namespace %q: ttl: %w", ns, err)
			}
			if pol.TTL <= 0 {
				return nil, history.Policies{}, fmt.Errorf("--history-namespace %q: ttl must be positive", ns)
			}
		}
		set.Add(namespace.Namespace{Prefix: prefix, Options: namespace.Options{History: pol}})
	}
	for _, spec := range f.Namespaces {
		ns, err := namespace.Parse(spec)
		if err != nil {
			return nil, history.Policies{}, fmt.Errorf("--namespace: %w", err)
		}
		if old, ok := exact(set, ns.Prefix); ok && ns.History == (history.Policy{}) {
			// A namespace's history given by --history-namespace stands
			// unless --namespace sets one.
			ns.History = old.History
		}
		set.Add(ns)
	}
	// History a namespace leaves unset is the empty prefix's, or the flags'.
	rooms := history.Policy{Size: f.HistorySize, TTL: f.HistoryTTL}
	fill := func(h *history.Policy) {
		if h.Size == 0 {
			h.Size = rooms.Size
		}
		if h.TTL == 0 {
			h.TTL = rooms.TTL
		}
	}
	if all, ok := exact(set, ""); ok {
		fill(&all.History)
		rooms = all.History
	}
	for i := range set.Namespaces {
		fill(&set.Namespaces[i].History)
	}
	p := set.Policies(history.Policy{Size: f.UserHistorySize, TTL: f.UserHistoryTTL})
	p.Rooms, p.MetaTTL = rooms, f.HistoryMetaTTL
	if len(set.Namespaces) == 0 {
		set = nil
	}
	return set, p, nil
}

// exact returns the options of the namespace whose prefix is prefix.
func exact(set *namespace.Set, prefix string) (namespace.Options, bool) {
	for _, ns := range set.Namespaces {
		if ns.Prefix == prefix {
			return ns.Options, true
		}
	}
	return namespace.Options{}, false
}
