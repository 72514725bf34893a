package edge

import (
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
// else waits in a FIFO that busy flushers drain before they park. A janitor
// retires flushers parked for longer than flusherIdle, so an idle edge holds
// none. Parked flushers wait on a plain channel receive, the cheapest wakeup
// Go has.
type flusherPool struct {
	max int

	mu      sync.Mutex
	idle    []parked // a stack: the end is the most recently parked
	pending []*session
	head    int // next pending session
	live    int
}

type parked struct {
	ch    chan *session
	since time.Time
}

const flusherIdle = 10 * time.Second

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

// work flushes sessions handed to ch until the janitor sends nil.
func (p *flusherPool) work(ch chan *session) {
	for s := range ch {
		if s == nil {
			return
		}
		for ; s != nil; s = p.next(ch) {
			s.flush()
		}
	}
}

// next returns a pending session, or parks ch and returns nil.
func (p *flusherPool) next(ch chan *session) *session {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head < len(p.pending) {
		s := p.pending[p.head]
		p.pending[p.head] = nil
		p.head++
		if p.head == len(p.pending) {
			p.pending, p.head = p.pending[:0], 0
		}
		return s
	}
	p.idle = append(p.idle, parked{ch: ch, since: coarseNow()})
	return nil
}

// retireIdle stops flushers parked since before cutoff. The oldest are at
// the bottom of the stack.
func (p *flusherPool) retireIdle(cutoff time.Time) {
	p.mu.Lock()
	n := 0
	for n < len(p.idle) && p.idle[n].since.Before(cutoff) {
		p.idle[n].ch <- nil
		n++
	}
	p.idle = append(p.idle[:0], p.idle[n:]...)
	p.live -= n
	p.mu.Unlock()
}

// stopAll retires every parked flusher; busy ones finish and park.
func (p *flusherPool) stopAll() { p.retireIdle(time.Now().Add(time.Hour)) }
