package edge

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// guard enforces the limits that protect the edge from one source: open
// connections per IP and new connections (handshakes) per IP and second,
// for every transport, checked before any TLS or QUIC work is spent on
// them. It also tells the QUIC transport when to validate source addresses
// (Retry): when handshakes across the edge arrive faster than RetryAbove.
type guard struct {
	maxConns  int     // per IP; <= 0: unlimited
	perSecond float64 // handshakes per IP; <= 0: unlimited
	burst     int
	metrics   *metrics

	retry *rate.Limiter // nil: never ask for Retry

	mu  sync.Mutex
	ips map[netip.Addr]*ipState
}

type ipState struct {
	conns   int
	limiter *rate.Limiter
	seen    time.Time
}

func newGuard(cfg *Config, m *metrics) *guard {
	g := &guard{
		maxConns:  cfg.MaxConnsPerIP,
		perSecond: cfg.HandshakesPerIP,
		burst:     max(1, int(2*cfg.HandshakesPerIP)),
		metrics:   m,
		ips:       make(map[netip.Addr]*ipState),
	}
	if cfg.RetryAbove > 0 {
		g.retry = rate.NewLimiter(rate.Limit(cfg.RetryAbove), max(1, int(cfg.RetryAbove)))
	}
	return g
}

// ipOf returns the IP of addr, IPv4-mapped addresses unmapped so that one
// client is one key whatever socket it came through.
func ipOf(addr net.Addr) (netip.Addr, bool) {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case *net.UDPAddr:
		ap = a.AddrPort()
	default:
		p, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return netip.Addr{}, false
		}
		ap = p
	}
	return ap.Addr().Unmap(), ap.Addr().IsValid()
}

// admit counts a new connection from addr. It returns the function that
// uncounts it (call it once, when the connection is gone), or ok false, with
// the limit that refused it, when the IP is over a limit.
func (g *guard) admit(addr net.Addr, transport string) (release func(), ok bool) {
	ip, valid := ipOf(addr)
	if !valid {
		return func() {}, true
	}
	now := time.Now()
	g.mu.Lock()
	st := g.ips[ip]
	if st == nil {
		st = &ipState{}
		if g.perSecond > 0 {
			st.limiter = rate.NewLimiter(rate.Limit(g.perSecond), g.burst)
		}
		g.ips[ip] = st
	}
	st.seen = now
	if st.limiter != nil && !st.limiter.AllowN(now, 1) {
		g.mu.Unlock()
		g.metrics.limited.WithLabelValues("handshakes_per_ip", transport).Inc()
		return nil, false
	}
	if g.maxConns > 0 && st.conns >= g.maxConns {
		g.mu.Unlock()
		g.metrics.limited.WithLabelValues("connections_per_ip", transport).Inc()
		return nil, false
	}
	st.conns++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			st.conns--
			g.mu.Unlock()
		})
	}, true
}

// verifySource decides, for the QUIC transport, whether a connection attempt
// must first prove its source address (a Retry round trip): only when
// handshakes arrive faster than the edge's RetryAbove rate, as under a flood
// of spoofed Initial packets.
func (g *guard) verifySource(net.Addr) bool {
	if g.retry == nil {
		return false
	}
	if g.retry.Allow() {
		return false
	}
	g.metrics.limited.WithLabelValues("quic_retry", "quic").Inc()
	return true
}

// sweep forgets IPs with no connection whose rate budget is full again, so
// the table holds only active sources.
func (g *guard) sweep(now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for ip, st := range g.ips {
		if st.conns == 0 && now.Sub(st.seen) > time.Minute {
			delete(g.ips, ip)
		}
	}
}

// inbound counts what a client sends in one-second windows. It lives in the
// session and is touched only by its reader goroutine.
type inbound struct {
	window int64 // unix second of the current window
	frames int
	bytes  int
}

// over counts a frame of n bytes and returns the disconnect of the budget it
// exceeds, so the client learns which limit fired; the zero disconnect when
// within both.
func (in *inbound) over(now int64, n, maxFrames, maxBytes int) disconnect {
	if now != in.window {
		in.window, in.frames, in.bytes = now, 0, 0
	}
	in.frames++
	in.bytes += n
	switch {
	case maxFrames > 0 && in.frames > maxFrames:
		return disconnectFrameRate
	case maxBytes > 0 && in.bytes > maxBytes:
		return disconnectByteRate
	}
	return disconnect{}
}

// resumeBudget is a connection's token bucket of resumes (Auth or Join with
// a position). It lives in the session and is touched only by its reader
// goroutine; the zero value is a full bucket.
type resumeBudget struct {
	tokens float64
	at     int64 // unix nanoseconds of the last refill; 0: never used
}

// allow takes a resume from the bucket, refilled at perSec up to burst, and
// reports whether there was one. A negative perSec means unlimited.
func (b *resumeBudget) allow(now int64, perSec float64, burst int) bool {
	if perSec < 0 {
		return true
	}
	if b.at == 0 {
		b.tokens = float64(burst)
	} else {
		b.tokens = min(float64(burst), b.tokens+float64(now-b.at)/float64(time.Second)*perSec)
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
