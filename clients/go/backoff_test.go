package quicpush

import (
	"testing"
	"time"
)

func TestBackoffCeiling(t *testing.T) {
	b := backoff{min: 200 * time.Millisecond, max: 20 * time.Second}
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{attempt: 0, want: 200 * time.Millisecond},
		{attempt: 1, want: 400 * time.Millisecond},
		{attempt: 2, want: 800 * time.Millisecond},
		{attempt: 6, want: 12800 * time.Millisecond},
		{attempt: 7, want: 20 * time.Second},
		{attempt: 1000, want: 20 * time.Second},
	} {
		if got := b.ceiling(tc.attempt); got != tc.want {
			t.Errorf("ceiling(%d) = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	huge := backoff{min: time.Second, max: 1<<63 - 1}
	if got := huge.ceiling(200); got != huge.max {
		t.Errorf("ceiling without overflow = %v", got)
	}
}

func TestBackoffFullJitter(t *testing.T) {
	// The extremes of the random source map to the ends of [0, ceiling).
	low := backoff{min: time.Second, max: time.Minute, rand: func(int64) int64 { return 0 }}
	high := backoff{min: time.Second, max: time.Minute, rand: func(n int64) int64 { return n - 1 }}
	for attempt := range 10 {
		if d := low.delay(attempt); d != 0 {
			t.Errorf("lowest delay(%d) = %v, want 0", attempt, d)
		}
		if d, c := high.delay(attempt), high.ceiling(attempt); d != c-1 {
			t.Errorf("highest delay(%d) = %v, want %v", attempt, d, c-1)
		}
	}
	// With the real source every delay is in [0, ceiling) and they spread
	// over the whole range.
	b := backoff{min: 200 * time.Millisecond, max: 20 * time.Second}
	for attempt := range 12 {
		c := b.ceiling(attempt)
		var sum time.Duration
		lo, hi := c, time.Duration(0)
		const n = 2000
		for range n {
			d := b.delay(attempt)
			if d < 0 || d >= c {
				t.Fatalf("delay(%d) = %v outside [0, %v)", attempt, d, c)
			}
			sum += d
			lo, hi = min(lo, d), max(hi, d)
		}
		if mean := sum / n; mean < c*4/10 || mean > c*6/10 {
			t.Errorf("attempt %d: mean %v, want about %v", attempt, mean, c/2)
		}
		if lo > c/10 || hi < c*9/10 {
			t.Errorf("attempt %d: delays span [%v, %v], want most of [0, %v)", attempt, lo, hi, c)
		}
	}
}
