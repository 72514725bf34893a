package edge

import (
	"bytes"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// busyEdge is an offline edge whose pacer sees the process at load (a share
// of its CPUs) and has had time to settle; it runs inside a bubble.
func busyEdge(t *testing.T, load float64, tune func(*Config)) *Edge {
	t.Helper()
	start := time.Now()
	e := loadedEdge(t, tune, func() time.Duration { return time.Duration(load * float64(time.Since(start))) })
	time.Sleep(2 * time.Second)
	return e
}

// loadedEdge is offlineEdge with cpu as the process's CPU time (on one CPU)
// that its pacer sees.
func loadedEdge(t *testing.T, tune func(*Config), cpu func() time.Duration) *Edge {
	t.Helper()
	e := unstartedEdge(t, tune)
	e.pacer.procs = func() int { return 1 }
	e.pacer.cpu = cpu
	e.start()
	return e
}

func roomMsg(room string, i int) *push.Message {
	return &push.Message{ID: strconv.Itoa(i), Kind: push.KindRoom, Room: room, Data: []byte("x")}
}

// pushIDs decodes the ids of the Push frames written to ft, in order.
func pushIDs(t *testing.T, ft *fakeTransport) []string {
	t.Helper()
	var ids []string
	for _, f := range ft.frames(t) {
		if f.op != wire.OpPush {
			continue
		}
		var p wire.Push
		if err := p.Decode(f.body); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	return ids
}

// The interval follows the load: zero while the process is quiet, doubling
// up to the budget while it is busy, halving back to zero once it is quiet.
func TestPacerIntervalFollowsLoad(t *testing.T) {
	p := newPacer(200*time.Millisecond, 64, mustMetrics(t), nil)
	p.procs = func() int { return 2 }
	var cpu time.Duration
	p.cpu = func() time.Duration { return cpu }
	now := time.Unix(0, 0)
	step := func(load float64) time.Duration {
		now = now.Add(100 * time.Millisecond)
		cpu += time.Duration(load * 2 * float64(100*time.Millisecond))
		p.control(now)
		return time.Duration(p.interval.Load())
	}
	step(0)
	for range 20 {
		if got := step(0.05); got != 0 {
			t.Fatalf("interval %v at 5%% load, want 0", got)
		}
	}
	var seen []time.Duration
	for range 20 {
		seen = append(seen, step(0.9))
	}
	if seen[len(seen)-1] != 200*time.Millisecond {
		t.Fatalf("interval %v after 2s at 90%% load, want the budget; steps %v", seen[len(seen)-1], seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] < seen[i-1] || seen[i] > 200*time.Millisecond {
			t.Fatalf("interval went %v -> %v under load", seen[i-1], seen[i])
		}
	}
	// Between the thresholds it stays.
	for range 10 {
		if got := step(0.2); got != 200*time.Millisecond {
			t.Fatalf("interval %v at 20%% load, want it kept at 200ms", got)
		}
	}
	var got time.Duration
	for range 20 {
		got = step(0.01)
	}
	if got != 0 {
		t.Fatalf("interval %v after 2s quiet, want 0", got)
	}
}

// writesEachAtOnce joins a member to a room and checks that each of five
// pushes, gap apart, is written at once in a write of its own. It runs
// inside a bubble.
func writesEachAtOnce(t *testing.T, e *Edge, gap time.Duration) {
	t.Helper()
	s, ft := attach(t, e, "u")
	if err := joinRoom(e, s, "r"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		e.Deliver([]*push.Message{roomMsg("r", i)})
		synctest.Wait()
		if n := len(ft.written()); n != i+1 {
			t.Fatalf("after push %d: %d writes, want %d (each written at once)", i, n, i+1)
		}
		time.Sleep(gap)
	}
}

func mustMetrics(t *testing.T) *metrics {
	t.Helper()
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// On a quiet edge every room message is written at once, one write each.
func TestPacerQuietEdgeWritesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := busyEdge(t, 0.01, nil)
		defer e.Close()
		writesEachAtOnce(t, e, 10*time.Millisecond)
	})
}

// On a busy edge a room's message after a quiet spell is written at once;
// while the room stays busy its members are written to about once per
// interval, group by group, each message waiting at most about an interval,
// in order.
func TestPacerBusyRoomCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const budget = 100 * time.Millisecond
		e := busyEdge(t, 0.9, func(c *Config) { c.WriteBudget = budget })
		defer e.Close()
		if got := time.Duration(e.pacer.interval.Load()); got != budget {
			t.Fatalf("interval %v on a busy edge, want the budget", got)
		}
		type member struct {
			ft     *fakeTransport
			mu     sync.Mutex
			writes []time.Time
		}
		var ms []*member
		for i := range 40 {
			s, ft := attach(t, e, "u"+strconv.Itoa(i))
			if err := joinRoom(e, s, "r"); err != nil {
				t.Fatal(err)
			}
			m := &member{ft: ft}
			ft.onWrite = func() { m.mu.Lock(); m.writes = append(m.writes, time.Now()); m.mu.Unlock() }
			ms = append(ms, m)
		}
		e.Deliver([]*push.Message{roomMsg("r", 0)})
		synctest.Wait()
		for _, m := range ms {
			if n := len(m.ft.written()); n != 1 {
				t.Fatalf("%d writes after the first push, want it written at once", n)
			}
		}
		const n = 50 // one every 20ms: 1s
		sent := make([]time.Time, n)
		sent[0] = time.Now()
		for i := 1; i < n; i++ {
			time.Sleep(20 * time.Millisecond)
			sent[i] = time.Now()
			e.Deliver([]*push.Message{roomMsg("r", i)})
		}
		time.Sleep(2 * budget)
		synctest.Wait()
		for mi, m := range ms {
			ids := pushIDs(t, m.ft)
			if len(ids) != n {
				t.Fatalf("member %d got %d pushes, want %d", mi, len(ids), n)
			}
			for i, id := range ids {
				if id != strconv.Itoa(i) {
					t.Fatalf("member %d: push %s at %d: out of order", mi, id, i)
				}
			}
			m.mu.Lock()
			writes := slices.Clone(m.writes)
			m.mu.Unlock()
			// 1s of pushes every 20ms: about one write per interval,
			// not one per push.
			if len(writes) > 14 {
				t.Errorf("member %d: %d writes for %d pushes over 1s, want about one per %v", mi, len(writes), n, budget)
			}
			// Each push went out within an interval and a slot.
			bs := m.ft.written()
			seen := 0
			for wi := range bs {
				for seen < n && seen < countPushes(t, bs[:wi+1]) {
					if d := writes[wi].Sub(sent[seen]); d > budget+budget/8 {
						t.Fatalf("member %d: push %d written %v after it was delivered, want within the interval", mi, seen, d)
					}
					seen++
				}
			}
		}
		if got := testutil.ToFloat64(e.metrics.held); got == 0 {
			t.Error("held_total 0 on a busy room")
		}
		// A room quiet for longer than the interval is written at once.
		time.Sleep(time.Second)
		before := len(ms[0].ft.written())
		e.Deliver([]*push.Message{roomMsg("r", n)})
		synctest.Wait()
		if got := len(ms[0].ft.written()); got != before+1 {
			t.Fatalf("%d writes, want the quiet room's push written at once", got-before)
		}
	})
}

// countPushes counts the Push frames in bufs.
func countPushes(t *testing.T, bufs [][]byte) int {
	t.Helper()
	rest, n := bytes.Join(bufs, nil), 0
	for len(rest) > 0 {
		h, _, next, ok, err := wire.Split(rest, len(rest))
		if err != nil || !ok {
			t.Fatalf("broken frame stream: %v", err)
		}
		if h.Op == wire.OpPush {
			n++
		}
		rest = next
	}
	return n
}

// However the interval moves while messages are held or written, a room's
// messages reach each member once, in order; an unpaced broadcast goes the
// same way.
func TestPacerKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		load := 0.9
		var mu sync.Mutex
		cpu, last := time.Duration(0), time.Now()
		e := loadedEdge(t, func(c *Config) { c.WriteBudget = 50 * time.Millisecond }, func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			cpu += time.Duration(load * float64(now.Sub(last)))
			last = now
			return cpu
		})
		defer e.Close()
		s, ft := attach(t, e, "u")
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
		const n = 400
		for i := range n {
			if i%50 == 0 {
				mu.Lock()
				load = 0.95 - load // swing between busy and quiet
				mu.Unlock()
			}
			if i%7 == 0 {
				e.Deliver([]*push.Message{{ID: strconv.Itoa(i), Kind: push.KindBroadcast, Data: []byte("b")}})
			} else {
				e.Deliver([]*push.Message{roomMsg("r", i)})
			}
			time.Sleep(time.Duration(i%5) * 3 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		got := pushIDs(t, ft)
		if len(got) != n {
			t.Fatalf("%d pushes delivered, want %d", len(got), n)
		}
		// Room messages in order, broadcasts in order (the two are
		// separate streams).
		lastRoom, lastAll := -1, -1
		for _, id := range got {
			i, _ := strconv.Atoi(id)
			prev := &lastRoom
			if i%7 == 0 {
				prev = &lastAll
			}
			if i <= *prev {
				t.Fatalf("push %d after %d: out of order", i, *prev)
			}
			*prev = i
		}
		if w := len(ft.written()); w >= n {
			t.Errorf("%d writes for %d pushes: nothing coalesced", w, n)
		}
	})
}

// With the policy off every message is written at once, however busy.
func TestPacerOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := busyEdge(t, 1, func(c *Config) { c.WriteBudget = -1 })
		defer e.Close()
		writesEachAtOnce(t, e, 0)
	})
}

// A burst bigger than one queue entry's cap is written at once rather than
// held in one growing buffer.
func TestPacerBurstWrittenAtCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := busyEdge(t, 0.9, func(c *Config) { c.WriteBudget = 300 * time.Millisecond })
		defer e.Close()
		s, ft := attach(t, e, "u")
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
		big := make([]byte, 10<<10)
		for i := range 12 {
			e.Deliver([]*push.Message{{ID: strconv.Itoa(i), Kind: push.KindRoom, Room: "r", Data: big}})
			synctest.Wait()
		}
		synctest.Wait()
		ws := ft.written()
		if len(ws) < 2 {
			t.Fatalf("%d writes within the interval, want the first push and a capped burst", len(ws))
		}
		for _, w := range ws {
			if len(w) > maxRunBytes+len(big)+64 {
				t.Fatalf("a write of %d bytes: the held buffer outgrew its cap", len(w))
			}
		}
	})
}

// Shutdown writes what the policy holds before the Disconnect frame.
func TestPacerShutdownWritesHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := busyEdge(t, 0.9, func(c *Config) { c.WriteBudget = 300 * time.Millisecond })
		s, ft := attach(t, e, "u")
		if err := joinRoom(e, s, "r"); err != nil {
			t.Fatal(err)
		}
		e.Deliver([]*push.Message{roomMsg("r", 0)})
		e.Deliver([]*push.Message{roomMsg("r", 1)})
		synctest.Wait()
		if err := e.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := pushIDs(t, ft); len(got) != 2 {
			t.Fatalf("pushes %v before the Disconnect, want both", got)
		}
		if d := ft.lastDisconnect(t); d.Code != wire.CodeShutdown {
			t.Fatalf("disconnect %v, want shutdown", d.Code)
		}
	})
}
