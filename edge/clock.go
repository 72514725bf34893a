package edge

import (
	"sync/atomic"
	"time"
)

// clockTick is the coarse clock's resolution.
const clockTick = 100 * time.Millisecond

// coarseClock saves a time.Now per flush and per inbound frame on the hot
// path: write deadlines, rate windows and idle stamps only need a resolution
// of clockTick. The edge's janitor ticks it (Listen starts it, Close stops
// it), so it runs on the edge's own timers, fake ones under testing/synctest
// included.
type coarseClock struct {
	nanos atomic.Int64 // unix nanoseconds
}

// set moves the clock to t.
func (c *coarseClock) set(t time.Time) { c.nanos.Store(t.UnixNano()) }

// unixNano is the time of the last tick in unix nanoseconds.
func (c *coarseClock) unixNano() int64 { return c.nanos.Load() }

// now is the time of the last tick.
func (c *coarseClock) now() time.Time { return time.Unix(0, c.nanos.Load()) }
