package edge

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The write policy: when to write a room's messages to its members.
//
// A small write costs about the same CPU whatever it carries (on loopback
// ~7.6 us of the sender's CPU for a few bytes or a few KiB), so what a room
// broadcast costs is set by how often each member is written to, not by how
// many messages it gets. Writing every push at once is right while that is
// cheap; once the writes take a real share of the CPU, holding a room's
// messages for a while and writing them together cuts the cost per delivery
// in proportion, at the price of latency.
//
// So the pacer writes a room's message at once when the room is quiet (its
// last write is at least the current interval ago), and otherwise holds it
// until the interval has passed since that write, appending later messages
// of the room to the same buffer: each member then gets one queue entry and
// one write per interval. The interval adapts to load: it is zero (every
// push written at once) while the process uses little CPU, grows when the
// process gets busy and shrinks when it is quiet again, and never exceeds
// the budget (Config.WriteBudget), which bounds the latency the policy adds.
//
// Broadcasts without a rate go through the pacer as one more room; direct
// pushes (keys, users) and everything else a session sends are written at
// once: they are one write each whatever the policy.

// DefaultWriteBudget is the longest the pacer holds a room's message when
// Config.WriteBudget is zero.
const DefaultWriteBudget = 350 * time.Millisecond

// Load thresholds, as the share of the process's CPUs (GOMAXPROCS) in use:
// above busyAbove the interval doubles (up to the budget), below quietBelow
// it halves (to zero). Their ratio is over two, so halving the interval (which
// at most doubles what writing costs) does not push the load from below the
// one to above the other.
const (
	busyAbove  = 0.30
	quietBelow = 0.12
	// minInterval is the first interval above zero and the smallest: below
	// it holding messages saves too little to be worth it.
	minInterval = 5 * time.Millisecond
)

// broadcastRoom stands for "every session" in the pacer's rooms; no room
// name is empty.
const broadcastRoom = ""

// pacer holds room messages per the write policy.
type pacer struct {
	budget int64 // ns; negative: the policy is off, everything is written at once
	write  func(room string, buf []byte, msgs int)
	cpu    func() time.Duration // the process's CPU time so far
	procs  func() int
	m      *metrics

	interval atomic.Int64 // ns: the current interval, 0 to budget

	// The load's sample, for control (called by the janitor only).
	sampledAt  time.Time
	sampledCPU time.Duration
	load       float64

	mu    sync.Mutex
	rooms map[string]*roomWrite
	due   []*roomWrite // rooms holding messages
	wake  chan struct{}
}

// roomWrite is a room's state in the pacer.
type roomWrite struct {
	room    string
	buf     []byte // held messages, encoded: one buffer every member shares
	msgs    int
	last    int64 // unix ns of the last write (the start of its enqueue pass)
	holding bool  // buf holds messages and the room is in due
	writing bool  // a pass over the members is under way: later messages wait
}

func newPacer(budget time.Duration, m *metrics, write func(room string, buf []byte, msgs int)) *pacer {
	return &pacer{
		budget: int64(budget),
		write:  write,
		cpu:    processCPU,
		procs:  func() int { return runtime.GOMAXPROCS(0) },
		m:      m,
		rooms:  make(map[string]*roomWrite),
		wake:   make(chan struct{}, 1),
	}
}

// deliver writes buf (msgs messages of room, encoded) to the room's members
// now, or holds it per the policy.
func (p *pacer) deliver(room string, buf []byte, msgs int) {
	if p.budget < 0 {
		p.write(room, buf, msgs)
		return
	}
	now := time.Now().UnixNano()
	interval := p.interval.Load()
	p.mu.Lock()
	w := p.rooms[room]
	if w == nil {
		w = &roomWrite{room: room}
		p.rooms[room] = w
	}
	if !w.holding && !w.writing && now-w.last >= interval {
		// Quiet: write at once, on the caller's goroutine as without the
		// policy. writing keeps a later message of the room from being
		// written before this one by the pacer.
		w.last, w.writing = now, true
		p.mu.Unlock()
		p.write(room, buf, msgs)
		p.mu.Lock()
		w.writing = false
		p.mu.Unlock()
		return
	}
	p.m.held.Add(float64(msgs))
	if !w.holding {
		// buf is the caller's to give: encode made it for this delivery.
		w.holding, w.buf, w.msgs = true, buf, msgs
		p.due = append(p.due, w)
		p.mu.Unlock()
		select {
		case p.wake <- struct{}{}:
		default:
		}
		return
	}
	w.buf = append(w.buf, buf...)
	w.msgs += msgs
	if len(w.buf) < maxRunBytes || w.writing {
		p.mu.Unlock()
		return
	}
	// A burst: write what is held now rather than let one queue entry
	// grow without bound. The room's entry in due is dropped when seen.
	buf, msgs = w.buf, w.msgs
	w.buf, w.msgs, w.holding = nil, 0, false
	w.last, w.writing = now, true
	p.mu.Unlock()
	p.write(room, buf, msgs)
	p.mu.Lock()
	w.writing = false
	p.mu.Unlock()
}

// run writes held messages when they are due, until ctx ends.
func (p *pacer) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		next, ok := p.writeDue(time.Now().UnixNano(), false)
		if ok {
			timer.Reset(time.Duration(next - time.Now().UnixNano()))
		}
		select {
		case <-p.wake:
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
		timer.Stop()
	}
}

// writeDue writes every room whose messages are due at now (all of them
// with force), and returns when the earliest room still holding is due;
// ok is false when none is.
func (p *pacer) writeDue(now int64, force bool) (next int64, ok bool) {
	interval := p.interval.Load()
	var ready []*roomWrite
	var bufs [][]byte
	var msgs []int
	p.mu.Lock()
	keep := p.due[:0]
	for _, w := range p.due {
		if !w.holding {
			continue // written since it was put here
		}
		at := w.last + interval
		switch {
		case w.writing:
			// A write of this room at once is under way: try again soon.
			keep = append(keep, w)
			at = now + int64(minInterval)
		case force || at <= now:
			w.holding, w.writing, w.last = false, true, now
			ready = append(ready, w)
			bufs = append(bufs, w.buf)
			msgs = append(msgs, w.msgs)
			w.buf, w.msgs = nil, 0
			continue
		default:
			keep = append(keep, w)
		}
		if !ok || at < next {
			next, ok = at, true
		}
	}
	clear(p.due[len(keep):])
	p.due = keep
	p.mu.Unlock()
	for i, w := range ready {
		p.write(w.room, bufs[i], msgs[i])
	}
	if len(ready) > 0 {
		p.mu.Lock()
		for _, w := range ready {
			w.writing = false
		}
		p.mu.Unlock()
	}
	return next, ok
}

// flush writes every held message now (the edge drains).
func (p *pacer) flush() {
	if p.budget >= 0 {
		p.writeDue(time.Now().UnixNano(), true)
	}
}

// control samples the process's load at now and moves the interval. The
// janitor calls it every clock tick.
func (p *pacer) control(now time.Time) {
	if p.budget <= 0 {
		return
	}
	cpu := p.cpu()
	if p.sampledAt.IsZero() {
		p.sampledAt, p.sampledCPU = now, cpu
		return
	}
	wall := now.Sub(p.sampledAt)
	if wall <= 0 {
		return
	}
	sample := float64(cpu-p.sampledCPU) / float64(wall) / float64(max(1, p.procs()))
	p.sampledAt, p.sampledCPU = now, cpu
	// Smooth over a few ticks: a GC cycle or a burst of handshakes alone
	// should not move the interval.
	p.load = (p.load + sample) / 2
	interval := p.interval.Load()
	switch {
	case p.load > busyAbove:
		interval = min(p.budget, max(2*interval, int64(minInterval)))
	case p.load < quietBelow:
		interval /= 2
		if interval < int64(minInterval) {
			interval = 0
		}
	}
	p.interval.Store(interval)
	p.m.writeInterval.Set(time.Duration(interval).Seconds())
	p.m.load.Set(p.load)
}

// forget drops the state of rooms written last before cutoff and holding
// nothing: a room pushed to once a day costs nothing in between.
func (p *pacer) forget(cutoff time.Time) {
	c := cutoff.UnixNano()
	p.mu.Lock()
	defer p.mu.Unlock()
	for room, w := range p.rooms {
		if !w.holding && !w.writing && w.last < c {
			delete(p.rooms, room)
		}
	}
}
