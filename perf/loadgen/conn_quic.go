package main

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/internal/frameconn"
)

// quicPool is a few UDP sockets shared by every QUIC connection of the
// generator: quic-go multiplexes connections on one socket by connection ID,
// so thousands of clients need neither thousands of file descriptors nor a
// read goroutine each. Connection i goes to edge first+i mod len(addrs).
type quicPool struct {
	trs   []*quic.Transport
	addrs []*net.UDPAddr
	byStr map[string]*net.UDPAddr
	first int
	next  atomic.Uint64
}

func newQUICPool(addrs []string, first, sockets int, src []net.IP) (*quicPool, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no edge address for QUIC")
	}
	p := &quicPool{first: first, byStr: map[string]*net.UDPAddr{}}
	for _, a := range addrs {
		ua, err := net.ResolveUDPAddr("udp", a)
		if err != nil {
			return nil, err
		}
		p.addrs = append(p.addrs, ua)
		p.byStr[a] = ua
	}
	for i := range max(sockets, 1) {
		la := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
		if len(src) > 0 {
			la.IP = src[i%len(src)]
		}
		uc, err := net.ListenUDP("udp", la)
		if err != nil {
			p.close()
			return nil, err
		}
		p.trs = append(p.trs, &quic.Transport{Conn: uc})
	}
	return p, nil
}

func (p *quicPool) transport() *quic.Transport {
	return p.trs[p.next.Add(1)%uint64(len(p.trs))]
}

// edge returns the edge connection i dials.
func (p *quicPool) edge(i int) *net.UDPAddr { return p.addrs[(p.first+i)%len(p.addrs)] }

// edgeURL returns the WebTransport URL of the edge connection i dials.
func (p *quicPool) edgeURL(i int) string { return "https://" + p.edge(i).String() + "/wt" }

// ports returns the local ports of the pool's sockets.
func (p *quicPool) ports() map[int]bool {
	m := make(map[int]bool, len(p.trs))
	for _, tr := range p.trs {
		m[tr.Conn.LocalAddr().(*net.UDPAddr).Port] = true
	}
	return m
}

func (p *quicPool) close() {
	for _, tr := range p.trs {
		_ = tr.Close()
		_ = tr.Conn.Close()
	}
}

// clientQUICConfig is what both QUIC transports dial with. The idle timeout
// only has to outlast the generator's pings, sent every half interval.
func clientQUICConfig() *quic.Config {
	return &quic.Config{
		HandshakeIdleTimeout:             handshakeTimeout,
		MaxIdleTimeout:                   90 * time.Second,
		EnableDatagrams:                  true,
		EnableStreamResetPartialDelivery: true,
	}
}

// clientTLS trusts the spawned server's fresh self-signed certificate;
// frameconn sets the ALPN of each transport.
func clientTLS() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true}
}

// options are the frameconn options of one QUIC or WebTransport
// connection: on one of the pool's sockets, with the generator's read buffer.
func (p *quicPool) options(tlsConf *tls.Config, qconf *quic.Config) frameconn.Options {
	return frameconn.Options{TLS: tlsConf, QUICConfig: qconf, QUICTransport: p.transport(), ReadBufferSize: readBufSize}
}

// dialQUIC dials raw QUIC: one bidirectional stream per connection.
func dialQUIC(p *quicPool) func(ctx context.Context, i int) (link, error) {
	tlsConf, qconf := clientTLS(), clientQUICConfig()
	return func(ctx context.Context, i int) (link, error) {
		return linked(frameconn.DialQUIC(ctx, p.edge(i).String(), p.options(tlsConf, qconf)))
	}
}

// quicEnd names the end of a QUIC connection: the application error code
// the edge closed it with, a timeout, or the stream's end.
func quicEnd(err error) string {
	var ae *quic.ApplicationError
	var ie *quic.IdleTimeoutError
	var se *quic.StreamError
	switch {
	case errors.As(err, &ae):
		return "quic close " + strconv.FormatUint(uint64(ae.ErrorCode), 10)
	case errors.As(err, &ie):
		return "quic idle timeout"
	case errors.As(err, &se):
		return "quic stream reset " + strconv.FormatUint(uint64(se.ErrorCode), 10)
	}
	return streamEnd(err)
}

// dialWebTransport dials quicpush over WebTransport: one session per QUIC
// connection, one bidirectional stream in it.
func dialWebTransport(p *quicPool) func(ctx context.Context, i int) (link, error) {
	tlsConf, qconf := clientTLS(), clientQUICConfig()
	return func(ctx context.Context, i int) (link, error) {
		// Dial fails on any status but 2xx.
		return linked(frameconn.DialWebTransport(ctx, p.edgeURL(i), p.options(tlsConf, qconf)))
	}
}

// webTransportEnd names the end of a WebTransport session: the code the
// edge closed it with, or the end of its QUIC connection.
func webTransportEnd(err error) string {
	var se *webtransport.SessionError
	if errors.As(err, &se) {
		return "webtransport close " + strconv.FormatUint(uint64(se.ErrorCode), 10)
	}
	return quicEnd(err)
}
