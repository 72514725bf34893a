package edge

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/quicpush/quicpush/wire"
)

// An upgrade that does not offer the quicpush.v1 subprotocol is refused
// with 400 and a reason naming it, so that a misconfigured client fails at
// the handshake instead of speaking to an edge that never agreed on framing.
// Offering it among others still upgrades.
func TestWebSocketRequiresSubprotocol(t *testing.T) {
	e := testEdge(t, nil)
	const head = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	for _, tc := range []struct {
		name, header, status, body string
	}{
		{"none", "", "HTTP/1.1 400 ", "quicpush.v1"},
		{"other", "Sec-WebSocket-Protocol: chat\r\n", "HTTP/1.1 400 ", "quicpush.v1"},
		{"among others", "Sec-WebSocket-Protocol: chat, quicpush.v1\r\n", "HTTP/1.1 101 ", "Sec-WebSocket-Protocol: quicpush.v1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", e.TCPAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, head+tc.header+"\r\n"); err != nil {
				t.Fatal(err)
			}
			var out []byte
			buf := make([]byte, 512)
			for !strings.Contains(string(out), tc.body) {
				n, err := c.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
			}
			if !strings.HasPrefix(string(out), tc.status) || !strings.Contains(string(out), tc.body) {
				t.Fatalf("answer %q, want %q with %q", out, tc.status, tc.body)
			}
		})
	}
}

// A message broken off by a write deadline is finished by finishBatch
// before the next message, and a pong asked for meanwhile is dropped
// rather than written inside the message.
func TestWSFinishBrokenMessage(t *testing.T) {
	server, client := net.Pipe()
	defer client.Close()
	tr := &wsTransport{conn: server, maxFrame: 1 << 20}
	big := wire.AppendFrame(nil, wire.OpPush, 0, bytes.Repeat([]byte("x"), 4000))
	// The client takes 100 bytes, then stops reading.
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 100)
		_, _ = io.ReadFull(client, b)
		got <- b
	}()
	_ = tr.setWriteDeadline(time.Now().Add(200 * time.Millisecond))
	if err := tr.writeBatch([][]byte{big}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a client that stopped reading: %v", err)
	}
	if err := tr.writeControl(ws.NewPongFrame([]byte("p"))); err != nil {
		t.Fatalf("pong while a message is broken off: %v", err)
	}
	out := <-got
	last := wire.AppendDisconnect(nil, &wire.Disconnect{Code: wire.CodeSlowConsumer, Reason: "slow"})
	go func() {
		_ = tr.setWriteDeadline(time.Now().Add(5 * time.Second))
		_ = tr.finishBatch([][]byte{last})
		_ = server.Close()
	}()
	rest, _ := io.ReadAll(client)
	out = append(out, rest...)
	r := bytes.NewReader(out)
	for i, want := range [][]byte{big, last} {
		h, err := ws.ReadHeader(r)
		if err != nil || h.OpCode != ws.OpBinary || !h.Fin {
			t.Fatalf("message %d: %+v %v, want a whole binary message", i, h, err)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, want) {
			t.Fatalf("message %d: %d bytes (%v), want the %d written", i, len(p), err, len(want))
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d bytes after the Disconnect message", r.Len())
	}
}
