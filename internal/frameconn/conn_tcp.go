package frameconn

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"github.com/quicpush/quicpush/wire"
)

// DialTCP dials a framed TCP edge at addr (host:port).
func DialTCP(ctx context.Context, addr string, o Options) (*Conn, error) {
	conn, err := o.netDial(ctx, addr)
	if err != nil {
		return nil, err
	}
	return newConn(TransportTCP, conn, netEnder{conn}, &o, o.readBuffer(DefaultReadBufferSize)), nil
}

// DialTLS dials a framed TCP edge at addr (host:port) over TLS; it returns
// once the TLS handshake is done.
func DialTLS(ctx context.Context, addr string, o Options) (*Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("frameconn: %w", err)
	}
	raw, err := o.netDial(ctx, addr)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, o.tlsFor(host, ""))
	if err := conn.HandshakeContext(ctx); err != nil {
		_ = raw.Close()
		return nil, err
	}
	return newConn(TransportTLS, conn, netEnder{conn}, &o, o.readBuffer(DefaultReadBufferSize)), nil
}

// netEnder closes a TCP or TLS connection. TCP has no close code: the
// Disconnect frame is the only way an edge says why it closed.
type netEnder struct{ conn net.Conn }

func (e netEnder) close(wire.Code, string) error { return e.conn.Close() }

func (netEnder) err(err error) error { return err }
