package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/wire"
)

// rawConn is a protocol-level test client: it writes any bytes, reads frames
// and reports how the server closed. It can send what no real client would.
type rawConn interface {
	write(b []byte) error
	// next returns the next frame from the server.
	next() (wire.Header, []byte, error)
	close()
}

var transports = []string{"quic", "webtransport", "tcp", "ws"}

// dialRaw dials srv over kind: one of transports, or "tls" or "wss" (the
// TCP port's TLS variants).
func dialRaw(t *testing.T, srv *testServer, kind string) rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var (
		c   rawConn
		err error
	)
	switch kind {
	case "tcp":
		c, err = dialRawTCP(srv.tcp)
	case "tls":
		c, err = rawDialed(frameconn.DialTLS(ctx, srv.tcp, rawOptions()))
	case "ws":
		c, err = dialRawWS(ctx, "ws://"+srv.tcp+"/ws")
	case "wss":
		c, err = dialRawWS(ctx, "wss://"+srv.tcp+"/ws")
	case "quic":
		c, err = dialRawQUIC(ctx, srv.quic)
	case "webtransport":
		c, err = dialRawWT(ctx, "https://"+srv.quic+"/wt")
	default:
		t.Fatalf("unknown transport %q", kind)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", kind, err)
	}
	t.Cleanup(c.close)
	return c
}

// rawOptions dial the test server's self-signed certificate and accept
// frames up to 1 MiB.
func rawOptions() frameconn.Options {
	return frameconn.Options{TLS: clientTLS(""), MaxFrame: 1 << 20}
}

// clientTLS trusts the test server's self-signed certificate.
func clientTLS(alpn string) *tls.Config {
	cfg := &tls.Config{InsecureSkipVerify: true}
	if alpn != "" {
		cfg.NextProtos = []string{alpn}
	}
	return cfg
}

// frameRaw is a raw client on a frameconn connection.
type frameRaw struct{ c *frameconn.Conn }

func (r *frameRaw) write(b []byte) error               { return r.c.WriteFrame(b) }
func (r *frameRaw) next() (wire.Header, []byte, error) { return r.c.ReadFrame() }
func (r *frameRaw) close()                             { _ = r.c.Close(0, "") }

// rawDialed wraps a dialled connection, bounding the whole test's use of it.
func rawDialed(c *frameconn.Conn, err error) (*frameRaw, error) {
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &frameRaw{c}, nil
}

func dialRawTCP(addr string) (rawConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return rawDialed(frameconn.DialTCP(ctx, addr, rawOptions()))
}

func dialRawQUIC(ctx context.Context, addr string) (rawConn, error) {
	return rawDialed(frameconn.DialQUIC(ctx, addr, rawOptions()))
}

func dialRawWT(ctx context.Context, url string) (rawConn, error) {
	return rawDialed(frameconn.DialWebTransport(ctx, url, rawOptions()))
}

// wsRaw also keeps the code of the server's close frame, which tests
// compare with the Disconnect frame's.
type wsRaw struct {
	frameRaw
	closed *ws.StatusCode
}

func dialRawWS(ctx context.Context, url string) (rawConn, error) {
	r, err := rawDialed(frameconn.DialWebSocket(ctx, url, rawOptions()))
	if err != nil {
		return nil, err
	}
	return &wsRaw{frameRaw: *r}, nil
}

func (c *wsRaw) next() (wire.Header, []byte, error) {
	h, body, err := c.c.ReadFrame()
	var ce *frameconn.CloseError
	if errors.As(err, &ce) {
		code := ws.StatusCode(ce.Code)
		c.closed = &code
	}
	return h, body, err
}
