package store

// connRef names one route change. It is keyed by connection AND user so
// that a connKey reused for another user keeps the disconnect of the first.
type connRef struct{ key, user string }

// roomOp is the latest member count of a room on this edge.
type roomOp struct {
	count int
	// opened is set when the room went from 0 to > 0 since the last write;
	// it survives coalescing so the "r:" invalidation is not lost.
	opened bool
}

// batch is the set of changes waiting to be written, coalesced by key: only
// the latest change per connection and per room is kept, which bounds it by
// the edge's connections and rooms however long Redis is away.
type batch struct {
	conns map[connRef]bool // true: connected, false: disconnected
	rooms map[string]roomOp
	pres  map[string]*presOp
	// waiters are the sync calls whose change is in this batch; each gets
	// the batch's outcome once it is written.
	waiters []chan<- error
}

func newBatch() *batch {
	return &batch{conns: make(map[connRef]bool), rooms: make(map[string]roomOp), pres: make(map[string]*presOp)}
}

// size is the number of coalesced changes.
func (b *batch) size() int { return len(b.conns) + len(b.rooms) + len(b.pres) }

// requeue merges a batch that failed to write back into b, which holds what
// was queued since: b's entries are newer and win.
func (b *batch) requeue(old *batch) {
	for ref, connected := range old.conns {
		if _, ok := b.conns[ref]; !ok {
			b.conns[ref] = connected
		}
	}
	for room, op := range old.rooms {
		if cur, ok := b.rooms[room]; ok {
			cur.opened = cur.opened || op.opened
			b.rooms[room] = cur
		} else {
			b.rooms[room] = op
		}
	}
	for room, op := range old.pres {
		if cur, ok := b.pres[room]; ok {
			cur.requeue(op)
		} else {
			b.pres[room] = op
		}
	}
	b.waiters = append(old.waiters, b.waiters...)
}

// release tells every waiter the outcome.
func (b *batch) release(err error) {
	for _, w := range b.waiters {
		w <- err // buffered: a waiter that gave up does not block us
	}
	b.waiters = nil
}
