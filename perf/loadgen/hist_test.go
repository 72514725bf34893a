package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestHistIndexBounds(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 1000, 12345, 1 << 40, math.MaxUint64} {
		i := histIndex(v)
		if i < 0 || i >= histBuckets {
			t.Fatalf("index of %d is %d, out of range", v, i)
		}
		lo, hi := histBounds(i)
		if v < lo || v > hi {
			t.Fatalf("%d in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if v >= histSub && float64(hi-lo+1) > float64(lo)/histHalf+1 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/%d", i, lo, hi, histHalf)
		}
	}
	// Buckets tile the line with no gap.
	for i := 1; i < histBuckets; i++ {
		_, prevHi := histBounds(i - 1)
		lo, _ := histBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("gap before bucket %d: %d then %d", i, prevHi, lo)
		}
	}
}

func TestHistQuantiles(t *testing.T) {
	var h histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]uint64, 100_000)
	for i := range vals {
		vals[i] = uint64(r.ExpFloat64() * 5000)
		h.record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		want := float64(vals[int(math.Ceil(q*float64(len(vals))))-1])
		got := h.quantile(q)
		if math.Abs(got-want) > want/histHalf+1 {
			t.Errorf("q%v: got %.1f, want %.1f within 1/%d", q, got, want, histHalf)
		}
	}
	if got := h.quantile(1); got != float64(vals[len(vals)-1]) {
		t.Errorf("max: got %v, want %v", got, vals[len(vals)-1])
	}
	var m histogram
	m.merge(&h)
	if m.count() != h.count() || m.quantile(0.99) != h.quantile(0.99) {
		t.Error("merge changed the distribution")
	}
}
