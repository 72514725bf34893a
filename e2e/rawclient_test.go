package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

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
	case "ws":
		c, err = dialRawWS(ctx, "ws://"+srv.tcp+"/ws")
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

type streamConn struct {
	w  io.Writer
	fr *wire.FrameReader
}

func (c *streamConn) write(b []byte) error               { _, err := c.w.Write(b); return err }
func (c *streamConn) next() (wire.Header, []byte, error) { return c.fr.ReadFrame() }

type tcpRaw struct {
	streamConn
	conn net.Conn
}

func dialRawTCP(addr string) (*tcpRaw, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	return &tcpRaw{streamConn{w: conn, fr: wire.NewFrameReader(conn, 1<<20)}, conn}, nil
}

func (c *tcpRaw) close() { _ = c.conn.Close() }

func clientTLS(alpn string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: []string{alpn}}
}

type quicRaw struct {
	streamConn
	conn *quic.Conn
}

func dialRawQUIC(ctx context.Context, addr string) (*quicRaw, error) {
	conn, err := quic.DialAddr(ctx, addr, clientTLS(wire.ALPN), &quic.Config{})
	if err != nil {
		return nil, err
	}
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	_ = str.SetDeadline(time.Now().Add(20 * time.Second))
	return &quicRaw{streamConn{w: str, fr: wire.NewFrameReader(str, 1<<20)}, conn}, nil
}

func (c *quicRaw) close() { _ = c.conn.CloseWithError(0, "") }

type wtRaw struct {
	streamConn
	tr   *webtransport.Transport
	sess *webtransport.Session
}

func dialRawWT(ctx context.Context, url string) (*wtRaw, error) {
	tr := &webtransport.Transport{
		TLSClientConfig: clientTLS("h3"),
		QUICConfig:      &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true},
	}
	rsp, sess, err := tr.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if rsp.StatusCode != 200 {
		return nil, fmt.Errorf("status %d", rsp.StatusCode)
	}
	str, err := sess.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	_ = str.SetDeadline(time.Now().Add(20 * time.Second))
	return &wtRaw{streamConn{w: str, fr: wire.NewFrameReader(str, 1<<20)}, tr, sess}, nil
}

func (c *wtRaw) close() {
	_ = c.sess.CloseWithError(0, "")
	_ = c.tr.Close()
}

// wsRaw reads server messages, each holding one or more frames.
type wsRaw struct {
	conn    net.Conn
	r       io.Reader
	pending []byte
	closed  *ws.StatusCode
}

func dialRawWS(ctx context.Context, url string) (*wsRaw, error) {
	d := ws.Dialer{Protocols: []string{wire.WebSocketProtocol}, Timeout: 5 * time.Second}
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		return nil, err
	}
	if hs.Protocol != wire.WebSocketProtocol {
		return nil, fmt.Errorf("subprotocol %q not echoed", hs.Protocol)
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c := &wsRaw{conn: conn, r: conn}
	if br != nil {
		c.r = io.MultiReader(br, conn)
	}
	return c, nil
}

func (c *wsRaw) write(b []byte) error { return wsutil.WriteClientBinary(c.conn, b) }

func (c *wsRaw) next() (wire.Header, []byte, error) {
	for {
		h, body, rest, ok, err := wire.Split(c.pending, 1<<20)
		if err != nil {
			return h, nil, err
		}
		if ok {
			c.pending = rest
			return h, body, nil
		}
		if len(c.pending) > 0 {
			return h, nil, errors.New("frame split across websocket messages")
		}
		msg, op, err := wsutil.ReadServerData(struct {
			io.Reader
			io.Writer
		}{c.r, c.conn})
		if err != nil {
			var ce wsutil.ClosedError
			if errors.As(err, &ce) {
				code := ce.Code
				c.closed = &code
				return wire.Header{}, nil, io.EOF
			}
			return wire.Header{}, nil, err
		}
		if op != ws.OpBinary {
			return wire.Header{}, nil, fmt.Errorf("server sent %v", op)
		}
		c.pending = msg
	}
}

func (c *wsRaw) close() { _ = c.conn.Close() }
