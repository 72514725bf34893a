package store

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"
)

// replyShape builds a Redis reply value, of the kinds go-redis hands to a
// script caller (string, int64, nil, []any, and bytes or an error as a
// broken client might), from fuzz bytes: a tiny prefix language, so that the
// fuzzer can produce every nesting.
type replyShape struct {
	b     []byte
	depth int
}

func (r *replyShape) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *replyShape) str() string {
	n := min(int(r.byte()), len(r.b))
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *replyShape) value() any {
	if r.depth > 8 {
		return nil
	}
	switch r.byte() % 8 {
	case 0:
		return r.str()
	case 1:
		return int64(int8(r.byte())) * 1_000_003
	case 2:
		return nil
	case 3:
		return []byte(r.str())
	case 4:
		// An XRANGE entry with a well-formed id and fields, so that the
		// rest of the input goes into field values.
		return []any{strconv.Itoa(int(r.byte())) + "-1", r.list()}
	case 5:
		return strconv.FormatInt(int64(int16(uint16(r.byte())<<8|uint16(r.byte()))), 10)
	case 6:
		return float64(r.byte()) / 3
	default:
		return r.list()
	}
}

func (r *replyShape) list() []any {
	r.depth++
	defer func() { r.depth-- }()
	n := int(r.byte() % 8)
	out := make([]any, 0, n)
	for range n {
		out = append(out, r.value())
	}
	return out
}

// FuzzParseEntry feeds parseEntry (and parseUint, which reads the script's
// other replies) arbitrary reply shapes: they must never panic, and a
// well-formed entry, built from the fuzzed fields, must parse to exactly
// those fields.
func FuzzParseEntry(f *testing.F) {
	f.Add([]byte{7, 2, 0, 3, '4', '-', '1', 7, 6, 0, 1, 'i', 0, 2, 'm', '1', 0, 1, 'd', 0, 1, 'x', 0, 1, 't', 0, 3, '1', '2', '3'},
		uint64(4), "m1", []byte("x"), int64(123))
	f.Add([]byte{7, 2, 0, 2, '-', '1', 7, 1, 0, 0}, uint64(0), "", []byte(nil), int64(-1))
	f.Add([]byte{4, 9, 5, 0, 1, 't', 5, 0xff, 0xff}, uint64(1<<64-1), "id", []byte{0, 1}, int64(1<<62))
	f.Add([]byte{7, 3, 2, 1, 9, 3, 2, 'a', 'b'}, uint64(12), "m", []byte{}, int64(0))
	f.Fuzz(func(t *testing.T, shape []byte, off uint64, id string, data []byte, ms int64) {
		x := (&replyShape{b: shape}).value()
		e, err := parseEntry(x)
		if err == nil {
			// What parsed came from a well-formed id: <offset>-<seq>.
			idStr, _ := x.([]any)[0].(string)
			offStr, _, _ := strings.Cut(idStr, "-")
			if n, err := strconv.ParseUint(offStr, 10, 64); err != nil || n != e.Offset {
				t.Fatalf("entry %#v: offset %d from id %q", x, e.Offset, idStr)
			}
		}
		_, _ = parseUint(x)

		// The shape the read script returns.
		want := []any{strconv.FormatUint(off, 10) + "-1", []any{
			"i", id, "d", string(data), "t", strconv.FormatInt(ms, 10), "x", "unknown field",
		}}
		e, err = parseEntry(want)
		if err != nil {
			t.Fatalf("entry %#v: %v", want, err)
		}
		if e.Offset != off || e.ID != id || !bytes.Equal(e.Data, data) || !e.Accepted.Equal(time.UnixMilli(ms)) {
			t.Fatalf("entry %#v parsed as %+v", want, e)
		}
		if len(data) == 0 && len(e.Data) != 0 {
			t.Fatalf("empty data parsed as %x", e.Data)
		}
		if n, err := parseUint(strconv.FormatUint(off, 10)); err != nil || n != off {
			t.Fatalf("parseUint(%d): %d, %v", off, n, err)
		}
	})
}
