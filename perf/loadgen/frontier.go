package main

import (
	"bufio"
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// genBoundUtil is the generator's busy share above which a run measured the
// generator rather than the server: its latency and its deliveries per
// server CPU-second count neither for nor against the server.
const genBoundUtil = 0.85

// genBound reports whether r's generator was over genBoundUtil busy.
func genBound(r result) bool { return r.GenCPUUtil > genBoundUtil }

// genCell is the generator's busy share, marked when the run was
// generator-bound.
func genCell(r result) string {
	if genBound(r) {
		return pct(r.GenCPUUtil) + " (generator-bound)"
	}
	return pct(r.GenCPUUtil)
}

// frontierCmd is `loadgen frontier`.
type frontierCmd struct {
	Dir string `arg:"" help:"A folder of goim-room runs at several write budgets, e.g. perf/results/<date>/frontier."`
	Out string `short:"o" name:"out" help:"The PNG to write (default DIR/frontier.png); the table goes next to it, as .md."`
}

func (f *frontierCmd) Run() error {
	out := f.Out
	if out == "" {
		out = filepath.Join(f.Dir, "frontier.png")
	}
	return writeFrontier(f.Dir, out)
}

// frontierPoint is one run on the frontier plot.
type frontierPoint struct {
	r result
	// budget is the server's --write-budget ("default" when the run did
	// not set it); d is its value, for ordering (-1 for the default).
	budget string
	d      time.Duration
}

// excluded reports whether p stays off its transport's line: a run that
// other work disturbed or whose generator was the bottleneck.
func (p frontierPoint) excluded() bool { return p.r.Disturbed || genBound(p.r) }

// runBudget is the write budget a run was made with: its --write-budget
// server flag, else its label when that is a duration (bench.sh frontier
// labels each run with its budget), else "default".
func runBudget(r result) (string, time.Duration) {
	for i, f := range r.ServerFlags {
		v, ok := strings.CutPrefix(f, "--write-budget=")
		if !ok && f == "--write-budget" && i+1 < len(r.ServerFlags) {
			v, ok = r.ServerFlags[i+1], true
		}
		if ok {
			if d, err := time.ParseDuration(v); err == nil {
				return v, d
			}
		}
	}
	if d, err := time.ParseDuration(strings.TrimSpace(r.Label)); err == nil {
		return strings.TrimSpace(r.Label), d
	}
	return "default", -1
}

// frontierPoints are the goim-room runs of rows by transport, then budget
// (the default last), then time.
func frontierPoints(rows []result) []frontierPoint {
	var ps []frontierPoint
	for _, r := range rows {
		if r.Scenario != "goim-room" {
			continue
		}
		b, d := runBudget(r)
		ps = append(ps, frontierPoint{r: r, budget: b, d: d})
	}
	order := func(d time.Duration) time.Duration {
		if d < 0 {
			return math.MaxInt64
		}
		return d
	}
	sort.SliceStable(ps, func(i, j int) bool {
		a, b := ps[i], ps[j]
		if ta, tb := transportRank(a.r.Transport), transportRank(b.r.Transport); ta != tb {
			return ta < tb
		}
		if a.d != b.d {
			return order(a.d) < order(b.d)
		}
		return a.r.Time < b.r.Time
	})
	return ps
}

// transportRank orders transports as tables and plots show them, unknown
// ones last.
func transportRank(t string) int {
	if i := slices.Index(transports, t); i >= 0 {
		return i
	}
	return len(transports)
}

// writeFrontier draws the CPU-latency frontier of the goim-room runs in
// dir into png, and writes their table next to it (png with .md).
func writeFrontier(dir, png string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	rows, err := readResults(files)
	if err != nil {
		return err
	}
	ps := frontierPoints(rows)
	if len(ps) == 0 {
		return fmt.Errorf("no goim-room results in %s", dir)
	}
	p, err := frontierPlot(ps)
	if err != nil {
		return err
	}
	if err := savePNG(png, []*plot.Plot{p}, 8*vg.Inch, 5.5*vg.Inch); err != nil {
		return fmt.Errorf("%s: %w", png, err)
	}
	md := strings.TrimSuffix(png, filepath.Ext(png)) + ".md"
	f, err := os.Create(md)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	renderFrontier(w, filepath.Base(png), ps)
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// frontierPlot: p99 latency against server CPU per million deliveries, one
// line per transport through its budgets in order. Excluded runs are
// hollow and off the line.
func frontierPlot(ps []frontierPoint) (*plot.Plot, error) {
	title := "Write budget: server CPU against p99 latency"
	if shape := runShape(ps); shape != "" {
		title += " (" + shape + ")"
	}
	p := newPlot(title, "server CPU-s per million deliveries", "p99 latency, ms")
	p.Legend.Left = false
	var xs, ys []float64
	for _, pt := range ps {
		if pt.r.CPUsPerMillion > 0 && pt.r.P99ms > 0 {
			xs, ys = append(xs, pt.r.CPUsPerMillion), append(ys, pt.r.P99ms)
		}
	}
	if len(xs) == 0 {
		return nil, fmt.Errorf("no run with CPU-s per million and p99 latency")
	}
	// A log axis when the values span more than a factor of 4: the
	// budgets' points would otherwise crowd into one corner.
	logX, logY := spread(xs) > 4, spread(ys) > 4
	if logX {
		p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, logTicks{}
		p.X.Label.Text += " (log)"
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, logTicks{}
		p.Y.Label.Text += " (log)"
	}
	var hollowKey *plotter.Scatter
	for _, t := range append(slices.Clone(transports), otherTransports(ps)...) {
		var line, solid, hollow plotter.XYs
		var labels plotter.XYLabels
		for _, pt := range ps {
			if pt.r.Transport != t || pt.r.CPUsPerMillion <= 0 || pt.r.P99ms <= 0 {
				continue
			}
			xy := plotter.XY{X: pt.r.CPUsPerMillion, Y: pt.r.P99ms}
			label := pt.budget
			if pt.excluded() {
				hollow = append(hollow, xy)
				label += " (" + exclusion(pt.r) + ")"
			} else {
				line, solid = append(line, xy), append(solid, xy)
			}
			labels.XYs = append(labels.XYs, xy)
			labels.Labels = append(labels.Labels, label)
		}
		if len(labels.XYs) == 0 {
			continue
		}
		c := transportColor[t]
		if c == nil {
			c = color.Black
		}
		var legend plot.Thumbnailer
		if len(line) > 1 {
			l, err := plotter.NewLine(line)
			if err != nil {
				return nil, err
			}
			l.Color, l.Width = c, vg.Points(2)
			p.Add(l)
			legend = l
		}
		if len(solid) > 0 {
			s, err := plotter.NewScatter(solid)
			if err != nil {
				return nil, err
			}
			s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
			p.Add(s)
			if legend == nil {
				legend = s
			}
		}
		if len(hollow) > 0 {
			s, err := plotter.NewScatter(hollow)
			if err != nil {
				return nil, err
			}
			s.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
			p.Add(s)
			if legend == nil {
				legend = s
			}
			if hollowKey == nil {
				if hollowKey, err = plotter.NewScatter(plotter.XYs{hollow[0]}); err != nil {
					return nil, err
				}
				hollowKey.GlyphStyle = draw.GlyphStyle{Color: color.Gray{0x60}, Radius: vg.Points(4), Shape: draw.RingGlyph{}}
			}
		}
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return nil, err
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Color = c
			lb.TextStyle[i].Font.Size = vg.Points(8)
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(lb)
		p.Legend.Add(t, legend)
	}
	if hollowKey != nil {
		p.Legend.Add("hollow: generator-bound or disturbed, off the line", hollowKey)
	}
	// Room for the labels right of and above the last points.
	lo, hi := slices.Min(xs), slices.Max(xs)
	if logX {
		p.X.Min, p.X.Max = lo/1.2, hi*1.6
	} else {
		p.X.Min, p.X.Max = 0, hi*1.25
	}
	lo, hi = slices.Min(ys), slices.Max(ys)
	if logY {
		p.Y.Min, p.Y.Max = lo/1.2, hi*2
	} else {
		p.Y.Min, p.Y.Max = 0, hi*1.3
	}
	return p, nil
}

// runShape describes the runs' shape when they all share it: connections
// and pushes per second.
func runShape(ps []frontierPoint) string {
	conns, rate := ps[0].r.Conns, ps[0].r.Rate
	for _, pt := range ps {
		if pt.r.Conns != conns || pt.r.Rate != rate {
			return ""
		}
	}
	return fmt.Sprintf("%s connections in one room, %.0f pushes/s", thousands(float64(conns)), rate)
}

// spread is the ratio of the largest value to the smallest.
func spread(vs []float64) float64 { return slices.Max(vs) / slices.Min(vs) }

// otherTransports lists transports of ps that the plot colours do not
// know, so that no run goes missing from the plot.
func otherTransports(ps []frontierPoint) []string {
	var out []string
	for _, pt := range ps {
		if !slices.Contains(transports, pt.r.Transport) && !slices.Contains(out, pt.r.Transport) {
			out = append(out, pt.r.Transport)
		}
	}
	return out
}

// exclusion says why a run is off the line.
func exclusion(r result) string {
	var why []string
	if genBound(r) {
		why = append(why, "generator-bound")
	}
	if r.Disturbed {
		why = append(why, "disturbed")
	}
	return strings.Join(why, ", ")
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// renderFrontier writes the frontier table: one row per run, in the plot's
// order.
func renderFrontier(w io.Writer, png string, ps []frontierPoint) {
	fmt.Fprintf(w, "# Write budget frontier\n\n")
	fmt.Fprintf(w, "![frontier](%s)\n\n", png)
	fmt.Fprintf(w, "goim-room runs, one per transport and server `--write-budget`. Runs whose generator was over %.0f%% busy (generator-bound) or that other work disturbed count neither way: hollow on the plot and off its lines.\n\n", 100*genBoundUtil)
	fmt.Fprintln(w, "| transport | budget | conns | pushes/s | CPU-s/M | p50 ms | p99 ms | server core busy | generator busy | lost | generator-bound | disturbed |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
	for _, pt := range ps {
		r := pt.r
		fmt.Fprintf(w, "| %s | %s | %d | %s | %.2f | %s | %s | %s | %s | %d | %s | %s |\n", r.Transport, pt.budget, r.ConnsOK, rateCell(r),
			r.CPUsPerMillion, ms(r.P50ms), ms(r.P99ms), pct(r.ServerCPUUtil), pct(r.GenCPUUtil), r.Lost, yesNo(genBound(r)), yesNo(r.Disturbed))
	}
}
