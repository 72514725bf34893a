package quicpush

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/http3"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/wire"
)

// testToken is the token the test server accepts; any other gets
// Disconnect(CodeInvalidToken).
const testToken = "good-token"

// testServer is a small edge speaking the protocol over TCP (optionally TLS),
// WebSocket and raw QUIC, on 127.0.0.1 port 0. Tests drive it through its
// connections and watch what clients send through its events.
type testServer struct {
	t         *testing.T
	id        string // prefix of the connection keys, like an edge's id
	pingMs    uint64
	noPong    bool            // never answer Ping
	forbidden map[string]bool // rooms whose Join gets ErrCodeForbidden (under mu)
	silent    map[string]bool // rooms whose Join or PresenceGet gets no answer (under mu)
	revision  uint64          // announced in AuthOK
	failing   map[string]int  // rooms whose next Joins get ErrCodeInternal, how many (under mu)
	refuse    wire.Code       // when set, every Auth gets Disconnect(refuse)
	authGate  chan struct{}   // when set, AuthOK waits for a receive from it
	// presence answers PresenceGet by room (under mu); a room not in it gets
	// ErrCodeNotJoined, a silent one no answer.
	presence map[string]*wire.PresenceOK

	events chan serverEvent
	stop   chan struct{} // closed by close: events are dropped from then on

	mu      sync.Mutex
	auths   int
	conns   []*serverConn
	closers []func()
	wg      sync.WaitGroup
}

// serverEvent is a frame a client sent.
type serverEvent struct {
	op    wire.Op
	seq   uint32
	conn  *serverConn
	token string    // Auth
	joins uint64    // Auth: the Joins announced
	join  wire.Join // Join
	room  string    // Leave, PresenceGet
}

type serverConn struct {
	kind string
	key  string
	// wmu serializes writes: the test's, the session's replies and the
	// WebSocket control replies.
	wmu   sync.Mutex
	write func(b []byte) error                   // one unit: stream bytes or one WebSocket message
	chunk func(b []byte, n int) error            // stream bytes in writes of n bytes
	hard  func(code wire.Code, reason string)    // close at once, with a transport close code where there is one
	frag  func(msg []byte, parts int, ping bool) // WebSocket only: one message in parts fragments
	dgram func(b []byte) error                   // QUIC and WebTransport only: one datagram
	gone  chan struct{}                          // closed when the session's read loop ends
}

func newTestServer(t *testing.T) *testServer {
	s := &testServer{t: t, id: "key", pingMs: 30_000, forbidden: map[string]bool{"secret": true}, events: make(chan serverEvent, 1024), stop: make(chan struct{})}
	t.Cleanup(s.close)
	return s
}

func (s *testServer) close() {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	closers := s.closers
	s.closers = nil
	conns := s.conns
	s.mu.Unlock()
	for _, f := range closers {
		f()
	}
	for _, sc := range conns {
		sc.hard(0, "")
	}
	s.wg.Wait()
}

// shutdown drains the server as an edge's graceful shutdown does: it stops
// accepting, sends every client Disconnect(CodeShutdown) and waits (up to 2 s)
// for them to hang up, then closes.
func (s *testServer) shutdown() {
	s.mu.Lock()
	closers := s.closers
	s.closers = nil
	conns := s.conns
	s.mu.Unlock()
	for _, f := range closers {
		f()
	}
	var wg sync.WaitGroup
	for _, sc := range conns {
		wg.Go(func() { sc.disconnect(wire.CodeShutdown, "edge draining, reconnect") })
	}
	wg.Wait()
	s.close()
}

func (s *testServer) addCloser(f func()) {
	s.mu.Lock()
	s.closers = append(s.closers, f)
	s.mu.Unlock()
}

// forbid makes the Joins of room refused with ErrCodeForbidden from now on.
func (s *testServer) forbid(room string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden[room] = true
}

func (s *testServer) authCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths
}

func (s *testServer) conn(i int) *serverConn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[i]
}

func (s *testServer) goServe(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// next returns the next event with one of ops, dropping others.
func (s *testServer) next(ops ...wire.Op) serverEvent {
	s.t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-s.events:
			for _, op := range ops {
				if ev.op == op {
					return ev
				}
			}
		case <-timeout:
			s.t.Fatalf("no %v event within 5s", ops)
			return serverEvent{}
		}
	}
}

// none fails if an event with one of ops arrives within d.
func (s *testServer) none(d time.Duration, ops ...wire.Op) {
	s.t.Helper()
	timeout := time.After(d)
	for {
		select {
		case ev := <-s.events:
			for _, op := range ops {
				if ev.op == op {
					s.t.Fatalf("unexpected %v event: %+v", ev.op, ev)
				}
			}
		case <-timeout:
			return
		}
	}
}

// session runs the server side of the protocol on one connection.
func (s *testServer) session(sc *serverConn, read func() (wire.Header, []byte, error)) {
	defer sc.hard(0, "")
	defer close(sc.gone)
	h, body, err := read()
	if err != nil || h.Op != wire.OpAuth {
		return
	}
	var a wire.Auth
	if err := a.Decode(body); err != nil {
		return
	}
	s.mu.Lock()
	s.auths++
	n := s.auths
	s.mu.Unlock()
	s.emit(serverEvent{op: wire.OpAuth, seq: h.Seq, conn: sc, token: a.Token, joins: a.Joins})
	refuse := &wire.Disconnect{Code: s.refuse, Reason: "refused"}
	if a.Token != testToken || a.Version != wire.Version || h.Seq == 0 {
		refuse = &wire.Disconnect{Code: wire.CodeInvalidToken, Reason: "invalid token"}
	}
	if refuse.Code != 0 {
		_ = sc.send(wire.AppendDisconnect(nil, refuse))
		// The client must close on its own; drain until it does.
		timer := time.AfterFunc(2*time.Second, func() { sc.hard(0, "") })
		defer timer.Stop()
		for {
			if _, _, err := read(); err != nil {
				return
			}
		}
	}
	sc.key = fmt.Sprintf("%s-%d", s.id, n)
	s.mu.Lock()
	s.conns = append(s.conns, sc)
	s.mu.Unlock()
	if s.authGate != nil {
		select {
		case <-s.authGate:
		case <-s.stop:
			return
		}
	}
	ok := wire.AuthOK{ConnKey: sc.key, User: "alice", PingIntervalMs: s.pingMs, MaxFrame: wire.DefaultMaxFrame, Revision: s.revision}
	if sc.send(wire.AppendAuthOK(nil, h.Seq, &ok)) != nil {
		return
	}
	for {
		h, body, err := read()
		if err != nil {
			return
		}
		ev := serverEvent{op: h.Op, seq: h.Seq, conn: sc}
		var reply []byte
		switch h.Op {
		case wire.OpPing:
			if !s.noPong {
				reply = wire.AppendFrame(nil, wire.OpPong, h.Seq, nil)
			}
		case wire.OpJoin:
			if err := ev.join.Decode(body); err != nil {
				s.t.Errorf("join: %v", err)
				return
			}
			s.mu.Lock()
			fail := s.failing[ev.join.Room] > 0
			if fail {
				s.failing[ev.join.Room]--
			}
			forbidden, silent := s.forbidden[ev.join.Room], s.silent[ev.join.Room]
			s.mu.Unlock()
			switch {
			case silent:
			case forbidden:
				reply = wire.AppendError(nil, h.Seq, &wire.Error{Code: wire.ErrCodeForbidden, Message: "not for you"})
			case fail:
				reply = wire.AppendError(nil, h.Seq, &wire.Error{Code: wire.ErrCodeInternal, Message: "room unavailable, retry"})
			default:
				reply = wire.AppendRoom(nil, wire.OpJoinOK, h.Seq, ev.join.Room)
			}
		case wire.OpLeave:
			var r wire.RoomReply
			if err := r.Decode(body); err != nil {
				s.t.Errorf("leave: %v", err)
				return
			}
			ev.room = r.Room
			reply = wire.AppendRoom(nil, wire.OpLeaveOK, h.Seq, r.Room)
		case wire.OpPresenceGet:
			var r wire.RoomReply
			if err := r.Decode(body); err != nil {
				s.t.Errorf("presence_get: %v", err)
				return
			}
			ev.room = r.Room
			s.mu.Lock()
			p, silent := s.presence[r.Room], s.silent[r.Room]
			s.mu.Unlock()
			switch {
			case silent:
			case p != nil:
				reply = wire.AppendPresenceOK(nil, h.Seq, p)
			default:
				reply = wire.AppendError(nil, h.Seq, &wire.Error{Code: wire.ErrCodeNotJoined, Message: "not in " + r.Room})
			}
		}
		s.emit(ev)
		if reply != nil && sc.send(reply) != nil {
			return
		}
	}
}

func (s *testServer) emit(ev serverEvent) {
	select {
	case s.events <- ev:
	case <-s.stop:
	}
}

func (sc *serverConn) send(b []byte) error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	return sc.write(b)
}

// sendChunked writes b in writes of n bytes (one WebSocket message, cut
// across TCP writes, on WebSocket).
func (sc *serverConn) sendChunked(b []byte, n int) error {
	sc.wmu.Lock()
	defer sc.wmu.Unlock()
	return sc.chunk(b, n)
}

// disconnect sends a Disconnect frame, lets the client close, then closes.
func (sc *serverConn) disconnect(code wire.Code, reason string) {
	_ = sc.send(wire.AppendDisconnect(nil, &wire.Disconnect{Code: code, Reason: reason}))
	sc.awaitGone(func() { sc.hard(code, reason) })
}

// awaitGone waits for the client to close the connection, then runs after.
func (sc *serverConn) awaitGone(after func()) {
	select {
	case <-sc.gone:
	case <-time.After(2 * time.Second):
	}
	after()
}

func writeChunks(w io.Writer, b []byte, n int) error {
	for len(b) > 0 {
		k := min(n, len(b))
		if _, err := w.Write(b[:k]); err != nil {
			return err
		}
		b = b[k:]
	}
	return nil
}

// listenTCP serves framed TCP, with TLS when cert is not nil.
func (s *testServer) listenTCP(cert *tls.Certificate) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	scheme := "tcp"
	if cert != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{*cert}})
		scheme = "tls"
	}
	s.addCloser(func() { _ = ln.Close() })
	s.goServe(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			sc := &serverConn{kind: scheme, gone: make(chan struct{})}
			var once sync.Once
			sc.write = func(b []byte) error { _, err := c.Write(b); return err }
			sc.chunk = func(b []byte, n int) error { return writeChunks(c, b, n) }
			sc.hard = func(wire.Code, string) { once.Do(func() { _ = c.Close() }) }
			fr := wire.NewFrameReader(bufio.NewReader(c), 0)
			s.goServe(func() { s.session(sc, fr.ReadFrame) })
		}
	})
	return scheme + "://" + ln.Addr().String()
}

// listenWS serves WebSocket on path /ws.
func (s *testServer) listenWS() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	s.addCloser(func() { _ = ln.Close() })
	s.goServe(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.goServe(func() { s.serveWS(c) })
		}
	})
	return "ws://" + ln.Addr().String() + "/ws"
}

func (s *testServer) serveWS(c net.Conn) {
	u := ws.Upgrader{
		Protocol: func(p []byte) bool { return string(p) == wire.WebSocketProtocol },
		OnRequest: func(uri []byte) error {
			if string(uri) != "/ws" {
				return ws.RejectConnectionError(ws.RejectionStatus(404))
			}
			return nil
		},
	}
	if _, err := u.Upgrade(c); err != nil {
		_ = c.Close()
		return
	}
	sc := &serverConn{kind: "ws", gone: make(chan struct{})}
	var once sync.Once
	frame := func(op ws.OpCode, fin bool, p []byte) []byte {
		var buf bytes.Buffer
		_ = ws.WriteFrame(&buf, ws.NewFrame(op, fin, p))
		return buf.Bytes()
	}
	sc.write = func(b []byte) error { _, err := c.Write(frame(ws.OpBinary, true, b)); return err }
	sc.chunk = func(b []byte, n int) error { return writeChunks(c, frame(ws.OpBinary, true, b), n) }
	sc.frag = func(msg []byte, parts int, ping bool) {
		sc.wmu.Lock()
		defer sc.wmu.Unlock()
		size := (len(msg) + parts - 1) / parts
		op := ws.OpBinary
		for len(msg) > 0 {
			k := min(size, len(msg))
			_, _ = c.Write(frame(op, k == len(msg), msg[:k]))
			msg, op = msg[k:], ws.OpContinuation
			if ping && len(msg) > 0 {
				_, _ = c.Write(frame(ws.OpPing, true, []byte("mid")))
			}
		}
	}
	sc.hard = func(code wire.Code, reason string) {
		once.Do(func() {
			if code != 0 {
				// Close handshake: send the code, let the client answer.
				sc.wmu.Lock()
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				_, _ = c.Write(frame(ws.OpClose, true, ws.NewCloseFrameBody(ws.StatusCode(code), reason)))
				sc.wmu.Unlock()
				select {
				case <-sc.gone:
				case <-time.After(time.Second):
				}
			}
			_ = c.Close()
		})
	}
	// Control replies (pong, close) go through the write lock too.
	rw := struct {
		io.Reader
		io.Writer
	}{c, lockedWriter{&sc.wmu, c}}
	var msg []byte
	read := func() (wire.Header, []byte, error) {
		for {
			h, body, rest, ok, err := wire.Split(msg, 0)
			if err != nil {
				return wire.Header{}, nil, err
			}
			if ok {
				msg = rest
				return h, body, nil
			}
			if len(msg) > 0 {
				return wire.Header{}, nil, errors.New("frame cut at the end of a message")
			}
			data, op, err := wsutil.ReadClientData(rw)
			if err != nil {
				return wire.Header{}, nil, err
			}
			if op != ws.OpBinary {
				return wire.Header{}, nil, fmt.Errorf("opcode %v", op)
			}
			msg = data
		}
	}
	s.session(sc, read)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// listenQUIC serves raw QUIC (ALPN quicpush/1).
func (s *testServer) listenQUIC(cert tls.Certificate) string {
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{wire.ALPN}}, &quic.Config{EnableDatagrams: true})
	if err != nil {
		s.t.Fatal(err)
	}
	s.addCloser(func() { _ = ln.Close() })
	s.goServe(func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			s.goServe(func() {
				str, err := conn.AcceptStream(context.Background())
				if err != nil {
					_ = conn.CloseWithError(0, "")
					return
				}
				sc := &serverConn{kind: "quic", gone: make(chan struct{})}
				sc.write = func(b []byte) error { _, err := str.Write(b); return err }
				sc.chunk = func(b []byte, n int) error { return writeChunks(str, b, n) }
				sc.hard = func(code wire.Code, reason string) {
					_ = conn.CloseWithError(quic.ApplicationErrorCode(code), reason)
				}
				sc.dgram = conn.SendDatagram
				fr := wire.NewFrameReader(str, 0)
				s.session(sc, fr.ReadFrame)
			})
		}
	})
	return "quic://" + ln.Addr().String()
}

// listenWebTransport serves WebTransport sessions on path /wt.
func (s *testServer) listenWebTransport(cert tls.Certificate) string {
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	h3 := &http3.Server{TLSConfig: http3.ConfigureTLSConfig(&tls.Config{Certificates: []tls.Certificate{cert}})}
	webtransport.ConfigureHTTP3Server(h3)
	wt := &webtransport.Server{H3: h3, CheckOrigin: func(*http.Request) bool { return true }}
	mux := http.NewServeMux()
	mux.HandleFunc("/wt", func(w http.ResponseWriter, r *http.Request) {
		sess, err := wt.Upgrade(w, r)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		str, err := sess.AcceptStream(r.Context())
		if err != nil {
			_ = sess.CloseWithError(0, "")
			return
		}
		sc := &serverConn{kind: "webtransport", gone: make(chan struct{})}
		sc.write = func(b []byte) error { _, err := str.Write(b); return err }
		sc.chunk = func(b []byte, n int) error { return writeChunks(str, b, n) }
		sc.hard = func(code wire.Code, reason string) {
			_ = sess.CloseWithError(webtransport.SessionErrorCode(code), reason)
		}
		sc.dgram = sess.SendDatagram
		fr := wire.NewFrameReader(str, 0)
		s.session(sc, fr.ReadFrame)
	})
	h3.Handler = mux
	s.addCloser(func() {
		_ = wt.Close()
		_ = udp.Close()
	})
	s.goServe(func() { _ = wt.Serve(udp) })
	return "webtransport://" + udp.LocalAddr().String() + "/wt"
}

// newTestCert returns a self-signed ECDSA P-256 certificate for 127.0.0.1 and
// localhost, valid for 10 days, and the SHA-256 of its DER encoding.
func newTestCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "quicpush test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(10 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, sum[:]
}
