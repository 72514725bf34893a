package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Errors of a hook call that reached no answer. The edge turns each into the
// hook's failure mode: connect, a 3001 disconnect (reconnect with backoff);
// join, Error 104 (retry).
var (
	// ErrUnavailable: the backend failed (transport error, timeout, a status
	// other than 200, a reply that is not valid JSON or breaks the rules).
	ErrUnavailable = errors.New("proxy: backend unavailable")
	// ErrOverloaded: the hook already has MaxInFlight calls under way.
	ErrOverloaded = errors.New("proxy: too many calls in flight")
	// ErrBreakerOpen: the hook's circuit breaker is open after consecutive
	// failures; calls fail fast until its cool-down ends.
	ErrBreakerOpen = errors.New("proxy: circuit breaker open")
)

// ConnectMode says which connections the connect hook sees.
type ConnectMode string

const (
	// ConnectNoJWT (the default) sends the hook only the connections whose
	// token is empty or not a JWT the edge's keys verify; a verified JWT
	// is enough on its own. An expired JWT is still refused with 3004.
	ConnectNoJWT ConnectMode = "no-jwt"
	// ConnectAlways sends the hook every connection: one with a verified
	// JWT is enriched (more rooms, info, a shorter expiry, or a refusal).
	ConnectAlways ConnectMode = "always"
)

// Defaults of Config's zero values.
const (
	DefaultTimeout          = time.Second
	DefaultMaxInFlight      = 256
	DefaultBreakerFailures  = 5
	DefaultBreakerCoolDown  = 5 * time.Second
	maxReplyBytes           = 64 << 10
	maxInfoBytes            = 16 << 10
	maxRoomsInConnectAnswer = 1024
	// maxName bounds user ids and room patterns as the protocol does (a JWT's
	// sub, a room name: 255 bytes), and the reasons and messages passed on
	// to clients.
	maxName = 255
)

// HookConfig configures one hook.
type HookConfig struct {
	// URL is the backend's: http:// or https:// for HTTP JSON POSTs to that
	// URL, grpc://HOST:PORT (h2c) or grpcs://HOST:PORT (TLS) for the gRPC
	// quicpush.proxy.v1.ProxyService (proto/quicpush/proxy/v1). Empty turns
	// the hook off.
	URL string
	// Timeout bounds one call. Zero means DefaultTimeout (1 s).
	Timeout time.Duration
	// MaxInFlight bounds the calls under way at once on this edge; a call
	// past it fails at once with ErrOverloaded. Zero means
	// DefaultMaxInFlight (256).
	MaxInFlight int
	// BreakerFailures is how many failed calls in a row open the circuit
	// breaker. Zero means DefaultBreakerFailures (5).
	BreakerFailures int
	// BreakerCoolDown is how long an open breaker fails calls fast before
	// it lets one trial call through. Zero means DefaultBreakerCoolDown
	// (5 s).
	BreakerCoolDown time.Duration
}

// Config configures a Client. The zero Config has both hooks off.
type Config struct {
	// Connect is the connect hook.
	Connect HookConfig
	// ConnectMode says which connections the connect hook sees. Empty
	// means ConnectNoJWT.
	ConnectMode ConnectMode
	// Join is the join hook.
	Join HookConfig
	// JoinRooms are the rooms the join hook decides, in the pattern
	// language of a token's rooms claim: an exact name, a prefix ending in
	// "*", or "*". A room that matches none keeps the token's rule. Empty
	// means every room ("*").
	JoinRooms []string
	// Header is sent with every call, e.g. an API key the backend checks.
	// Its values are never logged.
	Header http.Header
	// HTTPClient makes the HTTP JSON calls. Nil means a client of its own
	// (keep-alive, up to MaxInFlight idle connections kept, no redirects
	// followed). gRPC hooks use an HTTP/2 client
	// of their own.
	HTTPClient *http.Client
	// Logger receives the client's logs. Nil means discard. Tokens and
	// header values are never logged.
	Logger *slog.Logger
	// Registerer receives the client's metrics. Nil means none are
	// registered.
	Registerer prometheus.Registerer
}

// Enabled reports whether either hook is configured.
func (c Config) Enabled() bool { return c.Connect.URL != "" || c.Join.URL != "" }

// ConnectRequest is what the connect hook is told about a connecting client.
type ConnectRequest struct {
	// Token is the credentials string the client sent in Auth (a JWT the
	// edge did not verify, a session id, an opaque token); empty if none.
	Token string `json:"token,omitempty"`
	// User is the user of a verified JWT (ConnectAlways), empty otherwise.
	User string `json:"user,omitempty"`
	// Rooms are the verified JWT's rooms claim, if any.
	Rooms []string `json:"rooms,omitempty"`
	// IP is the client's address (after the PROXY protocol, if any).
	IP string `json:"ip"`
	// Transport is "quic", "webtransport", "tcp" or "websocket".
	Transport string `json:"transport"`
	// Edge is the edge's id.
	Edge string `json:"edge"`
}

// ConnectReply is the connect hook's answer: a user (with optional expiry,
// rooms and info), or a disconnect.
type ConnectReply struct {
	// User is the connection's user; required when the client had no
	// verified JWT. With a verified JWT it is empty or the JWT's user.
	User string
	// Expires, when not zero, ends the connection (3004) unless refreshed;
	// with a verified JWT the earlier of the two applies.
	Expires time.Time
	// Rooms are further room patterns the connection may join, added to
	// those of a verified JWT.
	Rooms []string
	// Info is opaque JSON the edge keeps with the connection (and sends to
	// the join hook).
	Info json.RawMessage
	// Disconnect, when its Code is set, refuses the connection.
	Disconnect Disconnect
}

// Disconnect is a refusal: Code 3000-3499 tells the client to reconnect
// (with backoff), 3500-3999 not to.
type Disconnect struct {
	Code   uint16 `json:"code"`
	Reason string `json:"reason,omitempty"`
}

// JoinRequest is what the join hook is told about a join.
type JoinRequest struct {
	User      string          `json:"user"`
	ConnKey   string          `json:"conn_key"`
	Room      string          `json:"room"`
	Transport string          `json:"transport"`
	Edge      string          `json:"edge"`
	Info      json.RawMessage `json:"info,omitempty"`
}

// JoinReply is the join hook's answer: allowed, denied (Error 101 to the
// client with Reason), or a disconnect of the connection.
type JoinReply struct {
	Allow      bool
	Reason     string
	Disconnect Disconnect
}

// Client calls the application's backend. Its methods are safe for
// concurrent use.
type Client struct {
	cfg     Config
	connect *hook
	join    *hook
	log     *slog.Logger
	m       *metrics
}

// New validates cfg and returns a Client; a hook whose URL is empty is off.
func New(cfg Config) (*Client, error) {
	switch cfg.ConnectMode {
	case "":
		cfg.ConnectMode = ConnectNoJWT
	case ConnectNoJWT, ConnectAlways:
	default:
		return nil, fmt.Errorf("proxy: ConnectMode %q: want %q or %q", cfg.ConnectMode, ConnectNoJWT, ConnectAlways)
	}
	if len(cfg.JoinRooms) == 0 {
		cfg.JoinRooms = []string{"*"}
	}
	for _, p := range cfg.JoinRooms {
		if p == "" || strings.Contains(strings.TrimSuffix(p, "*"), "*") {
			return nil, fmt.Errorf("proxy: JoinRooms pattern %q: an exact name, a prefix ending in \"*\", or \"*\"", p)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.HTTPClient == nil {
		// Its own transport: the default one keeps 2 idle connections per
		// host, so a busy hook would open and close connections all day.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = max(cfg.Connect.MaxInFlight, cfg.Join.MaxInFlight, DefaultMaxInFlight)
		cfg.HTTPClient = &http.Client{Transport: t, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, log: cfg.Logger, m: m}
	if c.connect, err = newHook("connect", cfg.Connect, c); err != nil {
		return nil, err
	}
	if c.join, err = newHook("join", cfg.Join, c); err != nil {
		return nil, err
	}
	return c, nil
}

// ConnectEnabled reports whether the connect hook is on.
func (c *Client) ConnectEnabled() bool { return c.connect != nil }

// ConnectAlways reports whether the connect hook sees connections with a
// verified JWT too.
func (c *Client) ConnectAlways() bool { return c.cfg.ConnectMode == ConnectAlways }

// JoinDecides reports whether the join hook decides joins of room.
func (c *Client) JoinDecides(room string) bool {
	if c.join == nil {
		return false
	}
	for _, p := range c.cfg.JoinRooms {
		if p == room {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(room, prefix) {
			return true
		}
	}
	return false
}

// connectAnswer is the connect hook's reply (JSON, or gRPC put in this
// shape).
type connectAnswer struct {
	Result     *connectResult `json:"result"`
	Disconnect *Disconnect    `json:"disconnect"`
}

type connectResult struct {
	User     string          `json:"user"`
	ExpireAt int64           `json:"expire_at"`
	Rooms    []string        `json:"rooms"`
	Info     json.RawMessage `json:"info"`
}

// Connect calls the connect hook. An error is ErrUnavailable,
// ErrOverloaded or ErrBreakerOpen; a refusal is a reply with a Disconnect.
func (c *Client) Connect(ctx context.Context, req ConnectRequest) (ConnectReply, error) {
	var r ConnectReply
	if c.connect == nil {
		return r, fmt.Errorf("%w: connect hook not configured", ErrUnavailable)
	}
	var a connectAnswer
	h := c.connect
	err := h.call(ctx, func(ctx context.Context) error {
		if h.rpc != nil {
			return h.connectRPC(ctx, req, &a)
		}
		return h.postJSON(ctx, req, &a)
	}, func() error {
		switch {
		case a.Disconnect != nil:
			return checkDisconnect(*a.Disconnect)
		case a.Result == nil:
			return errors.New("neither result nor disconnect")
		case a.Result.User == "" && req.User == "":
			return errors.New("result without a user for a client without a JWT")
		case a.Result.User != "" && req.User != "" && a.Result.User != req.User:
			return errors.New("result names another user than the client's JWT")
		case len(a.Result.User) > maxName:
			return errors.New("user longer than 255 bytes")
		case len(a.Result.Rooms) > maxRoomsInConnectAnswer:
			return errors.New("too many rooms")
		case len(a.Result.Info) > maxInfoBytes:
			return errors.New("info too large")
		}
		for _, p := range a.Result.Rooms {
			if p == "" || len(p) > maxName {
				return errors.New("empty or too long room pattern")
			}
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	if a.Disconnect != nil {
		r.Disconnect = Disconnect{Code: a.Disconnect.Code, Reason: clip(a.Disconnect.Reason)}
		c.m.calls.WithLabelValues("connect", "refused").Inc()
		return r, nil
	}
	c.m.calls.WithLabelValues("connect", "ok").Inc()
	r.User = a.Result.User
	if r.User == "" {
		r.User = req.User
	}
	if a.Result.ExpireAt > 0 {
		r.Expires = time.Unix(a.Result.ExpireAt, 0)
	}
	r.Rooms = a.Result.Rooms
	if len(a.Result.Info) > 0 && string(a.Result.Info) != "null" {
		r.Info = a.Result.Info
	}
	return r, nil
}

// joinAnswer is the join hook's reply (JSON, or gRPC put in this shape).
type joinAnswer struct {
	Result     *struct{}   `json:"result"`
	Error      *joinError  `json:"error"`
	Disconnect *Disconnect `json:"disconnect"`
}

type joinError struct {
	Message string `json:"message"`
}

// Join calls the join hook. An error is ErrUnavailable, ErrOverloaded or
// ErrBreakerOpen.
func (c *Client) Join(ctx context.Context, req JoinRequest) (JoinReply, error) {
	var r JoinReply
	if c.join == nil {
		return r, fmt.Errorf("%w: join hook not configured", ErrUnavailable)
	}
	var a joinAnswer
	h := c.join
	err := h.call(ctx, func(ctx context.Context) error {
		if h.rpc != nil {
			return h.joinRPC(ctx, req, &a)
		}
		return h.postJSON(ctx, req, &a)
	}, func() error {
		switch {
		case a.Disconnect != nil:
			return checkDisconnect(*a.Disconnect)
		case a.Result == nil && a.Error == nil:
			return errors.New("none of result, error, disconnect")
		}
		return nil
	})
	if err != nil {
		return r, err
	}
	switch {
	case a.Disconnect != nil:
		r.Disconnect = Disconnect{Code: a.Disconnect.Code, Reason: clip(a.Disconnect.Reason)}
		c.m.calls.WithLabelValues("join", "refused").Inc()
	case a.Error != nil:
		r.Reason = clip(a.Error.Message)
		c.m.calls.WithLabelValues("join", "denied").Inc()
	default:
		r.Allow = true
		c.m.calls.WithLabelValues("join", "ok").Inc()
	}
	return r, nil
}

// checkDisconnect accepts the codes a backend may send: 3000-3999.
func checkDisconnect(d Disconnect) error {
	if d.Code < 3000 || d.Code > 3999 {
		return fmt.Errorf("disconnect code %d outside 3000-3999", d.Code)
	}
	return nil
}

// clip bounds a backend's text that is passed on to a client.
func clip(s string) string {
	if len(s) <= maxName {
		return s
	}
	return strings.ToValidUTF8(s[:maxName], "")
}
