package frameconn

import (
	"context"
	"fmt"
	"net"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/wire"
)

// DialQUIC dials a raw QUIC edge at addr (host:port) with ALPN wire.ALPN
// and opens the connection's one bidirectional stream. The edge sees the
// stream with its first bytes, normally the Auth frame.
func DialQUIC(ctx context.Context, addr string, o Options) (*Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("frameconn: %w", err)
	}
	tlsConf := o.tlsFor(host, wire.ALPN)
	var conn *quic.Conn
	if o.QUICTransport != nil {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		conn, err = o.QUICTransport.Dial(ctx, ua, tlsConf, o.QUICConfig)
		if err != nil {
			return nil, err
		}
	} else {
		conn, err = quic.DialAddr(ctx, addr, tlsConf, o.QUICConfig)
		if err != nil {
			return nil, err
		}
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		_ = conn.CloseWithError(0, "")
		return nil, err
	}
	c := newConn(TransportQUIC, str, quicEnder{conn}, &o, o.readBuffer(0))
	c.qconn = conn
	return c, nil
}

// quicEnder closes a raw QUIC connection.
type quicEnder struct{ conn *quic.Conn }

func (e quicEnder) close(code wire.Code, reason string) error {
	return e.conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
}

func (quicEnder) err(err error) error { return quicError(err) }
