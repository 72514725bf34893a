package server

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/internal/push"
)

// The room counter keeps at most roomRatesTracked rooms in a window, and the
// hottest rooms survive a flood of distinct ones.
func TestRoomRatesBounded(t *testing.T) {
	r := newRoomRates(bus.NewMemory(0))
	for range 1000 {
		r.add("hot")
	}
	for i := range 10 * roomRatesTracked {
		r.add(fmt.Sprint("cold-", i))
	}
	w := r.take()
	if len(w) > roomRatesTracked {
		t.Fatalf("%d rooms tracked, want at most %d", len(w), roomRatesTracked)
	}
	top := hottest([]map[string]uint64{w, {}}, 1)
	if len(top) != 1 || top[0].Room != "hot" || top[0].PerSecond != 500 {
		t.Fatalf("hottest over two windows: %+v, want hot at 500/s", top)
	}
	if len(r.take()) != 0 {
		t.Fatal("take did not start a new window")
	}
}

// Only room messages the bus accepted are counted.
func TestRoomRatesPublish(t *testing.T) {
	m := bus.NewMemory(0)
	r := newRoomRates(m)
	ctx := context.Background()
	for _, msg := range []*push.Message{{Kind: push.KindRoom, Room: "a"}, {Kind: push.KindBroadcast}, {Kind: push.KindRoom, Room: "a"}} {
		if _, err := r.Publish(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	_ = m.Close()
	_, _ = r.Publish(ctx, &push.Message{Kind: push.KindRoom, Room: "b"})
	if w := r.take(); len(w) != 1 || w["a"] != 2 {
		t.Fatalf("counts %v, want a: 2", w)
	}
}

// Quantiles of the observations between two samples, interpolated within
// buckets; none without observations; those above the last bound shown at
// it.
func TestQuantileMillis(t *testing.T) {
	bounds := []float64{0.001, 0.002, 0.004}
	from := adminSample{bounds: bounds, buckets: []uint64{5, 5, 5}, count: 5}
	for _, tc := range []struct {
		buckets []uint64
		count   uint64
		q       float64
		want    float64 // ms; NaN: none
	}{
		{[]uint64{5, 5, 5}, 5, 0.5, math.NaN()},
		{[]uint64{15, 15, 15}, 15, 0.5, 0.5},
		{[]uint64{5, 105, 105}, 105, 0.99, 1.99},
		{[]uint64{5, 5, 6}, 105, 0.99, 4},
	} {
		to := adminSample{bounds: bounds, buckets: tc.buckets, count: tc.count}
		got := quantileMillis(tc.q, from, to)
		switch {
		case math.IsNaN(tc.want) && got != nil:
			t.Errorf("%v q%v: %v, want none", tc.buckets, tc.q, *got)
		case !math.IsNaN(tc.want) && (got == nil || math.Abs(*got-tc.want) > 1e-9):
			t.Errorf("%v q%v: %v, want %v", tc.buckets, tc.q, got, tc.want)
		}
	}
}

// BenchmarkRoomRatesAdd is the admin page's cost per accepted room push:
// a room already counted (the common case), and a flood of new rooms past
// the bound.
func BenchmarkRoomRatesAdd(b *testing.B) {
	rooms := make([]string, 4*roomRatesTracked)
	for i := range rooms {
		rooms[i] = fmt.Sprint("room-", i)
	}
	b.Run("counted", func(b *testing.B) {
		r := newRoomRates(nil)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.add(rooms[i%16])
		}
	})
	b.Run("flood", func(b *testing.B) {
		r := newRoomRates(nil)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			r.add(rooms[i%len(rooms)])
		}
	})
}
