package edge

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// The write policy: when to write a room's messages to its members.
//
// A small write costs about the same CPU whatever it carries (on loopback
// 10-20 us of the sender's CPU for a few bytes or a few KiB: perf/writecost),
// so what a room broadcast costs is set by how often each member is written
// to, not by how many messages it gets. Writing every push at once is right while that is
// cheap; once the writes take a real share of the CPU, holding a room's
// messages for a while and writing them together cuts the cost per delivery
// in proportion, at the price of latency.
//
// So the pacer writes a room's message at once when the room is quiet (its
// last write is at least the current interval ago), and otherwise appends it
// to the room's log, which each group of members (writeGroups) gets in its
// slot of the interval: each member then gets one queue entry and one write
// per interval. The interval adapts to load: it is zero (every
// push written at once) while the process uses little CPU, grows when the
// process gets busy and shrinks when it is quiet again, and never exceeds
// the budget (Config.WriteBudget), which bounds the latency the policy adds.
//
// Broadcasts without a rate go through the pacer as one more room; direct
// pushes (keys, users) and everything else a session sends are written at
// once: they are one write each whatever the policy.
//
// Ephemeral pushes never go through the pacer (datagram.go): they are
// superseded state whose whole point is being current, so holding one for an
// interval would deliver it stale, and batching saves nothing on a datagram,
// which is one packet each anyway. Only their stream fallback (no datagrams,
// or too large for one) costs a write that batching could have shared; that
// is the price of not delaying them.

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

// writeGroups is how many groups a busy room's members are written in, one
// group per slot of the interval: spreading a room's writes over the
// interval keeps the CPU evenly busy instead of in bursts (a burst delays
// everything else the process does, the push API included), and a member's
// wait is its group's next slot, not that plus the time to write everybody
// before it.
const writeGroups = 16

// pacer holds room messages per the write policy.
type pacer struct {
	budget int64 // ns; negative: the policy is off, everything is written at once
	groups int   // write groups (at most the hub's shards)
	// write queues buf (msgs messages) for the members of room in group g
	// of groups; g < 0 means every group.
	write func(room string, g, groups int, buf []byte, msgs int)
	cpu   func() time.Duration // the process's CPU time so far
	procs func() int
	m     *metrics

	interval atomic.Int64 // ns: the current interval, 0 to budget

	// The load's sample, for control (called by the janitor only).
	sampledAt  time.Time
	sampledCPU time.Duration
	load       float64

	mu    sync.Mutex
	rooms map[string]*roomWrite
	due   []*roomWrite // rooms holding messages for a group
	wake  chan struct{}
}

// roomWrite is a room's state in the pacer: the stream of its messages
// (encoded, as one byte stream every member shares) and how far each group
// of members has been written.
type roomWrite struct {
	room string
	// log holds the stream from byte base to byte end. It is only ever
	// appended to: what was handed to sessions stays as it is.
	log    []byte
	base   int64
	end    int64
	msgs   int64 // messages in the stream up to end
	groups []groupWrite
	queued bool // in due
}

// groupWrite is how far a group of a room's members has been written.
type groupWrite struct {
	sent     int64 // bytes of the stream queued to the group
	sentMsgs int64 // messages of the stream queued to the group
	last     int64 // unix ns of the last write
	writing  bool  // a write is under way: later bytes wait, to stay in order
}

// pending is a write taken under the pacer's lock, done outside it.
type pending struct {
	w    *roomWrite
	g    int // -1: every group
	buf  []byte
	msgs int
}

func newPacer(budget time.Duration, shards int, m *metrics, write func(room string, g, groups int, buf []byte, msgs int)) *pacer {
	return &pacer{
		budget: int64(budget),
		groups: max(1, min(writeGroups, shards)),
		write:  write,
		cpu:    processCPU,
		procs:  func() int { return runtime.GOMAXPROCS(0) },
		m:      m,
		rooms:  make(map[string]*roomWrite),
		wake:   make(chan struct{}, 1),
	}
}

// deliver writes buf (msgs messages of room, encoded) to the room's members
// now, or holds it for the groups that were written to less than the
// interval ago.
func (p *pacer) deliver(room string, buf []byte, msgs int) {
	if p.budget < 0 {
		p.write(room, -1, p.groups, buf, msgs)
		return
	}
	now := time.Now().UnixNano()
	interval := p.interval.Load()
	var stack [writeGroups + 1]pending
	todo := stack[:0]
	p.mu.Lock()
	w := p.rooms[room]
	if w == nil {
		w = &roomWrite{room: room, groups: make([]groupWrite, p.groups)}
		p.rooms[room] = w
	}
	quiet := true
	for i := range w.groups {
		g := &w.groups[i]
		if g.writing || g.sent != w.end || now-g.last < interval {
			quiet = false
			break
		}
	}
	if quiet {
		// Every group is up to date and was written long enough ago: the
		// message goes to everybody at once, as without the policy, and
		// never enters the log.
		w.log = nil
		w.base, w.end = w.end+int64(len(buf)), w.end+int64(len(buf))
		w.msgs += int64(msgs)
		for i := range w.groups {
			w.groups[i] = groupWrite{sent: w.end, sentMsgs: w.msgs, last: now, writing: true}
		}
		todo = append(todo, pending{w: w, g: -1, buf: buf, msgs: msgs})
	} else {
		prevEnd := w.end
		w.log = append(w.log, buf...)
		w.end += int64(len(buf))
		w.msgs += int64(msgs)
		held := false
		for i := range w.groups {
			g := &w.groups[i]
			switch {
			case g.writing:
				held = true
			case g.sent == prevEnd && now-g.last >= interval,
				w.end-g.sent >= maxRunBytes: // a burst: no queue entry grows without bound
				todo = append(todo, p.takeLocked(w, i, now))
			default:
				held = true
			}
		}
		if held {
			p.m.held.Add(float64(msgs))
		}
		if held && !w.queued {
			w.queued = true
			p.due = append(p.due, w)
			select {
			case p.wake <- struct{}{}:
			default:
			}
		}
	}
	p.mu.Unlock()
	p.do(todo)
}

// takeLocked takes group i's part of the stream for writing; p.mu is held.
func (p *pacer) takeLocked(w *roomWrite, i int, now int64) pending {
	g := &w.groups[i]
	pd := pending{w: w, g: i, buf: w.log[g.sent-w.base : w.end-w.base], msgs: int(w.msgs - g.sentMsgs)}
	g.sent, g.sentMsgs, g.last, g.writing = w.end, w.msgs, now, true
	return pd
}

// do writes what was taken, then marks the groups written and lets go of
// the log's prefix every group has been written.
func (p *pacer) do(todo []pending) {
	if len(todo) == 0 {
		return
	}
	for _, pd := range todo {
		p.write(pd.w.room, pd.g, p.groups, pd.buf, pd.msgs)
	}
	p.mu.Lock()
	for _, pd := range todo {
		w := pd.w
		if pd.g < 0 {
			for i := range w.groups {
				w.groups[i].writing = false
			}
		} else {
			w.groups[pd.g].writing = false
		}
		w.trimLocked()
	}
	p.mu.Unlock()
}

// trimLocked drops the part of the log every group has been written. The
// log's array is never reused: sessions' queues may still point into it.
func (w *roomWrite) trimLocked() {
	low := w.end
	for i := range w.groups {
		low = min(low, w.groups[i].sent)
	}
	switch {
	case low == w.end:
		w.log, w.base = nil, w.end
	case low-w.base > 4<<10 && low-w.base > int64(len(w.log))/2:
		w.log = slices.Clone(w.log[low-w.base:])
		w.base = low
	}
}

// run writes held messages group by group, one group per slot of the
// interval, until ctx ends.
func (p *pacer) run(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		next, ok := p.writeSlot(time.Now().UnixNano(), false)
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

// writeSlot writes, in every room holding messages, the group whose slot
// now is (every group when the interval is zero, or with force), and
// returns when the next slot starts; ok is false when nothing is held.
func (p *pacer) writeSlot(now int64, force bool) (next int64, ok bool) {
	interval := p.interval.Load()
	slot := interval / int64(p.groups)
	group := -1 // every group
	if !force && slot > 0 {
		group = int(now / slot % int64(p.groups))
		next = (now/slot + 1) * slot
	} else {
		next = now + int64(minInterval)
	}
	var todo []pending
	p.mu.Lock()
	keep := p.due[:0]
	for _, w := range p.due {
		held := false
		for i := range w.groups {
			g := &w.groups[i]
			if g.sent == w.end {
				continue
			}
			// A group is written in its slot, once per slot: a wake-up in
			// the middle of the slot of a group written at its start (or
			// just before, at once) leaves it be.
			if g.writing || (group >= 0 && (i != group || now-g.last < slot/2)) {
				held = true
				continue
			}
			todo = append(todo, p.takeLocked(w, i, now))
		}
		if held {
			keep = append(keep, w)
		} else {
			w.queued = false
		}
	}
	clear(p.due[len(keep):])
	p.due = keep
	ok = len(keep) > 0
	p.mu.Unlock()
	// A room queued meanwhile (while these writes run) sent a wake-up with
	// it, which run finds at once.
	p.do(todo)
	return next, ok
}

// flush writes every held message now (the edge drains).
func (p *pacer) flush() {
	if p.budget >= 0 {
		p.writeSlot(time.Now().UnixNano(), true)
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
rooms:
	for room, w := range p.rooms {
		if w.queued {
			continue
		}
		for i := range w.groups {
			if g := &w.groups[i]; g.writing || g.sent != w.end || g.last >= c {
				continue rooms
			}
		}
		delete(p.rooms, room)
	}
}
