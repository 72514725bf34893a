package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestHistSnapshotMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var all, a, b histogram
	for i := range 50_000 {
		v := uint64(r.ExpFloat64() * 20_000)
		all.record(v)
		if i%3 == 0 {
			a.record(v)
		} else {
			b.record(v)
		}
	}
	// What two workers report, merged by the coordinator through JSON
	// snapshots, equals one histogram of every value.
	var m histogram
	m.add(a.snapshot())
	m.add(b.snapshot())
	if m.count() != all.count() || m.sum.Load() != all.sum.Load() || m.max.Load() != all.max.Load() {
		t.Fatalf("merged n/sum/max %d/%d/%d, want %d/%d/%d", m.count(), m.sum.Load(), m.max.Load(), all.count(), all.sum.Load(), all.max.Load())
	}
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		if got, want := m.quantile(q), all.quantile(q); got != want {
			t.Errorf("q%v: merged %v, want %v", q, got, want)
		}
	}
	// A snapshot names buckets by their smallest value and holds only
	// non-empty ones.
	s := all.snapshot()
	var total uint64
	for _, bk := range s.Buckets {
		if bk[1] == 0 {
			t.Fatal("empty bucket in snapshot")
		}
		if lo, _ := histBounds(histIndex(bk[0])); lo != bk[0] {
			t.Fatalf("bucket key %d is not a bucket's smallest value", bk[0])
		}
		total += bk[1]
	}
	if total != s.N {
		t.Fatalf("bucket counts add up to %d, n is %d", total, s.N)
	}
	m.reset()
	if m.count() != 0 || m.quantile(0.5) != 0 || len(m.snapshot().Buckets) != 0 {
		t.Fatal("reset left values behind")
	}
}

// step builds a search step at rate with deliveries/s d (offered rate x 1000
// connections) that was or was not sustained.
func step(phase string, rate, d float64, ok bool) satStep {
	return satStep{Phase: phase, Rate: rate, Offered: rate * 1000, DeliveriesPerS: d, Sustained: ok}
}

func TestSatNext(t *testing.T) {
	cfg := satConfig{factor: 2, maxSteps: 8, gain: 1.1, refine: 1, p99Limit: time.Second}
	type want struct {
		rate  float64
		phase string
	}
	for _, tc := range []struct {
		name  string
		steps []satStep
		want  want
	}{
		{"first", nil, want{50, "search"}},
		{"rising", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true)}, want{200, "search"}},
		{"failed once: again", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true), step("search", 200, 120e3, false)},
			want{200, "search"}},
		{"failed twice: refine", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true), step("search", 200, 120e3, false),
			step("search", 200, 110e3, false)}, want{141.4, "refine"}},
		{"failed then passed: go on", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true), step("search", 200, 120e3, false),
			step("search", 200, 200e3, true)}, want{400, "search"}},
		{"flat: counts as the end", []satStep{step("search", 50, 50e3, true), step("search", 100, 52e3, true), step("search", 100, 53e3, true)},
			want{70.7, "refine"}},
		{"refined: confirm the best", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true), step("search", 200, 120e3, false), step("search", 200, 120e3, false),
			step("refine", 141.4, 141e3, true)}, want{141.4, "confirm"}},
		{"refine failed: confirm the last good search", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true),
			step("search", 200, 120e3, false), step("search", 200, 120e3, false), step("refine", 141.4, 90e3, false)}, want{100, "confirm"}},
		{"then half", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true), step("search", 200, 120e3, false), step("search", 200, 120e3, false),
			step("refine", 141.4, 90e3, false), step("confirm", 100, 99e3, true)}, want{50, "half"}},
		{"done", []satStep{step("search", 50, 50e3, true), step("search", 100, 100e3, true), step("search", 200, 120e3, false), step("search", 200, 120e3, false),
			step("refine", 141.4, 90e3, false), step("confirm", 100, 99e3, true), step("half", 50, 50e3, true)}, want{0, ""}},
		{"first step too much: go down", []satStep{step("search", 50, 20e3, false), step("search", 50, 20e3, false)}, want{25, "search"}},
		{"down then up bound", []satStep{step("search", 50, 20e3, false), step("search", 50, 20e3, false), step("search", 25, 25e3, true)},
			want{35.4, "refine"}},
	} {
		rate, phase := cfg.satNext(50, tc.steps)
		if phase != tc.want.phase || (phase != "" && rate != tc.want.rate) {
			t.Errorf("%s: got %v %q, want %v %q", tc.name, rate, phase, tc.want.rate, tc.want.phase)
		}
	}
	// The search ends by itself: rates rising forever stop at maxSteps
	// and go on to confirm and half.
	var steps []satStep
	for range 20 {
		rate, phase := cfg.satNext(50, steps)
		if phase == "" {
			break
		}
		steps = append(steps, step(phase, rate, rate*1000, true))
	}
	if n := len(steps); n != cfg.maxSteps+2 || steps[n-2].Phase != "confirm" || steps[n-1].Phase != "half" ||
		steps[n-2].Rate != 50*128 {
		t.Fatalf("unbounded rise: %d steps, last %+v", n, steps[n-1])
	}
	// Nothing sustainable at all: the search gives up.
	steps = nil
	for range 20 {
		rate, phase := cfg.satNext(50, steps)
		if phase == "" {
			break
		}
		steps = append(steps, step(phase, rate, 1, false))
	}
	if len(steps) > cfg.maxSteps {
		t.Fatalf("nothing sustainable: %d steps", len(steps))
	}
}

func TestSustained(t *testing.T) {
	cfg := satConfig{p99Limit: time.Second}
	ok := satStep{Rate: 100, PushRate: 100, Offered: 1e5, DeliveriesPerS: 99e3, Expected: 1e6, P99ms: 20}
	for _, tc := range []struct {
		name string
		mod  func(*satStep)
		why  string
	}{
		{"ok", func(*satStep) {}, ""},
		{"lost", func(s *satStep) { s.Lost = 2000 }, "lost"},
		{"few lost", func(s *satStep) { s.Lost = 10 }, ""},
		{"pusher", func(s *satStep) { s.PushRate = 80 }, "pusher behind"},
		{"late", func(s *satStep) { s.DeliveriesPerS = 50e3 }, "deliveries behind pushes"},
		{"p99", func(s *satStep) { s.P99ms = 1500 }, "p99 over limit"},
		{"nothing", func(s *satStep) { s.Expected = 0 }, "no push accepted"},
	} {
		s := ok
		tc.mod(&s)
		good, why := cfg.sustained(s)
		if why != tc.why || good != (tc.why == "") {
			t.Errorf("%s: got %v %q, want %q", tc.name, good, why, tc.why)
		}
	}
}

func TestRoomsLayout(t *testing.T) {
	l := roomsLayout{conns: 1005, groupSize: 10, groupShare: 0.3, seed: 7}
	if l.groups() != 101 {
		t.Fatalf("groups %d", l.groups())
	}
	if from, to := l.members(100); from != 1000 || to != 1005 {
		t.Fatalf("last group [%d, %d)", from, to)
	}
	groups := 0
	for n := range int64(10_000) {
		g, idx := l.target(n)
		if g2, idx2 := l.target(n); g2 != g || idx2 != idx {
			t.Fatal("target is not a function of n")
		}
		if g {
			groups++
			if idx < 0 || idx >= l.groups() {
				t.Fatalf("group %d out of range", idx)
			}
			from, _ := l.members(idx)
			if !l.reaches(n, from) || l.reaches(n, (from+l.groupSize)%l.conns) {
				t.Fatalf("push %d to group %d: membership wrong", n, idx)
			}
		} else {
			if idx < 0 || idx >= l.conns {
				t.Fatalf("user %d out of range", idx)
			}
			if !l.reaches(n, idx) || l.reaches(n, (idx+1)%l.conns) {
				t.Fatalf("push %d to user %d: reach wrong", n, idx)
			}
		}
	}
	if groups < 2700 || groups > 3300 {
		t.Fatalf("%d of 10,000 pushes to groups, want about 3,000", groups)
	}
}

func TestChurnSchedule(t *testing.T) {
	if d := churnInterval(1000, 0.1); d != 600*time.Millisecond {
		t.Fatalf("10%% of 1,000 per minute: every %v, want 600ms", d)
	}
	if churnInterval(1000, 0) != 0 {
		t.Fatal("no churn should give 0")
	}
	const sec = int64(time.Second)
	grace := 2 * time.Second
	for _, tc := range []struct {
		s    session
		t    int64
		want bool
	}{
		{session{joined: 10 * sec}, 11 * sec, true},
		{session{joined: 10 * sec}, 9 * sec, false},                    // joined after the push
		{session{joined: 10 * sec, closed: 20 * sec}, 15 * sec, true},  // closed long after
		{session{joined: 10 * sec, closed: 20 * sec}, 19 * sec, false}, // closed within the grace time
		{session{joined: 10 * sec, closed: 20 * sec}, 21 * sec, false}, // closed before
	} {
		if got := tc.s.expects(tc.t, grace); got != tc.want {
			t.Errorf("%+v at %d: got %v", tc.s, tc.t/sec, got)
		}
	}
}

func TestSplit(t *testing.T) {
	got := split(20_001, 3)
	if got[0] != 6667 || got[1] != 6667 || got[2] != 6667 {
		t.Fatalf("split: %v", got)
	}
	sum := 0
	for _, n := range split(7, 4) {
		sum += n
	}
	if sum != 7 {
		t.Fatalf("split(7, 4) adds up to %d", sum)
	}
}
