package quicpush

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/wire"
)

// transport is one connection to an edge, whatever carries it. The session
// logic (auth, requests, heartbeats, pushes) sees only this.
type transport interface {
	// writeFrame writes one whole frame. The caller serializes calls; each
	// one is bounded by the write timeout the transport was dialled with.
	writeFrame(frame []byte) error
	// readFrame returns the next frame. The body is valid until the next
	// call. It is called from one goroutine at a time. A close by the peer
	// with a disconnect code carried by the transport returns *closeError.
	readFrame() (wire.Header, []byte, error)
	// close closes the connection, unblocking readFrame and writeFrame. A
	// transport that can carry a close code sends code (0: no error) and
	// reason. It may be called more than once and concurrently with the
	// other methods.
	close(code wire.Code, reason string)
}

// Transport names, as reported by Client.Transport and ConnectEvent.
const (
	transportQUIC         = frameconn.TransportQUIC
	transportWebTransport = frameconn.TransportWebTransport
	transportTCP          = frameconn.TransportTCP
	transportTLS          = frameconn.TransportTLS
	transportWS           = frameconn.TransportWS
	transportWSS          = frameconn.TransportWSS
)

// quicIdleTimeout is the QUIC idle timeout the client offers. The effective
// one is the lower of both ends', so a generous value leaves the choice to the
// edge, which sizes it to its ping interval; dead peers are detected by the
// application heartbeat anyway.
const quicIdleTimeout = 2 * time.Minute

// endpoint is one parsed URL of an edge's endpoints.
type endpoint struct {
	url        string // as given, for errors and logs
	name       string // transport name
	addr       string // host:port to dial
	serverName string // TLS server name
	target     string // URL for the WebSocket and WebTransport handshakes
	timeout    time.Duration
	dial       func(ctx context.Context, ep *endpoint, p dialParams) (transport, error)
}

// dialParams carries the client settings a transport needs to dial.
type dialParams struct {
	tls          *tls.Config // the client's config, with pinning and tickets; cloned per dial
	maxFrame     int         // largest inbound frame
	writeTimeout time.Duration
	early        bool          // raw QUIC dials early, for 0-RTT
	keepAlive    time.Duration // QUIC keep-alive period; 0: none
}

// newDialParams derives the dial settings from the options, once in New.
func newDialParams(o *options) dialParams {
	cfg := clientTLS(o.tls, o.certHashes)
	switch {
	case o.sessionsSet:
		cfg.ClientSessionCache = o.sessions
	case cfg.ClientSessionCache == nil:
		cfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
	}
	return dialParams{tls: cfg, maxFrame: o.maxFrame, writeTimeout: o.requestTimeout, early: !o.no0RTT, keepAlive: o.quicKeepAlive}
}

// parseEdges parses the endpoint list given to New: one element per edge,
// holding that edge's endpoint URLs separated by white space, in preference
// order. dialTimeout zero means the default of each transport.
func parseEdges(elems []string, dialTimeout time.Duration) ([][]endpoint, error) {
	if len(elems) == 0 {
		return nil, errors.New("quicpush: no endpoint")
	}
	edges := make([][]endpoint, 0, len(elems))
	for i, elem := range elems {
		urls := strings.Fields(elem)
		if len(urls) == 0 {
			return nil, fmt.Errorf("quicpush: endpoints[%d] %q: no endpoint URL", i, elem)
		}
		eps := make([]endpoint, 0, len(urls))
		for _, raw := range urls {
			ep, err := parseEndpoint(raw, dialTimeout)
			if err != nil {
				if len(urls) == 1 {
					return nil, fmt.Errorf("quicpush: endpoints[%d]: %w", i, err)
				}
				return nil, fmt.Errorf("quicpush: endpoints[%d] %q: %w", i, elem, err)
			}
			eps = append(eps, ep)
		}
		edges = append(edges, eps)
	}
	return edges, nil
}

// parseEndpoint parses one endpoint URL. dialTimeout zero means the default of
// the transport.
func parseEndpoint(raw string, dialTimeout time.Duration) (endpoint, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return endpoint{}, fmt.Errorf("endpoint %q: %w", raw, err)
	}
	if u.Host == "" {
		return endpoint{}, fmt.Errorf("endpoint %q: no host", raw)
	}
	ep := endpoint{url: raw, addr: u.Host, serverName: u.Hostname(), timeout: DefaultStreamDialTimeout}
	needPort := true
	switch u.Scheme {
	case "quic":
		ep.name, ep.dial, ep.timeout = transportQUIC, dialQUIC, DefaultDatagramDialTimeout
	case "webtransport", "https":
		ep.name, ep.dial, ep.timeout = transportWebTransport, dialWebTransport, DefaultDatagramDialTimeout
		if u.Port() == "" {
			ep.addr = net.JoinHostPort(u.Hostname(), "443")
		}
		t := *u
		t.Scheme, t.Host = "https", ep.addr
		ep.target = t.String()
		needPort = false
	case "tcp":
		ep.name, ep.dial = transportTCP, dialTCP
	case "tls":
		ep.name, ep.dial = transportTLS, dialTLS
	case "ws", "wss":
		ep.name, ep.dial, ep.target = u.Scheme, dialWS, raw
		needPort = false
	default:
		return endpoint{}, fmt.Errorf("endpoint %q: unknown scheme %q (want quic, webtransport, https, tcp, tls, ws or wss)", raw, u.Scheme)
	}
	if needPort && u.Port() == "" {
		return endpoint{}, fmt.Errorf("endpoint %q: no port", raw)
	}
	if dialTimeout > 0 {
		ep.timeout = dialTimeout
	}
	return ep, nil
}

// clientTLS builds the base TLS config of the client from the options.
func clientTLS(base *tls.Config, hashes [][]byte) *tls.Config {
	var cfg *tls.Config
	if base != nil {
		cfg = base.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if len(hashes) == 0 {
		return cfg
	}
	// Chain and name checks are replaced, not added to: a pinned certificate
	// is typically self-signed and short-lived, as for browsers'
	// serverCertificateHashes.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return fmt.Errorf("%w: no certificate", ErrCertificateHash)
		}
		leaf := cs.PeerCertificates[0]
		sum := sha256.Sum256(leaf.Raw)
		for _, h := range hashes {
			if subtle.ConstantTimeCompare(sum[:], h) == 1 {
				if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
					return fmt.Errorf("quicpush: pinned certificate is not valid now (valid %v to %v)", leaf.NotBefore, leaf.NotAfter)
				}
				return nil
			}
		}
		return fmt.Errorf("%w: got %x", ErrCertificateHash, sum)
	}
	return cfg
}
