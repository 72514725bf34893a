package history

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// FuzzMemory runs a program of Append, Top, Since and clock steps, decoded
// from the fuzz input, against a Memory with small policies and a fake clock,
// and checks every Result against what the stream holds (read with the zero
// position, which is never truncated) and against the contract the edges
// rely on to resume clients:
//
//   - entries have strictly increasing offsets, at most the limit, none above
//     Top, and More exactly when the limit cut some off;
//   - a position of another epoch, or beyond Top, is Truncated;
//   - not Truncated, the entries are exactly the held ones after the
//     position; Truncated, they start at the oldest held one;
//   - Recovered implies the same epoch, and then nothing was missed: every
//     held entry after the position is returned;
//   - Top never moves back within an epoch, and Since and Top agree.
//
// Each program step is 4 bytes: op, stream, and two arguments; a program
// runs at most 256 steps.
func FuzzMemory(f *testing.F) {
	const (
		opAppend   = iota // stream, offset gap (0xff: an offset below), id
		opSince           // stream, position choice, limit
		opTop             // stream
		opTick            // seconds
		opAppendAt        // stream, offset, id
		numOps
	)
	f.Add([]byte{opAppend, 0, 1, 0, opAppend, 0, 1, 1, opSince, 0, 0, 0x13}, uint8(3), uint8(60))
	f.Add([]byte{opAppend, 1, 1, 0, opAppend, 1, 2, 1, opAppend, 1, 1, 2, opAppend, 1, 1, 3, opAppend, 1, 1, 4,
		opSince, 1, 1, 0x02, opSince, 1, 5, 0x12, opTick, 0, 90, 0, opSince, 1, 2, 0x02}, uint8(3), uint8(60))
	f.Add([]byte{opAppend, 2, 3, 0, opAppendAt, 2, 3, 9, opSince, 2, 3, 0x31, opTop, 2, 0, 0}, uint8(0), uint8(0))
	f.Add([]byte{opTop, 3, 0, 0, opSince, 3, 7, 0x20, opAppend, 3, 0, 0, opSince, 0, 0, 0xf0}, uint8(0xff), uint8(1))
	f.Fuzz(func(t *testing.T, prog []byte, size, ttlSeconds uint8) {
		clock := time.Unix(1_700_000_000, 0)
		// Room streams keep size entries (0: the default, 0xff: none), user
		// streams 2; both expire after ttlSeconds (0: the default).
		roomSize := int(size)
		if size == 0xff {
			roomSize = -1
		}
		ps := Policies{
			Rooms:      Policy{Size: roomSize, TTL: time.Duration(ttlSeconds) * time.Second},
			Users:      Policy{Size: 2, TTL: time.Duration(ttlSeconds) * time.Second},
			Namespaces: []Namespace{{Prefix: "quiet", Policy: Policy{Size: -1}}},
		}
		m := NewMemory(ps)
		defer m.Close()
		m.now = func() time.Time { return clock }
		ctx := context.Background()
		streams := []string{RoomStream("a"), RoomStream("b"), UserStream("u"), RoomStream("quiet")}

		type state struct {
			top    Position // last position seen
			epochs []string // every epoch seen, oldest first
			offs   []uint64 // offsets appended, for positions near them
			// held records, per epoch, every offset the stream was seen
			// holding: a Recovered result must return each one above the
			// position, or it hid a gap.
			held map[string]map[uint64]bool
		}
		seen := make([]state, len(streams))
		// snapshot reads what a stream holds, with the zero position (never
		// truncated), and records it.
		snapshot := func(si int) Result {
			st := &seen[si]
			all, err := m.Since(ctx, streams[si], Position{}, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			if all.Truncated || all.More {
				t.Fatalf("Since %s from zero: %+v", streams[si], all)
			}
			checkTop(t, streams[si], ps.For(streams[si]), &st.top, &st.epochs, all.Top)
			if st.held == nil {
				st.held = make(map[string]map[uint64]bool)
			}
			if st.held[all.Top.Epoch] == nil {
				st.held[all.Top.Epoch] = make(map[uint64]bool)
			}
			for _, e := range all.Entries {
				st.held[all.Top.Epoch][e.Offset] = true
			}
			return all
		}
		next := uint64(1)

		// A program is at most 256 steps: each one reads the whole stream.
		prog = prog[:min(len(prog), 4*256)]
		for len(prog) >= 4 {
			op, si, a, b := prog[0]%numOps, int(prog[1])%len(streams), prog[2], prog[3]
			prog = prog[4:]
			stream, st := streams[si], &seen[si]
			enabled := ps.For(stream).Enabled()
			switch op {
			case opAppend, opAppendAt:
				// opAppend: the next offset, after a gap of a, or one below
				// (0xff); opAppendAt: offset a. The id decides between a
				// redelivery (same id) and a restarted bus (another).
				off := next + uint64(a)
				switch {
				case op == opAppendAt:
					off = uint64(a)
				case a == 0xff:
					off = next / 2
				}
				next = max(next, off+1)
				e := Entry{Offset: off, ID: fmt.Sprintf("m%d.%d", off, b%3), Data: []byte{b}, Accepted: clock}
				eps, err := m.Append(ctx, []Item{{Stream: stream, Entry: e}})
				if err != nil {
					t.Fatal(err)
				}
				ep, ok := eps[stream]
				if ok != enabled {
					t.Fatalf("Append %s: epoch returned %v, stream keeps history %v", stream, ok, enabled)
				}
				if ok {
					noteEpoch(&st.epochs, ep)
					st.offs = append(st.offs, off)
					if all := snapshot(si); all.Top.Epoch != ep {
						t.Fatalf("Append %s returned epoch %q, the stream is in %q", stream, ep, all.Top.Epoch)
					}
				}
			case opTop:
				top, err := m.Top(ctx, stream)
				if err != nil {
					t.Fatal(err)
				}
				checkTop(t, stream, ps.For(stream), &st.top, &st.epochs, top)
			case opSince:
				from := pickPosition(a, st.offs, st.epochs, st.top)
				limit := int(b & 0x0f)
				r, err := m.Since(ctx, stream, from, limit)
				if err != nil {
					t.Fatal(err)
				}
				if !enabled {
					if len(r.Entries) != 0 || r.Top != (Position{}) || r.Truncated != !from.IsZero() || r.More {
						t.Fatalf("Since %s (no history) from %+v: %+v", stream, from, r)
					}
					continue
				}
				all := snapshot(si)
				if all.Top != r.Top {
					t.Fatalf("Since %s: Top %+v, then %+v", stream, r.Top, all.Top)
				}
				checkResult(t, stream, from, limit, r, all.Entries)
				if r.Recovered(from) {
					for off := range st.held[r.Top.Epoch] {
						if off > from.Offset && !hasOffset(r.Entries, off) {
							t.Fatalf("Since %s from %+v: recovered %v, but offset %d of the epoch was held and is missing",
								stream, from, offsetsOf(r.Entries), off)
						}
					}
				}
			case opTick:
				clock = clock.Add(time.Duration(a) * time.Second)
			}
		}
	})
}

func hasOffset(es []Entry, off uint64) bool {
	for _, e := range es {
		if e.Offset == off {
			return true
		}
	}
	return false
}

// noteEpoch records ep as the latest epoch of a stream.
func noteEpoch(epochs *[]string, ep string) {
	if ep == "" {
		return
	}
	if n := len(*epochs); n == 0 || (*epochs)[n-1] != ep {
		*epochs = append(*epochs, ep)
	}
}

// pickPosition turns a fuzz byte into a position to resume from: the zero
// position, one at, next to or beyond an offset appended, or past the top,
// in the current epoch, an older one, an unknown one or none.
func pickPosition(a byte, offs []uint64, epochs []string, top Position) Position {
	var off uint64
	switch k := int(a & 0x0f); {
	case k == 0:
		return Position{}
	case k == 1:
		off = top.Offset
	case k == 2:
		off = top.Offset + 1
	case k == 3:
		off = 1<<64 - 1
	case len(offs) > 0:
		off = offs[k%len(offs)] - uint64(k&1)
	default:
		off = uint64(k)
	}
	var ep string
	switch a >> 4 & 3 {
	case 0:
		ep = top.Epoch
	case 1:
		if len(epochs) > 0 {
			ep = epochs[0]
		}
	case 2:
		ep = "unknown"
	}
	return Position{Offset: off, Epoch: ep}
}

// checkTop checks a stream's position against the last one seen: it starts
// the stream (an epoch) when history is kept, and never moves back in an
// epoch.
func checkTop(t *testing.T, stream string, p Policy, last *Position, epochs *[]string, top Position) {
	t.Helper()
	if !p.Enabled() {
		if top != (Position{}) {
			t.Fatalf("Top %s without history: %+v", stream, top)
		}
		return
	}
	if top.Epoch == "" {
		t.Fatalf("Top %s: no epoch", stream)
	}
	if top.Epoch == last.Epoch && top.Offset < last.Offset {
		t.Fatalf("Top %s moved back from %+v to %+v", stream, *last, top)
	}
	*last = top
	noteEpoch(epochs, top.Epoch)
}

func checkResult(t *testing.T, stream string, from Position, limit int, r Result, held []Entry) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("Since %s from %+v limit %d: %+v (held %v): %s", stream, from, limit, r, offsetsOf(held), fmt.Sprintf(format, args...))
	}
	if len(r.Entries) > limit {
		fail("more entries than the limit")
	}
	for i, e := range r.Entries {
		if i > 0 && e.Offset <= r.Entries[i-1].Offset {
			fail("offsets not strictly increasing")
		}
		if e.Offset > r.Top.Offset {
			fail("entry above Top")
		}
	}
	for i := 1; i < len(held); i++ {
		if held[i].Offset <= held[i-1].Offset {
			fail("held offsets not strictly increasing")
		}
	}
	if !from.IsZero() && (from.Epoch != r.Top.Epoch || from.Offset > r.Top.Offset) && !r.Truncated {
		fail("a position of another epoch or beyond Top is not truncated")
	}
	// The entries a reader at from gets: after from, or all when truncated.
	var want []Entry
	for _, e := range held {
		if r.Truncated || e.Offset > from.Offset {
			want = append(want, e)
		}
	}
	more := len(want) > limit
	if more {
		want = want[:limit]
	}
	if r.More != more || len(r.Entries) != len(want) {
		fail("want %v, More %v", offsetsOf(want), more)
	}
	for i := range want {
		if r.Entries[i].Offset != want[i].Offset || r.Entries[i].ID != want[i].ID {
			fail("entry %d: want %v", i, offsetsOf(want))
		}
	}
	if r.Recovered(from) {
		if from.Epoch != r.Top.Epoch {
			fail("recovered across epochs")
		}
		for _, e := range r.Entries {
			if e.Offset <= from.Offset {
				fail("recovered replays offset %d at or below the position", e.Offset)
			}
		}
	}
}

func offsetsOf(es []Entry) []uint64 {
	out := make([]uint64, len(es))
	for i, e := range es {
		out[i] = e.Offset
	}
	return out
}
