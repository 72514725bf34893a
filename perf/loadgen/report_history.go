package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// historyOff reports whether the run's server kept no room history
// (--history-size=-1).
func historyOff(r result) bool {
	return slices.ContainsFunc(r.ServerFlags, func(f string) bool {
		return strings.HasPrefix(f, "--history-size=-") || f == "--history-size -1"
	})
}

func historyCell(r result) string {
	if historyOff(r) {
		return "off"
	}
	return "on"
}

// historyPair is a run with room history and the same run without.
type historyPair struct{ on, off *result }

// historyPairs pairs the runs of scenario with and without history by
// transport, connections and rate, in transport order; the last run of
// each kind counts.
func historyPairs(rows []result, scenario string) []historyPair {
	type key struct {
		transport string
		conns     int
		rate      float64
	}
	var keys []key
	pairs := map[key]*historyPair{}
	for _, r := range byScenario(rows, scenario) {
		k := key{r.Transport, r.Conns, r.Rate}
		p := pairs[k]
		if p == nil {
			p = &historyPair{}
			pairs[k] = p
			keys = append(keys, k)
		}
		if historyOff(r) {
			p.off = &r
		} else {
			p.on = &r
		}
	}
	var out []historyPair
	for _, k := range keys {
		if p := pairs[k]; p.on != nil && p.off != nil {
			out = append(out, *p)
		}
	}
	return out
}

// change is b relative to a, as a signed percentage.
func change(on, off float64) string {
	if off <= 0 {
		return "-"
	}
	return fmt.Sprintf("%+.0f%%", 100*(on/off-1))
}

// renderHistoryCost writes the side-by-side tables of the runs made with
// and without room history: goim-room at fixed rates, and the saturation
// search.
func renderHistoryCost(w io.Writer, rows []result) {
	if ps := historyPairs(rows, "goim-room"); len(ps) > 0 {
		fmt.Fprintf(w, "### Cost of history: the same room broadcast with history (on, the default) and without (off)\n\n")
		fmt.Fprintln(w, "| transport | conns | pushes/s | deliveries/s on / off | lost on / off | p50 ms on / off | p99 ms on / off | server CPU on / off | CPU-s per M on / off | change | pushes per read on / off | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, p := range ps {
			a, b := p.on, p.off
			errs := "none"
			if ea, eb := errorSummary(*a), errorSummary(*b); ea != "none" || eb != "none" {
				errs = "on: " + ea + "; off: " + eb
			}
			fmt.Fprintf(w, "| %s | %d | %s | %s / %s | %d / %d | %s / %s | %s / %s | %s / %s | %.2f / %.2f | %s | %.2f / %.2f | %s |\n",
				a.Transport, a.ConnsOK, rateCell(*a), thousands(a.DeliveriesPerS), thousands(b.DeliveriesPerS), a.Lost, b.Lost,
				ms(a.P50ms), ms(b.P50ms), ms(a.P99ms), ms(b.P99ms), pct(a.ServerCPUUtil), pct(b.ServerCPUUtil),
				a.CPUsPerMillion, b.CPUsPerMillion, change(a.CPUsPerMillion, b.CPUsPerMillion), a.PushesPerRead, b.PushesPerRead, errs)
		}
		fmt.Fprintln(w)
	}
	if ps := historyPairs(rows, "saturation"); len(ps) > 0 {
		fmt.Fprintf(w, "### Cost of history at saturation\n\n")
		fmt.Fprintln(w, "| transport | conns | max sustained pushes/s on / off | deliveries/s on / off | CPU-s per M on / off | change | peak deliveries/s on / off | p99 ms at half rate on / off | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, p := range ps {
			a, b := p.on, p.off
			sa, sb := a.Saturation, b.Saturation
			if sa == nil || sb == nil {
				continue
			}
			errs := "none"
			if ea, eb := errorSummary(*a), errorSummary(*b); ea != "none" || eb != "none" {
				errs = "on: " + ea + "; off: " + eb
			}
			fmt.Fprintf(w, "| %s | %d | %.0f / %.0f | %s / %s | %.2f / %.2f | %s | %s / %s | %s / %s | %s |\n",
				a.Transport, a.ConnsOK, sa.MaxRate, sb.MaxRate, thousands(sa.MaxDeliveriesPerS), thousands(sb.MaxDeliveriesPerS),
				sa.CPUsPerMillion, sb.CPUsPerMillion, change(sa.CPUsPerMillion, sb.CPUsPerMillion),
				thousands(sa.PeakDeliveriesPerS), thousands(sb.PeakDeliveriesPerS), ms(sa.HalfP99ms), ms(sb.HalfP99ms), errs)
		}
		fmt.Fprintln(w)
	}
}

// stormErrors sums a storm's errors by phase ("reconnect dial",
// "reconnect join", "connect auth", "lost", ...); the JSON keeps the causes.
func stormErrors(r result) string {
	sums := map[string]int64{}
	for k, v := range r.Errors {
		phase, _, _ := strings.Cut(k, ":")
		switch phase {
		case "dial", "token", "auth", "join": // the first connect
			phase = "connect " + phase
		}
		sums[phase] += v
	}
	for k, v := range r.Disconnects {
		sums["disconnect "+k] += v
	}
	var parts []string
	for k, v := range sums {
		parts = append(parts, fmt.Sprintf("%s x%d", k, v))
	}
	if r.Disturbed {
		parts = append(parts, fmt.Sprintf("DISTURBED: others %.2f cores", r.OtherCPUUtil+r.StealUtil))
	}
	if len(parts) == 0 {
		return "none"
	}
	slices.Sort(parts)
	return strings.Join(parts, "; ")
}

// renderStorms writes the resume-storm table.
func renderStorms(w io.Writer, rs []result) {
	slices.SortStableFunc(rs, func(a, b result) int {
		if c := slices.Index(transports, a.Transport) - slices.Index(transports, b.Transport); c != 0 {
			return c
		}
		if a.Conns != b.Conns {
			return a.Conns - b.Conns
		}
		if a.Rate != b.Rate {
			return int(b.Rate - a.Rate)
		}
		return b.Storm.Concurrency - a.Storm.Concurrency
	})
	fmt.Fprintf(w, "## Resume storm: every connection cut at once, all reconnect with their positions\n\n")
	fmt.Fprintln(w, "Times from the cut; the clients reconnect after the gap. \"Caught up\": holds every push so far, without a gap, up to one due after its JoinOK (live again).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| transport | clients | history | pushes/s | gap s | at once | all rejoined s | all caught up s | rejoins/s | rejoin p50 / p99 ms | recovered / not / none | replayed per client | lost | repeats dropped / after dedup | server CPU-s in storm | CPU ms per client | server CPU before the cut | RSS before / peak MiB | failed attempts | errors |")
	fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		s := r.Storm
		if s == nil {
			continue
		}
		caught := fmt.Sprintf("%.2f", s.AllCaughtUpS)
		if s.TimedOut || s.AllCaughtUpS == 0 {
			caught = fmt.Sprintf("not all (%d of %d)", s.CaughtUp, s.Clients)
		}
		rejoined := fmt.Sprintf("%.2f", s.AllRejoinedS)
		if s.Rejoined < int64(s.Clients) {
			rejoined = fmt.Sprintf("not all (%d)", s.Rejoined)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %.1f | %d | %s | %s | %s | %s / %s | %d / %d / %d | %.1f | %d | %d / %d | %.2f (%s) | %.2f | %s | %.0f / %.0f | %d | %s |\n",
			r.Transport, s.Clients, historyCell(r), rateCell(r), s.GapS, s.Concurrency, rejoined, caught, thousands(s.RejoinPerS),
			ms(s.RejoinP50ms), ms(s.RejoinP99ms), s.Recovered, s.NotRecovered, s.NoRecovery, s.ReplayedPerClient, s.Lost,
			s.DupByPosition, s.DupAfterDedup, s.ServerCPUs, pct(s.ServerCPUUtil), s.ServerCPUmsPerClient, pct(r.ServerCPUUtil),
			mib(s.RSSBefore), mib(s.RSSPeak), s.FailedAttempts, stormErrors(r))
	}
	fmt.Fprintln(w)
}
