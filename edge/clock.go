package edge

import (
	"sync/atomic"
	"time"
)

// The coarse clock saves a time.Now per flush on the hot path: deadlines and
// idle stamps only need a resolution of clockTick.
const clockTick = 100 * time.Millisecond

var coarse atomic.Int64 // unix nanoseconds

func init() {
	coarse.Store(time.Now().UnixNano())
	go func() {
		for now := range time.Tick(clockTick) {
			coarse.Store(now.UnixNano())
		}
	}()
}

func coarseNow() time.Time { return time.Unix(0, coarse.Load()) }
