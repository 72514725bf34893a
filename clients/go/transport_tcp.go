package quicpush

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"sync"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// tcpReadBuffer sizes the read buffer of stream transports: pushes arrive
// back to back, and a buffer turns two reads per frame into one per batch.
const tcpReadBuffer = 4 << 10

// tcpTransport carries the frame stream on a TCP connection, optionally
// wrapped in TLS. TCP has no close code: the Disconnect frame is the only way
// the edge says why it closed.
type tcpTransport struct {
	conn         net.Conn
	fr           *wire.FrameReader
	writeTimeout time.Duration
	once         sync.Once
}

func dialTCP(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ep.addr)
	if err != nil {
		return nil, err
	}
	return newTCPTransport(conn, p), nil
}

func dialTLS(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	d := tls.Dialer{Config: p.tlsFor(ep, "")}
	conn, err := d.DialContext(ctx, "tcp", ep.addr) // includes the handshake
	if err != nil {
		return nil, err
	}
	return newTCPTransport(conn, p), nil
}

func newTCPTransport(conn net.Conn, p dialParams) *tcpTransport {
	return &tcpTransport{
		conn:         conn,
		fr:           wire.NewFrameReader(bufio.NewReaderSize(conn, tcpReadBuffer), p.maxFrame),
		writeTimeout: p.writeTimeout,
	}
}

func (t *tcpTransport) writeFrame(frame []byte) error {
	if t.writeTimeout > 0 {
		_ = t.conn.SetWriteDeadline(time.Now().Add(t.writeTimeout))
	}
	_, err := t.conn.Write(frame)
	return err
}

func (t *tcpTransport) readFrame() (wire.Header, []byte, error) {
	return t.fr.ReadFrame()
}

func (t *tcpTransport) close(wire.Code, string) {
	t.once.Do(func() { _ = t.conn.Close() })
}
