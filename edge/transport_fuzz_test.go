package edge

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// Fuzz targets of what a server reads from a client: the first-byte sniffing
// of the TCP port (framed TCP, TLS, WebSocket), the framed stream, and
// WebSocket messages cut into frames. FuzzEdgeTCP and FuzzEdgeWebSocket
// write each input to a fresh connection to one real edge (fuzzedge_test.go)
// and check that the edge does not crash, closes the connection within a
// bound, sends only well-formed frames that answer what was sent, forgets
// the session, and keeps serving a canary connection. FuzzWSTransport runs
// the WebSocket reader alone, fast, against a model of RFC 6455 messages.

// A mode byte picks what the harness does around the fuzzed bytes.
const (
	// FuzzEdgeTCP
	tcpAuth = 1 << 0 // a valid Auth before the bytes
	tcpTLS  = 1 << 1 // TLS first (the edge unwraps it and sniffs again)
	// FuzzEdgeWebSocket: mode&wsKind is one of the ws* kinds.
	wsKind      = 3
	wsRawHTTP   = 0      // the bytes are the upgrade request and what follows
	wsRawFrames = 1      // a good upgrade, then the bytes as WebSocket frames
	wsBinary    = 2      // a good upgrade, then the bytes in binary messages
	wsAuthFirst = 3      // as wsBinary, after a message holding a valid Auth
	wsTLS       = 1 << 2 // TLS first (wss)
	// Both.
	modeHold = 1 << 7 // keep the connection open after the bytes: the edge must time out
)

// authFrame is a valid Auth, for modes that authenticate before the fuzzed
// bytes.
func authFrame() []byte {
	return wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u/all"})
}

// clientSession is a well-behaved session's frames after Auth, for seeds.
func clientSession() []byte {
	b := wire.AppendJoin(nil, 2, &wire.Join{Room: "a", Offset: 3, Epoch: "e"})
	b = wire.AppendJoin(b, 3, &wire.Join{Room: "r1", Offset: 9, Epoch: "old"})
	b = wire.AppendJoin(b, 4, &wire.Join{Room: "x"})
	b = wire.AppendFrame(b, wire.OpPing, 5, nil)
	b = wire.AppendRoom(b, wire.OpLeave, 6, "a")
	b = wire.AppendRoom(b, wire.OpLeave, 7, "nope")
	return wire.AppendJoin(b, 8, &wire.Join{Room: ""})
}

// exchange writes stream to w in pieces (writeCut), half-closes with
// closeWrite when shut is set, reads everything the edge sends on r until it
// closes (readAll, while writing), then closes conn. An edge that does not
// close within fuzzCloseBound fails the test.
func exchange(t *testing.T, r io.Reader, w io.Writer, conn net.Conn, stream, cuts []byte, shut bool, closeWrite func()) []byte {
	t.Helper()
	type result struct {
		b   []byte
		err error
	}
	read := make(chan result, 1)
	go func() {
		b, err := readAll(r, conn)
		read <- result{b, err}
	}()
	writeCut(w, stream, cuts)
	if shut {
		closeWrite()
	}
	res := <-read
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, goroutines())
	}
	_ = conn.Close()
	return res.b
}

// writeCut writes b in pieces whose sizes come from cuts (1 to 256 bytes,
// cycling), ignoring errors: the edge may close first.
func writeCut(w io.Writer, b, cuts []byte) {
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)])+1)
		}
		if _, err := w.Write(b[:n]); err != nil {
			return
		}
		b = b[n:]
	}
}

// tlsClient runs a TLS handshake with the edge on conn.
func tlsClient(t *testing.T, conn net.Conn) *tls.Conn {
	t.Helper()
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"})
	_ = tc.SetDeadline(time.Now().Add(fuzzCloseBound))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake with the edge: %v", err)
	}
	_ = tc.SetDeadline(time.Time{})
	return tc
}

// FuzzEdgeTCP writes each input to a new TCP connection to the edge, as is or
// after TLS and a valid Auth (tcp* modes), then half-closes it unless
// modeHold is set, and checks what the edge sends back (frameChecker) and
// that it closes in time and stays healthy (fuzzEdge.afterInput).
func FuzzEdgeTCP(f *testing.F) {
	fe := newFuzzEdge(f)
	auth := authFrame()
	session := clientSession()
	positioned := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u", Offset: 2, Epoch: "e"})
	for _, s := range []struct {
		mode       uint8
		data, cuts []byte
	}{
		{0, append(bytes.Clone(auth), session...), nil},
		{0, append(bytes.Clone(positioned), session...), []byte{3, 0, 40}},
		{tcpAuth, session, nil},
		{tcpAuth | modeHold, session, []byte{7}},
		{tcpTLS, append(bytes.Clone(auth), session...), nil},
		{tcpTLS | tcpAuth, session, []byte{0}},
		{0, wire.AppendAuth(nil, 1, &wire.Auth{Version: 2, Token: "u"}), nil},
		{0, wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "bad"}), nil},
		{0, wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u/short"}), nil},
		{0 | modeHold, wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u/short"}), nil},
		{0, wire.AppendJoin(nil, 1, &wire.Join{Room: "a"}), nil},
		{0 | modeHold, auth[:12], nil},
		{tcpAuth, append(wire.AppendFrame(nil, wire.OpPing, 2, nil), auth...), nil},
		{tcpAuth, []byte{0, 1, 0, 0, 5, 0, 0, 0, 2}, nil},
		{tcpAuth, []byte{0xff, 0xff, 0xff, 0xff, 3, 0, 0, 0, 2}, nil},
		{0, []byte("\x16\x03\x01\x00\x05hello"), nil},
		{0, []byte("GET /ws HTTP/1.1\r\n\r\n"), nil},
		{0, nil, nil},
	} {
		f.Add(s.mode, s.data, s.cuts)
	}
	f.Fuzz(func(t *testing.T, mode uint8, data, cuts []byte) {
		conn := fe.dial(t)
		defer conn.Close()
		_ = conn.SetWriteDeadline(time.Now().Add(fuzzCloseBound))
		var rw io.ReadWriter = conn
		closeWrite := func() { _ = conn.(*net.TCPConn).CloseWrite() }
		secure := mode&tcpTLS != 0
		if secure {
			tc := tlsClient(t, conn)
			rw, closeWrite = tc, func() { _ = tc.CloseWrite() }
		}
		var stream []byte
		if mode&tcpAuth != 0 {
			stream = authFrame()
		}
		stream = append(stream, data...)

		out := exchange(t, rw, rw, conn, stream, cuts, mode&modeHold == 0, closeWrite)

		// The edge sniffs the first byte: TLS (only on the raw connection),
		// "G" for WebSocket, anything else a frame stream.
		first := byte(0)
		if len(stream) > 0 {
			first = stream[0]
		}
		switch {
		case first == 'G':
			if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
				t.Fatalf("answer to an HTTP request: %q", out[:min(len(out), 64)])
			}
		case first == 0x16 && !secure:
			// A TLS handshake of fuzzed bytes: the close is all there is to check.
		default:
			c := frameChecker{seqs: clientSeqs(stream)}
			c.stream(t, out, mode&modeHold == 0)
		}
		fe.afterInput(t)
	})
}

// wsUpgrade is a WebSocket upgrade request for the edge's path.
const wsUpgrade = "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: quicpush.v1\r\n\r\n"

// wsClientFrame encodes a masked client frame.
func wsClientFrame(op ws.OpCode, fin bool, payload []byte, key byte) []byte {
	b0 := byte(op)
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = binary.BigEndian.AppendUint16(append(b, 0x80|126), uint16(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), uint64(n))
	}
	mask := [4]byte{0x5a, key, 0xa5, key ^ 0xff}
	b = append(b, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// wsMessage is one binary message of a client, as sent.
type wsMessage struct {
	payload []byte
	frames  int // fragments: 1 or 2
}

// wsMessages cuts data into binary messages and encodes them as a client
// would send them. Each cut byte c makes one message of 4*(c&0x3f) bytes
// (0x3f: the rest), in two fragments when c&0x40 is set, with a ping before
// its last fragment when c&0x80 is set. No cuts: one message. The 64th
// message takes the rest.
func wsMessages(data, cuts []byte) (wireBytes []byte, msgs []wsMessage, pings [][]byte) {
	for i := 0; i == 0 || len(data) > 0; i++ {
		c := byte(0x3f)
		if len(cuts) > 0 && i < 63 {
			c = cuts[i%len(cuts)]
		}
		n := len(data)
		if c&0x3f != 0x3f {
			n = min(n, 4*int(c&0x3f))
		}
		m := wsMessage{payload: data[:n], frames: 1}
		data = data[n:]
		key := byte(i)
		var ping []byte
		if c&0x80 != 0 {
			ping = []byte(fmt.Sprintf("p%d", i))
			pings = append(pings, ping)
		}
		if c&0x40 != 0 {
			m.frames = 2
			half := n / 2
			wireBytes = append(wireBytes, wsClientFrame(ws.OpBinary, false, m.payload[:half], key)...)
			if ping != nil {
				wireBytes = append(wireBytes, wsClientFrame(ws.OpPing, true, ping, key)...)
			}
			wireBytes = append(wireBytes, wsClientFrame(ws.OpContinuation, true, m.payload[half:], key+1)...)
		} else {
			if ping != nil {
				wireBytes = append(wireBytes, wsClientFrame(ws.OpPing, true, ping, key)...)
			}
			wireBytes = append(wireBytes, wsClientFrame(ws.OpBinary, true, m.payload, key)...)
		}
		msgs = append(msgs, m)
	}
	return wireBytes, msgs, pings
}

// FuzzEdgeWebSocket writes each input to a new connection to the edge as an
// HTTP request, or after a good upgrade as WebSocket frames or as the payload
// of binary messages (ws* modes), and checks the answer and the edge as
// FuzzEdgeTCP does.
func FuzzEdgeWebSocket(f *testing.F) {
	fe := newFuzzEdge(f)
	auth := authFrame()
	session := clientSession()
	split := func(b []byte) []byte { // cuts that make one message per frame
		var cuts []byte
		for len(b) > 0 {
			h, _, rest, ok, _ := wire.Split(b, 0)
			if !ok || h.FrameSize()%4 != 0 || h.FrameSize() >= 4*0x3f {
				return []byte{0x3f}
			}
			cuts = append(cuts, byte(h.FrameSize()/4))
			b = rest
		}
		return cuts
	}
	for _, s := range []struct {
		mode       uint8
		data, cuts []byte
	}{
		{wsAuthFirst, session, nil},
		{wsAuthFirst, session, split(session)},
		{wsAuthFirst, session, []byte{0x43, 0xc5, 0x3f}},
		{wsBinary, append(bytes.Clone(auth), session...), []byte{0x3f}},
		{wsBinary, append(bytes.Clone(auth), session...), []byte{1, 2, 3, 0xff}},
		{wsAuthFirst | modeHold, session, []byte{0x40}},
		{wsAuthFirst | wsTLS, session, nil},
		{wsRawFrames, wsClientFrame(ws.OpBinary, true, auth, 1), nil},
		{wsRawFrames, append(wsClientFrame(ws.OpBinary, true, auth, 1), wsClientFrame(ws.OpText, true, []byte("hi"), 2)...), nil},
		{wsRawFrames, append(wsClientFrame(ws.OpBinary, true, auth, 1), wsClientFrame(ws.OpClose, true, []byte{3, 0xe8}, 2)...), nil},
		{wsRawFrames, []byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil},
		{wsRawFrames, []byte{0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, nil},
		{wsRawFrames, []byte{0x82, 0x05, 1, 2, 3, 4, 5}, nil},
		{wsRawFrames | modeHold, wsClientFrame(ws.OpBinary, false, auth[:5], 1), nil},
		{wsRawHTTP, append([]byte(wsUpgrade), wsClientFrame(ws.OpBinary, true, auth, 1)...), nil},
		{wsRawHTTP, []byte(strings.Replace(wsUpgrade, "/ws", "/nope", 1)), nil},
		{wsRawHTTP, []byte(strings.Replace(wsUpgrade, "quicpush.v1", "other", 1)), nil},
		{wsRawHTTP, []byte(strings.Replace(wsUpgrade, "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1)), nil},
		{wsRawHTTP | wsTLS, []byte("GET /ws?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"), nil},
	} {
		f.Add(s.mode, s.data, s.cuts)
	}
	f.Fuzz(func(t *testing.T, mode uint8, data, cuts []byte) {
		conn := fe.dial(t)
		defer conn.Close()
		_ = conn.SetWriteDeadline(time.Now().Add(fuzzCloseBound))
		var rw io.ReadWriter = conn
		closeWrite := func() { _ = conn.(*net.TCPConn).CloseWrite() }
		if mode&wsTLS != 0 {
			tc := tlsClient(t, conn)
			rw, closeWrite = tc, func() { _ = tc.CloseWrite() }
		}
		br := bufio.NewReader(rw)
		var stream []byte
		var pings [][]byte
		var c frameChecker
		upgraded := mode&wsKind != wsRawHTTP
		switch mode & wsKind {
		case wsRawHTTP, wsRawFrames:
			stream = data
		case wsBinary, wsAuthFirst:
			payload := data
			if mode&wsKind == wsAuthFirst {
				payload = append(authFrame(), data...)
				cuts = append([]byte{byte(len(authFrame())+3) / 4}, cuts...)
			}
			var msgs []wsMessage
			stream, msgs, pings = wsMessages(payload, cuts)
			c.seqs = map[uint32]bool{}
			for _, m := range msgs {
				for s := range clientSeqs(m.payload) {
					c.seqs[s] = true
				}
			}
		}
		if upgraded {
			if _, err := io.WriteString(rw, wsUpgrade); err != nil {
				t.Fatal(err)
			}
			_ = conn.SetReadDeadline(time.Now().Add(fuzzCloseBound))
			if status, err := readHTTPHeader(br); err != nil || !strings.HasPrefix(status, "HTTP/1.1 101 ") {
				t.Fatalf("upgrade: %q, %v", status, err)
			}
		}

		out := exchange(t, br, rw, conn, stream, nil, mode&modeHold == 0, closeWrite)
		if !upgraded {
			if len(stream) == 0 || stream[0] != 'G' {
				if len(stream) > 0 && stream[0] == 0x16 && mode&wsTLS == 0 {
					fe.afterInput(t)
					return // a TLS handshake of fuzzed bytes
				}
				c.seqs = clientSeqs(stream)
				c.stream(t, out, mode&modeHold == 0)
				fe.afterInput(t)
				return
			}
			if len(out) == 0 {
				fe.afterInput(t)
				return
			}
			status, err := readHTTPHeader(bufio.NewReader(bytes.NewReader(out)))
			if err != nil || !strings.HasPrefix(status, "HTTP/1.1 ") {
				t.Fatalf("answer to an HTTP request: %q (%v)", out[:min(len(out), 64)], err)
			}
			if !strings.HasPrefix(status, "HTTP/1.1 101 ") {
				fe.afterInput(t)
				return
			}
			out = out[bytes.Index(out, []byte("\r\n\r\n"))+4:]
		}
		c.webSocket(t, out, pings, mode&modeHold == 0)
		fe.afterInput(t)
	})
}

// readHTTPHeader reads a response header and returns its status line.
func readHTTPHeader(br *bufio.Reader) (string, error) {
	status, err := br.ReadString('\n')
	if err != nil {
		return status, err
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return status, err
		}
		if line == "\r\n" {
			return status, nil
		}
	}
}

// fakeConn is a net.Conn that reads a fixed input and records writes.
type fakeConn struct {
	r io.Reader
	w bytes.Buffer
}

func (c *fakeConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *fakeConn) Write(p []byte) (int, error)      { return c.w.Write(p) }
func (c *fakeConn) Close() error                     { return nil }
func (c *fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *fakeConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func newFakeConn(b, cuts []byte) *fakeConn { return &fakeConn{r: &cutReader{b: b, cuts: cuts}} }

// cutReader returns its bytes in reads of 1 to 64 bytes (cuts, cycling).
type cutReader struct {
	b    []byte
	cuts []byte
	i    int
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if len(r.cuts) > 0 {
		n = min(n, int(r.cuts[r.i%len(r.cuts)])%64+1)
		r.i++
	}
	n = copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// wsErrClass names the kind of error a WebSocket read ends with.
func wsErrClass(err error) string {
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, wire.ErrTooLarge):
		return "too large"
	case errors.Is(err, wire.ErrMalformed):
		return "malformed"
	case errors.Is(err, errWebSocketProtocol):
		return "websocket protocol"
	case errors.Is(err, io.EOF):
		return "eof"
	}
	return "other: " + err.Error()
}

// FuzzWSTransport feeds the edge's WebSocket reader client frames. With raw
// set the bytes are any frames at all: the reader must not panic, must end
// with an error the session maps to a close code, and must never buffer more
// than its limit allows. Otherwise the bytes are cut into binary messages
// (fragmented, with pings between fragments), and the frames read must be
// exactly those of each message in turn, as wire.Split finds them, ending
// where a message is too large, holds a bad frame or ends inside one; every
// ping is answered with its payload.
func FuzzWSTransport(f *testing.F) {
	session := append(authFrame(), clientSession()...)
	f.Add(session, []byte{0x3f}, []byte{}, uint16(fuzzMaxFrame), false)
	f.Add(session, []byte{0x43, 0xc5, 0x3f}, []byte{1, 7}, uint16(64), false)
	f.Add(session, []byte{0x80, 3, 0x40}, []byte{}, uint16(30), false)
	f.Add(wsClientFrame(ws.OpBinary, true, session, 3), []byte{}, []byte{2}, uint16(1000), true)
	f.Add([]byte{0x82, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0}, []byte{}, []byte{}, uint16(100), true)
	f.Add([]byte{0x02, 0x80, 0, 0, 0, 0, 0x80, 0x81, 0, 0, 0, 0, 1}, []byte{}, []byte{}, uint16(100), true)
	f.Fuzz(func(t *testing.T, data, msgCuts, readCuts []byte, maxFrame uint16, raw bool) {
		limit := int(maxFrame)%(64<<10) + wire.HeaderSize
		stream := data
		var msgs []wsMessage
		var pings [][]byte
		if !raw {
			stream, msgs, pings = wsMessages(data, msgCuts)
		}
		conn := newFakeConn(stream, readCuts)
		tr := &wsTransport{conn: conn, maxFrame: limit}

		type frame struct {
			h    wire.Header
			body []byte
		}
		var got []frame
		var err error
		for range len(stream) + 1 {
			var h wire.Header
			var body []byte
			h, body, err = tr.readFrame()
			if cap(tr.buf) > 2*limit+64 {
				t.Fatalf("a %d-byte buffer for a %d-byte limit", cap(tr.buf), limit)
			}
			if err != nil {
				break
			}
			if h.FrameSize() > limit {
				t.Fatalf("a %d-byte frame over the %d-byte limit", h.FrameSize(), limit)
			}
			got = append(got, frame{h, bytes.Clone(body)})
			tr.releaseRead()
		}
		if err == nil {
			t.Fatalf("%d frames from %d bytes and no end", len(got), len(stream))
		}
		class := wsErrClass(err)
		if raw {
			if strings.HasPrefix(class, "other") && !errors.Is(err, io.ErrUnexpectedEOF) && !isWSHeaderError(err) {
				t.Fatalf("read ended with %v", err)
			}
			return
		}

		// The model: each message's frames in turn.
		var want []frame
		wantClass := "eof"
	model:
		for _, m := range msgs {
			if len(m.payload) > limit {
				wantClass = "too large"
				break
			}
			rest := m.payload
			for len(rest) > 0 {
				h, body, r, ok, err := wire.Split(rest, limit)
				switch {
				case err != nil:
					wantClass = wsErrClass(err)
					break model
				case !ok:
					wantClass = "websocket protocol"
					break model
				}
				want = append(want, frame{h, body})
				rest = r
			}
		}
		if class != wantClass || len(got) != len(want) {
			t.Fatalf("read %d frames then %v (%s); want %d frames then %s", len(got), err, class, len(want), wantClass)
		}
		for i := range want {
			if got[i].h != want[i].h || !bytes.Equal(got[i].body, want[i].body) {
				t.Fatalf("frame %d: %+v %x, want %+v %x", i, got[i].h, got[i].body, want[i].h, want[i].body)
			}
		}
		// Pongs for the pings read, in order.
		out := conn.w.Bytes()
		for _, p := range pings {
			if len(out) == 0 {
				break // the read stopped before this ping
			}
			pong := ws.MustCompileFrame(ws.NewPongFrame(p))
			if !bytes.HasPrefix(out, pong) {
				t.Fatalf("written %x, want the pong %x", out, pong)
			}
			out = out[len(pong):]
		}
		if len(out) != 0 {
			t.Fatalf("written %x after the pongs", out)
		}
	})
}

// isWSHeaderError reports whether err is gobwas/ws refusing a frame header.
func isWSHeaderError(err error) bool {
	return errors.Is(err, ws.ErrHeaderLengthMSB) || errors.Is(err, ws.ErrHeaderLengthUnexpected)
}

// TestWSFrameRules checks the RFC 6455 rules the edge's WebSocket reader
// applies to a client's frames. FuzzWSTransport found the first case
// (testdata/fuzz/FuzzWSTransport/91dff90eaaa69d59: an empty message sent in
// two fragments): the reader tells "inside a fragmented message" by the bytes
// gathered so far, not by the FIN bit, so an empty first fragment makes the
// legal continuation a protocol error, and a new message after it is taken
// as legal. The other cases are frames RFC 6455 section 5 says a server must
// fail the connection for (no extension is negotiated), which the reader
// takes as data or skips.
func TestWSFrameRules(t *testing.T) {
	ping := wire.AppendFrame(nil, wire.OpPing, 7, nil)
	frame := func(b0 byte, payload []byte) []byte { // masked, with the first header byte given
		b := wsClientFrame(ws.OpBinary, false, payload, 1)
		b[0] = b0
		return b
	}
	for _, tt := range []struct {
		name  string
		in    []byte
		frame bool // a Ping frame must be read; otherwise a protocol error
	}{
		{"continuation after an empty first fragment", append(frame(0x02, nil), frame(0x80, ping)...), true},
		{"new message after an empty first fragment", append(frame(0x02, nil), frame(0x82, ping)...), false},
		{"reserved data opcode", frame(0x83, ping), false},
		{"reserved control opcode", append(frame(0x8b, nil), frame(0x82, ping)...), false},
		{"RSV1 without an extension", frame(0xc2, ping), false},
		{"fragmented ping", append(frame(0x09, nil), frame(0x82, ping)...), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tr := &wsTransport{conn: newFakeConn(tt.in, nil), maxFrame: wire.DefaultMaxFrame}
			h, _, err := tr.readFrame()
			switch {
			case tt.frame && (err != nil || h.Op != wire.OpPing || h.Seq != 7):
				t.Fatalf("read %v %v, want the ping", h, err)
			case !tt.frame && !errors.Is(err, errWebSocketProtocol):
				t.Fatalf("read %+v %v, want a WebSocket protocol error", h, err)
			}
		})
	}
}

// TestWSPongDuringBatch checks that the pong the reader writes when a client
// pings never lands inside a binary message the flusher is writing. Seen
// while fuzzing (a WebSocket frame header without its payload): writeBatch
// hands net.Buffers a wrapped connection (peekConn, countedConn), which has
// no writev, so a batch goes out as one Write per buffer, and the pong
// written between two of them corrupts the stream.
func TestWSPongDuringBatch(t *testing.T) {
	fuzzCertOnce.Do(func() {
		var err error
		if fuzzCert, err = devcert.Generate(devcert.Hosts); err != nil {
			panic(err)
		}
	})
	e, err := Listen(Config{QUICAddr: "127.0.0.1:0", TCPAddr: "127.0.0.1:0", Auth: fuzzAuth{},
		TLS: &tls.Config{Certificates: []tls.Certificate{fuzzCert}}, MaxQueueBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c, err := net.Dial("tcp", e.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, wsUpgrade); err != nil {
		t.Fatal(err)
	}
	if status, err := readHTTPHeader(br); err != nil || !strings.HasPrefix(status, "HTTP/1.1 101 ") {
		t.Fatalf("upgrade: %q %v", status, err)
	}
	hello := wsClientFrame(ws.OpBinary, true, authFrame(), 1)
	hello = append(hello, wsClientFrame(ws.OpBinary, true, wire.AppendJoin(nil, 2, &wire.Join{Room: "a"}), 2)...)
	hello = append(hello, wsClientFrame(ws.OpBinary, true, wire.AppendJoin(nil, 3, &wire.Join{Room: "b"}), 3)...)
	if _, err := c.Write(hello); err != nil {
		t.Fatal(err)
	}
	// AuthOK, JoinOK, JoinOK: in one message or more.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for joined := false; !joined; {
		msg, err := wsutil.ReadServerBinary(struct {
			io.Reader
			io.Writer
		}{br, c})
		if err != nil {
			t.Fatal(err)
		}
		for len(msg) > 0 {
			h, _, rest, ok, err := wire.Split(msg, 0)
			if !ok || err != nil {
				t.Fatalf("reply %x: %v", msg, err)
			}
			joined = joined || (h.Op == wire.OpJoinOK && h.Seq == 3)
			msg = rest
		}
	}

	stop := make(chan struct{})
	defer close(stop)
	go func() { // a client that pings
		ping := wsClientFrame(ws.OpPing, true, []byte("pp"), 9)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Microsecond):
			}
			if _, err := c.Write(ping); err != nil {
				return
			}
		}
	}()
	go func() { // batches of several buffers: runs of one room are one buffer
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Microsecond):
			}
			var msgs []*push.Message
			for i := range 8 {
				msgs = append(msgs, &push.Message{ID: "m", Kind: push.KindRoom, Room: []string{"a", "b"}[i%2], Data: []byte("0123456789")})
			}
			e.Deliver(msgs)
		}
	}()

	for end, n := time.Now().Add(2*time.Second), 0; time.Now().Before(end); n++ {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(br)
		if err != nil {
			t.Fatalf("WebSocket frame %d: %v", n, err)
		}
		if h.Length > 1<<20 {
			t.Fatalf("WebSocket frame %d claims %d bytes", n, h.Length)
		}
		p := make([]byte, h.Length)
		if _, err := io.ReadFull(br, p); err != nil {
			t.Fatal(err)
		}
		switch h.OpCode {
		case ws.OpPong:
			if string(p) != "pp" {
				t.Fatalf("WebSocket frame %d: pong %q", n, p)
			}
		case ws.OpBinary:
			for len(p) > 0 {
				_, _, rest, ok, err := wire.Split(p, 0)
				if !ok || err != nil {
					t.Fatalf("WebSocket frame %d: a binary message with a broken frame (%v): %x", n, err, p[:min(len(p), 40)])
				}
				p = rest
			}
		default:
			t.Fatalf("WebSocket frame %d: opcode %v", n, h.OpCode)
		}
	}
}
