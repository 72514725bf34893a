package frameconn

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/wire"
)

// DialQUIC dials a raw QUIC edge at addr (host:port) with ALPN wire.ALPN
// and opens the connection's one bidirectional stream. The edge sees the
// stream with its first bytes, normally the Auth frame. With o.Early the
// dial is early and those bytes may travel as 0-RTT data: see Options.Early.
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
		if o.Early {
			conn, err = o.QUICTransport.DialEarly(ctx, ua, tlsConf, o.QUICConfig)
		} else {
			conn, err = o.QUICTransport.Dial(ctx, ua, tlsConf, o.QUICConfig)
		}
		if err != nil {
			return nil, err
		}
	} else {
		if o.Early {
			conn, err = quic.DialAddrEarly(ctx, addr, tlsConf, o.QUICConfig)
		} else {
			conn, err = quic.DialAddr(ctx, addr, tlsConf, o.QUICConfig)
		}
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

// Retry0RTT carries on after the server rejected the 0-RTT data of an early
// raw QUIC dial (a read or write failed with quic.Err0RTTRejected): it waits
// for the handshake to complete and opens a new stream, on which everything
// written before must be written again, since the server saw none of it. It
// must not run concurrently with ReadFrame or WriteFrame. ctx bounds the
// wait.
func (c *Conn) Retry0RTT(ctx context.Context) error {
	if c.qconn == nil {
		return errors.New("frameconn: 0-RTT retry on a connection that is not raw QUIC")
	}
	conn, err := c.qconn.NextConnection(ctx)
	if err != nil {
		return c.end.err(err)
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return c.end.err(err)
	}
	c.attach(str)
	return nil
}

// quicEnder closes a raw QUIC connection.
type quicEnder struct{ conn *quic.Conn }

func (e quicEnder) close(code wire.Code, reason string) error {
	return e.conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
}

func (quicEnder) err(err error) error { return quicError(err) }
