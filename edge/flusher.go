package edge

import (
	"runtime"
	"sync"
	"time"
)

// flusherPool runs session flushes on a bounded set of parked goroutines.
//
// A flush needs a goroutine that may block (one slow client's write must not
// hold up anyone else's), but starting a goroutine per flush costs an
// allocation per delivery, and a goroutine per connection costs memory while
// idle. So flushers are reused: a session with something to write goes to the
// most recently parked flusher, or to a new one while fewer than max run, or
// else waits in a FIFO that busy flushers drain before they park. The edge's
// janitor retires flushers parked for longer than flusherIdle, so an idle edge
// holds none. Parked flushers wait on a plain channel receive, the cheapest
// wakeup Go has.
//
// Once stopped (the edge closes), flushers finish what is pending and exit
// instead of parking.
type flusherPool struct {
	max   int
	clock *coarseClock // stamps parked flushers

	mu      sync.Mutex
	idle    []parked // a stack: the end is the most recently parked
	pending []*session
	head    int // next pending session
	live    int
	stopped bool
	exited  sync.Cond // signalled when live drops to zero after stop
}

type parked struct {
	ch    chan *session
	since time.Time
}

const flusherIdle = 10 * time.Second

func newFlusherPool(maxFlushers int, clock *coarseClock) *flusherPool {
	p := &flusherPool{max: maxFlushers, clock: clock}
	p.exited.L = &p.mu
	return p
}

// run flushes s as soon as a flusher is free.
func (p *flusherPool) run(s *session) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		ch := p.idle[n-1].ch
		p.idle[n-1] = parked{}
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		ch <- s // buffered: never blocks
		return
	}
	if p.live >= p.max {
		p.pending = append(p.pending, s)
		p.mu.Unlock()
		return
	}
	p.live++
	p.mu.Unlock()
	ch := make(chan *session, 1)
	ch <- s
	go p.work(ch)
}

// work flushes sessions handed to ch until it is retired (the janitor sends
// nil) or the pool stops.
func (p *flusherPool) work(ch chan *session) {
	for s := range ch {
		if s == nil {
			return
		}
		for s != nil {
			s.flush()
			// Let whatever else is runnable go before the next write: on
			// a busy edge hundreds of flushers are runnable, and without
			// this each runs until preempted (10ms at a time), so that
			// the push API's and the QUIC readers' goroutines wait behind
			// all of them. Measured at goim's shape (10,000 connections,
			// one core): push-call p99 202 -> 106 ms at the default write
			// budget, 1.6 s -> 0.23 s at 100ms (perf/README.md).
			runtime.Gosched()
			var ok bool
			if s, ok = p.next(ch); !ok {
				return
			}
		}
	}
}

// next returns a pending session, or parks ch and returns nil; ok false
// means the pool stopped and the flusher exits.
func (p *flusherPool) next(ch chan *session) (s *session, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head < len(p.pending) {
		s := p.pending[p.head]
		p.pending[p.head] = nil
		p.head++
		if p.head == len(p.pending) {
			p.pending, p.head = p.pending[:0], 0
		}
		return s, true
	}
	if p.stopped {
		p.exitLocked(1)
		return nil, false
	}
	p.idle = append(p.idle, parked{ch: ch, since: p.clock.now()})
	return nil, true
}

// retireIdle stops flushers parked since before cutoff. The oldest are at
// the bottom of the stack.
func (p *flusherPool) retireIdle(cutoff time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && p.idle[n].since.Before(cutoff) {
		p.idle[n].ch <- nil
		n++
	}
	clear(p.idle[:n])
	p.idle = append(p.idle[:0], p.idle[n:]...)
	p.exitLocked(n)
}

// exitLocked counts n flushers gone; p.mu is held.
func (p *flusherPool) exitLocked(n int) {
	p.live -= n
	if p.live == 0 && p.stopped {
		p.exited.Broadcast()
	}
}

// stop retires every parked flusher and waits for the busy ones to finish
// what is pending. Sessions handed to the pool afterwards still get a
// flusher, which exits when done.
func (p *flusherPool) stop() {
	p.mu.Lock()
	p.stopped = true
	for _, f := range p.idle {
		f.ch <- nil
	}
	n := len(p.idle)
	clear(p.idle)
	p.idle = p.idle[:0]
	p.exitLocked(n)
	for p.live > 0 {
		p.exited.Wait()
	}
	p.mu.Unlock()
}

// running reports how many flushers exist, parked or busy.
func (p *flusherPool) running() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live
}
