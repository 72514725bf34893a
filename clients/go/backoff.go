package quicpush

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays with "full jitter": the delay before retry
// n (from 0) is uniform in [0, min(max, min·2ⁿ)). Spreading the whole range
// rather than adding a little noise to a fixed curve is what keeps the clients
// of a drained edge from coming back in waves.
type backoff struct {
	min, max time.Duration
	// rand returns a uniform int64 in [0, n); nil means math/rand/v2.
	rand func(n int64) int64
}

// ceiling is the upper bound of the delay before retry attempt.
func (b backoff) ceiling(attempt int) time.Duration {
	d := b.min
	for i := 0; i < attempt && d < b.max; i++ {
		if d > b.max/2 {
			return b.max
		}
		d *= 2
	}
	return min(d, b.max)
}

// delay returns the delay before retry attempt.
func (b backoff) delay(attempt int) time.Duration {
	c := b.ceiling(attempt)
	if c <= 0 {
		return 0
	}
	rnd := b.rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return time.Duration(rnd(int64(c)))
}
