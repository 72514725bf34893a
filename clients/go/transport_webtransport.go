package quicpush

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// wtTransport carries the frame stream on one bidirectional stream of a
// WebTransport session (HTTP/3 extended CONNECT), the transport browsers use.
type wtTransport struct {
	sess         *webtransport.Session
	str          *webtransport.Stream
	fr           *wire.FrameReader
	writeTimeout time.Duration
	once         sync.Once
}

func dialWebTransport(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	d := &webtransport.Transport{
		TLSClientConfig: p.tlsFor(ep, ""), // Dial sets the h3 ALPN
		QUICConfig: &quic.Config{
			EnableDatagrams:                  true,
			EnableStreamResetPartialDelivery: true,
			HandshakeIdleTimeout:             ep.timeout,
			MaxIdleTimeout:                   quicIdleTimeout,
		},
	}
	// Close only stops session establishment; the session outlives it.
	defer d.Close()
	_, sess, err := d.Dial(ctx, ep.target, nil)
	if err != nil {
		return nil, err
	}
	str, err := sess.OpenStreamSync(ctx)
	if err != nil {
		_ = sess.CloseWithError(0, "")
		return nil, err
	}
	return &wtTransport{sess: sess, str: str, fr: wire.NewFrameReader(str, p.maxFrame), writeTimeout: p.writeTimeout}, nil
}

func (t *wtTransport) writeFrame(frame []byte) error {
	if t.writeTimeout > 0 {
		_ = t.str.SetWriteDeadline(time.Now().Add(t.writeTimeout))
	}
	_, err := t.str.Write(frame)
	return wtError(err)
}

func (t *wtTransport) readFrame() (wire.Header, []byte, error) {
	h, body, err := t.fr.ReadFrame()
	return h, body, wtError(err)
}

// close closes the session; webtransport-go then closes the QUIC connection
// it dialled for it.
func (t *wtTransport) close(code wire.Code, reason string) {
	t.once.Do(func() { _ = t.sess.CloseWithError(webtransport.SessionErrorCode(code), reason) })
}

// wtError turns an edge's close with a disconnect code into *closeError, be it
// a session close or a close of the whole QUIC connection.
func wtError(err error) error {
	var se *webtransport.SessionError
	if errors.As(err, &se) && se.Remote && isDisconnectCode(uint64(se.ErrorCode)) {
		return &closeError{code: wire.Code(se.ErrorCode), reason: se.Message}
	}
	return quicError(err)
}
