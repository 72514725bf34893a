package edge

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/wire"
)

// fakeTransport is a transport on channels and timers alone, so that a
// session on it runs inside a testing/synctest bubble on fake time: the
// client's frames arrive on in, read deadlines are timers, and every batch
// written is kept.
type fakeTransport struct {
	in chan []byte // one encoded frame each; closing it is the client's EOF

	mu        sync.Mutex
	readBy    time.Time
	moved     chan struct{} // closed when the read deadline moves
	writeBy   time.Time
	batches   [][]byte // each batch written, its buffers joined
	writeErr  error
	block     chan struct{} // when set, writes wait on it
	onWrite   func()        // when set, called by each write
	halfClose bool          // closeWrite was called
	closeCode wire.Code
	closed    chan struct{}
	closeOnce sync.Once
}

func newFakeTransport() *fakeTransport {
	return &fakeTransport{in: make(chan []byte, 16), moved: make(chan struct{}), closed: make(chan struct{})}
}

func (t *fakeTransport) readFrame() (wire.Header, []byte, error) {
	for {
		t.mu.Lock()
		by, moved := t.readBy, t.moved
		t.mu.Unlock()
		var expired <-chan time.Time
		var timer *time.Timer
		if !by.IsZero() {
			d := time.Until(by)
			if d <= 0 {
				return wire.Header{}, nil, os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			expired = timer.C
		}
		var b []byte
		var ok bool
		var err error
		select {
		case b, ok = <-t.in:
			if !ok {
				err = io.EOF
			}
		case <-expired:
			err = os.ErrDeadlineExceeded
		case <-moved:
		case <-t.closed:
			err = net.ErrClosed
		}
		if timer != nil {
			timer.Stop()
		}
		switch {
		case err != nil:
			return wire.Header{}, nil, err
		case b != nil:
			h, body, _, _, err := wire.Split(b, len(b))
			return h, body, err
		}
	}
}

func (t *fakeTransport) writeBatch(bufs [][]byte) error {
	if t.block != nil {
		<-t.block
	}
	if t.onWrite != nil {
		t.onWrite()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.writeErr != nil {
		return t.writeErr
	}
	t.batches = append(t.batches, bytes.Join(bufs, nil))
	return nil
}

func (t *fakeTransport) setReadDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.readBy = d
	close(t.moved)
	t.moved = make(chan struct{})
	return nil
}

func (t *fakeTransport) setWriteDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.writeBy = d
	return nil
}

func (t *fakeTransport) closeWrite(wire.Code, string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.halfClose = true
}

func (t *fakeTransport) close(code wire.Code, _ string) {
	t.closeOnce.Do(func() {
		t.mu.Lock()
		t.closeCode = code
		t.mu.Unlock()
		close(t.closed)
	})
}

func (t *fakeTransport) releaseRead()         {}
func (t *fakeTransport) setMaxFrame(int)      {}
func (t *fakeTransport) kind() string         { return "fake" }
func (t *fakeTransport) remoteAddr() net.Addr { return &net.TCPAddr{} }

// rawReader discards whole frames until the read fails.
func (t *fakeTransport) rawReader() io.Reader { return fakeRaw{t} }

type fakeRaw struct{ t *fakeTransport }

func (r fakeRaw) Read([]byte) (int, error) {
	if _, _, err := r.t.readFrame(); err != nil {
		return 0, err
	}
	return 1, nil
}

// isClosed reports whether the session closed the transport.
func (t *fakeTransport) isClosed() bool {
	select {
	case <-t.closed:
		return true
	default:
		return false
	}
}

// written is every batch written so far.
func (t *fakeTransport) written() [][]byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.batches)
}

// sentFrame is one frame the edge sent, decoded as far as tests look.
type sentFrame struct {
	op   wire.Op
	seq  uint32
	body []byte
}

// frames splits everything written into frames.
func (t *fakeTransport) frames(tb testing.TB) []sentFrame {
	tb.Helper()
	var out []sentFrame
	rest := bytes.Join(t.written(), nil)
	for len(rest) > 0 {
		h, body, next, ok, err := wire.Split(rest, len(rest))
		if err != nil || !ok {
			tb.Fatalf("edge wrote a broken frame stream: ok %v, err %v", ok, err)
		}
		out = append(out, sentFrame{op: h.Op, seq: h.Seq, body: body})
		rest = next
	}
	return out
}

// ops lists the ops of the frames written.
func (t *fakeTransport) ops(tb testing.TB) []wire.Op {
	var out []wire.Op
	for _, f := range t.frames(tb) {
		out = append(out, f.op)
	}
	return out
}

// lastDisconnect decodes the last frame, which must be a Disconnect.
func (t *fakeTransport) lastDisconnect(tb testing.TB) wire.Disconnect {
	tb.Helper()
	fs := t.frames(tb)
	if len(fs) == 0 || fs[len(fs)-1].op != wire.OpDisconnect {
		tb.Fatalf("last frame is not a Disconnect: %v", t.ops(tb))
	}
	var d wire.Disconnect
	if err := d.Decode(fs[len(fs)-1].body); err != nil {
		tb.Fatal(err)
	}
	return d
}

// send queues a frame from the client.
func (t *fakeTransport) send(frame []byte) { t.in <- frame }

// testAuth grants tokens of the form "user" or "user/ttl", ttl a
// time.Duration the token expires after (from the moment it is verified,
// on the caller's clock, fake inside a bubble); "bad" is invalid and
// "expired" expired.
type testAuth struct{}

func (testAuth) Verify(token string) (auth.Identity, error) {
	switch token {
	case "", "bad":
		return auth.Identity{}, auth.ErrInvalid
	case "expired":
		return auth.Identity{}, auth.ErrExpired
	}
	user, ttl, _ := strings.Cut(token, "/")
	id := auth.Identity{User: user, Rooms: []string{"*"}}
	if ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil {
			return auth.Identity{}, auth.ErrInvalid
		}
		id.Expires = time.Now().Add(d)
	}
	return id, nil
}

// offlineEdge is an edge that binds no port: its janitor, clock and
// flushers run, sessions come from fake transports. It works inside a
// synctest bubble, where it must be closed before the bubble ends.
func offlineEdge(tb testing.TB, tune func(*Config)) *Edge {
	tb.Helper()
	e := unstartedEdge(tb, tune)
	e.start()
	return e
}

// unstartedEdge is offlineEdge before start, for a test that replaces
// something the edge's goroutines read.
func unstartedEdge(tb testing.TB, tune func(*Config)) *Edge {
	tb.Helper()
	cfg := Config{Auth: testAuth{}, TLS: &tls.Config{}}
	if tune != nil {
		tune(&cfg)
	}
	e, err := newEdge(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

// attach registers an authenticated session of user on a fake transport,
// as the handshake would, without running the protocol.
func attach(tb testing.TB, e *Edge, user string) (*session, *fakeTransport) {
	tb.Helper()
	ft := newFakeTransport()
	s := newSession(e, ft, time.Time{})
	s.ident = auth.Identity{User: user, Rooms: []string{"*"}}
	s.key = e.newKey()
	if d := e.hub.register(s); d.code != 0 {
		tb.Fatalf("register %s: %v", user, d)
	}
	return s, ft
}
