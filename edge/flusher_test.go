package edge

import (
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// The pool runs at most MaxFlushers at once; the others wait.
func TestFlusherPoolIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) { c.MaxFlushers = 2 })
		defer e.Close()
		block := make(chan struct{})
		var sinks []*fakeTransport
		for i := range 5 {
			s, ft := attach(t, e, "u"+strconv.Itoa(i))
			ft.block = block
			sinks = append(sinks, ft)
			s.enqueue(pong(uint32(i), 0))
		}
		synctest.Wait()
		if n := e.flushers.running(); n != 2 {
			t.Fatalf("%d flushers with 5 sessions to write, want 2", n)
		}
		close(block)
		synctest.Wait()
		for i, ft := range sinks {
			if len(ft.written()) != 1 {
				t.Fatalf("session %d: %d writes, want 1", i, len(ft.written()))
			}
		}
		if n := e.flushers.running(); n != 2 {
			t.Fatalf("%d flushers after the writes, want 2 parked", n)
		}
	})
}

// When every flusher is busy, sessions are served in the order they asked.
func TestFlusherPoolIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) { c.MaxFlushers = 1 })
		defer e.Close()
		block := make(chan struct{})
		var (
			mu    sync.Mutex
			order []int
		)
		for i := range 6 {
			s, ft := attach(t, e, "u"+strconv.Itoa(i))
			ft.block = block
			ft.onWrite = func() { mu.Lock(); order = append(order, i); mu.Unlock() }
			s.enqueue(pong(uint32(i), 0))
			synctest.Wait()
		}
		close(block)
		synctest.Wait()
		if want := []int{0, 1, 2, 3, 4, 5}; !slices.Equal(order, want) {
			t.Fatalf("written in order %v, want %v", order, want)
		}
	})
}

// A flusher parked for flusherIdle is retired; an idle edge holds none.
func TestFlusherPoolRetiresIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, _ := attach(t, e, "u")
		s.enqueue(pong(0, 0))
		synctest.Wait()
		if n := e.flushers.running(); n != 1 {
			t.Fatalf("%d flushers after a write, want 1 parked", n)
		}
		time.Sleep(flusherIdle - time.Second)
		synctest.Wait()
		if n := e.flushers.running(); n != 1 {
			t.Fatalf("%d flushers before flusherIdle, want 1", n)
		}
		time.Sleep(time.Second + janitorEvery + clockTick)
		synctest.Wait()
		if n := e.flushers.running(); n != 0 {
			t.Fatalf("%d flushers after flusherIdle and a sweep, want 0", n)
		}
		// A new write starts a flusher again.
		s.enqueue(pong(1, 0))
		synctest.Wait()
		if n := e.flushers.running(); n != 1 {
			t.Fatalf("%d flushers after a new write, want 1", n)
		}
	})
}
