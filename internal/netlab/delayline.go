package netlab

import (
	"container/heap"
	"sync"
	"time"
)

// maxDelayLineBytes bounds what one direction of a UDP path holds in flight:
// at 100 ms of delay it is 80 MB/s, far above what a test pushes through a
// loopback relay, and it keeps a runaway sender from growing the heap without
// limit.
const maxDelayLineBytes = 8 << 20

// delayLine holds datagrams until their arrival time and sends them then,
// from one goroutine per direction of a path: one timer for the line, not one
// per datagram.
type delayLine struct {
	mu    sync.Mutex
	items itemHeap
	bytes int
	seq   uint64
	wake  chan struct{}
}

type delayed struct {
	at   time.Time
	seq  uint64 // ties keep the order of submission
	data []byte
	send func([]byte)
}

func newDelayLine() *delayLine { return &delayLine{wake: make(chan struct{}, 1)} }

// add queues data for at; it reports false when the line is full.
func (d *delayLine) add(at time.Time, data []byte, send func([]byte)) bool {
	d.mu.Lock()
	if d.bytes+len(data) > maxDelayLineBytes {
		d.mu.Unlock()
		return false
	}
	d.seq++
	heap.Push(&d.items, delayed{at: at, seq: d.seq, data: data, send: send})
	d.bytes += len(data)
	first := d.items[0].seq == d.seq
	d.mu.Unlock()
	if first {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// run sends datagrams as they fall due until done is closed.
func (d *delayLine) run(done <-chan struct{}, c *counters) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var due []delayed
	for {
		now := time.Now()
		wait := time.Duration(-1)
		d.mu.Lock()
		for len(d.items) > 0 && !d.items[0].at.After(now) {
			it := heap.Pop(&d.items).(delayed)
			d.bytes -= len(it.data)
			due = append(due, it)
		}
		if len(d.items) > 0 {
			wait = d.items[0].at.Sub(now)
		}
		d.mu.Unlock()
		for i, it := range due {
			it.send(it.data)
			c.forwarded.Add(1)
			due[i] = delayed{}
		}
		due = due[:0]
		if wait >= 0 {
			timer.Reset(wait)
		}
		select {
		case <-done:
			timer.Stop()
			return
		case <-d.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

type itemHeap []delayed

func (h itemHeap) Len() int { return len(h) }
func (h itemHeap) Less(i, j int) bool {
	if h[i].at.Equal(h[j].at) {
		return h[i].seq < h[j].seq
	}
	return h[i].at.Before(h[j].at)
}
func (h itemHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *itemHeap) Push(x any)   { *h = append(*h, x.(delayed)) }
func (h *itemHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = delayed{}
	*h = old[:len(old)-1]
	return it
}
