package wire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/quicpush/quicpush/wire"
)

// The fuzz targets check that no input makes the codec panic, that Split and
// FrameReader agree on every chunking, and that whatever decodes re-encodes
// to something that decodes to the same fields. Seeds come from the vectors
// and from testdata/fuzz.

// vectorSeeds returns every frame, stream and invalid vector as bytes.
func vectorSeeds(f *testing.F) [][]byte {
	vf := loadVectors(f)
	var seeds [][]byte
	for _, v := range vf.Frames {
		seeds = append(seeds, mustHex(f, v.Hex))
	}
	for _, v := range vf.Streams {
		seeds = append(seeds, mustHex(f, v.Hex))
	}
	for _, v := range vf.Invalid {
		seeds = append(seeds, mustHex(f, v.Hex))
	}
	return seeds
}

// checkBody decodes body with its op's decoder and, when that succeeds,
// re-encodes the fields and checks they survive a second round trip.
func checkBody(t *testing.T, h wire.Header, body []byte) {
	t.Helper()
	f := newFields(h.Op)
	if f == nil {
		return // unknown op: a reader skips or rejects it, the codec has nothing to decode
	}
	if err := f.decode(body); err != nil {
		if !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("%v body %x: error %v wraps neither ErrMalformed nor ErrTooLarge", h.Op, body, err)
		}
		return
	}
	seq := h.Seq
	if h.Op == wire.OpPush || h.Op == wire.OpDisconnect || h.Op == wire.OpTokenExpiring {
		seq = 0 // the encoders of server pushes always write seq 0
	}
	frame, err := f.appendFrame(nil, h.Op, seq)
	if err != nil {
		t.Fatal(err)
	}
	if len(frame) > h.FrameSize() {
		t.Fatalf("%v: re-encoded frame is %d bytes, longer than the %d-byte original", h.Op, len(frame), h.FrameSize())
	}
	h2, body2, rest, ok, err := wire.Split(frame, len(frame))
	if err != nil || !ok || len(rest) != 0 || h2.Op != h.Op || h2.Seq != seq {
		t.Fatalf("%v: re-encoded frame %x does not split: %+v ok=%v err=%v", h.Op, frame, h2, ok, err)
	}
	again := newFields(h.Op)
	if err := again.decode(body2); err != nil {
		t.Fatalf("%v: re-encoded body %x: %v", h.Op, body2, err)
	}
	if !reflect.DeepEqual(again, f) {
		t.Fatalf("%v: %+v re-decoded as %+v", h.Op, f, again)
	}
}

type splitFrame struct {
	h    wire.Header
	body []byte
}

// splitAll splits b until it runs out of whole frames or meets an error.
func splitAll(t *testing.T, b []byte, maxFrame int) (frames []splitFrame, rest []byte, err error) {
	t.Helper()
	rest = b
	for {
		before := len(rest)
		h, body, r, ok, err := wire.Split(rest, maxFrame)
		if err != nil {
			if !errors.Is(err, wire.ErrMalformed) && !errors.Is(err, wire.ErrTooLarge) {
				t.Fatalf("Split error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			if len(r) != before {
				t.Fatal("Split consumed bytes and failed")
			}
			return frames, rest, err
		}
		if !ok {
			if len(r) != before {
				t.Fatal("Split consumed bytes of an incomplete frame")
			}
			return frames, rest, nil
		}
		if len(body) != h.Len || before != wire.HeaderSize+len(body)+len(r) {
			t.Fatalf("Split: header %+v, body %d, rest %d of %d", h, len(body), len(r), before)
		}
		limit := maxFrame
		if limit <= 0 {
			limit = wire.DefaultMaxFrame
		}
		if h.FrameSize() > limit {
			t.Fatalf("Split returned a %d-byte frame over the %d limit", h.FrameSize(), limit)
		}
		frames = append(frames, splitFrame{h, body})
		rest = r
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range vectorSeeds(f) {
		f.Add(s, uint16(0))
		f.Add(s, uint16(32))
	}
	f.Fuzz(func(t *testing.T, data []byte, maxFrame uint16) {
		frames, _, _ := splitAll(t, data, int(maxFrame))
		for _, fr := range frames {
			checkBody(t, fr.h, fr.body)
		}
	})
}

// fuzzChunks turns fuzz bytes into read sizes of 1 to 64 bytes.
func fuzzChunks(b []byte) []int {
	chunks := make([]int, len(b))
	for i, c := range b {
		chunks[i] = int(c)%64 + 1
	}
	return chunks
}

func FuzzFrameReader(f *testing.F) {
	for _, s := range vectorSeeds(f) {
		f.Add(s, []byte{0}, uint16(0), false)
		f.Add(s, []byte{2, 0, 8, 6}, uint16(40), true)
	}
	f.Fuzz(func(t *testing.T, data, chunks []byte, maxFrame uint16, release bool) {
		want, rest, splitErr := splitAll(t, data, int(maxFrame))
		fr := wire.NewFrameReader(&chunkReader{b: data, chunks: fuzzChunks(chunks)}, int(maxFrame))
		for i, w := range want {
			h, body, err := fr.ReadFrame()
			if err != nil {
				t.Fatalf("frame %d: %v, Split read %+v", i, err, w.h)
			}
			if h != w.h || !bytes.Equal(body, w.body) {
				t.Fatalf("frame %d: %+v %x, Split read %+v %x", i, h, body, w.h, w.body)
			}
			checkBody(t, h, body)
			if release && i%2 == 0 {
				fr.Release()
			}
		}
		_, _, err := fr.ReadFrame()
		switch {
		case splitErr != nil:
			if errors.Is(splitErr, wire.ErrTooLarge) != errors.Is(err, wire.ErrTooLarge) ||
				errors.Is(splitErr, wire.ErrMalformed) != errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("FrameReader: %v, Split: %v", err, splitErr)
			}
		case len(rest) == 0:
			if !errors.Is(err, io.EOF) {
				t.Fatalf("at the end: %v, want io.EOF", err)
			}
		default:
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%d bytes of a frame left: %v, want io.ErrUnexpectedEOF", len(rest), err)
			}
		}
	})
}

func FuzzPushRoundTrip(f *testing.F) {
	for _, v := range loadVectors(f).Frames {
		if v.Op != "push" {
			continue
		}
		var p pushFields
		b := mustHex(f, v.Hex)
		if err := p.decode(b[wire.HeaderSize:]); err != nil {
			f.Fatal(err)
		}
		data, _ := hex.DecodeString(p.DataHex)
		f.Add(p.Kind, p.Room, p.ID, p.Offset, p.Epoch, data, p.Flags)
	}
	f.Add(uint8(3), "", "", uint64(0), "", []byte(nil), uint64(0))
	f.Add(uint8(1), "r", "m", uint64(0), "", []byte("x"), uint64(1<<64-1))
	f.Fuzz(func(t *testing.T, kind uint8, room, id string, offset uint64, epoch string, data []byte, flags uint64) {
		m := wire.Push{Kind: wire.PushKind(kind), Room: room, ID: id, Offset: offset, Epoch: epoch, Data: data, Flags: wire.PushFlags(flags)}
		prefix := []byte("batch")
		b := wire.AppendPush(bytes.Clone(prefix), &m)
		if !bytes.HasPrefix(b, prefix) {
			t.Fatal("AppendPush clobbered the bytes before the frame")
		}
		frame := b[len(prefix):]
		if len(frame) != wire.PushSize(&m) {
			t.Fatalf("PushSize %d, AppendPush wrote %d", wire.PushSize(&m), len(frame))
		}
		h, body, rest, ok, err := wire.Split(frame, len(frame))
		if err != nil || !ok || len(rest) != 0 || h.Op != wire.OpPush || h.Seq != 0 {
			t.Fatalf("Split: %+v ok=%v err=%v", h, ok, err)
		}
		var got wire.Push
		err = got.Decode(body)
		valid := kind <= uint8(wire.PushBroadcast) &&
			len(room) <= wire.MaxRoomLen && len(id) <= wire.MaxRoomLen && len(epoch) <= wire.MaxRoomLen
		if !valid {
			if !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("out-of-range push decoded: err %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != m.Kind || got.Room != room || got.ID != id || got.Offset != offset ||
			got.Epoch != epoch || !bytes.Equal(got.Data, data) || got.Flags != m.Flags {
			t.Fatalf("decoded %+v, want %+v", got, m)
		}
	})
}
