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
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("frameconn: %w", err)
	}
	tr := o.QUICTransport
	if tr == nil {
		// A socket of its own, on a Transport of its own rather than
		// quic.DialAddr's, so that the connection can move to another
		// socket (Conn.AddPath) on a Transport of the same kind: see
		// SoloTransport.
		if tr, err = ownTransport(ua); err != nil {
			return nil, err
		}
	}
	dial := tr.Dial
	if o.Early {
		dial = tr.DialEarly
	}
	conn, err := dial(ctx, ua, tlsConf, o.QUICConfig)
	if err != nil {
		if o.QUICTransport == nil {
			_ = tr.Close()
		}
		return nil, err
	}
	if o.QUICTransport == nil {
		context.AfterFunc(conn.Context(), func() { _ = tr.Close() })
	}
	if o.Early && raceDetector {
		// quic-go (v0.64, issue 4303) opens a stream during 0-RTT from the
		// transport parameters remembered with the ticket while its
		// connection goroutine replaces them with the server's, unlocked:
		// a pointer swap the race detector reports. Built with it, the
		// stream waits for the handshake (no 0-RTT data, Used0RTT still
		// reports the server's acceptance); the 0-RTT data path itself is
		// tested without it (make test-0rtt).
		select {
		case <-conn.HandshakeComplete():
		case <-ctx.Done():
			_ = conn.CloseWithError(0, "")
			return nil, ctx.Err()
		}
	}
	str, err := conn.OpenStreamSync(ctx)
	if o.Early && raceDetector && errors.Is(err, quic.Err0RTTRejected) {
		// Past the handshake already: what a caller would do on the
		// stream's first read (Retry0RTT), done here.
		if conn, err = conn.NextConnection(ctx); err == nil {
			str, err = conn.OpenStreamSync(ctx)
		}
	}
	if err != nil {
		_ = conn.CloseWithError(0, "")
		return nil, err
	}
	c := newConn(TransportQUIC, str, quicEnder{conn}, &o, o.readBuffer(0))
	c.qconn = conn
	return c, nil
}

// MovePath moves a raw QUIC connection to a new network path whose socket
// is pc (one bound to the new network): it probes the edge from pc (QUIC path
// validation), switches the connection to it once the edge has answered, and
// abandons the path it left. pc then serves the connection until the
// connection ends: quic-go keeps a connection registered with every path's
// transport, so none can be closed earlier. On failure the connection stays
// on its path and pc is closed. ctx bounds the probe. Calls must not run
// concurrently.
//
// Abandoning the path left retires the edge's connection ID it used, so that
// the edge issues another: quic-go (v0.64) does not retire it on a switch,
// and a client out of IDs after a few moves could no longer probe a path.
func (c *Conn) MovePath(ctx context.Context, pc *net.UDPConn) error {
	if c.qconn == nil {
		_ = pc.Close()
		return fmt.Errorf("frameconn: a %s connection cannot change paths", c.transport)
	}
	tr := SoloTransport(pc)
	path, err := c.qconn.AddPath(tr)
	if err != nil {
		_ = tr.Close()
		return fmt.Errorf("frameconn: add path: %w", err)
	}
	if err = path.Probe(ctx); err == nil {
		err = path.Switch()
	}
	if err != nil {
		_ = path.Close()
		_ = tr.Close()
		return fmt.Errorf("frameconn: move path: %w", err)
	}
	context.AfterFunc(c.qconn.Context(), func() { _ = tr.Close() })
	if c.path != nil {
		_ = c.path.Close()
	}
	c.path = path
	return nil
}

// ownTransport returns a QUIC transport on a new UDP socket for one
// connection to remote.
func ownTransport(remote *net.UDPAddr) (*quic.Transport, error) {
	local := &net.UDPAddr{IP: net.IPv4zero}
	if remote.IP.To4() == nil {
		local.IP = net.IPv6unspecified
	}
	udp, err := net.ListenUDP("udp", local)
	if err != nil {
		return nil, fmt.Errorf("frameconn: %w", err)
	}
	return SoloTransport(udp), nil
}

// SoloTransport returns a QUIC transport on conn for a single connection,
// which gives itself zero-length connection IDs, as quic.DialAddr does: the
// socket identifies the connection. A client connection's path to the edge
// then survives any number of NAT rebindings: with IDs of its own, each move
// the edge follows takes one of the spare IDs the client gave it, and quic-go
// (v0.64) never retires the one of the path it leaves, so the third move
// finds none left and the edge stops sending. The sockets of the
// connection's new paths (Conn.AddPath) must be SoloTransports too: a
// transport reads a packet's connection ID at its own length.
func SoloTransport(conn net.PacketConn) *quic.Transport {
	return &quic.Transport{Conn: conn, ConnectionIDGenerator: soloIDs{}}
}

// soloIDs generates the zero-length connection IDs of a SoloTransport.
type soloIDs struct{}

func (soloIDs) GenerateConnectionID() (quic.ConnectionID, error) { return quic.ConnectionID{}, nil }
func (soloIDs) ConnectionIDLen() int                             { return 0 }

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
