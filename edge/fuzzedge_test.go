package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// The helpers of the fuzz targets of transport_fuzz_test.go: one real edge on
// loopback, shared by every input of a target; a canary connection that must
// keep working; and checks of what the edge sends back.

// Timeouts of the fuzzed edge, short so that an input that stalls ends
// quickly: no Auth within fuzzHandshake, or no frame within twice
// fuzzPingInterval after it, and the edge must close.
const (
	fuzzHandshake    = 400 * time.Millisecond
	fuzzPingInterval = 300 * time.Millisecond
	fuzzCloseTimeout = 150 * time.Millisecond
	fuzzMaxFrame     = 16 << 10
	// fuzzCloseBound is how long an input may take to be closed: the longest
	// timeout above plus CloseTimeout, with room for a loaded machine.
	fuzzCloseBound = 4 * time.Second
)

// fuzzAuth stands in for token verification (fuzzed on its own in
// internal/auth), so that inputs reach everything behind Auth. A token is
// "user[/flags]": "" or "bad..." is invalid and "expired..." expired; the
// user (1 to 64 bytes, as a verified token's sub is at most 255) may join
// "a" and rooms starting with "r", or every room with the flag "all"; the
// flag "short" gives a token expiring in 300 ms.
type fuzzAuth struct{}

func (fuzzAuth) Verify(token string) (auth.Identity, error) {
	switch {
	case token == "", strings.HasPrefix(token, "bad"):
		return auth.Identity{}, auth.ErrInvalid
	case strings.HasPrefix(token, "expired"):
		return auth.Identity{}, auth.ErrExpired
	}
	user, flags, _ := strings.Cut(token, "/")
	if user == "" {
		return auth.Identity{}, auth.ErrInvalid
	}
	id := auth.Identity{User: user[:min(len(user), 64)], Rooms: []string{"a", "r*"}}
	if strings.Contains(flags, "all") {
		id.Rooms = []string{"*"}
	}
	if strings.Contains(flags, "short") {
		id.Expires = time.Now().Add(300 * time.Millisecond)
	}
	return id, nil
}

// fuzzHistory is history.Memory where every stream's epoch reads as "e"
// (Memory's are random), so that a fuzzer can send positions that resume.
// The pushes of fuzzEdge.produce carry "e" too.
type fuzzHistory struct{ m *history.Memory }

const fuzzEpoch = "e"

func (h fuzzHistory) Top(ctx context.Context, stream string) (history.Position, error) {
	top, err := h.m.Top(ctx, stream)
	if top.Epoch != "" {
		top.Epoch = fuzzEpoch
	}
	return top, err
}

func (h fuzzHistory) Since(ctx context.Context, stream string, from history.Position, limit int) (history.Result, error) {
	if from.Epoch == fuzzEpoch {
		top, err := h.m.Top(ctx, stream)
		if err != nil {
			return history.Result{}, err
		}
		from.Epoch = top.Epoch
	}
	r, err := h.m.Since(ctx, stream, from, limit)
	if r.Top.Epoch != "" {
		r.Top.Epoch = fuzzEpoch
	}
	return r, err
}

var (
	fuzzCertOnce sync.Once
	fuzzCert     tls.Certificate
)

// fuzzEdge is an edge on loopback with its canary and a producer of pushes.
type fuzzEdge struct {
	e      *Edge
	addr   string
	mem    *history.Memory
	canary *fuzzCanary
	src    atomic.Uint32 // source addresses of the inputs' connections
	stop   chan struct{}
	done   chan struct{}
}

// newFuzzEdge starts the edge of a fuzz target; it lives until the target's
// process ends its fuzzing (f.Cleanup).
func newFuzzEdge(f *testing.F) *fuzzEdge {
	f.Helper()
	fuzzCertOnce.Do(func() {
		var err error
		if fuzzCert, err = devcert.Generate(devcert.Hosts); err != nil {
			panic(err)
		}
	})
	mem := history.NewMemory(history.Policies{Rooms: history.Policy{Size: 16}, Users: history.Policy{Size: 4}})
	f.Cleanup(func() { _ = mem.Close() })
	// Some history to resume from: room "a" (which also gets live pushes),
	// room "r1" and the user "u".
	for _, st := range []string{history.RoomStream("a"), history.RoomStream("r1"), history.UserStream("u")} {
		var items []history.Item
		for off := uint64(1); off <= 5; off++ {
			items = append(items, history.Item{Stream: st, Entry: history.Entry{Offset: off, ID: fmt.Sprintf("h%d", off), Data: []byte("old"), Accepted: time.Now()}})
		}
		if _, err := mem.Append(context.Background(), items); err != nil {
			f.Fatal(err)
		}
	}
	e, err := Listen(Config{
		QUICAddr:         "127.0.0.1:0",
		TCPAddr:          "127.0.0.1:0",
		TLS:              &tls.Config{Certificates: []tls.Certificate{fuzzCert}},
		Auth:             fuzzAuth{},
		MaxFrame:         fuzzMaxFrame,
		HandshakeTimeout: fuzzHandshake,
		PingInterval:     fuzzPingInterval,
		CloseTimeout:     fuzzCloseTimeout,
		WriteTimeout:     time.Second,
		MaxRooms:         3,
		MaxQueueBytes:    64 << 10,
		History:          fuzzHistory{mem},
		RecoveryLimit:    3,
		RouteTimeout:     time.Second,
	})
	if err != nil {
		f.Fatal(err)
	}
	fe := &fuzzEdge{e: e, addr: e.TCPAddr().String(), mem: mem, stop: make(chan struct{}), done: make(chan struct{})}
	f.Cleanup(func() {
		close(fe.stop)
		<-fe.done
		e.Close()
	})
	go fe.produce()
	if fe.canary, err = dialCanary(fe); err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { fe.canary.close() })
	return fe
}

// produce pushes a message to room "a" every 20 ms, written to history
// first as core does, so that inputs that join "a" resume across live
// traffic.
func (fe *fuzzEdge) produce() {
	defer close(fe.done)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	stream := history.RoomStream("a")
	for off := uint64(6); ; off++ {
		select {
		case <-fe.stop:
			return
		case <-t.C:
		}
		id := fmt.Sprintf("live%d", off)
		if _, err := fe.mem.Append(context.Background(), []history.Item{{Stream: stream, Entry: history.Entry{Offset: off, ID: id, Data: []byte("live"), Accepted: time.Now()}}}); err != nil {
			return
		}
		fe.e.Deliver([]*push.Message{{ID: id, Kind: push.KindRoom, Room: "a", Data: []byte("live"), Offset: off, Epoch: fuzzEpoch}})
	}
}

// dial opens a TCP connection to the edge from the next of 65536 loopback
// source addresses, so that the edge's per-IP limits never refuse an input.
func (fe *fuzzEdge) dial(t testing.TB) net.Conn {
	t.Helper()
	n := fe.src.Add(1)
	d := net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 1, byte(n>>8), byte(n))}}
	c, err := d.Dial("tcp", fe.addr)
	if err != nil {
		t.Fatalf("dial the edge: %v", err)
	}
	return c
}

// afterInput checks, once an input's connection is closed, that the edge
// forgets it and still serves the canary.
func (fe *fuzzEdge) afterInput(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(fuzzCloseBound)
	for len(fe.e.Snapshot().Conns) > 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions registered %v after the input's connection closed, want only the canary\n%s",
				len(fe.e.Snapshot().Conns), fuzzCloseBound, goroutines())
		}
		time.Sleep(2 * time.Millisecond)
	}
	fe.checkCanary(t)
}

// fuzzCanary is an authenticated TCP connection joined to room "a" that
// pings every 50 ms; each input ends by checking that it still gets a Pong
// (at most every 50 ms, to stay under the edge's inbound rate limit).
type fuzzCanary struct {
	conn      net.Conn
	stop      chan struct{}
	mu        sync.Mutex // writes and seq
	seq       uint32
	pongs     chan uint32
	err       atomic.Pointer[error]
	lastCheck time.Time
	// sent and gap are when the last ping was written and the longest time
	// between two, in Unix nanoseconds: a gap near the edge's heartbeat
	// window means this process, not the edge, stalled (a loaded machine).
	sent, gap atomic.Int64
	starved   atomic.Bool
}

// dialCanary connects and authenticates a canary.
func dialCanary(fe *fuzzEdge) (*fuzzCanary, error) {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	c, err := d.Dial("tcp", fe.addr)
	if err != nil {
		return nil, err
	}
	cn := &fuzzCanary{conn: c, stop: make(chan struct{}), seq: 2, pongs: make(chan uint32, 64)}
	out := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "canary"})
	out = wire.AppendJoin(out, 2, &wire.Join{Room: "a"})
	if _, err := c.Write(out); err != nil {
		_ = c.Close()
		return nil, err
	}
	fr := wire.NewFrameReader(bufio.NewReader(c), 0)
	for _, want := range []wire.Op{wire.OpAuthOK, wire.OpJoinOK} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, _, err := fr.ReadFrame()
		if err != nil || h.Op != want {
			_ = c.Close()
			return nil, fmt.Errorf("canary: %v %v, want %v", h.Op, err, want)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	go cn.read(fr)
	go cn.ping()
	return cn, nil
}

func (cn *fuzzCanary) close() {
	close(cn.stop)
	_ = cn.conn.Close()
}

func (cn *fuzzCanary) fail(err error) { cn.err.CompareAndSwap(nil, &err) }

func (cn *fuzzCanary) read(fr *wire.FrameReader) {
	for {
		h, body, err := fr.ReadFrame()
		if err != nil {
			cn.fail(fmt.Errorf("canary connection ended: %w", err))
			return
		}
		switch h.Op {
		case wire.OpPong:
			select {
			case cn.pongs <- h.Seq:
			default:
			}
		case wire.OpDisconnect:
			var d wire.Disconnect
			_ = d.Decode(body)
			gap := time.Duration(cn.gap.Load())
			if d.Code == wire.CodeHeartbeatTimeout && gap > fuzzPingInterval {
				cn.starved.Store(true)
			}
			cn.fail(fmt.Errorf("canary disconnected: %d %q (longest time between its pings: %v)", d.Code, d.Reason, gap))
			return
		}
	}
}

func (cn *fuzzCanary) send(seq uint32) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	now := time.Now().UnixNano()
	if last := cn.sent.Load(); last != 0 && now-last > cn.gap.Load() {
		cn.gap.Store(now - last)
	}
	_ = cn.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := cn.conn.Write(wire.AppendFrame(nil, wire.OpPing, seq, nil)); err != nil {
		cn.fail(fmt.Errorf("canary write: %w", err))
	}
	cn.sent.Store(time.Now().UnixNano())
}

func (cn *fuzzCanary) nextSeq() uint32 {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	cn.seq++
	return cn.seq
}

// ping keeps the canary alive between inputs: the edge cuts a connection
// silent for twice fuzzPingInterval.
func (cn *fuzzCanary) ping() {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-cn.stop:
			return
		case <-t.C:
			cn.send(1)
		}
	}
}

// checkCanary sends a Ping on the canary and waits for its Pong. A canary
// the edge timed out because this process stalled is replaced.
func (fe *fuzzEdge) checkCanary(t *testing.T) {
	t.Helper()
	cn := fe.canary
	if cn.starved.Load() {
		t.Logf("canary: replaced after this process stalled: %v", *cn.err.Load())
		cn.close()
		var err error
		if fe.canary, err = dialCanary(fe); err != nil {
			t.Fatal(err)
		}
		cn = fe.canary
	}
	if p := cn.err.Load(); p != nil {
		t.Fatalf("canary: %v", *p)
	}
	if time.Since(cn.lastCheck) < 50*time.Millisecond {
		return
	}
	defer func() { cn.lastCheck = time.Now() }()
	seq := cn.nextSeq()
	cn.send(seq)
	timeout := time.After(fuzzCloseBound)
	for {
		select {
		case got := <-cn.pongs:
			if got == seq {
				return
			}
		case <-timeout:
			err := errors.New("no error")
			if p := cn.err.Load(); p != nil {
				err = *p
			}
			t.Fatalf("canary: no Pong within %v (%v)\n%s", fuzzCloseBound, err, goroutines())
		}
	}
}

func goroutines() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// readAll reads what the edge sends until it closes the connection, or
// until fuzzCloseBound passes (an error wrapping os.ErrDeadlineExceeded). At
// most 1 MiB is kept.
func readAll(r io.Reader, conn net.Conn) ([]byte, error) {
	_ = conn.SetReadDeadline(time.Now().Add(fuzzCloseBound))
	var out bytes.Buffer
	_, err := io.Copy(&capped{&out, 1 << 20}, r)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return out.Bytes(), fmt.Errorf("the edge neither closed the connection nor stopped within %v; it sent %d bytes: %w",
			fuzzCloseBound, out.Len(), err)
	}
	return out.Bytes(), nil
}

// capped keeps the first n bytes written to it and drops the rest.
type capped struct {
	b *bytes.Buffer
	n int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.n - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// clientSeqs returns the seqs of the frames at the start of a client's frame
// stream, as the edge splits it: its replies may only answer those.
func clientSeqs(stream []byte) map[uint32]bool {
	seqs := map[uint32]bool{}
	for {
		h, _, rest, ok, err := wire.Split(stream, fuzzMaxFrame)
		if err != nil || !ok {
			return seqs
		}
		seqs[h.Seq] = true
		stream = rest
	}
}

// frameChecker checks the frames an edge sends on one connection, in order,
// whatever the transport: each is a server op that decodes; AuthOK (or a
// Disconnect refusing the Auth) comes first, Disconnect last; replies answer
// frames the client sent; room pushes arrive only between a room's JoinOK
// and its LeaveOK, each after the previous one and after the JoinOK's
// position unless that recovered what the client missed.
type frameChecker struct {
	seqs       map[uint32]bool // nil: do not check reply seqs
	n          int
	disconnect wire.Code // the Disconnect's code, once seen
	rooms      map[string]*roomCheck
}

type roomCheck struct {
	joined bool
	last   uint64 // offset the next push must be above, if known
	known  bool
}

func (c *frameChecker) room(name string) *roomCheck {
	if c.rooms == nil {
		c.rooms = map[string]*roomCheck{}
	}
	if c.rooms[name] == nil {
		c.rooms[name] = &roomCheck{}
	}
	return c.rooms[name]
}

func (c *frameChecker) frame(t *testing.T, h wire.Header, body []byte) {
	t.Helper()
	c.n++
	if c.disconnect != 0 {
		t.Fatalf("%v after Disconnect %d", h.Op, c.disconnect)
	}
	if c.n == 1 && h.Op != wire.OpAuthOK && h.Op != wire.OpDisconnect {
		t.Fatalf("first frame %v, want auth_ok or disconnect", h.Op)
	}
	if c.n > 1 && h.Op == wire.OpAuthOK {
		t.Fatal("a second auth_ok")
	}
	var err error
	reply := true
	switch h.Op {
	case wire.OpAuthOK:
		var m wire.AuthOK
		err = m.Decode(body)
		if err == nil && (m.ConnKey == "" || m.User == "" || m.MaxFrame != fuzzMaxFrame) {
			err = fmt.Errorf("auth_ok %+v", m)
		}
	case wire.OpPong:
		if len(body) != 0 {
			err = fmt.Errorf("pong with a %d-byte body", len(body))
		}
	case wire.OpJoinOK:
		var m wire.JoinOK
		err = m.Decode(body)
		if rc := c.room(m.Room); err == nil && (!rc.joined || m.Epoch != "") {
			// A join (an already joined room is answered with no position).
			rc.joined = true
			rc.last, rc.known = m.Offset, m.Epoch != "" && m.Recovery != wire.RecoveryRecovered
		}
	case wire.OpLeaveOK:
		var m wire.RoomReply
		err = m.Decode(body)
		if err == nil {
			c.room(m.Room).joined = false
		}
	case wire.OpError:
		var m wire.Error
		err = m.Decode(body)
		if err == nil && (m.Code < 100 || m.Code >= 3000) {
			err = fmt.Errorf("error code %d is not a request error code", m.Code)
		}
	case wire.OpPush:
		reply = false
		var m wire.Push
		err = m.Decode(body)
		if err == nil && h.Seq != 0 {
			err = fmt.Errorf("push with seq %d", h.Seq)
		}
		if err == nil && m.Kind == wire.PushRoom {
			rc := c.room(m.Room)
			switch {
			case !rc.joined:
				err = fmt.Errorf("push %s for room %q, not joined", m.ID, m.Room)
			case m.Epoch == fuzzEpoch && rc.known && m.Offset <= rc.last:
				err = fmt.Errorf("push %s at offset %d of room %q, not above %d", m.ID, m.Offset, m.Room, rc.last)
			case m.Epoch == fuzzEpoch:
				rc.last, rc.known = m.Offset, true
			}
		}
	case wire.OpDisconnect:
		reply = false
		var m wire.Disconnect
		err = m.Decode(body)
		if err == nil && (m.Code < 3000 || m.Code > 3999) {
			err = fmt.Errorf("disconnect code %d", m.Code)
		}
		c.disconnect = m.Code
	case wire.OpAuth, wire.OpPing, wire.OpJoin, wire.OpLeave:
		err = errors.New("a client op")
	default:
		// Ops of a later revision (token refresh): the codec fuzz targets
		// check their bodies.
		reply = false
		if !h.Op.Known() {
			err = errors.New("unknown op")
		}
	}
	if err != nil {
		t.Fatalf("frame %d from the edge, %v seq %d body %x: %v", c.n, h.Op, h.Seq, body, err)
	}
	if reply && c.seqs != nil && !c.seqs[h.Seq] {
		t.Fatalf("%v answers seq %d, which the client never sent", h.Op, h.Seq)
	}
}

// stream checks a frame stream (TCP, TLS): whole frames only, except that
// with cut set the last one may be cut short. (A client that half-closes its
// side tells the edge it is gone: the edge closes at once, cutting a write
// in flight. Otherwise the edge ends with Disconnect, written whole.)
func (c *frameChecker) stream(t *testing.T, b []byte, cut bool) {
	t.Helper()
	for len(b) > 0 {
		h, body, rest, ok, err := wire.Split(b, wire.DefaultMaxFrame)
		if !ok && err == nil && cut {
			return
		}
		if err != nil || !ok {
			t.Fatalf("the edge sent %d bytes that are no whole frame (%v): %x", len(b), err, b[:min(len(b), 64)])
		}
		c.frame(t, h, body)
		b = rest
	}
}

// webSocket checks what the edge sent after a successful upgrade: unmasked
// binary messages of whole frames, pongs, and a close frame last whose code
// is the Disconnect's and whose reason is UTF-8 (a browser fails the
// connection otherwise). pings, unless nil, are the payloads of the client's
// pings. With cut set the last WebSocket frame may be cut short, as in
// stream.
func (c *frameChecker) webSocket(t *testing.T, b []byte, pings [][]byte, cut bool) {
	t.Helper()
	closed := false
	for len(b) > 0 {
		if closed {
			t.Fatalf("%d bytes after the close frame", len(b))
		}
		if cut && !wholeWSFrame(b) {
			return
		}
		if len(b) < 2 {
			t.Fatalf("a cut WebSocket frame header: %x", b)
		}
		fin, op, masked := b[0]&0x80 != 0, b[0]&0x0f, b[1]&0x80 != 0
		n, hdr := uint64(b[1]&0x7f), 2
		switch n {
		case 126:
			if len(b) < 4 {
				t.Fatalf("a cut WebSocket frame header: %x", b)
			}
			n, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
		case 127:
			if len(b) < 10 {
				t.Fatalf("a cut WebSocket frame header: %x", b)
			}
			n, hdr = binary.BigEndian.Uint64(b[2:]), 10
		}
		if !fin || masked || b[0]&0x70 != 0 {
			t.Fatalf("WebSocket frame header %x: want final, unmasked, no RSV bits", b[:hdr])
		}
		if uint64(len(b)-hdr) < n {
			t.Fatalf("a cut WebSocket frame: %d of %d bytes", len(b)-hdr, n)
		}
		payload := b[hdr : hdr+int(n)]
		b = b[hdr+int(n):]
		switch op {
		case 0x2: // binary
			if len(payload) == 0 {
				t.Fatal("an empty binary message")
			}
			for len(payload) > 0 {
				h, body, rest, ok, err := wire.Split(payload, wire.DefaultMaxFrame)
				if err != nil || !ok {
					t.Fatalf("a binary message holds %d bytes that are no whole frame (%v)", len(payload), err)
				}
				c.frame(t, h, body)
				payload = rest
			}
		case 0xa: // pong
			if pings != nil && !containsBytes(pings, payload) {
				t.Fatalf("pong %x answers no ping", payload)
			}
		case 0x8: // close
			closed = true
			if len(payload) < 2 {
				t.Fatalf("close frame without a code: %x", payload)
			}
			code := wire.Code(binary.BigEndian.Uint16(payload))
			// Without a Disconnect it is the echo of the client's own close
			// (RFC 6455's closing handshake), whatever code that carried.
			if c.disconnect != 0 && code != c.disconnect {
				t.Fatalf("close code %d, Disconnect %d", code, c.disconnect)
			}
			if !utf8.Valid(payload[2:]) || len(payload) > 125 {
				t.Fatalf("close reason %q: not UTF-8 or too long", payload[2:])
			}
		default:
			t.Fatalf("WebSocket opcode %d from the edge", op)
		}
	}
}

// wholeWSFrame reports whether b starts with a whole WebSocket frame.
func wholeWSFrame(b []byte) bool {
	if len(b) < 2 {
		return false
	}
	n, hdr := uint64(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return false
		}
		n, hdr = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return false
		}
		n, hdr = binary.BigEndian.Uint64(b[2:]), 10
	}
	if b[1]&0x80 != 0 {
		hdr += 4
	}
	return uint64(len(b)) >= uint64(hdr) && uint64(len(b)-hdr) >= n
}

func containsBytes(list [][]byte, b []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, b) {
			return true
		}
	}
	return false
}
