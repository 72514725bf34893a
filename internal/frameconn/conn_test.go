package frameconn

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// serverTLS is a self-signed certificate for 127.0.0.1.
func serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// clientOptions trust any certificate: the servers' are made up per test.
func clientOptions() Options {
	return Options{TLS: &tls.Config{InsecureSkipVerify: true}}
}

// peer is the server's end of one connection, whatever the transport.
type peer struct {
	io.ReadWriter
	// closeWith closes the connection with a disconnect code, where the
	// transport carries one.
	closeWith func(code wire.Code, reason string)
	// lastRead returns what ended the server's reads: the client's close.
	done chan error
}

// server runs handle on every connection accepted on a loopback port of
// the transport and returns the address to dial.
type server func(t *testing.T, handle func(p *peer)) string

// tcpServer serves framed TCP; with tlsConf set, framed TLS.
func tcpServer(tlsConf *tls.Config) server {
	return func(t *testing.T, handle func(p *peer)) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				if tlsConf != nil {
					c = tls.Server(c, tlsConf)
				}
				go func() {
					defer c.Close()
					handle(&peer{ReadWriter: c, closeWith: func(wire.Code, string) { c.Close() }})
				}()
			}
		}()
		return ln.Addr().String()
	}
}

// wsPeer reads the client's messages as one byte stream and writes each
// Write as one message.
type wsPeer struct {
	conn net.Conn
	rd   *wsutil.Reader
	// got is what ended reading: the client's close frame, as
	// wsutil.ClosedError.
	got chan error
}

func (p *wsPeer) Read(b []byte) (int, error) {
	for {
		n, err := p.rd.Read(b)
		if n > 0 || !errors.Is(err, io.EOF) && !errors.Is(err, wsutil.ErrNoFrameAdvance) {
			if err != nil && !errors.Is(err, io.EOF) {
				p.got <- err
			}
			return n, nil
		}
		h, err := p.rd.NextFrame()
		if err != nil {
			p.got <- err
			return 0, err
		}
		if h.OpCode.IsControl() {
			if err := p.rd.OnIntermediate(h, p.rd); err != nil {
				p.got <- err
				return 0, err
			}
		}
	}
}

func (p *wsPeer) Write(b []byte) (int, error) {
	return len(b), wsutil.WriteServerBinary(p.conn, b)
}

// wsServer serves WebSocket at any path with the quicpush subprotocol.
func wsServer(t *testing.T, handle func(p *peer)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == wire.WebSocketProtocol }}
				if _, err := u.Upgrade(c); err != nil {
					return
				}
				wp := &wsPeer{conn: c, got: make(chan error, 4)}
				wp.rd = &wsutil.Reader{Source: c, State: ws.StateServerSide,
					OnIntermediate: wsutil.ControlFrameHandler(c, ws.StateServerSide)}
				handle(&peer{ReadWriter: wp, done: wp.got, closeWith: func(code wire.Code, reason string) {
					_ = ws.WriteFrame(c, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
				}})
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/ws"
}

// quicServer serves raw QUIC and WebTransport (at /wt) on one UDP port, as
// the edge does.
func quicServer(t *testing.T, handle func(p *peer)) string {
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	tlsConf := serverTLS(t)
	tlsConf.NextProtos = []string{http3.NextProtoH3, wire.ALPN}
	ln, err := tr.ListenEarly(tlsConf, &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	wt := &webtransport.Server{H3: &http3.Server{Handler: mux}}
	mux.HandleFunc("/wt", func(w http.ResponseWriter, r *http.Request) {
		sess, err := wt.Upgrade(w, r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		str, err := sess.AcceptStream(r.Context())
		if err != nil {
			return
		}
		handle(&peer{ReadWriter: str, closeWith: func(code wire.Code, reason string) {
			_ = sess.CloseWithError(webtransport.SessionErrorCode(code), reason)
		}})
	})
	t.Cleanup(func() {
		_ = wt.Close()
		_ = ln.Close()
		_ = tr.Close()
		_ = udp.Close()
	})
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			if conn.ConnectionState().TLS.NegotiatedProtocol == http3.NextProtoH3 {
				go func() { _ = wt.ServeQUICConn(conn) }()
				continue
			}
			go func() {
				str, err := conn.AcceptStream(context.Background())
				if err != nil {
					return
				}
				handle(&peer{ReadWriter: str, closeWith: func(code wire.Code, reason string) {
					_ = conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
				}})
			}()
		}
	}()
	return udp.LocalAddr().String()
}

// transport is one way to dial, with the server it dials.
type transport struct {
	name   string
	server server
	dial   func(ctx context.Context, addr string, o Options) (*Conn, error)
	// url turns the QUIC server's address into the dial target.
	url func(addr string) string
}

func transports(t *testing.T) []transport {
	return []transport{
		{name: TransportTCP, server: tcpServer(nil), dial: DialTCP},
		{name: TransportTLS, server: tcpServer(serverTLS(t)), dial: DialTLS},
		{name: TransportWS, server: wsServer, dial: DialWebSocket},
		{name: TransportQUIC, server: quicServer, dial: DialQUIC},
		{name: TransportWebTransport, server: quicServer, dial: DialWebTransport,
			url: func(addr string) string { return "https://" + addr + "/wt" }},
	}
}

func dial(t *testing.T, tr transport, o Options, handle func(p *peer)) *Conn {
	t.Helper()
	addr := tr.server(t, handle)
	if tr.url != nil {
		addr = tr.url(addr)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, err := tr.dial(ctx, addr, o)
	if err != nil {
		t.Fatalf("dial %s: %v", tr.name, err)
	}
	t.Cleanup(func() { _ = c.Close(0, "") })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// echo sends back every frame it reads.
func echo(p *peer) {
	fr := wire.NewFrameReader(p, 1<<20)
	for {
		h, body, err := fr.ReadFrame()
		if err != nil {
			return
		}
		if _, err := p.Write(wire.AppendFrame(nil, h.Op, h.Seq, body)); err != nil {
			return
		}
	}
}

func TestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789"), 10_000) // larger than any read buffer
	frames := [][]byte{
		wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "token"}),
		wire.AppendFrame(nil, wire.OpPing, 2, nil),
		wire.AppendFrame(nil, wire.OpPush, 3, big),
	}
	for _, tr := range transports(t) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			var reads atomic.Int64
			o := clientOptions()
			o.ReadCounter = &reads
			o.MaxFrame = 1 << 20
			o.WriteTimeout = 5 * time.Second
			c := dial(t, tr, o, echo)
			if c.Transport() != tr.name {
				t.Errorf("Transport() = %q, want %q", c.Transport(), tr.name)
			}
			for _, f := range frames {
				if err := c.WriteFrame(f); err != nil {
					t.Fatal(err)
				}
			}
			for _, f := range frames {
				h, body, err := c.ReadFrame()
				if err != nil {
					t.Fatal(err)
				}
				want, _ := wire.ParseHeader(f, 1<<20)
				if h != want || !bytes.Equal(body, f[wire.HeaderSize:]) {
					t.Fatalf("got %+v (%d bytes), want %+v", h, len(body), want)
				}
			}
			if reads.Load() == 0 {
				t.Error("no read counted")
			}
		})
	}
}

func TestMaxFrame(t *testing.T) {
	for _, tr := range transports(t) {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			o := clientOptions()
			o.MaxFrame = 100
			c := dial(t, tr, o, echo)
			if err := c.WriteFrame(wire.AppendFrame(nil, wire.OpPush, 1, make([]byte, 100))); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ReadFrame(); !errors.Is(err, wire.ErrTooLarge) {
				t.Fatalf("read %v, want %v", err, wire.ErrTooLarge)
			}
		})
	}
}

// TestServerCloseCode checks a close with a disconnect code reaches the
// reader as *CloseError, on every transport that carries one.
func TestServerCloseCode(t *testing.T) {
	for _, tr := range transports(t) {
		if tr.name == TransportTCP || tr.name == TransportTLS {
			continue
		}
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, tr, clientOptions(), func(p *peer) {
				fr := wire.NewFrameReader(p, 0)
				if _, _, err := fr.ReadFrame(); err != nil {
					return
				}
				p.closeWith(wire.CodeFrameTooLarge, "too large")
				if p.done != nil {
					select {
					case err := <-p.done:
						_ = err // the client's reply, or its failure: the wait is over
					case <-time.After(5 * time.Second):
					}
				} else {
					time.Sleep(time.Second)
				}
			})
			if err := c.WriteFrame(wire.AppendFrame(nil, wire.OpPing, 1, nil)); err != nil {
				t.Fatal(err)
			}
			_, _, err := c.ReadFrame()
			var ce *CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("read %v (%T), want *CloseError", err, err)
			}
			if code, ok := ce.Disconnect(); !ok || code != wire.CodeFrameTooLarge || ce.Reason != "too large" {
				t.Fatalf("%+v: disconnect %v %v", ce, code, ok)
			}
			if errors.Unwrap(ce) == nil {
				t.Error("CloseError wraps nothing")
			}
		})
	}
}

// TestClientCloseCode checks Close sends its code where the transport
// carries one.
func TestClientCloseCode(t *testing.T) {
	for _, tr := range transports(t) {
		if tr.name == TransportTCP || tr.name == TransportTLS {
			continue
		}
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan error, 1)
			c := dial(t, tr, clientOptions(), func(p *peer) {
				fr := wire.NewFrameReader(p, 0)
				for {
					h, _, err := fr.ReadFrame()
					if err != nil {
						if p.done != nil {
							err = <-p.done
						}
						got <- err
						return
					}
					_, _ = p.Write(wire.AppendFrame(nil, wire.OpPong, h.Seq, nil))
				}
			})
			// The server sees a QUIC stream with its first bytes: wait
			// for the reply so that the close finds the stream accepted.
			if err := c.WriteFrame(wire.AppendFrame(nil, wire.OpPing, 1, nil)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := c.ReadFrame(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(wire.CodeShutdown, "bye"); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-got:
			case <-time.After(5 * time.Second):
				t.Fatal("the server saw no close")
			}
			var code uint64
			var ae *quic.ApplicationError
			var se *webtransport.SessionError
			var ce wsutil.ClosedError
			switch {
			case errors.As(err, &se):
				code = uint64(se.ErrorCode)
			case tr.name == TransportWebTransport:
				// webtransport-go closes the QUIC connection as soon
				// as the session is closed, and the server may see
				// that before the capsule with the code.
				t.Logf("the connection's close overtook the session's: %v", err)
				return
			case errors.As(err, &ae):
				code = uint64(ae.ErrorCode)
			case errors.As(err, &ce):
				code = uint64(ce.Code)
			default:
				t.Fatalf("server read %v (%T)", err, err)
			}
			if code != uint64(wire.CodeShutdown) {
				t.Fatalf("server saw code %d, want %d (%v)", code, wire.CodeShutdown, err)
			}
		})
	}
}
