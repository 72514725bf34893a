package edge

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/quicpush/quicpush/wire"
)

// serveWebSocket upgrades a connection whose first bytes were an HTTP GET.
// gobwas/ws upgrades the raw connection without net/http, so a WebSocket
// costs no more than a framed TCP connection once upgraded.
func (e *Edge) serveWebSocket(c net.Conn, secure bool, deadline time.Time) {
	originSeen, protocolSeen := false, false
	u := ws.Upgrader{
		Protocol: func(p []byte) bool {
			protocolSeen = string(p) == wire.WebSocketProtocol
			return protocolSeen
		},
		OnRequest: func(uri []byte) error {
			path, _, _ := bytes.Cut(uri, []byte("?"))
			if string(path) != e.cfg.WebSocketPath {
				return ws.RejectConnectionError(ws.RejectionStatus(404), ws.RejectionReason("unknown path"))
			}
			return nil
		},
		OnHeader: func(key, value []byte) error {
			if bytes.EqualFold(key, []byte("Origin")) {
				originSeen = true
				if !e.cfg.CheckOrigin(string(value)) {
					return ws.RejectConnectionError(ws.RejectionStatus(403), ws.RejectionReason("origin not allowed"))
				}
			}
			return nil
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			// Without the subprotocol the client has not agreed to the
			// framing: every client of the project offers it, so a request
			// without it is a misconfigured client, better refused loudly
			// than upgraded into a session that fails later.
			if !protocolSeen {
				return nil, ws.RejectConnectionError(ws.RejectionStatus(400), ws.RejectionReason("subprotocol "+wire.WebSocketProtocol+" required"))
			}
			if !originSeen && !e.cfg.CheckOrigin("") {
				return nil, ws.RejectConnectionError(ws.RejectionStatus(403), ws.RejectionReason("origin required"))
			}
			return nil, nil
		},
	}
	if _, err := u.Upgrade(c); err != nil {
		e.metrics.handshakeFailures.WithLabelValues("ws").Inc()
		e.cfg.Logger.Debug("websocket upgrade failed", "err", err)
		_ = c.Close()
		return
	}
	_ = c.SetWriteDeadline(time.Time{})
	t := &wsTransport{conn: c, secure: secure, maxFrame: e.cfg.MaxFrame}
	newSession(e, t, deadline).serve()
}

// wsTransport carries a session over WebSocket: each binary message holds
// one or more whole frames in both directions.
type wsTransport struct {
	conn     net.Conn
	secure   bool
	maxFrame int
	msg      []byte // frames of the current message not yet returned
	buf      []byte // the current message
	bufs     net.Buffers
	hdr      [ws.MaxHeaderSize]byte

	// wmu orders the reader's control frames against the flusher's
	// messages. rest is what a failed plain write left unwritten (see
	// finishBatch): while it is held, a message (or control frame) is
	// broken off on the wire, and nothing may be written before its rest.
	wmu  sync.Mutex
	rest [][]byte
}

func (t *wsTransport) kind() string {
	if t.secure {
		return "wss"
	}
	return "ws"
}

func (t *wsTransport) setMaxFrame(n int) { t.maxFrame = n }

func (t *wsTransport) releaseRead() {
	if len(t.msg) == 0 {
		t.buf = nil
	}
}
func (t *wsTransport) rawReader() io.Reader               { return t.conn }
func (t *wsTransport) setReadDeadline(d time.Time) error  { return t.conn.SetReadDeadline(d) }
func (t *wsTransport) setWriteDeadline(d time.Time) error { return t.conn.SetWriteDeadline(d) }
func (t *wsTransport) remoteAddr() net.Addr               { return t.conn.RemoteAddr() }

func (t *wsTransport) readFrame() (wire.Header, []byte, error) {
	for len(t.msg) == 0 {
		if err := t.readMessage(); err != nil {
			return wire.Header{}, nil, err
		}
	}
	h, body, rest, ok, err := wire.Split(t.msg, t.maxFrame)
	if err != nil {
		return wire.Header{}, nil, err
	}
	if !ok {
		return wire.Header{}, nil, fmt.Errorf("%w: frame split across messages", errWebSocketProtocol)
	}
	t.msg = rest
	return h, body, nil
}

// readMessage reads one whole binary message (joining fragments), answering
// pings on the way. A close frame from the client reads as io.EOF.
func (t *wsTransport) readMessage() error {
	t.buf = t.buf[:0]
	// RFC 6455's frame rules, from the headers seen so far: masked client
	// frames, no reserved opcode or RSV bit, whole control frames of at most
	// 125 bytes, continuations only inside a fragmented message (the FIN
	// bit, not the bytes gathered, says which: a first fragment may be
	// empty).
	state := ws.StateServerSide
	for {
		h, err := ws.ReadHeader(t.conn)
		if err != nil {
			return err
		}
		if err := ws.CheckHeader(h, state); err != nil {
			return fmt.Errorf("%w: %w", errWebSocketProtocol, err)
		}
		if h.OpCode.IsControl() {
			var p [ws.MaxControlFramePayloadSize]byte
			payload := p[:h.Length]
			if _, err := io.ReadFull(t.conn, payload); err != nil {
				return err
			}
			switch h.OpCode {
			case ws.OpClose:
				// Answer the closing handshake (RFC 6455, 5.5.1) so that a
				// browser reports a clean close, not 1006.
				ws.Cipher(payload, h.Mask, 0)
				code, _ := ws.ParseCloseFrameData(payload)
				if code == 0 {
					code = ws.StatusNormalClosure
				}
				_ = t.writeControl(ws.NewCloseFrame(ws.NewCloseFrameBody(code, "")))
				return io.EOF
			case ws.OpPing:
				ws.Cipher(payload, h.Mask, 0)
				if err := t.writeControl(ws.NewPongFrame(payload)); err != nil {
					return err
				}
			}
			continue
		}
		if h.OpCode == ws.OpText {
			return fmt.Errorf("%w: text message", errWebSocketProtocol)
		}
		if h.Length+int64(len(t.buf)) > int64(t.maxFrame) {
			return fmt.Errorf("%w: websocket message of %d bytes, limit %d", wire.ErrTooLarge, h.Length+int64(len(t.buf)), t.maxFrame)
		}
		n := len(t.buf)
		t.buf = append(t.buf, make([]byte, h.Length)...)
		if _, err := io.ReadFull(t.conn, t.buf[n:]); err != nil {
			return err
		}
		ws.Cipher(t.buf[n:], h.Mask, 0)
		if h.Fin {
			t.msg = t.buf
			return nil
		}
		state = state.Set(ws.StateFragmented)
	}
}

// writeBatch sends the batch as one binary message in one write call,
// after the rest of a write broken off before, if any.
func (t *wsTransport) writeBatch(bufs [][]byte) error {
	t.wmu.Lock()
	defer t.wmu.Unlock()
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	hdr := appendWSHeader(t.hdr[:0], n)
	if t.secure {
		out := make([]byte, 0, len(hdr)+n)
		out = append(out, hdr...)
		for _, b := range bufs {
			out = append(out, b...)
		}
		_, err := t.conn.Write(out)
		return err
	}
	t.bufs = append(t.bufs[:0], t.rest...)
	at := len(t.bufs) // where the header is
	clear(t.rest)
	t.rest = t.rest[:0]
	t.bufs = append(t.bufs, hdr)
	t.bufs = append(t.bufs, bufs...)
	total := len(t.bufs)
	// One writev on the bare connection: Go serializes it whole against the
	// reader's pongs (see rawConn).
	_, err := t.bufs.WriteTo(rawConn(t.conn))
	if err != nil {
		// WriteTo consumed what it wrote: keep the rest (the caller reuses
		// bufs, and the header lives in t.hdr, hence the copies).
		t.rest = append(t.rest, t.bufs...)
		if h := at - (total - len(t.rest)); h >= 0 {
			t.rest[h] = bytes.Clone(t.rest[h])
		}
	}
	clear(t.bufs[:cap(t.bufs)])
	if cap(t.bufs) > 64 {
		t.bufs = nil
	}
	return err
}

// finishBatch writes what the last failed write left unwritten, finishing
// the message (or control frame) it broke off, then bufs as a message of
// their own. TLS cannot go on after a failed write (a record cut short
// breaks the stream), so there it fails at once.
func (t *wsTransport) finishBatch(bufs [][]byte) error {
	if t.secure {
		return os.ErrDeadlineExceeded
	}
	return t.writeBatch(bufs)
}

// writeControl writes a control frame in one write call, unless a message
// broken off is still unfinished: the frame is then dropped, as it cannot
// go inside the message (the connection is closing anyway). A control frame
// broken off itself is finished by the next writeBatch.
func (t *wsTransport) writeControl(f ws.Frame) error {
	b := ws.MustCompileFrame(f)
	t.wmu.Lock()
	defer t.wmu.Unlock()
	if len(t.rest) > 0 {
		return nil
	}
	n, err := t.conn.Write(b)
	if err != nil && !t.secure {
		t.rest = append(t.rest, b[n:])
	}
	return err
}

// appendWSHeader appends an unmasked, final, binary frame header for a
// payload of n bytes (RFC 6455 section 5.2).
func appendWSHeader(dst []byte, n int) []byte {
	dst = append(dst, 0x80|byte(ws.OpBinary))
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return binary.BigEndian.AppendUint16(append(dst, 126), uint16(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, 127), uint64(n))
	}
}

// closeWrite sends a close frame carrying the disconnect code; the client
// answers with its own close frame, which the reader takes as the end.
func (t *wsTransport) closeWrite(code wire.Code, reason string) {
	if len(reason) > 123 {
		reason = reason[:123]
	}
	_ = t.writeControl(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
}

func (t *wsTransport) close(wire.Code, string) { _ = t.conn.Close() }
