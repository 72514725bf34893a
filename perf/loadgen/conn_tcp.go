package main

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/quicpush/quicpush/internal/frameconn"
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

// streamOptions are the frameconn options of connection i over TCP or
// WebSocket to addr: from its source address, with the generator's read
// buffer.
func streamOptions(dial func(ctx context.Context, addr string, i int) (net.Conn, error), i int) frameconn.Options {
	return frameconn.Options{
		ReadBufferSize: readBufSize,
		// The address is the one dialled; this picks the source.
		NetDial: func(ctx context.Context, _, addr string) (net.Conn, error) { return dial(ctx, addr, i) },
	}
}

// dialTCP dials connection i to edge first+i mod len(addrs), speaking framed
// TCP.
func dialTCP(addrs []string, first int, src []net.IP) func(ctx context.Context, i int) (link, error) {
	dial := tcpDialer(src)
	return func(ctx context.Context, i int) (link, error) {
		return linked(frameconn.DialTCP(ctx, edgeFor(addrs, first, i), streamOptions(dial, i)))
	}
}

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
