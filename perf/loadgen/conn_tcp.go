package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// sourceAddrs returns k loopback source addresses starting after base:
// 127.0.0.(base+2) to 127.0.0.(base+k+1), continuing into 127.0.1.x past
// 255. Spreading connections over them multiplies the ephemeral ports
// available to one destination; worker processes get disjoint ranges.
func sourceAddrs(base, k int) []net.IP {
	ips := make([]net.IP, k)
	for i := range ips {
		j := base + i + 2
		ips[i] = net.IPv4(127, 0, byte(j>>8), byte(j))
	}
	return ips
}

// tcpDialer dials addr for connection i from source address i mod len(src).
func tcpDialer(src []net.IP) func(ctx context.Context, addr string, i int) (net.Conn, error) {
	return func(ctx context.Context, addr string, i int) (net.Conn, error) {
		d := net.Dialer{Timeout: handshakeTimeout}
		if len(src) > 0 {
			d.LocalAddr = &net.TCPAddr{IP: src[i%len(src)]}
		}
		return d.DialContext(ctx, "tcp", addr)
	}
}

// tcpLink speaks framed TCP.
type tcpLink struct {
	c  net.Conn
	cr countingReader
	fr *wire.FrameReader
}

// dialTCP dials connection i to edge first+i mod len(addrs).
func dialTCP(addrs []string, first int, src []net.IP) func(ctx context.Context, i int) (link, error) {
	dial := tcpDialer(src)
	return func(ctx context.Context, i int) (link, error) {
		c, err := dial(ctx, edgeFor(addrs, first, i), i)
		if err != nil {
			return nil, err
		}
		l := &tcpLink{c: c, cr: countingReader{r: c}}
		l.fr = wire.NewFrameReader(bufio.NewReaderSize(&l.cr, readBufSize), 0)
		return l, nil
	}
}

func (l *tcpLink) write(b []byte) error               { _, err := l.c.Write(b); return err }
func (l *tcpLink) next() (wire.Header, []byte, error) { return l.fr.ReadFrame() }
func (l *tcpLink) setDeadline(t time.Time) error      { return l.c.SetDeadline(t) }
func (l *tcpLink) close()                             { _ = l.c.Close() }
func (l *tcpLink) countReads(n *atomic.Int64)         { l.cr.n = n }
func (l *tcpLink) endReason(err error) string         { return streamEnd(err) }

// streamEnd names the end of a byte stream that carried no close code.
func streamEnd(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "eof inside a frame"
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrTooLarge):
		return "bad frame"
	}
	return causeOf(err)
}
