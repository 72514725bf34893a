package core

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/quicpush/quicpush/internal/push"
)

// ErrBusClosed is returned by Publish once the bus is closed.
var ErrBusClosed = errors.New("core: bus closed")

// DefaultBusCapacity is the MemoryBus queue length when none is given.
const DefaultBusCapacity = 1 << 16

// MemoryBus is the in-process bus of the single-process mode: a bounded
// queue between the push API and core. A full queue makes Publish wait (up to
// the caller's deadline) rather than drop: a push is either queued or the
// caller gets an error, never a silent loss.
type MemoryBus struct {
	ch        chan *push.Message
	closed    chan struct{}
	closeOnce sync.Once
	// mu makes taking an offset and queueing one step, so offsets follow
	// the queue's order even when pushes race.
	mu   sync.Mutex
	next int64
}

// NewMemoryBus returns a bus holding up to capacity messages (zero means
// DefaultBusCapacity).
func NewMemoryBus(capacity int) *MemoryBus {
	if capacity <= 0 {
		capacity = DefaultBusCapacity
	}
	return &MemoryBus{ch: make(chan *push.Message, capacity), closed: make(chan struct{})}
}

// Publish queues m. It returns once m is queued, with its place on the bus
// (partition 0 and an offset counted from 0 at each start), or with an error
// when ctx ends or the bus is closed first.
func (b *MemoryBus) Publish(ctx context.Context, m *push.Message) ([]push.BusRecord, error) {
	select {
	case <-b.closed:
		return nil, ErrBusClosed
	default:
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// The offset goes on the message before the channel publishes it to
	// core; nobody else writes it.
	m.Offset = uint64(b.next) + 1
	select {
	case b.ch <- m:
		rec := []push.BusRecord{{Offset: b.next}}
		b.next++
		return rec, nil
	case <-b.closed:
		return nil, ErrBusClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("core: bus full: %w", ctx.Err())
	}
}

// Close stops Publish; messages already queued are still read.
// It may be called more than once.
func (b *MemoryBus) Close() { b.closeOnce.Do(func() { close(b.closed) }) }

// Len is the number of queued messages.
func (b *MemoryBus) Len() int { return len(b.ch) }

// Poll waits for at least one message, then returns up to limit of them
// appended to buf. It returns ctx's error when ctx ends first.
func (b *MemoryBus) Poll(ctx context.Context, buf []*push.Message, limit int) ([]*push.Message, error) {
	select {
	case m := <-b.ch:
		buf = append(buf, m)
	case <-ctx.Done():
		return buf, ctx.Err()
	}
	return b.TryPoll(buf, limit), nil
}

// TryPoll appends to buf the messages already queued, up to limit in all.
func (b *MemoryBus) TryPoll(buf []*push.Message, limit int) []*push.Message {
	for len(buf) < limit {
		select {
		case m := <-b.ch:
			buf = append(buf, m)
		default:
			return buf
		}
	}
	return buf
}
