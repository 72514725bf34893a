package frameconn

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/quicpush/quicpush/wire"
)

// wsServerBytes encodes frames as the server sends them (unmasked).
func wsServerBytes(frames ...ws.Frame) []byte {
	var b bytes.Buffer
	for _, f := range frames {
		if err := ws.WriteFrame(&b, f); err != nil {
			panic(err)
		}
	}
	return b.Bytes()
}

// recordConn is the client's side of a connection whose server bytes come
// from elsewhere: it records what the client writes.
type recordConn struct {
	net.Conn
	mu  sync.Mutex
	out bytes.Buffer
}

func (c *recordConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.Write(b)
}

func (c *recordConn) written() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes())
}

func (*recordConn) SetWriteDeadline(time.Time) error { return nil }
func (*recordConn) Close() error                     { return nil }

// wsFromBytes returns a WebSocket Conn reading src as the server's bytes.
func wsFromBytes(src io.Reader, maxFrame int) (*Conn, *recordConn) {
	rc := &recordConn{}
	return newWebSocketConn(TransportWS, rc, bufio.NewReaderSize(src, 64), &Options{MaxFrame: maxFrame}), rc
}

// clientFrames decodes what the client wrote as frames.
func clientFrames(t *testing.T, b []byte) []ws.Frame {
	t.Helper()
	var out []ws.Frame
	r := bytes.NewReader(b)
	for r.Len() > 0 {
		h, err := ws.ReadHeader(r)
		if err != nil {
			t.Fatal(err)
		}
		if !h.Masked || h.Length > int64(r.Len()) {
			t.Fatalf("client frame %+v", h)
		}
		f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
		if _, err := io.ReadFull(r, f.Payload); err != nil {
			t.Fatal(err)
		}
		out = append(out, ws.UnmaskFrame(f))
	}
	return out
}

func TestWebSocketMessages(t *testing.T) {
	ping := wire.AppendFrame(nil, wire.OpPing, 7, nil)
	push := wire.AppendFrame(nil, wire.OpPush, 0, []byte("hello"))
	join := wire.AppendFrame(nil, wire.OpJoinOK, 2, []byte("room"))
	several := append(append(append([]byte(nil), push...), ping...), join...)
	cut := 5 // inside push's header

	tests := []struct {
		name   string
		in     []byte
		frames [][]byte
		err    error       // the error after the frames
		code   uint64      // with err == nil: a *CloseError with this code
		reply  []ws.OpCode // what the client answers
	}{
		{name: "several frames in one message", in: wsServerBytes(ws.NewBinaryFrame(several), ws.NewBinaryFrame(ping)),
			frames: [][]byte{push, ping, join, ping}, err: io.EOF},
		{name: "empty messages", in: wsServerBytes(ws.NewBinaryFrame(nil), ws.NewBinaryFrame(ping), ws.NewBinaryFrame(nil)),
			frames: [][]byte{ping}, err: io.EOF},
		{name: "fragments with a ping between", in: wsServerBytes(
			ws.NewFrame(ws.OpBinary, false, several[:cut]),
			ws.NewPingFrame([]byte("p")),
			ws.NewFrame(ws.OpContinuation, false, several[cut:len(push)+2]),
			ws.NewFrame(ws.OpContinuation, true, several[len(push)+2:])),
			frames: [][]byte{push, ping, join}, err: io.EOF, reply: []ws.OpCode{ws.OpPong}},
		{name: "frame cut at the end of a message", in: wsServerBytes(ws.NewBinaryFrame(several[:len(push)+3]), ws.NewBinaryFrame(ping)),
			frames: [][]byte{push}, err: wire.ErrMalformed},
		{name: "text message", in: wsServerBytes(ws.NewTextFrame(ping)), err: wire.ErrMalformed},
		{name: "masked server frame", in: wsServerBytes(ws.MaskFrame(ws.NewBinaryFrame(ping))), err: wire.ErrMalformed},
		{name: "continuation without a start", in: wsServerBytes(ws.NewFrame(ws.OpContinuation, true, ping)), err: wire.ErrMalformed},
		{name: "close with a code", in: wsServerBytes(ws.NewBinaryFrame(ping), ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(wire.CodeSlowConsumer), "slow"))),
			frames: [][]byte{ping}, code: uint64(wire.CodeSlowConsumer), reply: []ws.OpCode{ws.OpClose}},
		{name: "close without a code", in: wsServerBytes(ws.NewCloseFrame(nil)),
			code: uint64(ws.StatusNoStatusRcvd), reply: []ws.OpCode{ws.OpClose}},
		{name: "close inside a fragmented message", in: wsServerBytes(ws.NewFrame(ws.OpBinary, false, push[:3]),
			ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(wire.CodeShutdown), ""))),
			code: uint64(wire.CodeShutdown), reply: []ws.OpCode{ws.OpClose}},
		{name: "connection ends inside a frame", in: wsServerBytes(ws.NewBinaryFrame(several))[:10], err: io.ErrUnexpectedEOF},
		{name: "connection ends between fragments", in: wsServerBytes(ws.NewFrame(ws.OpBinary, false, ping)),
			frames: [][]byte{ping}, err: io.ErrUnexpectedEOF},
		{name: "frame over the limit", in: wsServerBytes(ws.NewBinaryFrame(wire.AppendFrame(nil, wire.OpPush, 0, make([]byte, 100)))),
			err: wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rc := wsFromBytes(bytes.NewReader(tt.in), 64)
			for i, want := range tt.frames {
				h, body, err := c.ReadFrame()
				if err != nil {
					t.Fatalf("frame %d: %v", i, err)
				}
				if got := wire.AppendFrame(nil, h.Op, h.Seq, body); !bytes.Equal(got, want) {
					t.Fatalf("frame %d: got %x, want %x", i, got, want)
				}
			}
			_, _, err := c.ReadFrame()
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("got %v, want %v", err, tt.err)
				}
			} else {
				var ce *CloseError
				if !errors.As(err, &ce) || ce.Code != tt.code {
					t.Fatalf("got %v, want close code %d", err, tt.code)
				}
			}
			var ops []ws.OpCode
			for _, f := range clientFrames(t, rc.written()) {
				ops = append(ops, f.Header.OpCode)
			}
			if len(ops) != len(tt.reply) || (len(ops) > 0 && ops[0] != tt.reply[0]) {
				t.Fatalf("client replied %v, want %v", ops, tt.reply)
			}
			// After the peer's close, Close sends no second close frame.
			n := len(rc.written())
			_ = c.Close(wire.CodeShutdown, "")
			if tt.code != 0 && len(rc.written()) != n {
				t.Fatal("a second close frame was sent")
			}
		})
	}
}

// TestWebSocketWrite checks the client's messages: one masked binary message
// per write, any size, and a close frame with the code and a cut reason.
func TestWebSocketWrite(t *testing.T) {
	c, rc := wsFromBytes(bytes.NewReader(nil), 0)
	payloads := [][]byte{nil, []byte("x"), make([]byte, 125), make([]byte, 126), make([]byte, 70_000)}
	for _, p := range payloads {
		if err := c.WriteFrame(p); err != nil {
			t.Fatal(err)
		}
	}
	long := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes
	if err := c.Close(wire.CodeKicked, long); err != nil {
		t.Fatal(err)
	}
	frames := clientFrames(t, rc.written())
	if len(frames) != len(payloads)+1 {
		t.Fatalf("%d frames, want %d", len(frames), len(payloads)+1)
	}
	for i, p := range payloads {
		if f := frames[i]; f.Header.OpCode != ws.OpBinary || !f.Header.Fin || !bytes.Equal(f.Payload, p) {
			t.Fatalf("message %d: %+v", i, f.Header)
		}
	}
	last := frames[len(frames)-1]
	code, reason := ws.ParseCloseFrameData(last.Payload)
	if last.Header.OpCode != ws.OpClose || code != ws.StatusCode(wire.CodeKicked) || len(reason) != 122 {
		t.Fatalf("close frame %v %d %q", last.Header.OpCode, code, reason)
	}
	if err := ws.CheckCloseFrameData(code, reason); err != nil {
		t.Fatal(err)
	}
}

// loopReader repeats b forever.
type loopReader struct {
	b []byte
	i int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := copy(p, r.b[r.i:])
	r.i = (r.i + n) % len(r.b)
	return n, nil
}

// TestWebSocketReadAllocs checks reading frames allocates nothing, whether a
// message holds one frame or several.
func TestWebSocketReadAllocs(t *testing.T) {
	push := wire.AppendFrame(nil, wire.OpPush, 0, []byte(`{"test":1,"t":1765000000000000000}`))
	var batch []byte
	for range 20 {
		batch = append(batch, push...)
	}
	in := wsServerBytes(ws.NewBinaryFrame(push), ws.NewBinaryFrame(batch))
	c, _ := wsFromBytes(&loopReader{b: in}, 0)
	for range 42 { // grow the body buffer
		if _, _, err := c.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, _, err := c.ReadFrame(); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per frame", allocs)
	}
}

// chunkReader returns at most n bytes per read, so that headers and frames
// are cut everywhere.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

// FuzzWebSocketRead feeds arbitrary server bytes, in arbitrary pieces, to
// the WebSocket reader: it must return frames within the limit and then an
// error, never panic or loop.
func FuzzWebSocketRead(f *testing.F) {
	ping := wire.AppendFrame(nil, wire.OpPing, 7, nil)
	push := wire.AppendFrame(nil, wire.OpPush, 0, []byte("hello"))
	two := append(append([]byte(nil), push...), ping...)
	f.Add(wsServerBytes(ws.NewBinaryFrame(two), ws.NewBinaryFrame(ping)), uint8(1))
	f.Add(wsServerBytes(ws.NewFrame(ws.OpBinary, false, two[:4]), ws.NewPingFrame(nil),
		ws.NewFrame(ws.OpContinuation, true, two[4:])), uint8(3))
	f.Add(wsServerBytes(ws.NewBinaryFrame(push[:6])), uint8(7))
	f.Add(wsServerBytes(ws.NewCloseFrame(ws.NewCloseFrameBody(3000, "bye"))), uint8(2))
	f.Add(wsServerBytes(ws.NewBinaryFrame(wire.AppendFrame(nil, wire.OpPush, 0, make([]byte, 300)))), uint8(64))
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		const maxFrame = 256
		c, _ := wsFromBytes(&chunkReader{r: bytes.NewReader(in), n: int(chunk%16) + 1}, maxFrame)
		for range len(in) + 1 {
			h, body, err := c.ReadFrame()
			if err != nil {
				return
			}
			if h.FrameSize() > maxFrame || len(body) != h.Len {
				t.Fatalf("frame %+v with %d bytes past the limit", h, len(body))
			}
		}
		t.Fatal("more frames than bytes")
	})
}

// BenchmarkWebSocketRead measures reading pushes from WebSocket messages of
// one frame and of twenty, as an edge under load packs them.
func BenchmarkWebSocketRead(b *testing.B) {
	push := wire.AppendFrame(nil, wire.OpPush, 0, []byte(`{"test":1,"t":1765000000000000000}`))
	for _, perMessage := range []int{1, 20} {
		b.Run(strconv.Itoa(perMessage)+"-per-message", func(b *testing.B) {
			var batch []byte
			for range perMessage {
				batch = append(batch, push...)
			}
			src := bufio.NewReaderSize(&loopReader{b: wsServerBytes(ws.NewBinaryFrame(batch))}, DefaultReadBufferSize)
			c := newWebSocketConn(TransportWS, &recordConn{}, src, &Options{})
			b.SetBytes(int64(len(push)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := c.ReadFrame(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
