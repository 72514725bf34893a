package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"testing"

	"github.com/quicpush/quicpush/wire"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name     string
		hex      string
		maxFrame int
		want     wire.Header
		err      error
	}{
		{name: "empty", hex: "", err: wire.ErrMalformed},
		{name: "short", hex: "0000000503000000", err: wire.ErrMalformed},
		{name: "no body", hex: "000000050300000007", want: wire.Header{Op: wire.OpPing, Seq: 7}},
		{name: "body", hex: "0000000c0500000002", want: wire.Header{Op: wire.OpJoin, Seq: 2, Len: 7}},
		{name: "extra bytes ignored", hex: "0000000c0500000002ffff", want: wire.Header{Op: wire.OpJoin, Seq: 2, Len: 7}},
		{name: "seq max", hex: "0000000509ffffffff", want: wire.Header{Op: wire.OpPush, Seq: 0xffffffff}},
		{name: "unknown op passes", hex: "00000005ee00000001", want: wire.Header{Op: 0xee, Seq: 1}},
		{name: "length 0", hex: "000000000300000007", err: wire.ErrMalformed},
		{name: "length 4", hex: "000000040300000007", err: wire.ErrMalformed},
		{name: "at default limit", hex: "0000fffc0900000000", want: wire.Header{Op: wire.OpPush, Len: 65536 - 9}},
		{name: "over default limit", hex: "0000fffd0900000000", err: wire.ErrTooLarge},
		{name: "negative limit means default", hex: "0000fffd0900000000", maxFrame: -1, err: wire.ErrTooLarge},
		{name: "at small limit", hex: "0000000c0900000000", maxFrame: 16, want: wire.Header{Op: wire.OpPush, Len: 7}},
		{name: "over small limit", hex: "0000000d0900000000", maxFrame: 16, err: wire.ErrTooLarge},
		{name: "limit below header size", hex: "000000050300000007", maxFrame: 8, err: wire.ErrTooLarge},
		{name: "high bit", hex: "800000000900000000", err: wire.ErrTooLarge},
		{name: "all ones", hex: "ffffffff0900000000", err: wire.ErrTooLarge},
		{name: "large limit", hex: "000ffffc0900000000", maxFrame: 1 << 20, want: wire.Header{Op: wire.OpPush, Len: 1<<20 - 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := wire.ParseHeader(mustHex(t, tt.hex), tt.maxFrame)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				if h != (wire.Header{}) {
					t.Fatalf("header %+v returned with an error", h)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h != tt.want {
				t.Fatalf("header %+v, want %+v", h, tt.want)
			}
			if h.FrameSize() != wire.HeaderSize+tt.want.Len {
				t.Fatalf("FrameSize %d", h.FrameSize())
			}
		})
	}
}

func TestAppendHeader(t *testing.T) {
	got := wire.AppendHeader([]byte{0xaa}, wire.OpPush, 0x01020304, 300)
	want := mustHex(t, "aa"+"00000131"+"09"+"01020304")
	if !bytes.Equal(got, want) {
		t.Fatalf("%x, want %x", got, want)
	}
	got = wire.AppendFrame(nil, wire.OpLeave, 3, []byte{1, 2})
	want = mustHex(t, "00000007"+"07"+"00000003"+"0102")
	if !bytes.Equal(got, want) {
		t.Fatalf("%x, want %x", got, want)
	}
}

func TestSplit(t *testing.T) {
	ping := "000000050300000007"
	join := "0000000c0500000002046e6577730000"
	tests := []struct {
		name     string
		hex      string
		maxFrame int
		ok       bool
		err      error
		op       wire.Op
		body     string
		rest     string
	}{
		{name: "empty", hex: "", rest: ""},
		{name: "partial header", hex: "00000005", rest: "00000005"},
		{name: "one byte short of a header", hex: ping[:16], rest: ping[:16]},
		{name: "partial body", hex: join[:20], rest: join[:20]},
		{name: "one byte short of a body", hex: join[:30], rest: join[:30]},
		{name: "empty body", hex: ping, ok: true, op: wire.OpPing, rest: ""},
		{name: "body", hex: join, ok: true, op: wire.OpJoin, body: "046e6577730000", rest: ""},
		{name: "two frames", hex: ping + join, ok: true, op: wire.OpPing, rest: join},
		{name: "frame and partial", hex: join + "0000", ok: true, op: wire.OpJoin, body: "046e6577730000", rest: "0000"},
		{name: "bad length", hex: "000000010300000007" + join, err: wire.ErrMalformed, rest: "000000010300000007" + join},
		{name: "too large", hex: join, maxFrame: 15, err: wire.ErrTooLarge, rest: join},
		{name: "too large before the body arrives", hex: "00010000" + "0900000000", err: wire.ErrTooLarge, rest: "000100000900000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, body, rest, ok, err := wire.Split(mustHex(t, tt.hex), tt.maxFrame)
			if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if ok != tt.ok {
				t.Fatalf("ok %v, want %v", ok, tt.ok)
			}
			if ok && (h.Op != tt.op || h.Len != len(body)) {
				t.Fatalf("header %+v, body %d bytes", h, len(body))
			}
			if !bytes.Equal(body, mustHex(t, tt.body)) {
				t.Fatalf("body %x, want %s", body, tt.body)
			}
			if !bytes.Equal(rest, mustHex(t, tt.rest)) {
				t.Fatalf("rest %x, want %s", rest, tt.rest)
			}
		})
	}
}

// TestSplitAliases checks that Split returns subslices of its input: a
// WebSocket reader splits a message in place without copying.
func TestSplitAliases(t *testing.T) {
	b := mustHex(t, "0000000c0500000002046e6577730000"+"000000050300000007")
	_, body, rest, ok, err := wire.Split(b, 0)
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	if &body[0] != &b[wire.HeaderSize] || &rest[0] != &b[16] {
		t.Fatal("Split copied its input")
	}
}

// chunkReader returns the stream in reads of the given sizes, cycling, and
// the final error (io.EOF unless set) once it is empty.
type chunkReader struct {
	b      []byte
	chunks []int
	i      int
	err    error
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := len(r.b)
	if len(r.chunks) > 0 {
		n = min(n, r.chunks[r.i%len(r.chunks)])
		r.i++
	}
	n = copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

func TestFrameReader(t *testing.T) {
	ping := "000000050300000007"
	join := "0000000c0500000002046e6577730000"
	push := hex.EncodeToString(wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "news", ID: "m", Data: make([]byte, 1000)}))
	errBroken := errors.New("connection reset")
	type frame struct {
		op   wire.Op
		seq  uint32
		body int
	}
	tests := []struct {
		name     string
		hex      string
		maxFrame int
		readErr  error
		frames   []frame
		err      error
	}{
		{name: "empty stream", hex: "", err: io.EOF},
		{name: "one frame", hex: ping, frames: []frame{{wire.OpPing, 7, 0}}, err: io.EOF},
		{name: "several frames", hex: join + ping + push + join,
			frames: []frame{{wire.OpJoin, 2, 7}, {wire.OpPing, 7, 0}, {wire.OpPush, 0, 1012}, {wire.OpJoin, 2, 7}},
			err:    io.EOF},
		{name: "ends inside a header", hex: ping + "000000", frames: []frame{{wire.OpPing, 7, 0}}, err: io.ErrUnexpectedEOF},
		{name: "ends after a header", hex: join[:18], err: io.ErrUnexpectedEOF},
		{name: "ends inside a body", hex: join[:24], err: io.ErrUnexpectedEOF},
		{name: "too large", hex: join, maxFrame: 15, err: wire.ErrTooLarge},
		{name: "limit fits", hex: join, maxFrame: 16, frames: []frame{{wire.OpJoin, 2, 7}}, err: io.EOF},
		{name: "malformed after a frame", hex: ping + "000000020300000007", frames: []frame{{wire.OpPing, 7, 0}},
			err: wire.ErrMalformed},
		{name: "reader error between frames", hex: ping, readErr: errBroken, frames: []frame{{wire.OpPing, 7, 0}},
			err: errBroken},
		{name: "reader error inside a body", hex: join[:24], readErr: errBroken, err: errBroken},
	}
	chunkings := []struct {
		name   string
		chunks []int
	}{{"whole", nil}, {"bytes", []int{1}}, {"odd", []int{3, 1, 7, 2}}, {"headers", []int{9}}}
	for _, tt := range tests {
		for _, c := range chunkings {
			t.Run(tt.name+"/"+c.name, func(t *testing.T) {
				r := &chunkReader{b: mustHex(t, tt.hex), chunks: c.chunks, err: tt.readErr}
				fr := wire.NewFrameReader(r, tt.maxFrame)
				for i, want := range tt.frames {
					h, body, err := fr.ReadFrame()
					if err != nil {
						t.Fatalf("frame %d: %v", i, err)
					}
					if h.Op != want.op || h.Seq != want.seq || h.Len != want.body || len(body) != want.body {
						t.Fatalf("frame %d: %+v with %d bytes, want %+v", i, h, len(body), want)
					}
				}
				h, body, err := fr.ReadFrame()
				if !errors.Is(err, tt.err) {
					t.Fatalf("last read: %v, want %v", err, tt.err)
				}
				if h != (wire.Header{}) || body != nil {
					t.Fatalf("last read returned %+v and %d bytes with the error", h, len(body))
				}
			})
		}
	}
}

func TestFrameReaderRelease(t *testing.T) {
	big := wire.AppendPush(nil, &wire.Push{Kind: wire.PushBroadcast, ID: "a", Data: bytes.Repeat([]byte{'x'}, 4000)})
	small := wire.AppendRoom(nil, wire.OpJoinOK, 1, "news")
	stream := bytes.Join([][]byte{big, small, big, small}, nil)
	fr := wire.NewFrameReader(bytes.NewReader(stream), 0)

	check := func(want []byte) []byte {
		t.Helper()
		h, body, err := fr.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if got := wire.AppendFrame(nil, h.Op, h.Seq, body); !bytes.Equal(got, want) {
			t.Fatalf("read %x, want %x", got, want)
		}
		return body
	}
	first := check(big)
	second := check(small)
	if &first[0] != &second[0] {
		t.Fatal("the reader did not reuse its body buffer for a smaller frame")
	}
	fr.Release()
	third := check(big)
	if &third[0] == &first[0] {
		t.Fatal("Release kept the body buffer")
	}
	fr.Release()
	check(small)
	if _, _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
		t.Fatalf("at the end: %v", err)
	}
	fr.Release() // releasing twice or at the end is harmless
}

// TestFrameReaderIdleAllocs checks that empty-body frames (heartbeats) need
// no body buffer.
func TestFrameReaderIdleAllocs(t *testing.T) {
	ping := wire.AppendFrame(nil, wire.OpPing, 1, nil)
	r := bytes.NewReader(nil)
	fr := wire.NewFrameReader(r, 0)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(ping)
		if _, body, err := fr.ReadFrame(); err != nil || body != nil {
			t.Fatal(err, body)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per heartbeat", allocs)
	}
}
