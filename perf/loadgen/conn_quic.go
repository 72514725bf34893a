package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
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

func clientTLS(alpn string) *tls.Config {
	// The spawned server has a fresh self-signed certificate.
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpn}}
}

// quicLink speaks raw QUIC: one bidirectional stream per connection.
type quicLink struct {
	conn *quic.Conn
	str  *quic.Stream
	cr   countingReader
	fr   *wire.FrameReader
}

func dialQUIC(p *quicPool) func(ctx context.Context, i int) (link, error) {
	tlsConf, qconf := clientTLS(wire.ALPN), clientQUICConfig()
	return func(ctx context.Context, i int) (link, error) {
		conn, err := p.transport().Dial(ctx, p.edge(i), tlsConf, qconf)
		if err != nil {
			return nil, err
		}
		str, err := conn.OpenStreamSync(ctx)
		if err != nil {
			_ = conn.CloseWithError(0, "")
			return nil, err
		}
		l := &quicLink{conn: conn, str: str, cr: countingReader{r: str}}
		l.fr = wire.NewFrameReader(bufio.NewReaderSize(&l.cr, readBufSize), 0)
		return l, nil
	}
}

func (l *quicLink) write(b []byte) error               { _, err := l.str.Write(b); return err }
func (l *quicLink) next() (wire.Header, []byte, error) { return l.fr.ReadFrame() }
func (l *quicLink) setDeadline(t time.Time) error      { return l.str.SetDeadline(t) }
func (l *quicLink) close()                             { _ = l.conn.CloseWithError(0, "") }
func (l *quicLink) countReads(n *atomic.Int64)         { l.cr.n = n }
func (l *quicLink) endReason(err error) string         { return quicEnd(err) }

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

// wtLink speaks quicpush over WebTransport: one session per QUIC connection,
// one bidirectional stream in it.
type wtLink struct {
	sess *webtransport.Session
	str  *webtransport.Stream
	cr   countingReader
	fr   *wire.FrameReader
}

func dialWebTransport(p *quicPool) func(ctx context.Context, i int) (link, error) {
	tr := &webtransport.Transport{
		TLSClientConfig: clientTLS(http3.NextProtoH3),
		QUICConfig:      clientQUICConfig(),
		// addr is the URL's host, the edge's address as edgeURL wrote it.
		DialAddr: func(ctx context.Context, addr string, tlsConf *tls.Config, conf *quic.Config) (*quic.Conn, error) {
			ua, err := net.ResolveUDPAddr("udp", addr)
			if err != nil {
				return nil, err
			}
			return p.transport().DialEarly(ctx, ua, tlsConf, conf)
		},
	}
	return func(ctx context.Context, i int) (link, error) {
		// Dial fails on any status but 2xx.
		_, sess, err := tr.Dial(ctx, p.edgeURL(i), nil)
		if err != nil {
			return nil, err
		}
		str, err := sess.OpenStreamSync(ctx)
		if err != nil {
			_ = sess.CloseWithError(0, "")
			return nil, err
		}
		l := &wtLink{sess: sess, str: str, cr: countingReader{r: str}}
		l.fr = wire.NewFrameReader(bufio.NewReaderSize(&l.cr, readBufSize), 0)
		return l, nil
	}
}

func (l *wtLink) write(b []byte) error               { _, err := l.str.Write(b); return err }
func (l *wtLink) next() (wire.Header, []byte, error) { return l.fr.ReadFrame() }
func (l *wtLink) setDeadline(t time.Time) error      { return l.str.SetDeadline(t) }
func (l *wtLink) close()                             { _ = l.sess.CloseWithError(0, "") }
func (l *wtLink) countReads(n *atomic.Int64)         { l.cr.n = n }

func (l *wtLink) endReason(err error) string {
	var se *webtransport.SessionError
	if errors.As(err, &se) {
		return "webtransport close " + strconv.FormatUint(uint64(se.ErrorCode), 10)
	}
	return quicEnd(err)
}
