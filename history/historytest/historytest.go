// Package historytest checks that a history.Store keeps the promises the
// edges and clients rely on. The in-memory and the Redis store both run it.
package historytest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quicpush/quicpush/history"
)

// NewStore returns an empty store with the given policies.
type NewStore func(t *testing.T, p history.Policies) history.Store

func entry(off uint64, age time.Duration) history.Entry {
	return history.Entry{Offset: off, ID: fmt.Sprintf("m%d", off), Data: []byte(fmt.Sprintf("d%d", off)), Accepted: time.Now().Add(-age)}
}

func appendAll(t *testing.T, s history.Store, stream string, offs ...uint64) string {
	t.Helper()
	var items []history.Item
	for _, o := range offs {
		items = append(items, history.Item{Stream: stream, Entry: entry(o, 0)})
	}
	eps, err := s.Append(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	return eps[stream]
}

func since(t *testing.T, s history.Store, stream string, from history.Position, limit int) history.Result {
	t.Helper()
	r, err := s.Since(context.Background(), stream, from, limit)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func offsets(r history.Result) []uint64 {
	var out []uint64
	for _, e := range r.Entries {
		out = append(out, e.Offset)
	}
	return out
}

func equal(a, b []uint64) bool { return slices.Equal(a, b) }

// Run runs every check against stores from newStore.
func Run(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	t.Run("append and read", func(t *testing.T) {
		s := newStore(t, history.Policies{})
		st := history.RoomStream("news")
		top, err := s.Top(ctx, st)
		if err != nil || top.Offset != 0 || top.Epoch == "" {
			t.Fatalf("top of a new stream: %+v %v, want offset 0 and an epoch", top, err)
		}
		ep := appendAll(t, s, st, 3, 7, 8)
		if ep != top.Epoch {
			t.Fatalf("append used epoch %q, the stream's is %q", ep, top.Epoch)
		}
		r := since(t, s, st, history.Position{Offset: 3, Epoch: ep}, 10)
		if !equal(offsets(r), []uint64{7, 8}) || r.Truncated || r.More || r.Top != (history.Position{Offset: 8, Epoch: ep}) {
			t.Fatalf("since 3: %+v", r)
		}
		if !r.Recovered(history.Position{Offset: 3, Epoch: ep}) {
			t.Fatal("not Recovered")
		}
		e := r.Entries[0]
		if e.ID != "m7" || string(e.Data) != "d7" || time.Since(e.Accepted) > time.Minute {
			t.Fatalf("entry %+v", e)
		}
		if r := since(t, s, st, history.Position{Offset: 8, Epoch: ep}, 10); len(r.Entries) != 0 || r.Truncated {
			t.Fatalf("since the top: %+v", r)
		}
		// From the oldest held.
		if r := since(t, s, st, history.Position{}, 10); !equal(offsets(r), []uint64{3, 7, 8}) || r.Truncated {
			t.Fatalf("since nothing: %+v", r)
		}
		// Rooms and users are different streams.
		if r := since(t, s, history.UserStream("news"), history.Position{}, 10); len(r.Entries) != 0 {
			t.Fatalf("the user stream of the same name holds %v", offsets(r))
		}
	})

	t.Run("redelivery is skipped, restart is a new epoch", func(t *testing.T) {
		s := newStore(t, history.Policies{})
		st := history.RoomStream("r")
		ep := appendAll(t, s, st, 1, 2, 3)
		if again := appendAll(t, s, st, 2, 3); again != ep {
			t.Fatalf("redelivery changed the epoch %q -> %q", ep, again)
		}
		if r := since(t, s, st, history.Position{Offset: 0, Epoch: ep}, 10); !equal(offsets(r), []uint64{1, 2, 3}) {
			t.Fatalf("after redelivery: %v", offsets(r))
		}
		// Offset 2 again, but another message: the bus started over.
		eps, err := s.Append(ctx, []history.Item{{Stream: st, Entry: history.Entry{Offset: 2, ID: "other", Accepted: time.Now()}}})
		if err != nil {
			t.Fatal(err)
		}
		if eps[st] == ep {
			t.Fatal("offsets started over without a new epoch")
		}
		r := since(t, s, st, history.Position{Offset: 1, Epoch: ep}, 10)
		if !r.Truncated || r.Recovered(history.Position{Offset: 1, Epoch: ep}) {
			t.Fatalf("a position of the old epoch: %+v", r)
		}
	})

	t.Run("trimmed by size", func(t *testing.T) {
		s := newStore(t, history.Policies{Rooms: history.Policy{Size: 3}})
		st := history.RoomStream("small")
		ep := appendAll(t, s, st, 1, 2, 3, 4, 5)
		if r := since(t, s, st, history.Position{Offset: 1, Epoch: ep}, 10); !r.Truncated || !equal(offsets(r), []uint64{3, 4, 5}) {
			t.Fatalf("since 1 (1 and 2 trimmed... 2 is gone): %+v", r)
		}
		if r := since(t, s, st, history.Position{Offset: 2, Epoch: ep}, 10); r.Truncated || !equal(offsets(r), []uint64{3, 4, 5}) {
			t.Fatalf("since 2 (nothing missing): %+v", r)
		}
	})

	t.Run("trimmed by age", func(t *testing.T) {
		s := newStore(t, history.Policies{Rooms: history.Policy{TTL: time.Minute}})
		st := history.RoomStream("old")
		items := []history.Item{
			{Stream: st, Entry: entry(1, 3*time.Minute)},
			{Stream: st, Entry: entry(2, 2*time.Minute)},
			{Stream: st, Entry: entry(3, 0)},
		}
		eps, err := s.Append(ctx, items)
		if err != nil {
			t.Fatal(err)
		}
		ep := eps[st]
		if r := since(t, s, st, history.Position{Offset: 1, Epoch: ep}, 10); !r.Truncated || !equal(offsets(r), []uint64{3}) {
			t.Fatalf("since 1 (2 expired): %+v", r)
		}
		if r := since(t, s, st, history.Position{Offset: 2, Epoch: ep}, 10); r.Truncated || !equal(offsets(r), []uint64{3}) {
			t.Fatalf("since 2: %+v", r)
		}
	})

	t.Run("limit", func(t *testing.T) {
		s := newStore(t, history.Policies{})
		st := history.UserStream("alice")
		ep := appendAll(t, s, st, 1, 2, 3, 4)
		r := since(t, s, st, history.Position{Offset: 1, Epoch: ep}, 2)
		if !equal(offsets(r), []uint64{2, 3}) || !r.More || r.Recovered(history.Position{Offset: 1, Epoch: ep}) {
			t.Fatalf("limit 2: %+v", r)
		}
	})

	t.Run("bad positions", func(t *testing.T) {
		s := newStore(t, history.Policies{})
		st := history.RoomStream("b")
		ep := appendAll(t, s, st, 5, 6)
		for name, from := range map[string]history.Position{
			"future offset": {Offset: 1 << 40, Epoch: ep},
			"unknown epoch": {Offset: 5, Epoch: "nope"},
			"garbage epoch": {Offset: 5, Epoch: "\x00\xff\n" + string(make([]byte, 200))},
			"no epoch":      {Offset: 5},
			"max offset":    {Offset: ^uint64(0), Epoch: ep},
		} {
			r := since(t, s, st, from, 10)
			if !r.Truncated || r.Recovered(from) {
				t.Errorf("%s: %+v, want truncated", name, r)
			}
		}
	})

	t.Run("namespaces", func(t *testing.T) {
		s := newStore(t, history.Policies{
			Namespaces: []history.Namespace{
				{Prefix: "chat/", Policy: history.Policy{Size: 2}},
				{Prefix: "chat/off/", Policy: history.Policy{Size: -1}},
			},
		})
		if ep := appendAll(t, s, history.RoomStream("chat/off/x"), 1); ep != "" {
			t.Fatalf("a room without history got epoch %q", ep)
		}
		if top, _ := s.Top(ctx, history.RoomStream("chat/off/x")); !top.IsZero() {
			t.Fatalf("a room without history has position %+v", top)
		}
		ep := appendAll(t, s, history.RoomStream("chat/1"), 1, 2, 3)
		if r := since(t, s, history.RoomStream("chat/1"), history.Position{Epoch: ep}, 10); !equal(offsets(r), []uint64{2, 3}) {
			t.Fatalf("chat/ keeps 2: %v", offsets(r))
		}
		ep = appendAll(t, s, history.RoomStream("other"), 1, 2, 3)
		if r := since(t, s, history.RoomStream("other"), history.Position{Epoch: ep}, 10); !equal(offsets(r), []uint64{1, 2, 3}) {
			t.Fatalf("the default keeps 1000: %v", offsets(r))
		}
	})

	t.Run("many streams in one append", func(t *testing.T) {
		s := newStore(t, history.Policies{})
		var items []history.Item
		for i := range 50 {
			for o := uint64(1); o <= 3; o++ {
				items = append(items, history.Item{Stream: history.UserStream(fmt.Sprint(i)), Entry: entry(o*10+uint64(i), 0)})
			}
		}
		eps, err := s.Append(ctx, items)
		if err != nil || len(eps) != 50 {
			t.Fatalf("%d epochs, %v", len(eps), err)
		}
		r := since(t, s, history.UserStream("7"), history.Position{Epoch: eps[history.UserStream("7")]}, 10)
		if !equal(offsets(r), []uint64{17, 27, 37}) {
			t.Fatalf("user 7: %v", offsets(r))
		}
	})
}
