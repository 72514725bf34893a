package store

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/push"
)

func TestOnlineCounts(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")
	p := NewOnlineCounts(c, "")

	got, err := p.Online(ctx, []string{"r1"}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got.Total != 0 || got.Rooms["r1"] != 0 || len(got.Top) != 0 {
		t.Fatalf("Online on empty cluster = %+v", got)
	}

	a.connect(t, "a1", "u1")
	a.connect(t, "a2", "u2")
	b.connect(t, "b1", "u1")
	a.join(t, "r1", 2)
	b.join(t, "r1", 3)
	a.join(t, "r2", 5)
	b.join(t, "r3", 1)
	b.join(t, "r4", 5)
	a.join(t, "r1", 4) // async: 2 -> 4

	want := push.Online{
		Total: 3,
		Rooms: map[string]int64{"r1": 7, "r2": 5, "nope": 0},
		// Ties (r2, r4) by name.
		Top: []push.RoomCount{{Room: "r1", Count: 7}, {Room: "r2", Count: 5}, {Room: "r4", Count: 5}},
	}
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		got, err := p.Online(ctx, []string{"r1", "r2", "nope", "r1"}, 3)
		if err != nil {
			return err
		}
		if got.Total != want.Total || !maps.Equal(got.Rooms, want.Rooms) || !slices.Equal(got.Top, want.Top) {
			return fmt.Errorf("Online = %+v, want %+v", got, want)
		}
		return nil
	})

	// top 0: no Top; top larger than the rooms: all of them.
	got, err = p.Online(ctx, nil, 0)
	if err != nil || got.Top != nil || got.Total != 3 {
		t.Fatalf("Online(top 0) = %+v, %v", got, err)
	}
	got, err = p.Online(ctx, nil, 100)
	if err != nil || len(got.Top) != 4 || got.Top[3] != (push.RoomCount{Room: "r3", Count: 1}) {
		t.Fatalf("Online(top 100) = %+v, %v", got, err)
	}

	// A dead edge's counts no longer count, before anyone cleans them.
	crash(b.EdgeRoutes)
	checkFor(t, 3*time.Second, 10*time.Millisecond, func() error {
		got, err := p.Online(ctx, []string{"r1"}, 10)
		if err != nil {
			return err
		}
		wantTop := []push.RoomCount{{Room: "r2", Count: 5}, {Room: "r1", Count: 4}}
		if got.Total != 2 || got.Rooms["r1"] != 4 || !slices.Equal(got.Top, wantTop) {
			return fmt.Errorf("Online = %+v", got)
		}
		return nil
	})
}

func TestOnlineCountsPrefix(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA", func(cfg *EdgeRoutesConfig) { cfg.Prefix = "t1:" })
	a.connect(t, "k", "u")
	a.join(t, "room", 1)
	if c.Exists(ctx, "t1:user:u", "t1:room:room", "t1:edge:edgeA").Val() != 3 {
		t.Fatal("keys not under the prefix")
	}
	if got, err := NewOnlineCounts(c, "t1:").Online(ctx, []string{"room"}, 1); err != nil || got.Total != 1 || got.Rooms["room"] != 1 {
		t.Fatalf("Online under t1: = %+v, %v", got, err)
	}
	if got, err := NewOnlineCounts(c, "").Online(ctx, []string{"room"}, 1); err != nil || got.Total != 0 {
		t.Fatalf("Online under qp: = %+v, %v", got, err)
	}
}
