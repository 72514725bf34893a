package quicpush

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/wire"
)

// quicTransport carries the frame stream on the one bidirectional stream of a
// raw QUIC connection (ALPN quicpush/1).
type quicTransport struct {
	conn         *quic.Conn
	str          *quic.Stream
	fr           *wire.FrameReader
	writeTimeout time.Duration
	once         sync.Once
}

func dialQUIC(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	conn, err := quic.DialAddr(ctx, ep.addr, p.tlsFor(ep, wire.ALPN), &quic.Config{
		HandshakeIdleTimeout: ep.timeout,
		MaxIdleTimeout:       quicIdleTimeout,
		// No QUIC keep-alives: the client pings at the interval the edge
		// asks for, which also proves the session, not just the path, alive.
		KeepAlivePeriod: 0,
	})
	if err != nil {
		return nil, err
	}
	// The stream reaches the edge with its first bytes, the Auth frame.
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		_ = conn.CloseWithError(0, "")
		return nil, err
	}
	return &quicTransport{conn: conn, str: str, fr: wire.NewFrameReader(str, p.maxFrame), writeTimeout: p.writeTimeout}, nil
}

func (t *quicTransport) writeFrame(frame []byte) error {
	if t.writeTimeout > 0 {
		_ = t.str.SetWriteDeadline(time.Now().Add(t.writeTimeout))
	}
	_, err := t.str.Write(frame)
	return quicError(err)
}

func (t *quicTransport) readFrame() (wire.Header, []byte, error) {
	h, body, err := t.fr.ReadFrame()
	return h, body, quicError(err)
}

func (t *quicTransport) close(code wire.Code, reason string) {
	t.once.Do(func() { _ = t.conn.CloseWithError(quic.ApplicationErrorCode(code), reason) })
}

// quicError turns an edge's close with a disconnect code into *closeError.
func quicError(err error) error {
	var ae *quic.ApplicationError
	if errors.As(err, &ae) && ae.Remote && isDisconnectCode(uint64(ae.ErrorCode)) {
		return &closeError{code: wire.Code(ae.ErrorCode), reason: ae.ErrorMessage}
	}
	return err
}
