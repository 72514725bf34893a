package e2e

import (
	"bufio"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// TestSlowConsumerSeesDisconnectOnWebSocket is
// TestSlowConsumerSeesDisconnectOnTCP over WebSocket without TLS: a client
// that stops reading until it is cut finds, once it reads again, whole
// binary messages of whole frames, the 3003 Disconnect frame, and a close
// frame with 3003, not a message broken off and a reset.
func TestSlowConsumerSeesDisconnectOnWebSocket(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxQueueBytes = 256 << 10 })
	api := srv.apiClient()
	d := ws.Dialer{Protocols: []string{wire.WebSocketProtocol}, Timeout: 5 * time.Second}
	conn, br, _, err := d.Dial(context.Background(), "ws://"+srv.tcp+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	r := br
	if r == nil {
		r = bufio.NewReader(conn)
	}
	// next returns the frames of the next binary message, or the code of a
	// close frame.
	next := func() ([][]byte, ws.StatusCode, error) {
		for {
			h, err := ws.ReadHeader(r)
			if err != nil {
				return nil, 0, err
			}
			payload := make([]byte, h.Length)
			if _, err := io.ReadFull(r, payload); err != nil {
				return nil, 0, err
			}
			switch h.OpCode {
			case ws.OpClose:
				code, _ := ws.ParseCloseFrameData(payload)
				return nil, code, nil
			case ws.OpBinary:
			default:
				continue
			}
			if !h.Fin {
				return nil, 0, errors.New("fragmented message")
			}
			var frames [][]byte
			for len(payload) > 0 {
				_, _, rest, ok, err := wire.Split(payload, len(payload))
				if err != nil || !ok {
					return nil, 0, errors.New("message ends inside a frame")
				}
				frames = append(frames, payload[:len(payload)-len(rest)])
				payload = rest
			}
			return frames, 0, nil
		}
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	for _, f := range [][]byte{
		wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: token(t, "slow", "flood")}),
		wire.AppendJoin(nil, 2, &wire.Join{Room: "flood"}),
	} {
		if err := wsutil.WriteClientBinary(conn, f); err != nil {
			t.Fatal(err)
		}
	}
	if fs, _, err := next(); err != nil || len(fs) == 0 || wire.Op(fs[0][4]) != wire.OpAuthOK {
		t.Fatalf("auth: %v", err)
	}
	// The client reads nothing from here until the edge has cut it.
	floodUntilCut(t, srv, api)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	seen := false
	for read := 0; ; read++ {
		fs, code, err := next()
		if err != nil {
			t.Fatalf("after %d messages: connection ended without Disconnect 3003 and a close frame: %v", read, err)
		}
		if code != 0 {
			if !seen || code != ws.StatusCode(wire.CodeSlowConsumer) {
				t.Fatalf("close frame %d after Disconnect seen %v, want 3003 after it", code, seen)
			}
			break
		}
		for _, f := range fs {
			h, body, _, _, _ := wire.Split(f, len(f))
			if h.Op != wire.OpDisconnect {
				continue
			}
			var d wire.Disconnect
			if err := d.Decode(body); err != nil {
				t.Fatal(err)
			}
			if d.Code != wire.CodeSlowConsumer {
				t.Fatalf("disconnect %d (%s), want %d", d.Code, d.Reason, wire.CodeSlowConsumer)
			}
			seen = true
		}
	}
}
