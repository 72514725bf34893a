package quicpush

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// Defaults of the options.
const (
	// DefaultDatagramDialTimeout bounds a QUIC or WebTransport attempt (dial,
	// handshake and auth). It is short because a network that drops UDP
	// gives no error, only silence, and the next endpoint is waiting.
	DefaultDatagramDialTimeout = time.Second
	// DefaultStreamDialTimeout bounds a TCP, TLS or WebSocket attempt.
	DefaultStreamDialTimeout = 3 * time.Second
	// DefaultBackoffMin and DefaultBackoffMax bound the reconnect delays.
	DefaultBackoffMin = 200 * time.Millisecond //nolint:revive // time-naming: Min is "minimum" here, not minutes
	DefaultBackoffMax = 20 * time.Second
	// DefaultRequestTimeout bounds Join, Leave and each write.
	DefaultRequestTimeout = 10 * time.Second
)

// Option configures a Client. Options are applied in order; for the ones that
// set a single value the last wins.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// ConnectEvent describes a connection that was just authenticated.
type ConnectEvent struct {
	// Endpoint is the endpoint URL connected to, as returned by
	// Client.Endpoint.
	Endpoint string
	// Transport is the transport name, as returned by Client.Transport.
	Transport string
	// ConnKey identifies the connection on the edge (for PushKeys).
	ConnKey string
	// User is the user id the edge took from the token.
	User string
	// Resumed reports that the TLS session was resumed with a ticket from
	// an earlier connection (QUIC, TLS and wss; see WithSessionCache).
	Resumed bool
	// ZeroRTT reports that Auth and the rejoins went as 0-RTT data and the
	// edge accepted them (raw QUIC; see WithZeroRTT).
	ZeroRTT bool
	// Revision is the protocol revision the edge announced, as returned by
	// Client.Revision: 0 from edges before revision 5.
	Revision uint64
}

// DisconnectEvent describes the end of a connection.
type DisconnectEvent struct {
	// Code is the edge's disconnect code, or 0 when the connection failed
	// without one (a network error, a missed heartbeat).
	Code wire.Code
	// Reason is the edge's reason or a description of the failure.
	Reason string
	// Reconnect reports whether the client is reconnecting. When false the
	// client has stopped; Connect may be called again (after, say, fetching a
	// fresh token).
	Reconnect bool
}

// RecoveryEvent says what became of resuming a stream after a reconnect:
// the user's stream (Room empty) when the client had a position in it, and
// each room it rejoined with a position.
type RecoveryEvent struct {
	// Room is the room, or "" for the user's stream (direct pushes).
	Room string
	// Recovered reports that every message missed while disconnected is
	// being delivered (right after this event, in order, then live ones).
	// False means NotRecovered: messages were missed and are no longer held
	// (too many, too old, or the server lost its history); fetch them from
	// the backend (the push API's History) if they matter.
	Recovered bool
	// Offset and Epoch are the stream's position after the resume.
	Offset uint64
	Epoch  string
}

type options struct {
	token          string
	tokenFunc      func(context.Context) (string, error)
	tls            *tls.Config
	certHashes     [][]byte
	dialTimeout    time.Duration
	backoffMin     time.Duration
	backoffMax     time.Duration
	requestTimeout time.Duration
	maxFrame       int
	onMessage      func(Message)
	onConnect      func(ConnectEvent)
	onDisconnect   func(DisconnectEvent)
	onRecovery     func(RecoveryEvent)
	onSubscription func(SubscriptionEvent)
	onJoinLeave    func(JoinLeaveEvent)
	logger         *slog.Logger
	pathConn       func(context.Context) (net.PacketConn, error)
	migrateTimeout time.Duration
	quicKeepAlive  time.Duration
	// sessions keeps TLS session tickets when sessionsSet; unset means an
	// in-memory cache of the client's own.
	sessions    tls.ClientSessionCache
	sessionsSet bool
	no0RTT      bool
}

func defaultOptions() options {
	return options{
		backoffMin:     DefaultBackoffMin,
		backoffMax:     DefaultBackoffMax,
		requestTimeout: DefaultRequestTimeout,
		maxFrame:       wire.DefaultMaxFrame,
		migrateTimeout: DefaultMigrateTimeout,
	}
}

// validate checks the options once, in New.
func (o *options) validate() error {
	var errs []error
	if o.backoffMin <= 0 || o.backoffMax < o.backoffMin {
		errs = append(errs, fmt.Errorf("backoff: need 0 < min <= max, got %v and %v", o.backoffMin, o.backoffMax))
	}
	if o.dialTimeout < 0 {
		errs = append(errs, fmt.Errorf("dial timeout %v is negative", o.dialTimeout))
	}
	if o.requestTimeout < 0 {
		errs = append(errs, fmt.Errorf("request timeout %v is negative", o.requestTimeout))
	}
	if o.quicKeepAlive < 0 {
		errs = append(errs, fmt.Errorf("QUIC keep-alive %v is negative", o.quicKeepAlive))
	}
	if o.migrateTimeout < 0 {
		errs = append(errs, fmt.Errorf("migrate timeout %v is negative", o.migrateTimeout))
	}
	if o.maxFrame < wire.HeaderSize {
		errs = append(errs, fmt.Errorf("max frame %d is below the header size", o.maxFrame))
	}
	if o.tokenFunc == nil && len(o.token) > wire.MaxTokenLen {
		errs = append(errs, fmt.Errorf("token is %d bytes, limit %d", len(o.token), wire.MaxTokenLen))
	}
	for _, h := range o.certHashes {
		if len(h) != 32 {
			errs = append(errs, fmt.Errorf("certificate hash is %d bytes, want a 32-byte SHA-256", len(h)))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("quicpush: invalid options: %w", err)
	}
	return nil
}

// WithToken sets the token sent in Auth on every connect. It replaces a
// WithTokenFunc given before it.
func WithToken(token string) Option {
	return optionFunc(func(o *options) { o.token, o.tokenFunc = token, nil })
}

// WithTokenFunc sets a function called before every connect (the first one and
// each reconnect) to get the token, so that an expired token is refreshed. The
// context ends with the connect attempt or when the client is closed. An
// error fails the attempt: Connect returns it, the reconnect loop backs off and
// calls the function again.
func WithTokenFunc(f func(context.Context) (string, error)) Option {
	return optionFunc(func(o *options) { o.token, o.tokenFunc = "", f })
}

// WithTLSConfig sets the TLS configuration of the quic, webtransport, tls and
// wss endpoints. The client clones it and sets ServerName (when empty) and
// NextProtos per transport. Zero means the system roots.
func WithTLSConfig(cfg *tls.Config) Option {
	return optionFunc(func(o *options) { o.tls = cfg })
}

// WithCertHash pins the server's leaf certificate by the SHA-256 of its DER
// encoding, like the serverCertificateHashes of browsers' WebTransport: the
// certificate is accepted when its hash matches and the current time is within
// its validity period, and chain and name verification are skipped. It suits
// short-lived self-signed certificates. Call it several times to accept
// several certificates (during a rotation).
func WithCertHash(sha256 []byte) Option {
	h := append([]byte(nil), sha256...)
	return optionFunc(func(o *options) { o.certHashes = append(o.certHashes, h) })
}

// WithDialTimeout bounds each endpoint attempt: dial, transport handshake and
// auth. Zero means DefaultDatagramDialTimeout (1 s) for quic and webtransport
// endpoints and DefaultStreamDialTimeout (3 s) for the others.
func WithDialTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.dialTimeout = d })
}

// WithBackoff bounds the reconnect delays: the delay before retry n (from 0)
// is uniform in [0, min(maxDelay, minDelay·2ⁿ)). The defaults are
// DefaultBackoffMin (200 ms) and DefaultBackoffMax (20 s). The count restarts
// after a connection that stayed up for at least maxDelay.
func WithBackoff(minDelay, maxDelay time.Duration) Option {
	return optionFunc(func(o *options) { o.backoffMin, o.backoffMax = minDelay, maxDelay })
}

// WithRequestTimeout bounds Join and Leave (when their context has a later or
// no deadline) and each write to the connection. Zero means no bound; the
// default is DefaultRequestTimeout (10 s).
func WithRequestTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.requestTimeout = d })
}

// WithMaxFrame sets the largest frame, header included, the client accepts
// from the edge; a larger one is a protocol error that drops the connection.
// Zero or unset means wire.DefaultMaxFrame (64 KiB).
func WithMaxFrame(n int) Option {
	return optionFunc(func(o *options) {
		if n == 0 {
			n = wire.DefaultMaxFrame
		}
		o.maxFrame = n
	})
}

// WithOnMessage sets the handler of pushed messages. It runs on the reader
// goroutine of the connection, one message at a time and in order; see the
// package documentation on callbacks.
func WithOnMessage(f func(Message)) Option {
	return optionFunc(func(o *options) { o.onMessage = f })
}

// WithOnConnect sets the handler called after each successful connect.
func WithOnConnect(f func(ConnectEvent)) Option {
	return optionFunc(func(o *options) { o.onConnect = f })
}

// WithOnDisconnect sets the handler called when a connection ends, and when a
// reconnect attempt is refused with a code that stops the client. It is not
// called for Close.
func WithOnDisconnect(f func(DisconnectEvent)) Option {
	return optionFunc(func(o *options) { o.onDisconnect = f })
}

// WithLogger sets the logger. Nil or unset means no logging.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithOnRecovery sets the handler told, after each reconnect, whether the
// messages missed meanwhile were recovered, for each stream the client held a
// position in. Pushes repeated by at-least-once delivery are dropped before
// OnMessage whether or not this handler is set.
func WithOnRecovery(f func(RecoveryEvent)) Option {
	return optionFunc(func(o *options) { o.onRecovery = f })
}

// WithOnSubscription sets the handler told when the application's backend
// puts the client in a room or takes it out (server-side rooms, protocol
// revision 5). The client keeps such a room on its own, whether or not this
// handler is set: its pushes reach OnMessage like those of a joined room, it
// is rejoined after a reconnect, and Rooms lists it. The handler runs on the
// connection's reader goroutine, in order with the messages: a subscription's
// event comes before the room's first message.
func WithOnSubscription(f func(SubscriptionEvent)) Option {
	return optionFunc(func(o *options) { o.onSubscription = f })
}

// WithOnJoinLeave sets the handler of join and leave notices: who came to and
// went from a room the client is in, in rooms whose namespace turns notices on
// (protocol revision 5). Notices are coalesced (at most one per room per
// interval, a second by default) and best effort: none is replayed after a
// reconnect; ask Presence for an exact list. The handler runs on the
// connection's reader goroutine, in order with the messages.
func WithOnJoinLeave(f func(JoinLeaveEvent)) Option {
	return optionFunc(func(o *options) { o.onJoinLeave = f })
}

// WithPathConn sets how Migrate opens the socket of a new network path; it
// must return a *net.UDPConn. An app that knows the new network binds the
// socket to it (on Android, a socket bound with Network.bindSocket;
// elsewhere, a listen on the new interface's address). The default is a UDP
// socket on an ephemeral port of every address, routed by the system over
// its current default network.
func WithPathConn(f func(ctx context.Context) (net.PacketConn, error)) Option {
	return optionFunc(func(o *options) { o.pathConn = f })
}

// WithMigrateTimeout bounds Migrate's wait for the edge to answer the probe
// of a new path; past it the client reconnects instead. Zero means
// DefaultMigrateTimeout; negative is an error.
func WithMigrateTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d == 0 {
			d = DefaultMigrateTimeout
		}
		o.migrateTimeout = d
	})
}

// WithSessionCache sets where the client keeps the TLS session tickets edges
// send, one per edge and protocol, with which a reconnect resumes instead of
// running a full handshake: on raw QUIC it then sends Auth and its rejoins as
// 0-RTT data and gets its first missed push one round trip sooner; on TLS and
// wss it saves the certificate exchange. Unset, each Client keeps them in
// memory (tls.NewLRUClientSessionCache), which serves reconnects but not the
// next launch of the app: to persist them, pass a cache that stores what it
// is given (see NewPersistentSessionCache). Nil keeps no tickets: every
// connect is a full handshake. The cache replaces the ClientSessionCache of
// WithTLSConfig.
func WithSessionCache(cache tls.ClientSessionCache) Option {
	return optionFunc(func(o *options) { o.sessions, o.sessionsSet = cache, true })
}

// WithZeroRTT says whether a reconnect over raw QUIC with a session ticket
// sends Auth and its rejoins as 0-RTT data (the default) or waits for the
// handshake to complete. An edge may reject 0-RTT (after a restart, say, its
// tickets are no longer valid); the client then sends them again after the
// handshake, which costs the round trip 0-RTT would have saved and nothing
// else. Without 0-RTT, tickets still shorten the handshake's TLS work.
func WithZeroRTT(enabled bool) Option {
	return optionFunc(func(o *options) { o.no0RTT = !enabled })
}

// WithQUICKeepAlive makes a raw QUIC connection send a QUIC PING whenever it
// has sent nothing for d (zero, the default: never; the heartbeat the edge
// asks for, every 25 s by default, is then all it sends when idle). A NAT
// that rebinds the client's port leaves the edge sending to the old one until
// the client's next packet, which a client that only receives sends with its
// next heartbeat: a keep-alive of a few seconds, for an app in the
// foreground, bounds that wait to d, at the cost of a small packet each way
// every d (docs/mobile.md).
func WithQUICKeepAlive(d time.Duration) Option {
	return optionFunc(func(o *options) { o.quicKeepAlive = d })
}
