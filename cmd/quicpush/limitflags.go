package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/server"
)

// edgeFlags are the edge's session settings and limits, the same for
// `quicpush serve` and `quicpush edge`.
type edgeFlags struct {
	PingInterval     time.Duration `default:"25s" help:"Heartbeat interval announced to clients."`
	HandshakeTimeout time.Duration `default:"10s" help:"Time allowed from accept to a verified token."`
	MaxRooms         int           `default:"64" help:"Rooms one connection may join."`
	MaxQueueBytes    int           `default:"1048576" help:"Bytes queued for one connection before it is cut as a slow consumer."`
	WriteBudget      time.Duration `default:"350ms" help:"Longest a room's (or broadcast's) message is held to be written together with later ones while the edge is busy; a quiet room's message is written at once, and the wait grows from 0 towards this only as the process's CPU fills. 0: every message written at once."`
	QUIC0RTT         bool          `name:"quic-0rtt" default:"true" negatable:"" help:"Let QUIC clients resuming with a session ticket of this process send Auth, Join, Leave and Ping as 0-RTT data, a round trip before the handshake completes (replayable: see docs/security.md). --no-quic-0rtt: always a full round trip."`
	PresenceListMax  int           `name:"presence-list-max" default:"1000" help:"Most members of one room this edge lists for Presence (users, connection keys, info); a room with more on this edge is counts only there until it falls to half (docs/architecture.md, Presence)."`
	limitFlags
}

// config is the edge's configuration for the given listen addresses and
// recovery limit (a history flag).
func (f edgeFlags) config(quicAddr, tcpAddr string, recoveryLimit int) (edge.Config, error) {
	c := edge.Config{
		QUICAddr:         quicAddr,
		TCPAddr:          tcpAddr,
		PingInterval:     f.PingInterval,
		HandshakeTimeout: f.HandshakeTimeout,
		MaxRooms:         f.MaxRooms,
		MaxQueueBytes:    f.MaxQueueBytes,
		WriteBudget:      f.WriteBudget,
		Disable0RTT:      !f.QUIC0RTT,
		RecoveryLimit:    recoveryLimit,
		PresenceListMax:  f.PresenceListMax,
	}
	if f.WriteBudget <= 0 {
		c.WriteBudget = -1 // the flag's 0 is the edge's "off"
	}
	err := f.limitFlags.apply(&c)
	return c, err
}

// limitFlags are the edge's abuse limits. Each refusal is counted in
// quicpush_edge_limited_total{limit}; -1 lifts a limit (load tests from a few
// loopback addresses need that).
type limitFlags struct {
	MaxConnsPerIP   int           `name:"max-conns-per-ip" default:"1000" help:"Open connections one IP may hold, all transports together; -1 (as --flag=-1): unlimited."`
	MaxConnsPerUser int           `name:"max-conns-per-user" default:"100" help:"Connections one user may hold on this edge (more get 3007); -1 (as --flag=-1): unlimited."`
	HandshakesPerIP float64       `name:"handshakes-per-ip" default:"50" help:"New connections per second one IP may open (burst: twice that); -1 (as --flag=-1): unlimited."`
	RetryAbove      float64       `name:"quic-retry-above" default:"1000" help:"QUIC handshakes per second, edge-wide, above which new QUIC clients must prove their address (Retry); -1: never."`
	MaxFramesPerSec int           `name:"max-frames-per-sec" default:"100" help:"Frames one connection may send per second (more: closed with 3008); -1 (as --flag=-1): unlimited."`
	MaxBytesPerSec  int           `name:"max-bytes-per-sec" default:"262144" help:"Bytes one connection may send per second (more: closed with 3008); -1 (as --flag=-1): unlimited."`
	ResumesPerSec   float64       `name:"resumes-per-sec" default:"1" help:"Joins with a stream position (resumes) one connection may send per second, with a burst of --max-rooms plus one (more: Error 104); -1 (as --flag=-1): unlimited."`
	RefreshAhead    time.Duration `name:"refresh-ahead" default:"30s" help:"How long before its token expires a connection is asked for a fresh one (TokenExpiring); negative: never, closed at expiry."`
	ProxyFrom       []string      `name:"proxy-protocol-from" help:"Load balancers (CIDRs, comma-separated) whose TCP connections start with a PROXY protocol header (v1 or v2) naming the client; others are served as usual."`
	AllowedOrigins  []string      `name:"allowed-origins" help:"Browser origins allowed on WebSocket and WebTransport (scheme://host[:port], host may start with *.); requests without Origin (native clients) are always allowed. Empty: every origin."`
}

// apply copies the limits into an edge configuration.
func (f limitFlags) apply(c *edge.Config) error {
	for _, p := range f.ProxyFrom {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			addr, aerr := netip.ParseAddr(p)
			if aerr != nil {
				return fmt.Errorf("--proxy-protocol-from %q: %w", p, err)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		c.ProxyProtocolFrom = append(c.ProxyProtocolFrom, pfx)
	}
	c.MaxConnsPerIP = f.MaxConnsPerIP
	c.MaxConnsPerUser = f.MaxConnsPerUser
	c.HandshakesPerIP = f.HandshakesPerIP
	c.RetryAbove = f.RetryAbove
	c.MaxFramesPerSec = f.MaxFramesPerSec
	c.MaxBytesPerSec = f.MaxBytesPerSec
	c.ResumesPerSec = f.ResumesPerSec
	c.RefreshAhead = f.RefreshAhead
	if len(f.AllowedOrigins) > 0 {
		check, err := edge.AllowOrigins(f.AllowedOrigins)
		if err != nil {
			return fmt.Errorf("--allowed-origins: %w", err)
		}
		c.CheckOrigin = check
	}
	return nil
}

// apiHTTPFlags bound the push API's connections, the same for `quicpush
// serve` and `quicpush api`; the defaults are server.APIHTTPConfig's.
type apiHTTPFlags struct {
	APIReadHeaderTimeout time.Duration `name:"api-read-header-timeout" default:"10s" help:"Time allowed to read a push API request's headers; negative: unlimited."`
	APIReadTimeout       time.Duration `name:"api-read-timeout" default:"30s" help:"Time allowed to read a whole push API request, body included (the calls are unary); negative: unlimited."`
	APIIdleTimeout       time.Duration `name:"api-idle-timeout" default:"2m" help:"How long a push API keep-alive connection may wait for its next request before it is closed; negative: unlimited."`
	APIMaxConns          int           `name:"api-max-conns" default:"4096" help:"Push API connections open at once; more wait, unanswered, until one closes. -1 (as --api-max-conns=-1): unlimited."`
}

func (f apiHTTPFlags) config() server.APIHTTPConfig {
	return server.APIHTTPConfig{
		ReadHeaderTimeout: f.APIReadHeaderTimeout,
		ReadTimeout:       f.APIReadTimeout,
		IdleTimeout:       f.APIIdleTimeout,
		MaxConns:          f.APIMaxConns,
	}
}
