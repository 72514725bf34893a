package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"

	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// TestWebTransportSilentConnectionCut checks that the handshake timeout
// covers an HTTP/3 connection that never sends its CONNECT: the edge closes
// it with 3005 within the budget, and its goroutines are gone.
func TestWebTransportSilentConnectionCut(t *testing.T) {
	const budget = 500 * time.Millisecond
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.HandshakeTimeout = budget })
	baseline := runtime.NumGoroutine()

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(ctx, srv.quic, clientTLS(http3.NextProtoH3), &quic.Config{MaxIdleTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.CloseWithError(0, "") }()
	start := time.Now()
	select {
	case <-conn.Context().Done():
	case <-time.After(budget + 2*time.Second):
		t.Fatalf("silent HTTP/3 connection still open %v after a handshake budget of %v", time.Since(start), budget)
	}
	var ae *quic.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &ae) || !ae.Remote || wire.Code(ae.ErrorCode) != wire.CodeHandshakeTimeout {
		t.Fatalf("connection closed with %v, want application error %d from the edge", err, wire.CodeHandshakeTimeout)
	}
	// The connection's goroutines on the edge (HTTP/3 serving, QUIC) end with it.
	waitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}

// TestSlowConsumerSeesDisconnectOnTCP checks that a TCP client that stops
// reading until it is cut finds, once it reads again, the 3003 Disconnect
// frame after at most the data the edge had already written, not a reset or
// an end without a frame.
func TestSlowConsumerSeesDisconnectOnTCP(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxQueueBytes = 256 << 10 })
	api := srv.apiClient()
	conn := dialTCP(t, srv)
	fr := authTCP(t, conn, token(t, "slow", "flood"))
	if _, err := conn.Write(wire.AppendJoin(nil, 2, &wire.Join{Room: "flood"})); err != nil {
		t.Fatal(err)
	}
	// The client reads nothing from here until the edge has cut it.
	floodUntilCut(t, srv, api)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	read := 0
	for {
		h, body, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("after %d bytes: connection ended without Disconnect 3003: %v", read, err)
		}
		read += wire.HeaderSize + len(body)
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
		break
	}
	if _, _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("after Disconnect: %v, want EOF", err)
	}
}

// TestRateLimitedClientIsNotRead checks that after a 3008 cut the edge reads
// a bounded number of bytes more: a client flooding on finds its writes
// blocked once the socket buffers fill, instead of the edge reading at line
// rate for the whole close grace.
func TestRateLimitedClientIsNotRead(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxFramesPerSec = 20 })
	conn := dialTCP(t, srv)
	// A small send buffer, so that what the kernel holds is small beside
	// what the edge would read at line rate.
	_ = conn.(*net.TCPConn).SetWriteBuffer(64 << 10)
	authTCP(t, conn, token(t, "flooder"))
	flood := bytes.Repeat(wire.AppendFrame(nil, wire.OpPing, 1, nil), (64<<10)/wire.HeaderSize)
	var written atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
		for {
			n, err := conn.Write(flood)
			written.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	<-done
	// Kernel buffers on loopback plus the edge's bounded discard; at line
	// rate the edge would take hundreds of MiB in its close grace.
	const bound = 8 << 20
	if n := written.Load(); n > bound {
		t.Fatalf("the edge took %d MiB from a client cut with 3008, want at most %d MiB", n>>20, bound>>20)
	}
}

// TestRateLimitReasonSaysWhichLimit checks the 3008 reason names the limit
// that fired: frames per second or bytes per second.
func TestRateLimitReasonSaysWhichLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tune   func(*server.SingleConfig)
		frame  []byte
		reason string
	}{
		{"frames", func(c *server.SingleConfig) { c.Edge.MaxFramesPerSec = 20 }, wire.AppendFrame(nil, wire.OpPing, 1, nil), "frames"},
		{"bytes", func(c *server.SingleConfig) { c.Edge.MaxBytesPerSec = 4 << 10 }, wire.AppendFrame(nil, wire.OpPing, 1, make([]byte, 1000)), "bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.tune)
			c := dialRaw(t, srv, "tcp")
			authenticate(t, c, token(t, "rate"))
			for range 100 {
				if err := c.write(tc.frame); err != nil {
					break
				}
			}
			for {
				h, body, err := c.next()
				if err != nil {
					t.Fatalf("no Disconnect: %v", err)
				}
				if h.Op != wire.OpDisconnect {
					continue
				}
				var d wire.Disconnect
				if err := d.Decode(body); err != nil {
					t.Fatal(err)
				}
				if d.Code != wire.CodeRateLimited || !strings.Contains(d.Reason, tc.reason) {
					t.Fatalf("disconnect %d %q, want %d naming %q", d.Code, d.Reason, wire.CodeRateLimited, tc.reason)
				}
				return
			}
		})
	}
}

// TestQUICStreamEndCodes checks how the edge closes a raw QUIC connection
// whose client ends its stream: a reset in the middle of a frame is a
// protocol error (3501), a FIN between frames is the client leaving and no
// server error.
func TestQUICStreamEndCodes(t *testing.T) {
	srv := startServer(t, nil)
	dial := func(t *testing.T) (*quic.Conn, *quic.Stream) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		conn, err := quic.DialAddr(ctx, srv.quic, clientTLS(wire.ALPN), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.CloseWithError(0, "") })
		str, err := conn.OpenStreamSync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := str.Write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: token(t, "ender")})); err != nil {
			t.Fatal(err)
		}
		fr := wire.NewFrameReader(str, 1<<20)
		_ = str.SetReadDeadline(time.Now().Add(5 * time.Second))
		if h, _, err := fr.ReadFrame(); err != nil || h.Op != wire.OpAuthOK {
			t.Fatalf("auth: %v %v", h.Op, err)
		}
		return conn, str
	}
	closedWith := func(t *testing.T, conn *quic.Conn) *quic.ApplicationError {
		t.Helper()
		select {
		case <-conn.Context().Done():
		case <-time.After(5 * time.Second):
			t.Fatal("edge did not close the connection")
		}
		var ae *quic.ApplicationError
		if err := context.Cause(conn.Context()); !errors.As(err, &ae) || !ae.Remote {
			t.Fatalf("connection ended with %v, want an application close from the edge", err)
		}
		return ae
	}

	t.Run("reset mid-frame", func(t *testing.T) {
		conn, str := dial(t)
		join := wire.AppendJoin(nil, 2, &wire.Join{Room: "half"})
		if _, err := str.Write(join[:len(join)-2]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the edge has the partial frame
		str.CancelWrite(0)
		if ae := closedWith(t, conn); wire.Code(ae.ErrorCode) != wire.CodeProtocolError {
			t.Fatalf("closed with %d (%s), want %d", ae.ErrorCode, ae.ErrorMessage, wire.CodeProtocolError)
		}
	})
	t.Run("FIN mid-frame", func(t *testing.T) {
		conn, str := dial(t)
		join := wire.AppendJoin(nil, 2, &wire.Join{Room: "half"})
		if _, err := str.Write(join[:len(join)-2]); err != nil {
			t.Fatal(err)
		}
		_ = str.Close()
		if ae := closedWith(t, conn); wire.Code(ae.ErrorCode) != wire.CodeProtocolError {
			t.Fatalf("closed with %d (%s), want %d", ae.ErrorCode, ae.ErrorMessage, wire.CodeProtocolError)
		}
	})
	t.Run("FIN between frames", func(t *testing.T) {
		conn, str := dial(t)
		_ = str.Close()
		if ae := closedWith(t, conn); ae.ErrorCode != 0 {
			t.Fatalf("closed with %d (%s), want 0: the client left", ae.ErrorCode, ae.ErrorMessage)
		}
	})
}

// dialTCP is a plain TCP connection to the edge, for tests that need the
// socket itself.
func dialTCP(t *testing.T, srv *testServer) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.tcp, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// authTCP authenticates on a plain TCP connection and returns its reader.
func authTCP(t *testing.T, conn net.Conn, tok string) *wire.FrameReader {
	t.Helper()
	if _, err := conn.Write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})); err != nil {
		t.Fatal(err)
	}
	fr := wire.NewFrameReader(conn, 1<<20)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if h, _, err := fr.ReadFrame(); err != nil || h.Op != wire.OpAuthOK {
		t.Fatalf("auth: %v %v", h.Op, err)
	}
	return fr
}

// floodUntilCut pushes 60 KiB messages to room "flood" until the edge cuts a
// slow consumer, then waits past the close grace (1 s in these tests), when
// the edge has cut its blocked write short, but within the one more grace it
// gives the rest of that write and the Disconnect frame.
func floodUntilCut(t *testing.T, srv *testServer, api pushv1connect.PushServiceClient) {
	t.Helper()
	payload := strings.Repeat("x", 60<<10)
	for i := 0; metricValue(t, srv, "quicpush_edge_slow_consumers_total") == 0; i++ {
		if i > 2000 {
			t.Fatal("never cut as a slow consumer")
		}
		pushRoom(t, api, "flood", payload)
	}
	time.Sleep(1500 * time.Millisecond)
}
