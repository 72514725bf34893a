package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"testing"
)

// These fuzz targets live in package wire to see FrameReader's buffer. The
// codec-level targets are in fuzz_test.go and messages_fuzz_test.go.

// streamSeeds returns the bytes of every frame, stream and invalid vector of
// docs/protocol-vectors.json, so that a new vector is a new seed.
func streamSeeds(f *testing.F) [][]byte {
	b, err := os.ReadFile("../docs/protocol-vectors.json")
	if err != nil {
		f.Fatal(err)
	}
	var vf struct {
		Frames, Streams, Invalid []struct{ Hex string }
	}
	if err := json.Unmarshal(b, &vf); err != nil {
		f.Fatal(err)
	}
	var seeds [][]byte
	for _, list := range [][]struct{ Hex string }{vf.Frames, vf.Streams, vf.Invalid} {
		for _, v := range list {
			s, err := hex.DecodeString(v.Hex)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, s)
		}
	}
	if len(seeds) == 0 {
		f.Fatal("no vectors")
	}
	return seeds
}

type splitOut struct {
	h    Header
	body []byte
}

// limitOf is the frame limit a maxFrame argument means.
func limitOf(maxFrame int) int {
	if maxFrame <= 0 {
		return DefaultMaxFrame
	}
	return maxFrame
}

// chunkSizes turns fuzz bytes into chunk sizes of 1 to 64 bytes; none means
// everything at once.
func chunkSizes(b []byte) []int {
	out := make([]int, len(b))
	for i, c := range b {
		out[i] = int(c)%64 + 1
	}
	return out
}

// FuzzSplitChunked checks that Split over a buffer that grows chunk by chunk,
// as a message-based or buffered reader uses it, finds exactly the frames and
// the error it finds in the whole stream: a prefix of a stream never fails
// where the whole would not, and an incomplete frame is never taken for a
// whole one.
func FuzzSplitChunked(f *testing.F) {
	for _, s := range streamSeeds(f) {
		f.Add(s, []byte{1}, uint16(0))
		f.Add(s, []byte{8, 9, 3}, uint16(40))
	}
	f.Fuzz(func(t *testing.T, data, cuts []byte, maxFrame uint16) {
		want, wantRest, wantErr := splitStream(t, data, int(maxFrame))

		var got []splitOut
		var gotErr error
		var buf []byte
		sizes := chunkSizes(cuts)
		for pos, i := 0, 0; pos < len(data) && gotErr == nil; i++ {
			n := len(data) - pos
			if len(sizes) > 0 {
				n = min(n, sizes[i%len(sizes)])
			}
			buf = append(buf, data[pos:pos+n]...)
			pos += n
			for {
				h, body, rest, ok, err := Split(buf, int(maxFrame))
				if err != nil {
					gotErr = err
					break
				}
				if !ok {
					break
				}
				got = append(got, splitOut{h, bytes.Clone(body)})
				buf = rest
			}
		}
		if len(got) != len(want) {
			t.Fatalf("chunked: %d frames (err %v), whole: %d (err %v)", len(got), gotErr, len(want), wantErr)
		}
		for i := range want {
			if got[i].h != want[i].h || !bytes.Equal(got[i].body, want[i].body) {
				t.Fatalf("frame %d: chunked %+v %x, whole %+v %x", i, got[i].h, got[i].body, want[i].h, want[i].body)
			}
		}
		if errors.Is(gotErr, ErrTooLarge) != errors.Is(wantErr, ErrTooLarge) ||
			errors.Is(gotErr, ErrMalformed) != errors.Is(wantErr, ErrMalformed) || (gotErr == nil) != (wantErr == nil) {
			t.Fatalf("chunked: %v, whole: %v", gotErr, wantErr)
		}
		if wantErr == nil && !bytes.Equal(buf, wantRest) {
			t.Fatalf("chunked leaves %x, whole %x", buf, wantRest)
		}
	})
}

// splitStream splits b until it runs out of whole frames or meets an error,
// checking what Split promises of each call.
func splitStream(t *testing.T, b []byte, maxFrame int) (frames []splitOut, rest []byte, err error) {
	t.Helper()
	rest = b
	for {
		h, body, r, ok, err := Split(rest, maxFrame)
		switch {
		case err != nil:
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Split: %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			if len(rest) < HeaderSize || len(r) != len(rest) {
				t.Fatalf("Split failed on %d bytes, consuming %d", len(rest), len(rest)-len(r))
			}
			return frames, rest, err
		case !ok:
			if len(r) != len(rest) {
				t.Fatal("Split consumed part of an incomplete frame")
			}
			return frames, rest, nil
		}
		if h.FrameSize() > limitOf(maxFrame) || len(body) != h.Len || len(rest) != h.FrameSize()+len(r) {
			t.Fatalf("Split: %+v with a %d-byte body and %d bytes left of %d (limit %d)", h, len(body), len(r), len(rest), limitOf(maxFrame))
		}
		frames = append(frames, splitOut{h, body})
		rest = r
	}
}

// cutReader returns b in reads of the given sizes, cycling.
type cutReader struct {
	b     []byte
	sizes []int
	i     int
}

func (r *cutReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := len(r.b)
	if len(r.sizes) > 0 {
		n = min(n, r.sizes[r.i%len(r.sizes)])
		r.i++
	}
	n = copy(p, r.b[:n])
	r.b = r.b[n:]
	return n, nil
}

// FuzzFrameReaderLimit checks that FrameReader never holds a buffer larger
// than the biggest body its limit allows, whatever length a header claims and
// however the stream is cut, and that it reads what Split reads.
func FuzzFrameReaderLimit(f *testing.F) {
	for _, s := range streamSeeds(f) {
		f.Add(s, []byte{3}, uint16(0))
		f.Add(s, []byte{1, 60}, uint16(20))
	}
	// Claimed lengths just over, at and far over a small limit.
	claim := func(n uint32) []byte { return binary.BigEndian.AppendUint32(nil, n) }
	f.Add(append(claim(60), 9, 0, 0, 0, 0), []byte{}, uint16(64))
	f.Add(append(claim(55), 9, 0, 0, 0, 0), []byte{}, uint16(64))
	f.Add(append(claim(0xfffffff0), 9, 0, 0, 0, 0), []byte{}, uint16(0))
	f.Fuzz(func(t *testing.T, data, cuts []byte, maxFrame uint16) {
		want, _, _ := splitStream(t, data, int(maxFrame))
		maxBody := max(0, limitOf(int(maxFrame))-HeaderSize)
		fr := NewFrameReader(&cutReader{b: data, sizes: chunkSizes(cuts)}, int(maxFrame))
		for i := 0; ; i++ {
			h, body, err := fr.ReadFrame()
			if cap(fr.buf) > maxBody {
				t.Fatalf("read %d: buffer of %d bytes, limit %d allows bodies of %d", i, cap(fr.buf), limitOf(int(maxFrame)), maxBody)
			}
			if err != nil {
				if i < len(want) {
					t.Fatalf("read %d: %v, Split read %+v", i, err, want[i].h)
				}
				return
			}
			if i >= len(want) || h != want[i].h || !bytes.Equal(body, want[i].body) {
				t.Fatalf("read %d: %+v %x, Split read %d frames", i, h, body, len(want))
			}
		}
	})
}

// TestFrameReaderClaimedLength checks, in bytes allocated, that a header
// claiming more than the limit costs nothing near the claimed length.
func TestFrameReaderClaimedLength(t *testing.T) {
	frame := binary.BigEndian.AppendUint32(nil, 0xfffffff0)
	frame = append(frame, byte(OpPush), 0, 0, 0, 0)
	const reads = 100
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range reads {
		fr := NewFrameReader(bytes.NewReader(frame), 0)
		if _, _, err := fr.ReadFrame(); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("got %v, want ErrTooLarge", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / reads; per > 4<<10 {
		t.Fatalf("%d bytes allocated per rejected header", per)
	}
}
