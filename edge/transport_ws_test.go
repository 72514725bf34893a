package edge

import (
	"io"
	"net"
	"strings"
	"testing"
	"time"
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
