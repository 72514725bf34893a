package bus

import (
	"context"
	"fmt"
	"sync"

	"github.com/quicpush/quicpush/internal/push"
)

// DefaultCapacity is the Memory bus's queue length when none is given.
const DefaultCapacity = 1 << 16

// Memory is the in-process bus of the single-process mode: a bounded
// queue between the push API and core. A full queue makes Publish wait (up to
// the caller's deadline) rather than drop: a push is either queued or the
// caller gets an error, never a silent loss.
type Memory struct {
	ch        chan *push.Message
	closed    chan struct{}
	closeOnce sync.Once
	// mu makes taking an offset and queueing one step, so offsets follow
	// the queue's order even when pushes race.
	mu   sync.Mutex
	next int64
}

// NewMemory returns a bus holding up to capacity messages (zero means
// DefaultCapacity).
func NewMemory(capacity int) *Memory {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Memory{ch: make(chan *push.Message, capacity), closed: make(chan struct{})}
}

// Publish queues m. It returns once m is queued, with its place on the bus
// (partition 0 and an offset counted from 0 at each start), or with an error
// when ctx ends or the bus is closed first.
func (b *Memory) Publish(ctx context.Context, m *push.Message) ([]push.BusRecord, error) {
	select {
	case <-b.closed:
		return nil, ErrClosed
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
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, fmt.Errorf("bus: full: %w", ctx.Err())
	}
}

// Close stops Publish; messages already queued are still read.
// It may be called more than once.
func (b *Memory) Close() error {
	b.closeOnce.Do(func() { close(b.closed) })
	return nil
}

// Ping reports whether Publish accepts messages, for readiness checks: it
// fails with ErrClosed once the bus is closed. A full bus still accepts (a
// Publish waits for room), so it is ready.
func (b *Memory) Ping(context.Context) error {
	select {
	case <-b.closed:
		return ErrClosed
	default:
		return nil
	}
}

// Len is the number of queued messages.
func (b *Memory) Len() int { return len(b.ch) }

// Poll waits for at least one message, then returns up to limit of them
// appended to buf. It returns ctx's error when ctx ends first.
func (b *Memory) Poll(ctx context.Context, buf []*push.Message, limit int) ([]*push.Message, error) {
	select {
	case m := <-b.ch:
		buf = append(buf, m)
	case <-ctx.Done():
		return buf, ctx.Err()
	}
	return b.TryPoll(buf, limit), nil
}

// TryPoll appends to buf the messages already queued, up to limit in all.
func (b *Memory) TryPoll(buf []*push.Message, limit int) []*push.Message {
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
