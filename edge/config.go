package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/proxy"
	"github.com/quicpush/quicpush/wire"
)

// Authenticator verifies a client's token: an *auth.Verifier (JWT with
// HMAC, ES256 or EdDSA keys and JWKS).
type Authenticator interface {
	// Verify returns the identity a valid token grants, or an error
	// wrapping auth.ErrExpired for an expired one.
	Verify(token string) (auth.Identity, error)
}

// ProxyHooks asks the application's backend about connections and joins: a
// *proxy.Client (docs/proxy.md). Its calls fail with proxy.ErrUnavailable,
// ErrOverloaded or ErrBreakerOpen when the backend gives no answer.
type ProxyHooks interface {
	// ConnectEnabled reports whether Connect is to be called at all, and
	// ConnectAlways whether also for connections with a verified JWT.
	ConnectEnabled() bool
	ConnectAlways() bool
	Connect(ctx context.Context, req proxy.ConnectRequest) (proxy.ConnectReply, error)
	// JoinDecides reports whether Join decides joins of room instead of the
	// token's rooms claim.
	JoinDecides(room string) bool
	Join(ctx context.Context, req proxy.JoinRequest) (proxy.JoinReply, error)
}

// Config configures an Edge. Zero values mean the documented defaults.
type Config struct {
	// QUICAddr is the UDP address for raw QUIC and WebTransport. Empty means ":4433".
	QUICAddr string
	// TCPAddr is the TCP address for framed TCP and WebSocket. Empty means ":4434".
	TCPAddr string
	// TLS holds the certificate for QUIC and WebTransport (required) and for
	// TLS on the TCP port, which is offered whenever TLS is set.
	TLS *tls.Config
	// Auth verifies client tokens. Required.
	Auth Authenticator
	// Proxy, when set, asks the application's backend to authenticate
	// clients without a JWT (or to enrich those with one) and to authorize
	// joins of the rooms it decides. Nil means tokens decide alone.
	Proxy ProxyHooks
	// ServerRooms lists each user's server-side rooms (the push API's
	// Subscribe), read once at each Auth: the connection is put in them.
	// Nil means none are read: only Subscribe orders that reach a
	// connection while it is online put it in rooms.
	ServerRooms ServerRoomsReader
	// ID prefixes connection keys so that they are unique across edges.
	// Empty means a random 6-character id.
	ID string

	// MaxFrame is the largest frame accepted from a client, header included.
	// Zero means wire.DefaultMaxFrame (64 KiB).
	MaxFrame int
	// HandshakeTimeout bounds the time from accept to a verified Auth frame,
	// in total: TLS, WebSocket upgrade, the client's stream and Auth. (For
	// QUIC and WebTransport it counts from the connection's first packet, and
	// an HTTP/3 connection with no session past Auth by then is closed.)
	// Zero means 10s.
	HandshakeTimeout time.Duration
	// Disable0RTT refuses 0-RTT data on QUIC and WebTransport. By default a
	// client resuming with a session ticket of this edge process may send
	// its Auth, Joins, Leaves and Pings as 0-RTT data, one round trip before
	// the handshake completes; other frames wait for it. 0-RTT data can be
	// replayed: docs/security.md, "0-RTT", says what that allows.
	Disable0RTT bool
	// PingInterval is announced to clients, which send a Ping that often; a
	// client silent for twice the interval is disconnected. Zero means 25s.
	PingInterval time.Duration
	// MaxRooms is how many rooms one connection may join. Zero means 64.
	MaxRooms int
	// RefreshAhead is how long before its token expires a connection is
	// sent TokenExpiring, so that the client can send a fresh token
	// (Refresh) before it is closed with 3004. Zero means 30s; negative
	// means never (closed at expiry).
	RefreshAhead time.Duration

	// Limits per source, checked before any TLS or QUIC work; each refusal
	// is counted in quicpush_edge_limited_total{limit}. Negative means
	// unlimited (load tests from a few loopback addresses need that).
	//
	// MaxConnsPerIP bounds one IP's open connections on all transports.
	// Zero means 1000 (carrier NATs put many clients behind one address).
	MaxConnsPerIP int
	// MaxConnsPerUser bounds one user's authenticated connections on this
	// edge; past it a new one is closed with 3007. Zero means 100.
	MaxConnsPerUser int
	// HandshakesPerIP bounds one IP's new connections per second (with a
	// burst of twice that). Zero means 50.
	HandshakesPerIP float64
	// RetryAbove is the rate of QUIC handshakes per second, edge-wide, above
	// which new QUIC clients must first prove their address (a Retry round
	// trip), which blunts floods of spoofed Initial packets. Zero means 1000.
	RetryAbove float64
	// ProxyProtocolFrom lists the load balancers in front of the TCP port:
	// connections from them must start with a PROXY protocol header (v1 or
	// v2), whose source address then stands for the client (per-IP limits,
	// logs). Connections from elsewhere are served as usual, and a header
	// they send is not honoured. Empty means no PROXY protocol.
	ProxyProtocolFrom []netip.Prefix
	// MaxFramesPerSec and MaxBytesPerSec bound what one connection sends per
	// second (Ping, Join, Leave: a client sends little); past either it is
	// closed with 3008. Zero means 100 frames and 256 KiB.
	MaxFramesPerSec int
	MaxBytesPerSec  int
	// MaxQueueBytes bounds the bytes queued for one connection; past it the
	// connection is closed with the slow-consumer code. Zero means 1 MiB.
	MaxQueueBytes int
	// WriteTimeout bounds one write to a client. Zero means 10s.
	WriteTimeout time.Duration
	// CloseTimeout is how long a closing connection may take to read the last
	// frame before it is cut. Zero means 2s.
	CloseTimeout time.Duration
	// Shards is the number of session shards. Zero means 64.
	Shards int
	// Tracer records the fan-out of pushes the push API traced
	// (docs/tracing.md). Nil means no spans.
	Tracer trace.TracerProvider
	// Namespaces holds the per-namespace options of rooms
	// (docs/namespaces.md): who may join, presence, join and leave
	// notices. Nil gives every room the defaults.
	Namespaces *namespace.Set
	// PresenceListMax is the most members a room may have on this edge for
	// the edge to list them (the push API's Presence); past it the room is
	// counts only here until it falls back to half of it, which keeps a
	// huge room's churn from costing a Redis write per join and bounds
	// what Presence reads and returns. Zero means DefaultPresenceListMax
	// (1000).
	PresenceListMax int
	// JoinLeaveInterval is how often the edge sends the join and leave
	// notices of rooms whose namespace has them on: each member gets at
	// most one per room per interval (docs/protocol.md 6.9). Zero means
	// DefaultJoinLeaveInterval (1s).
	JoinLeaveInterval time.Duration
	// JoinLeave, in a cluster, carries join and leave notices between the
	// edges (store.JoinLeave on Redis); the receiving side hands what it
	// gets to Edge.MergeJoinLeave. Nil means this edge's notices stay on
	// it (one process).
	JoinLeave JoinLeaveBus
	// Presence, in a cluster, answers clients' PresenceGet with the room's
	// members across the cluster (store.Presence on Redis, the push API's
	// read path). Nil means this edge's own members (one process).
	Presence PresenceReader
	// WriteBudget is the longest the write policy holds a room's (or an
	// unpaced broadcast's) message to write it together with later ones:
	// a quiet room's message is written at once, a busy room's members are
	// written to at most once per interval, and the interval grows from
	// zero towards WriteBudget only while the process is busy (pacer.go).
	// Zero means DefaultWriteBudget (350ms); negative means every message is
	// written at once.
	WriteBudget time.Duration
	// MaxFlushers bounds the goroutines writing to clients at once; more
	// connections with data to write wait their turn in a FIFO. Zero means
	// 1024.
	MaxFlushers int
	// WebSocketPath and WebTransportPath are the HTTP paths of those
	// transports. Empty means "/ws" and "/wt".
	WebSocketPath    string
	WebTransportPath string
	// CheckOrigin decides whether a browser's Origin header (empty for
	// non-browser clients) may connect over WebSocket or WebTransport. Nil
	// allows every origin: tokens, not origins, authenticate clients.
	CheckOrigin func(origin string) bool

	// History, when set, lets clients resume: pushes carry stream
	// positions, and Auth and Join with a position get what the client
	// missed or an explicit "not recovered" (history.Memory in one process,
	// store.History on Redis in a cluster). Nil means no positions.
	History HistoryReader
	// RecoveryLimit is the most messages replayed to a client per stream;
	// one that missed more is told NotRecovered. Zero means
	// history.DefaultRecoveryLimit (1000).
	RecoveryLimit int
	// ResumesPerSec bounds the resumes (Auth or Join with a position) one
	// connection may ask for per second, with a burst of MaxRooms + 1 so
	// that a reconnecting client resumes its user stream and every room at
	// once. A Join past it is answered with Error 104 and counted in
	// quicpush_edge_limited_total{limit="resumes_per_conn"}. Zero means 1;
	// negative means unlimited.
	ResumesPerSec float64

	// Routes, in a cluster, records which users are connected here and
	// which rooms have members here, so that core routes pushes to this
	// edge (store.EdgeRoutes on Redis). Nil in one process.
	Routes RouteRecorder
	// RouteTimeout bounds the wait for Routes when a connection
	// authenticates or opens a room on this edge; past it the connection is
	// refused (3001) or the join fails (Error 104). Zero means 3s.
	RouteTimeout time.Duration

	// Logger receives the edge's logs. Nil means discard.
	Logger *slog.Logger
	// Registerer receives the edge's metrics. Nil means none are registered.
	Registerer prometheus.Registerer
}

func (c Config) withDefaults() (Config, error) {
	if c.Auth == nil {
		return c, errors.New("edge: Config.Auth is required")
	}
	if c.TLS == nil {
		return c, errors.New("edge: Config.TLS is required for QUIC and WebTransport")
	}
	if c.Proxy == nil && c.Namespaces.Any(func(o namespace.Options) bool { return o.Join == namespace.JoinProxy }) {
		return c, errors.New("edge: a namespace's joins are decided by the join hook (join=proxy), but Config.Proxy is not set")
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	defInt := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defStr := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	defStr(&c.QUICAddr, ":4433")
	defStr(&c.TCPAddr, ":4434")
	defStr(&c.WebSocketPath, "/ws")
	defStr(&c.WebTransportPath, "/wt")
	defInt(&c.MaxFrame, wire.DefaultMaxFrame)
	defInt(&c.MaxRooms, 64)
	defInt(&c.MaxQueueBytes, 1<<20)
	defInt(&c.Shards, 64)
	defInt(&c.PresenceListMax, DefaultPresenceListMax)
	defInt(&c.MaxFlushers, 1024)
	defInt(&c.RecoveryLimit, history.DefaultRecoveryLimit)
	defLimit := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defLimit(&c.MaxConnsPerIP, 1000)
	defLimit(&c.MaxConnsPerUser, 100)
	defLimit(&c.MaxFramesPerSec, 100)
	defLimit(&c.MaxBytesPerSec, 256<<10)
	if c.HandshakesPerIP == 0 {
		c.HandshakesPerIP = 50
	}
	if c.ResumesPerSec == 0 {
		c.ResumesPerSec = 1
	}
	if c.RetryAbove == 0 {
		c.RetryAbove = 1000
	}
	def(&c.HandshakeTimeout, 10*time.Second)
	def(&c.PingInterval, 25*time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	if c.WriteBudget == 0 {
		c.WriteBudget = DefaultWriteBudget
	}
	def(&c.CloseTimeout, 2*time.Second)
	def(&c.RouteTimeout, 3*time.Second)
	def(&c.JoinLeaveInterval, DefaultJoinLeaveInterval)
	if c.RefreshAhead == 0 {
		c.RefreshAhead = 30 * time.Second
	}
	// The largest legal Auth: header, version, a 2-byte token length, the token.
	if c.MaxFrame < wire.HeaderSize+1+2+wire.MaxTokenLen {
		return c, errors.New("edge: MaxFrame too small to carry an auth token")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.CheckOrigin == nil {
		c.CheckOrigin = func(string) bool { return true }
	}
	return c, nil
}
