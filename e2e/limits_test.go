package e2e

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// TestLimits checks each abuse limit on a real edge: connections per IP
// (TCP closed before any byte, QUIC refused), new connections per IP and
// second, connections per user (3007), inbound frames per second (3008) and
// QUIC address validation under a handshake flood; each is counted in
// quicpush_edge_limited_total, and a well-behaved client keeps receiving.
func TestLimits(t *testing.T) {
	t.Run("connections per IP", func(t *testing.T) {
		srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxConnsPerIP = 3 })
		for range 3 {
			authenticate(t, dialRaw(t, srv, "tcp"), token(t, "ip"))
		}
		conn, err := net.Dial("tcp", srv.tcp)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := conn.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("4th TCP connection: read %v, want EOF (closed at once)", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		if c, err := dialRawQUIC(ctx, srv.quic); err == nil {
			c.close()
			t.Fatal("4th connection over QUIC was accepted")
		}
		if n := metricValue(t, srv, "quicpush_edge_limited_total"); n < 2 {
			t.Fatalf("limited_total %v, want 2", n)
		}
	})

	t.Run("new connections per IP", func(t *testing.T) {
		srv := startServer(t, func(c *server.SingleConfig) { c.Edge.HandshakesPerIP = 5 }) // burst 10
		var conns []net.Conn
		for range 30 {
			conn, err := net.Dial("tcp", srv.tcp)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conns = append(conns, conn)
		}
		refused := 0
		for _, conn := range conns {
			_ = conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := conn.Read(make([]byte, 1)); errors.Is(err, io.EOF) {
				refused++
			}
		}
		if refused < 15 {
			t.Fatalf("%d of 30 rapid connections refused, want most past the burst of 10", refused)
		}
	})

	t.Run("connections per user", func(t *testing.T) {
		srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxConnsPerUser = 2 })
		tok := token(t, "same-user")
		authenticate(t, dialRaw(t, srv, "tcp"), tok)
		authenticate(t, dialRaw(t, srv, "ws"), tok)
		c := dialRaw(t, srv, "quic")
		if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})); err != nil {
			t.Fatal(err)
		}
		expectDisconnect(t, c, wire.CodeConnectionLimit)
		authenticate(t, dialRaw(t, srv, "tcp"), token(t, "another-user"))
	})

	t.Run("inbound frames per second", func(t *testing.T) {
		srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxFramesPerSec = 20 })
		api := srv.apiClient()
		good := dialRaw(t, srv, "tcp")
		authenticate(t, good, token(t, "good", "r"))
		join(t, good, 2, "r")
		for _, kind := range transports {
			bad := dialRaw(t, srv, kind)
			authenticate(t, bad, token(t, "flood"))
			for i := range 100 {
				if err := bad.write(wire.AppendFrame(nil, wire.OpPing, uint32(i+1), nil)); err != nil {
					break
				}
			}
			expectDisconnect(t, bad, wire.CodeRateLimited)
		}
		id := pushRoom(t, api, "r", "still fine")
		for {
			h, body := expectFrame(t, good, wire.OpPush)
			_ = h
			var p wire.Push
			if err := p.Decode(body); err != nil {
				t.Fatal(err)
			}
			if p.ID == id {
				break
			}
		}
	})

	t.Run("QUIC Retry under a flood", func(t *testing.T) {
		srv := startServer(t, func(c *server.SingleConfig) { c.Edge.RetryAbove = 1 })
		for range 5 {
			authenticate(t, dialRaw(t, srv, "quic"), token(t, "retry"))
		}
		if n := metricValue(t, srv, "quicpush_edge_limited_total"); n < 1 {
			t.Fatalf("no Retry asked for after 5 handshakes at a limit of 1/s")
		}
	})
}

// TestProxyProtocol checks the TCP port behind a load balancer: from a
// trusted source the PROXY header is required and its address is the
// client's for the per-IP limits; a header from anyone else is not honoured.
func TestProxyProtocol(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) {
		c.Edge.MaxConnsPerIP = 1
		c.Edge.ProxyProtocolFrom = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	dial := func(header string) net.Conn {
		t.Helper()
		conn, err := net.Dial("tcp", srv.tcp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		if header != "" {
			if _, err := conn.Write([]byte(header)); err != nil {
				t.Fatal(err)
			}
		}
		return conn
	}
	// authOK writes Auth and reports whether AuthOK came back.
	authOK := func(conn net.Conn) bool {
		t.Helper()
		if _, err := conn.Write(wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: token(t, "lb")})); err != nil {
			return false
		}
		_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
		fr := wire.NewFrameReader(conn, wire.DefaultMaxFrame)
		h, _, err := fr.ReadFrame()
		return err == nil && h.Op == wire.OpAuthOK
	}
	// Two clients behind the balancer, each its own address: both served,
	// although the limit is one connection per IP.
	a := dial("PROXY TCP4 10.0.0.1 127.0.0.1 40001 4434\r\n")
	b := dial("PROXY TCP4 10.0.0.2 127.0.0.1 40002 4434\r\n")
	if !authOK(a) || !authOK(b) {
		t.Fatal("clients with their own addresses behind the balancer were refused")
	}
	// A second connection of 10.0.0.1 is over its limit.
	if authOK(dial("PROXY TCP4 10.0.0.1 127.0.0.1 40003 4434\r\n")) {
		t.Fatal("a second connection of 10.0.0.1 was served at a limit of one")
	}
	// Without the header, from the trusted source: refused.
	if authOK(dial("")) {
		t.Fatal("a connection from the balancer without a PROXY header was served")
	}
}
