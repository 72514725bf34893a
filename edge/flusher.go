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
// idle. So flushers are reused: a session with something to write goes to an
// idle flusher, or to a new one while fewer than max run, or else waits in a
// FIFO that busy flushers drain before they park. Flushers idle for
// flusherIdle exit, so an idle edge holds none.
type flusherPool struct {
	max int

	mu      sync.Mutex
	idle    []chan *session
	pending []*session
	head    int // next pending session
	live    int
}

const flusherIdle = 10 * time.Second

// run flushes s as soon as a flusher is free.
func (p *flusherPool) run(s *session) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		ch := p.idle[n-1]
		p.idle[n-1] = nil
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

func (p *flusherPool) work(ch chan *session) {
	timer := time.NewTimer(flusherIdle)
	defer timer.Stop()
	for {
		select {
		case s := <-ch:
			s.flush()
			for s = p.next(ch); s != nil; s = p.next(ch) {
				s.flush()
			}
			timer.Reset(flusherIdle)
		case <-timer.C:
			if p.retire(ch) {
				return
			}
			// Taken just as the timer fired: a session is on its way.
			timer.Reset(flusherIdle)
		}
	}
}

// next returns a pending session, or parks ch on the idle list and returns nil.
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
	p.idle = append(p.idle, ch)
	return nil
}

// retire removes ch from the idle list; false means a caller already took it.
func (p *flusherPool) retire(ch chan *session) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, c := range p.idle {
		if c == ch {
			p.idle = append(p.idle[:i], p.idle[i+1:]...)
			p.live--
			return true
		}
	}
	return false
}
