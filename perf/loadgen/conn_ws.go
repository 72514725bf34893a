package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quicpush/quicpush/wire"
)

// maxWSMessage bounds one server message: many frames may share it, so it
// may exceed one frame's limit.
const maxWSMessage = 16 << 20

// wsLink speaks quicpush over WebSocket: each binary message holds one or
// more whole frames, split with wire.Split.
type wsLink struct {
	c       net.Conn
	br      *bufio.Reader
	msg     []byte // the current message
	pending []byte // its frames not yet returned
	msgs    *atomic.Int64
}

// wsClosed is a close frame from the server.
type wsClosed struct{ code ws.StatusCode }

func (e *wsClosed) Error() string { return "websocket close " + strconv.Itoa(int(e.code)) }

// dialWS dials connection i to edge first+i mod len(addrs).
func dialWS(addrs []string, first int, src []net.IP) func(ctx context.Context, i int) (link, error) {
	netDial := tcpDialer(src)
	return func(ctx context.Context, i int) (link, error) {
		addr := edgeFor(addrs, first, i)
		d := ws.Dialer{
			Protocols:      []string{wire.WebSocketProtocol},
			Timeout:        handshakeTimeout,
			ReadBufferSize: readBufSize,
			// The URL names the same address; this picks the source.
			NetDial: func(ctx context.Context, _, _ string) (net.Conn, error) { return netDial(ctx, addr, i) },
		}
		c, br, hs, err := d.Dial(ctx, "ws://"+addr+"/ws")
		if err != nil {
			return nil, err
		}
		if hs.Protocol != wire.WebSocketProtocol {
			_ = c.Close()
			return nil, fmt.Errorf("subprotocol %q not echoed", hs.Protocol)
		}
		if br == nil {
			br = bufio.NewReaderSize(c, readBufSize)
		}
		return &wsLink{c: c, br: br}, nil
	}
}

func (l *wsLink) write(b []byte) error          { return wsutil.WriteClientBinary(l.c, b) }
func (l *wsLink) setDeadline(t time.Time) error { return l.c.SetDeadline(t) }
func (l *wsLink) close()                        { _ = l.c.Close() }
func (l *wsLink) countReads(n *atomic.Int64)    { l.msgs = n }

func (l *wsLink) endReason(err error) string {
	var ce *wsClosed
	if errors.As(err, &ce) {
		return "websocket close " + strconv.Itoa(int(ce.code))
	}
	return streamEnd(err)
}

func (l *wsLink) next() (wire.Header, []byte, error) {
	for len(l.pending) == 0 {
		if err := l.readMessage(); err != nil {
			return wire.Header{}, nil, err
		}
	}
	h, body, rest, ok, err := wire.Split(l.pending, 0)
	if err != nil {
		return wire.Header{}, nil, err
	}
	if !ok {
		return wire.Header{}, nil, fmt.Errorf("%w: frame split across websocket messages", wire.ErrMalformed)
	}
	l.pending = rest
	return h, body, nil
}

// readMessage reads the next data message (joining fragments) into l.msg.
// Control frames are consumed: a close ends the connection, pings are not
// answered (an edge does not send them).
func (l *wsLink) readMessage() error {
	l.msg = l.msg[:0]
	for {
		h, err := ws.ReadHeader(l.br)
		if err != nil {
			return err
		}
		if h.OpCode.IsControl() {
			var p [125]byte
			if h.Length > int64(len(p)) {
				return fmt.Errorf("%w: control frame of %d bytes", wire.ErrMalformed, h.Length)
			}
			payload := p[:h.Length]
			if _, err := io.ReadFull(l.br, payload); err != nil {
				return err
			}
			if h.OpCode == ws.OpClose {
				code := ws.StatusNoStatusRcvd
				if len(payload) >= 2 {
					code = ws.StatusCode(binary.BigEndian.Uint16(payload))
				}
				return &wsClosed{code}
			}
			continue
		}
		if int64(len(l.msg))+h.Length > maxWSMessage {
			return fmt.Errorf("%w: websocket message over %d bytes", wire.ErrTooLarge, maxWSMessage)
		}
		n := len(l.msg)
		l.msg = slices.Grow(l.msg, int(h.Length))[:n+int(h.Length)]
		if _, err := io.ReadFull(l.br, l.msg[n:]); err != nil {
			return err
		}
		if h.Masked {
			ws.Cipher(l.msg[n:], h.Mask, 0)
		}
		if h.Fin {
			if l.msgs != nil {
				l.msgs.Add(1)
			}
			l.pending = l.msg
			return nil
		}
	}
}
