package quicpush

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quicpush/quicpush/wire"
)

// wsCloseTimeout bounds the write of the close frame when the client closes:
// the frame is a courtesy, and Close must not wait on a stuck peer.
const wsCloseTimeout = 100 * time.Millisecond

// wsTransport carries frames in binary WebSocket messages: the client sends
// one frame per message, the edge may pack several whole frames into one. A
// message is read as a stream, so its size is bounded only by the frames in
// it and nothing is buffered beyond the largest frame.
type wsTransport struct {
	conn         net.Conn
	rd           *wsutil.Reader
	msg          wsMessage
	fr           *wire.FrameReader
	control      wsutil.FrameHandlerFunc
	inMessage    bool
	writeTimeout time.Duration

	// mu serializes writes to conn: frames from the client, and pongs and
	// close replies the reader sends on its own.
	mu         sync.Mutex
	wbuf       []byte
	peerClosed bool // a close frame was answered; no second one is sent
	once       sync.Once
}

func dialWS(ctx context.Context, ep *endpoint, p dialParams) (transport, error) {
	d := ws.Dialer{Protocols: []string{wire.WebSocketProtocol}}
	if ep.name == transportWSS {
		d.TLSConfig = p.tlsFor(ep, "")
	}
	conn, br, hs, err := d.Dial(ctx, ep.target)
	if err != nil {
		return nil, err
	}
	if hs.Protocol != wire.WebSocketProtocol {
		_ = conn.Close()
		return nil, fmt.Errorf("quicpush: server did not select the %s subprotocol", wire.WebSocketProtocol)
	}
	t := &wsTransport{conn: conn, writeTimeout: p.writeTimeout}
	src := br // holds what the server sent right after the handshake
	if src == nil {
		src = bufio.NewReaderSize(conn, tcpReadBuffer)
	}
	t.control = wsutil.ControlFrameHandler(wsControlWriter{t}, ws.StateClientSide)
	t.rd = &wsutil.Reader{Source: src, State: ws.StateClientSide, OnIntermediate: t.control}
	t.msg.rd = t.rd
	t.fr = wire.NewFrameReader(&t.msg, p.maxFrame)
	return t, nil
}

func (t *wsTransport) writeFrame(frame []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	// Header and masked payload go out in one write.
	h := ws.Header{Fin: true, OpCode: ws.OpBinary, Masked: true, Mask: ws.NewMask(), Length: int64(len(frame))}
	buf := bytes.NewBuffer(t.wbuf[:0])
	if err := ws.WriteHeader(buf, h); err != nil {
		return err
	}
	n := buf.Len()
	buf.Write(frame)
	out := buf.Bytes()
	ws.Cipher(out[n:], h.Mask, 0)
	if cap(out) <= tcpReadBuffer {
		t.wbuf = out[:0]
	}
	return t.write(out)
}

// write writes b with the write timeout; t.mu is held.
func (t *wsTransport) write(b []byte) error {
	if t.writeTimeout > 0 {
		_ = t.conn.SetWriteDeadline(time.Now().Add(t.writeTimeout))
	}
	_, err := t.conn.Write(b)
	return err
}

func (t *wsTransport) readFrame() (wire.Header, []byte, error) {
	for {
		if t.inMessage {
			h, body, err := t.fr.ReadFrame()
			switch {
			case err == nil:
				return h, body, nil
			case errors.Is(err, io.EOF): // the message ended between frames
				t.inMessage = false
				continue
			case errors.Is(err, io.ErrUnexpectedEOF):
				return wire.Header{}, nil, fmt.Errorf("%w: frame cut at the end of a WebSocket message", wire.ErrMalformed)
			default:
				return wire.Header{}, nil, t.readError(err)
			}
		}
		hdr, err := t.rd.NextFrame()
		if err != nil {
			return wire.Header{}, nil, t.readError(err)
		}
		if hdr.OpCode.IsControl() {
			if err := t.control(hdr, t.rd); err != nil {
				return wire.Header{}, nil, t.readError(err)
			}
			continue
		}
		if hdr.OpCode != ws.OpBinary {
			return wire.Header{}, nil, fmt.Errorf("%w: WebSocket message of opcode %d, want binary", wire.ErrMalformed, hdr.OpCode)
		}
		t.msg.eof = false
		t.inMessage = true
	}
}

// readError turns a close frame with a disconnect code into *closeError.
func (t *wsTransport) readError(err error) error {
	var ce wsutil.ClosedError
	if !errors.As(err, &ce) {
		return err
	}
	t.mu.Lock()
	t.peerClosed = true // the control handler has answered it
	t.mu.Unlock()
	if isDisconnectCode(uint64(ce.Code)) {
		return &closeError{code: wire.Code(ce.Code), reason: ce.Reason}
	}
	return err
}

func (t *wsTransport) close(code wire.Code, reason string) {
	t.once.Do(func() {
		// Skip the close frame if a write holds the connection: it may be
		// the very write that is stuck.
		if t.mu.TryLock() {
			if !t.peerClosed {
				status := ws.StatusNormalClosure
				if code != 0 {
					status = ws.StatusCode(code)
				}
				var buf bytes.Buffer
				f := ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(status, closeReason(reason))))
				if ws.WriteFrame(&buf, f) == nil {
					_ = t.conn.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
					_, _ = t.conn.Write(buf.Bytes())
				}
			}
			t.mu.Unlock()
		}
		_ = t.conn.Close()
	})
}

// closeReason cuts reason to the 123 bytes a close frame holds, on a rune
// boundary so the peer's UTF-8 check passes.
func closeReason(reason string) string {
	const limit = 123
	if len(reason) <= limit {
		return reason
	}
	i := limit
	for i > 0 && !utf8.RuneStart(reason[i]) {
		i--
	}
	return reason[:i]
}

// wsMessage reads the payload of the current message and then reports io.EOF
// until the next message starts. wsutil.Reader returns the end of a message
// together with its last bytes and fails the call after, so the frame reader
// would otherwise see no clean end.
type wsMessage struct {
	rd  *wsutil.Reader
	eof bool
}

func (m *wsMessage) Read(p []byte) (int, error) {
	if m.eof {
		return 0, io.EOF
	}
	n, err := m.rd.Read(p)
	if errors.Is(err, io.EOF) {
		m.eof = true
		if n > 0 {
			err = nil
		}
	}
	return n, err
}

// wsControlWriter lets the reader's control handler (pongs, close replies)
// write under the transport's write lock.
type wsControlWriter struct{ t *wsTransport }

func (w wsControlWriter) Write(b []byte) (int, error) {
	w.t.mu.Lock()
	defer w.t.mu.Unlock()
	if err := w.t.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
