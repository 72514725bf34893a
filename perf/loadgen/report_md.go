package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// transports in the order tables and plots show them.
var transports = []string{"tcp", "ws", "quic", "webtransport"}

// Targets of issue 4, per transport: idle server RSS per connection in KB
// (1,000 bytes), the room fan-out efficiency on TCP and WebSocket, and the
// p99 latency at half the saturation rate.
var idleTargetKB = map[string]float64{"tcp": 8, "ws": 10, "quic": 24, "webtransport": 40}

const (
	fanoutTarget    = 1.5e6 // deliveries per server CPU-second, TCP and WebSocket
	mergeDelayLimit = 10    // ms of merge delay allowed for it
	halfP99Target   = 50.0  // ms, at half the saturation rate
)

// readResults reads every result line of the files.
func readResults(files []string) ([]result, error) {
	var rows []result
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var r result
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				fh.Close()
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if r.Scenario == "" {
				r.Scenario = "goim-room"
			}
			rows = append(rows, r)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return rows, nil
}

// latest returns, per transport, the last result of scenario.
func latest(rows []result, scenario string) map[string]*result {
	out := map[string]*result{}
	for i := range rows {
		if rows[i].Scenario == scenario {
			out[rows[i].Transport] = &rows[i]
		}
	}
	return out
}

// byScenario returns the results of scenario in transport order.
func byScenario(rows []result, scenario string) []result {
	var out []result
	for _, r := range rows {
		if r.Scenario == scenario {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		return slices.Index(transports, out[i].Transport) < slices.Index(transports, out[j].Transport)
	})
	return out
}

// writeReport writes dir/report.md and the plots from the results in
// dir/*.json.
func writeReport(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no *.json results in %s", dir)
	}
	sort.Strings(files)
	rows, err := readResults(files)
	if err != nil {
		return err
	}
	plots, err := writePlots(dir, rows)
	if err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, "report.md"))
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	renderReport(w, dir, rows, plots)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }

func pct(v float64) string { return fmt.Sprintf("%.0f%%", 100*v) }

func ms(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func mergeWindow(r result) string {
	for _, f := range r.ServerFlags {
		if v, ok := strings.CutPrefix(f, "--merge-window="); ok {
			return v
		}
	}
	return "1ms (default)"
}

func check(ok bool) string {
	if ok {
		return "**met**"
	}
	return "**not met**"
}

// renderReport writes the Markdown report.
func renderReport(w io.Writer, dir string, rows []result, plots []string) {
	revs, times := map[string]bool{}, []string{}
	for _, r := range rows {
		revs[r.Rev] = true
		times = append(times, r.Time)
	}
	sort.Strings(times)
	var revList []string
	for r := range revs {
		revList = append(revList, "`"+r+"`")
	}
	sort.Strings(revList)
	fmt.Fprintf(w, "# quicpush load report: %s\n\n", filepath.Base(dir))
	fmt.Fprintf(w, "Runs from %s to %s, server at %s. Written by `loadgen report` from the JSON lines next to it; ", times[0], times[len(times)-1], strings.Join(revList, ", "))
	fmt.Fprintf(w, "see perf/README.md for what each figure means. Rows marked DISTURBED had more than 0.2 cores of other work on the box.\n\n")
	for _, p := range plots {
		fmt.Fprintf(w, "![%s](%s)\n", strings.TrimSuffix(p, ".png"), p)
	}
	fmt.Fprintln(w)

	renderTargets(w, rows)

	if rs := byScenario(rows, "idle"); len(rs) > 0 {
		fmt.Fprintf(w, "## Idle: memory per connection and setup rate\n\n")
		fmt.Fprintln(w, "| transport | conns | RSS/conn | target | live heap/conn | heap/conn | stack/conn | goroutines/conn | setup/s | idle server CPU | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range rs {
			fmt.Fprintf(w, "| %s | %d | %s | %.0f KB | %s | %s | %s | %.2f | %.0f | %s | %s |\n", r.Transport, r.ConnsOK, kib(r.RSSPerConn),
				idleTargetKB[r.Transport], kib(r.LiveHeapPerConn), kib(r.HeapPerConn), kib(r.StackPerConn), r.GoroutinesPerConn,
				r.ConnectPerS, pct(r.ServerIdleCPUUtil), errorSummary(r))
		}
		fmt.Fprintln(w)
	}
	if rs := byScenario(rows, "goim-room"); len(rs) > 0 {
		fmt.Fprintf(w, "## goim-room: one room, steady pushes\n\n")
		fmt.Fprintln(w, "| transport | conns | workers | history | pushes/s | deliveries/s | lost | p50 ms | p99 ms | p99.9 ms | server CPU | CPU-s per M | deliveries per CPU-s | pushes per read | gen CPU | RSS/conn | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range rs {
			fmt.Fprintf(w, "| %s | %d | %d | %s | %s | %s | %d | %s | %s | %s | %s | %.2f | %s | %.2f | %s | %s | %s |\n", r.Transport, r.ConnsOK, max(r.Workers, 1),
				historyCell(r), rateCell(r), thousands(r.DeliveriesPerS), r.Lost, ms(r.P50ms), ms(r.P99ms), ms(r.P999ms), pct(r.ServerCPUUtil),
				r.CPUsPerMillion, perCPU(r.CPUsPerMillion), r.PushesPerRead, genCell(r), kib(r.RSSPerConn), errorSummary(r))
		}
		fmt.Fprintln(w)
		renderHistoryCost(w, rows)
	}
	if rs := byScenario(rows, "saturation"); len(rs) > 0 {
		fmt.Fprintf(w, "## Saturation: one room, rate doubled until deliveries stop rising\n\n")
		fmt.Fprintln(w, "| transport | conns | merge window | max sustained pushes/s | deliveries/s | CPU-s per M | deliveries per CPU-s | peak deliveries/s | first limit | p50 / p99 ms at half rate | errors |")
		fmt.Fprintln(w, "|---|---:|---|---:|---:|---:|---:|---:|---|---:|---|")
		for _, r := range rs {
			s := r.Saturation
			if s == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %s | %.0f | %s | %.2f | %s | %s | %s | %s / %s (at %.0f/s) | %s |\n", r.Transport, r.ConnsOK, mergeWindow(r),
				s.MaxRate, thousands(s.MaxDeliveriesPerS), s.CPUsPerMillion, perCPU(s.CPUsPerMillion), thousands(s.PeakDeliveriesPerS),
				s.Limit, ms(s.HalfP50ms), ms(s.HalfP99ms), s.HalfRate, errorSummary(r))
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Steps (pushes/s: deliveries/s, p99 ms, server/generator CPU, verdict):")
		fmt.Fprintln(w)
		for _, r := range rs {
			if r.Saturation == nil {
				continue
			}
			var parts []string
			for _, s := range r.Saturation.Steps {
				v := "ok"
				if !s.Sustained {
					v = s.Why
				}
				parts = append(parts, fmt.Sprintf("%s %.0f: %s, %s ms, %s/%s, %s", s.Phase, s.Rate, thousands(s.DeliveriesPerS), ms(s.P99ms),
					pct(s.ServerCPUUtil), pct(s.GenCPUUtil), v))
			}
			fmt.Fprintf(w, "- %s: %s\n", r.Transport, strings.Join(parts, "; "))
		}
		fmt.Fprintln(w)
	}
	if rs := byScenario(rows, "many-rooms"); len(rs) > 0 {
		fmt.Fprintf(w, "## Many rooms: personal and group rooms, churn\n\n")
		fmt.Fprintln(w, "| transport | conns | groups x size | pushes/s | group / user pushes | deliveries/s | expected | lost | extra | dup | p50 ms | p99 ms | reconnects (failed) | reconnect p99 ms | server CPU | CPU-s per M | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range rs {
			m := r.ManyRooms
			if m == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %d x %d | %s | %d / %d | %s | %d | %d | %d | %d | %s | %s | %d (%d) | %s | %s | %.2f | %s |\n", r.Transport, r.ConnsOK,
				m.Groups, m.GroupSize, rateCell(r), m.GroupPushes, m.UserPushes, thousands(r.DeliveriesPerS), m.Expected, m.Lost, m.Extra,
				m.Duplicates, ms(r.P50ms), ms(r.P99ms), m.Reconnects, m.ReconnectErrors, ms(m.ReconnectP99ms), pct(r.ServerCPUUtil),
				r.CPUsPerMillion, errorSummary(r))
		}
		fmt.Fprintln(w)
	}
	if rs := byScenario(rows, "churn"); len(rs) > 0 {
		fmt.Fprintf(w, "## Churn: connect, auth, join, leave, close in a loop\n\n")
		fmt.Fprintln(w, "| transport | at once | cycles/s | failed | handshake p50 / p99 ms | cycle p99 ms | server CPU | server CPU ms per cycle | gen CPU | server goroutines before / after | errors |")
		fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
		for _, r := range rs {
			c := r.Churn
			if c == nil {
				continue
			}
			fmt.Fprintf(w, "| %s | %d | %.0f | %d | %s / %s | %s | %s | %.2f | %s | %.0f / %.0f | %s |\n", r.Transport, c.Parallel, c.CyclesPerS, c.Failures,
				ms(c.HandshakeP50ms), ms(c.HandshakeP99ms), ms(c.CycleP99ms), pct(r.ServerCPUUtil), c.ServerCPUmsPerCycle, pct(r.GenCPUUtil),
				c.GoroutinesBefore, c.GoroutinesAfter, errorSummary(r))
		}
		fmt.Fprintln(w)
	}

	if rs := byScenario(rows, "resume-storm"); len(rs) > 0 {
		renderStorms(w, rs)
	}

	var profs []string
	for _, r := range rows {
		for _, p := range []string{r.CPUProfile, r.HeapProfile} {
			if p == "" {
				continue
			}
			var links []string
			if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
				links = append(links, fmt.Sprintf("[profile](%s)", p))
			}
			if _, err := os.Stat(filepath.Join(dir, p+".top.txt")); err == nil {
				links = append(links, fmt.Sprintf("[top](%s.top.txt)", p))
			}
			if len(links) > 0 {
				profs = append(profs, fmt.Sprintf("%s: %s", strings.TrimSuffix(p, ".pprof"), strings.Join(links, " ")))
			}
		}
	}
	if len(profs) > 0 {
		fmt.Fprintf(w, "## Profiles\n\n")
		fmt.Fprintf(w, "Server profiles through `--admin-addr` (idle: CPU over the connect phase, heap once idle; goim-room, many-rooms: CPU over the window; saturation: CPU at the highest sustained rate, heap after the search; churn: CPU while churning, heap after; resume-storm: CPU over the first seconds of the reconnects, no heap profile). Read them with `go tool pprof -top perf/out/quicpush FILE`.\n\n")
		for _, p := range profs {
			fmt.Fprintf(w, "- %s\n", p)
		}
		fmt.Fprintln(w)
	}
}

func rateCell(r result) string {
	s := fmt.Sprintf("%.0f", r.Rate)
	if r.PushRate < 0.98*r.Rate {
		s += fmt.Sprintf(" (%.0f sent)", r.PushRate)
	}
	return s
}

// perCPU turns CPU-s per million deliveries into deliveries per CPU-second.
func perCPU(cpuPerM float64) string {
	if cpuPerM <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fM", 1/cpuPerM)
}

// renderTargets writes the status against the targets of issue 4.
func renderTargets(w io.Writer, rows []result) {
	fmt.Fprintf(w, "## Targets\n\n")
	fmt.Fprintln(w, "| target | transport | measured | status |")
	fmt.Fprintln(w, "|---|---|---:|---|")
	idle := latest(rows, "idle")
	sat := latest(rows, "saturation")
	for _, t := range transports {
		if r := idle[t]; r != nil {
			kb := r.RSSPerConn / 1000
			fmt.Fprintf(w, "| idle RSS per connection <= %.0f KB | %s | %.1f KB (%d conns) | %s |\n", idleTargetKB[t], t, kb, r.ConnsOK, check(kb <= idleTargetKB[t]))
		}
	}
	for _, t := range []string{"tcp", "ws"} {
		if r := sat[t]; r != nil && r.Saturation != nil && r.Saturation.CPUsPerMillion > 0 {
			per := 1e6 / r.Saturation.CPUsPerMillion
			fmt.Fprintf(w, "| room fan-out >= 1.5M deliveries per server CPU-s, merge delay <= %d ms | %s | %.2fM at %s deliveries/s, merge window %s | %s |\n",
				mergeDelayLimit, t, per/1e6, thousands(r.Saturation.MaxDeliveriesPerS), mergeWindow(*r), check(per >= fanoutTarget))
		}
	}
	for _, t := range transports {
		if r := sat[t]; r != nil && r.Saturation != nil && r.Saturation.HalfRate > 0 {
			fmt.Fprintf(w, "| p99 < 50 ms at 50%% of saturation | %s | %.1f ms at %.0f pushes/s x %d | %s |\n", t, r.Saturation.HalfP99ms,
				r.Saturation.HalfRate, r.ConnsOK, check(r.Saturation.HalfP99ms < halfP99Target))
		}
	}
	fmt.Fprintln(w)
}
