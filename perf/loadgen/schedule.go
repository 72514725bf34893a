package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// This file holds the scenarios' scheduling decisions as pure functions of
// what was measured, so that they can be tested without a server.

// satConfig shapes the saturation search.
type satConfig struct {
	factor   float64       // rate multiplier from one step to the next
	step     time.Duration // measured time of each step
	maxSteps int           // search steps at most (refine, confirm and half come on top)
	gain     float64       // deliveries/s must grow by this factor for a step to count as rising
	p99Limit time.Duration // a step with a higher p99 has blown up
	refine   int           // bisection steps between the last good and the first bad rate
}

// satStep is one step of the saturation search.
type satStep struct {
	// Phase is search (rates multiplied by the factor, or divided when
	// the first step already failed), refine (bisection), confirm (the
	// highest sustained rate again, with the CPU profile) or half (half of
	// it, for latency).
	Phase          string  `json:"phase"`
	Rate           float64 `json:"rate"`
	PushRate       float64 `json:"push_rate"`
	Offered        float64 `json:"offered_per_s"` // pushes accepted per second x connections
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	Expected       int64   `json:"expected"`
	Lost           int64   `json:"lost"`
	P50ms          float64 `json:"p50_ms"`
	P99ms          float64 `json:"p99_ms"`
	P999ms         float64 `json:"p999_ms"`
	CPUsPerMillion float64 `json:"cpu_s_per_million"`
	ServerCPUUtil  float64 `json:"server_cpu_util"`
	GenCPUUtil     float64 `json:"gen_cpu_util"`
	PushesPerRead  float64 `json:"pushes_per_read"`
	AvgCoreBatch   float64 `json:"avg_core_batch"`
	// Sustained: every push arrived, deliveries kept pace with pushes,
	// the pusher kept its rate and p99 stayed under the limit.
	Sustained bool `json:"sustained"`
	// Why names what failed when not sustained.
	Why string `json:"why,omitempty"`
}

// sustained judges a step and names what failed.
func (cfg satConfig) sustained(s satStep) (bool, string) {
	switch {
	case s.Expected == 0:
		return false, "no push accepted"
	case float64(s.Lost) > 0.001*float64(s.Expected):
		return false, "lost"
	case s.PushRate < 0.95*s.Rate:
		return false, "pusher behind"
	case s.DeliveriesPerS < 0.9*s.Offered:
		return false, "deliveries behind pushes"
	case s.P99ms > float64(cfg.p99Limit)/float64(time.Millisecond):
		return false, "p99 over limit"
	}
	return true, ""
}

// satBounds walks the steps so far and returns the highest good rate (lo,
// 0 for none), the lowest bad one (hi, 0 for none) and how many search,
// refine, confirm and half steps there were. A search step is good when it
// was sustained and raised deliveries/s by the gain factor over the best
// good step before it; a rate measured twice is good when either step was
// (one disturbed step does not end the search).
func (cfg satConfig) satBounds(steps []satStep) (lo, hi float64, counts map[string]int) {
	counts = map[string]int{}
	best := 0.0
	good := map[float64]bool{}
	var rates []float64
	for _, s := range steps {
		counts[s.Phase]++
		ok := s.Sustained
		switch s.Phase {
		case "search":
			ok = ok && s.DeliveriesPerS >= cfg.gain*best
		case "refine":
		default:
			continue
		}
		if _, seen := good[s.Rate]; !seen {
			rates = append(rates, s.Rate)
		}
		good[s.Rate] = good[s.Rate] || ok
		if ok {
			best = max(best, s.DeliveriesPerS)
		}
	}
	for _, r := range rates {
		if good[r] {
			lo = max(lo, r)
		}
	}
	// The lowest bad rate above the best good one (a bad rate below a
	// good one is noise).
	for _, r := range rates {
		if !good[r] && r > lo && (hi == 0 || r < hi) {
			hi = r
		}
	}
	return lo, hi, counts
}

// satNext returns the next step of the saturation search starting at r0,
// or an empty phase when the search is over.
func (cfg satConfig) satNext(r0 float64, steps []satStep) (rate float64, phase string) {
	lo, hi, counts := cfg.satBounds(steps)
	if len(steps) == 0 {
		return r0, "search"
	}
	last := steps[len(steps)-1]
	searching := counts["refine"] == 0 && counts["confirm"] == 0 && counts["search"] < cfg.maxSteps
	if searching && last.Phase == "search" && last.Rate == hi {
		// A failed search step is measured again once before it counts.
		tries := 0
		for _, s := range steps {
			if s.Phase == "search" && s.Rate == last.Rate {
				tries++
			}
		}
		if tries == 1 {
			return last.Rate, "search"
		}
	}
	if searching {
		switch {
		case hi == 0:
			// Still rising: go up.
			return last.Rate * cfg.factor, "search"
		case lo == 0 && hi/cfg.factor >= 0.1:
			// Even the first rate was too much: go down.
			return hi / cfg.factor, "search"
		}
	}
	if lo > 0 && hi > 0 && counts["refine"] < cfg.refine && counts["confirm"] == 0 && hi/lo > 1.15 {
		return math.Round(math.Sqrt(lo*hi)*10) / 10, "refine"
	}
	if lo == 0 {
		return 0, ""
	}
	if counts["confirm"] == 0 {
		return lo, "confirm"
	}
	if counts["half"] == 0 {
		return lo / 2, "half"
	}
	return 0, ""
}

// roomsConfig shapes the many-rooms scenario.
type roomsConfig struct {
	groupSize   int
	groupShare  float64
	churnPerMin float64
	grace       time.Duration
}

// roomsLayout is who is where in the many-rooms scenario: connection i is
// user u<i>, alone in its personal "room" (pushes go to its user), and a
// member of group room g/<i/groupSize>.
type roomsLayout struct {
	conns, groupSize int
	groupShare       float64
	seed             uint64
}

func (l roomsLayout) groups() int { return (l.conns + l.groupSize - 1) / l.groupSize }

func (l roomsLayout) groupOf(i int) int { return i / l.groupSize }

func groupRoom(g int) string { return "g/" + strconv.Itoa(g) }

// members returns the connection indices [from, to) of group g.
func (l roomsLayout) members(g int) (from, to int) {
	return g * l.groupSize, min((g+1)*l.groupSize, l.conns)
}

// target returns where push n goes: group g (isGroup) or user j. It is a
// pure function of n, so the accounting recomputes it instead of storing
// it.
func (l roomsLayout) target(n int64) (isGroup bool, idx int) {
	r := rand.New(rand.NewPCG(l.seed, uint64(n)))
	if r.Float64() < l.groupShare {
		return true, r.IntN(l.groups())
	}
	return false, r.IntN(l.conns)
}

// churnInterval is the time between two reconnects when share of conns
// connections are closed and reopened per minute; 0 means no churn.
func churnInterval(conns int, share float64) time.Duration {
	per := share * float64(conns)
	if per <= 0 {
		return 0
	}
	return time.Duration(float64(time.Minute) / per)
}

// session is one connection's lifetime for the many-rooms accounting.
type session struct {
	joined, closed int64 // unix nanos; closed 0: not closed on purpose
}

// expects tells whether a session should receive a push sent at t: it was
// joined before t and was not closed on purpose before t + grace.
func (s session) expects(t int64, grace time.Duration) bool {
	return s.joined < t && (s.closed == 0 || s.closed > t+int64(grace))
}
