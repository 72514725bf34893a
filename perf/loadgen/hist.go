package main

import (
	"math"
	"math/bits"
	"sync/atomic"
)

// histogram is a log-linear histogram of non-negative integers (microseconds
// here), in the spirit of HdrHistogram: values below 128 have buckets of
// their own, larger ones fall in one of 64 buckets per power of two, so any
// value is known within 1/64 (1.6%) whatever its size. Recording is one
// atomic add and never allocates, so every connection's reader records into
// it directly and no sample is kept.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	max    atomic.Uint64
}

const (
	histSubBits = 7                // 2^7 = 128 linear buckets below 128
	histSub     = 1 << histSubBits // 128
	histHalf    = histSub / 2      // 64 buckets per power of two above
	histBuckets = histSub + (64-histSubBits)*histHalf
)

// histIndex returns the bucket of v.
func histIndex(v uint64) int {
	if v < histSub {
		return int(v)
	}
	shift := bits.Len64(v) - histSubBits
	return histSub + (shift-1)*histHalf + int(v>>uint(shift)) - histHalf
}

// histBounds returns the smallest and largest value of bucket i.
func histBounds(i int) (lo, hi uint64) {
	if i < histSub {
		return uint64(i), uint64(i)
	}
	shift := uint((i-histSub)/histHalf + 1)
	sub := uint64((i-histSub)%histHalf + histHalf)
	return sub << shift, (sub+1)<<shift - 1
}

func (h *histogram) record(v uint64) {
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// merge adds o's counts to h.
func (h *histogram) merge(o *histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

func (h *histogram) count() uint64 { return h.n.Load() }

func (h *histogram) mean() float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// quantile returns the value at quantile q (0..1): the middle of the bucket
// holding the ceil(q*n)-th smallest value, capped by the largest value seen.
func (h *histogram) quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := histBounds(i)
			mid := float64(lo) + float64(hi-lo)/2
			return math.Min(mid, float64(h.max.Load()))
		}
	}
	return float64(h.max.Load())
}

// histSnapshot is a histogram in a form that travels as JSON between a
// worker and its coordinator and is kept in the results: the non-empty
// buckets as [smallest value of the bucket, count] pairs, plus the count,
// sum and largest value. Naming buckets by their smallest value rather than
// their index keeps the files readable without this code.
type histSnapshot struct {
	Buckets [][2]uint64 `json:"buckets"`
	N       uint64      `json:"n"`
	Sum     uint64      `json:"sum"`
	Max     uint64      `json:"max"`
}

func (h *histogram) snapshot() histSnapshot {
	s := histSnapshot{N: h.n.Load(), Sum: h.sum.Load(), Max: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			lo, _ := histBounds(i)
			s.Buckets = append(s.Buckets, [2]uint64{lo, c})
		}
	}
	return s
}

// add merges a snapshot into h. The snapshot's counts need not add up to
// its n (a snapshot read while values were recorded); n, sum and max are
// taken as given.
func (h *histogram) add(s histSnapshot) {
	for _, b := range s.Buckets {
		h.counts[histIndex(b[0])].Add(b[1])
	}
	h.n.Add(s.N)
	h.sum.Add(s.Sum)
	for {
		m := h.max.Load()
		if s.Max <= m || h.max.CompareAndSwap(m, s.Max) {
			return
		}
	}
}

// reset empties h. Values recorded concurrently may be lost or half counted;
// callers reset between measurements, when nothing is recorded.
func (h *histogram) reset() {
	for i := range h.counts {
		h.counts[i].Store(0)
	}
	h.n.Store(0)
	h.sum.Store(0)
	h.max.Store(0)
}
