package frameconn

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quicpush/quicpush/wire"
)

// wsCloseTimeout bounds the write of the close frame on Close: the frame is a
// courtesy, and Close must not wait on a stuck peer.
const wsCloseTimeout = 100 * time.Millisecond

// maxKeptWriteBuffer bounds the write buffer a WebSocket connection keeps
// between writes; frames from clients are small, so it is rarely exceeded.
const maxKeptWriteBuffer = 4 << 10

// DialWebSocket dials a WebSocket edge at rawURL (ws://host:port/ws or
// wss://...) with the subprotocol wire.WebSocketProtocol, and fails if the
// server does not select it.
func DialWebSocket(ctx context.Context, rawURL string, o Options) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("frameconn: %w", err)
	}
	name := TransportWS
	bufSize := o.readBuffer(DefaultReadBufferSize)
	if bufSize == 0 {
		bufSize = DefaultReadBufferSize
	}
	d := ws.Dialer{Protocols: []string{wire.WebSocketProtocol}, ReadBufferSize: bufSize, NetDial: o.NetDial}
	if u.Scheme == "wss" {
		name = TransportWSS
		d.TLSConfig = o.tlsFor(u.Hostname(), "")
	}
	conn, br, hs, err := d.Dial(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	if hs.Protocol != wire.WebSocketProtocol {
		_ = conn.Close()
		return nil, fmt.Errorf("frameconn: server did not select the %s subprotocol", wire.WebSocketProtocol)
	}
	if br == nil { // br holds what the server sent right after the handshake
		br = bufio.NewReaderSize(conn, bufSize)
	}
	return newWebSocketConn(name, conn, br, &o), nil
}

// newWebSocketConn returns a Conn on the upgraded connection conn, whose
// bytes from the server are read from br.
func newWebSocketConn(name string, conn net.Conn, br *bufio.Reader, o *Options) *Conn {
	w := &wsConn{conn: conn, writeTimeout: o.WriteTimeout, msgs: o.ReadCounter}
	maxFrame := o.MaxFrame
	if maxFrame <= 0 {
		maxFrame = wire.DefaultMaxFrame
	}
	w.msg = wsMessage{w: w, src: br, maxFrame: maxFrame}
	c := &Conn{transport: name, str: conn, end: w, ws: w, writeTimeout: o.WriteTimeout}
	c.fr = wire.NewFrameReader(&w.msg, o.MaxFrame)
	return c
}

// wsConn carries frames in binary WebSocket messages: the client sends one
// message per write, the edge may pack several whole frames into one. A
// message is read as a stream, so its size is bounded only by the frames in
// it and nothing is buffered beyond the largest frame.
type wsConn struct {
	conn         net.Conn
	msg          wsMessage
	msgs         *atomic.Int64 // counts data messages, if set
	writeTimeout time.Duration

	// mu serializes writes to conn: the client's messages, and the pongs
	// and close replies the reader sends on its own.
	mu         sync.Mutex
	wbuf       []byte
	peerClosed bool // a close frame was answered; no second one is sent
}

// readFrame returns the next frame of the current message, reading the
// next message's first header when the current one has ended. fr reads from
// w.msg.
func (w *wsConn) readFrame(fr *wire.FrameReader) (wire.Header, []byte, error) {
	for {
		if w.msg.active {
			if h, body, ok, err := w.msg.buffered(); ok || err != nil {
				if err != nil {
					return wire.Header{}, nil, w.err(err)
				}
				return h, body, nil
			}
			h, body, err := fr.ReadFrame()
			switch {
			case err == nil:
				return h, body, nil
			case errors.Is(err, io.EOF): // only the end of the message, between frames
				w.msg.active = false
				continue
			case errors.Is(err, io.ErrUnexpectedEOF) && w.msg.ended():
				return wire.Header{}, nil, fmt.Errorf("%w: frame cut at the end of a WebSocket message", wire.ErrMalformed)
			default:
				return wire.Header{}, nil, w.err(err)
			}
		}
		hdr, err := w.msg.nextHeader(false)
		if err != nil {
			return wire.Header{}, nil, w.err(err)
		}
		if hdr.OpCode.IsControl() {
			if err := w.msg.control(hdr); err != nil {
				return wire.Header{}, nil, w.err(err)
			}
			continue
		}
		if hdr.OpCode != ws.OpBinary {
			return wire.Header{}, nil, fmt.Errorf("%w: WebSocket message of opcode %d, want binary", wire.ErrMalformed, hdr.OpCode)
		}
		w.msg.begin(hdr)
		if w.msgs != nil {
			w.msgs.Add(1)
		}
	}
}

// err turns a close frame into *CloseError; the control handler has answered
// it, so Close sends no second one.
func (w *wsConn) err(err error) error {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		w.mu.Lock()
		w.peerClosed = true
		w.mu.Unlock()
	}
	return webSocketError(err)
}

// writeMessage writes b as one masked binary message, header and payload
// in one write.
func (w *wsConn) writeMessage(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	mask := ws.NewMask()
	out := appendClientHeader(w.wbuf[:0], ws.OpBinary, len(b), mask)
	n := len(out)
	out = append(out, b...)
	ws.Cipher(out[n:], mask, 0)
	if cap(out) <= maxKeptWriteBuffer {
		w.wbuf = out[:0]
	}
	return w.write(out)
}

// write writes b with the write timeout; w.mu is held.
func (w *wsConn) write(b []byte) error {
	if w.writeTimeout > 0 {
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.writeTimeout))
	}
	_, err := w.conn.Write(b)
	return err
}

// close sends a close frame with code (0: normal closure) and closes the
// connection. It skips the frame if a write holds the connection: it may be
// the very write that is stuck.
func (w *wsConn) close(code wire.Code, reason string) error {
	if w.mu.TryLock() {
		if !w.peerClosed {
			status := ws.StatusNormalClosure
			if code != 0 {
				status = ws.StatusCode(code)
			}
			body := ws.NewCloseFrameBody(status, closeReason(reason))
			mask := ws.NewMask()
			out := append(appendClientHeader(nil, ws.OpClose, len(body), mask), body...)
			ws.Cipher(out[len(out)-len(body):], mask, 0)
			_ = w.conn.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
			_, _ = w.conn.Write(out)
		}
		w.mu.Unlock()
	}
	return w.conn.Close()
}

// appendClientHeader appends the header of a final, masked frame of n
// payload bytes, as a client sends them (RFC 6455, section 5.2).
func appendClientHeader(dst []byte, op ws.OpCode, n int, mask [4]byte) []byte {
	dst = append(dst, 0x80|byte(op))
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 0x80|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, mask[:]...)
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

// wsMessage reads the payload of the current message across its fragments,
// handling control frames between them, and reports io.EOF at its end. The
// server's bytes are parsed here, with nothing allocated per message.
type wsMessage struct {
	w        *wsConn
	src      *bufio.Reader
	maxFrame int
	hdr      [ws.MaxHeaderSize - 2]byte
	active   bool  // a data message is being read
	left     int64 // payload bytes left in the current frame
	fin      bool  // the current frame is the message's last
}

// buffered returns the next frame without copying it when it lies whole in
// the read buffer and in the current WebSocket frame, as the frames of a
// batch do: the body is valid until the next read. ok is false, and nothing
// consumed, when the frame reader must take the slow path.
func (m *wsMessage) buffered() (h wire.Header, body []byte, ok bool, err error) {
	if m.left < wire.HeaderSize || m.src.Buffered() < wire.HeaderSize {
		return h, nil, false, nil
	}
	b, _ := m.src.Peek(wire.HeaderSize)
	if h, err = wire.ParseHeader(b, m.maxFrame); err != nil {
		return h, nil, false, err
	}
	n := h.FrameSize()
	if int64(n) > m.left || m.src.Buffered() < n {
		return h, nil, false, nil
	}
	b, _ = m.src.Peek(n)
	_, _ = m.src.Discard(n)
	m.left -= int64(n)
	if h.Len == 0 {
		return h, nil, true, nil
	}
	return h, b[wire.HeaderSize:], true, nil
}

// ended reports whether the whole message has been read.
func (m *wsMessage) ended() bool { return m.fin && m.left == 0 }

func (m *wsMessage) begin(h ws.Header) {
	m.active, m.left, m.fin = true, h.Length, h.Fin
}

func (m *wsMessage) Read(p []byte) (int, error) {
	for m.left == 0 {
		if m.fin {
			return 0, io.EOF
		}
		h, err := m.nextHeader(true)
		if err != nil {
			return 0, err
		}
		if h.OpCode.IsControl() {
			if err := m.control(h); err != nil {
				return 0, err
			}
			continue
		}
		m.left, m.fin = h.Length, h.Fin // a continuation, as CheckHeader ensured
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.src.Read(p)
	m.left -= int64(n)
	if errors.Is(err, io.EOF) {
		if n > 0 {
			err = nil
		} else {
			err = io.ErrUnexpectedEOF // the connection ended inside a WebSocket frame
		}
	}
	return n, err
}

// nextHeader reads and checks the next frame header. inMessage says a
// fragmented message is being read: the connection may not end there.
func (m *wsMessage) nextHeader(inMessage bool) (ws.Header, error) {
	h, err := ws.ReadHeaderBuffer(m.src, m.hdr[:])
	if err != nil {
		if inMessage && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return h, err
	}
	state := ws.StateClientSide
	if inMessage {
		state = state.Set(ws.StateFragmented)
	}
	if err := ws.CheckHeader(h, state); err != nil {
		return h, fmt.Errorf("%w: %w", wire.ErrMalformed, err)
	}
	return h, nil
}

// control handles a control frame: a ping is answered with a pong, a close
// with a close, which then ends the connection with wsutil.ClosedError.
func (m *wsMessage) control(h ws.Header) error {
	return wsutil.ControlHandler{
		Src:   io.LimitReader(m.src, h.Length),
		Dst:   wsControlWriter{m.w},
		State: ws.StateClientSide,
	}.Handle(h)
}

// wsControlWriter lets the control handler (pongs, close replies) write under
// the connection's write lock.
type wsControlWriter struct{ w *wsConn }

func (cw wsControlWriter) Write(b []byte) (int, error) {
	cw.w.mu.Lock()
	defer cw.w.mu.Unlock()
	if err := cw.w.write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
