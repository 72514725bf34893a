package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// writeMobile writes the rows of `loadgen mobile` into dir as <mode>.json
// (one line each), <mode>.md (the table) and <mode>.png (latency against
// loss, QUIC and TCP).
func writeMobile(dir, mode string, rows []mobileResult) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var js strings.Builder
	for _, r := range rows {
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		js.Write(b)
		js.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(dir, mode+".json"), []byte(js.String()), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	if mode == "hol" {
		holTable(&md, rows)
	} else {
		mobileTable(&md, rows)
	}
	if err := os.WriteFile(filepath.Join(dir, mode+".md"), []byte(md.String()), 0o644); err != nil {
		return err
	}
	p, err := mobilePlot(mode, rows)
	if err != nil {
		return err
	}
	return savePNG(filepath.Join(dir, mode+".png"), []*plot.Plot{p}, 8*vg.Inch, 4.5*vg.Inch)
}

// mobileTable is the mobile scenario's table: one row per transport and
// loss rate.
func mobileTable(w io.Writer, rows []mobileResult) {
	fmt.Fprintln(w, "| transport | loss | clients | moves | reconnects | pushes | expected | lost | repeats | dup | p50 ms | p99 ms | p99.9 ms | max ms | generator CPU | server CPU | machine CPU | load avg |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range rows {
		transport := r.Transport
		if r.QUICMove != "" {
			transport += " (" + r.QUICMove + ")"
		}
		fmt.Fprintf(w, "| %s | %g%% | %d | %d | %d | %d | %s | %d | %d | %d | %s | %s | %s | %s | %.2f | %.2f | %.2f | %s |\n",
			transport, r.LossPct, r.Connected, r.Moves, r.Reconnects, r.Pushes, thousands(float64(r.Expected)), r.Lost, r.Repeats, r.DupAfterDedup,
			ms(r.P50ms), ms(r.P99ms), ms(r.P999ms), ms(r.MaxMs), r.GenCPU, r.ServerCPU, r.MachineCPU, r.LoadAvg)
	}
}

// holTable is the head-of-line measurement's table: room B's latency for
// the clients in both rooms against those in B alone.
func holTable(w io.Writer, rows []mobileResult) {
	fmt.Fprintln(w, "| transport | loss | clients | room B, in A and B: p50 / p99 / p99.9 ms | room B, in B only: p50 / p99 / p99.9 ms | p99 difference ms | room A p50 / p99 ms | generator CPU | server CPU | load avg |")
	fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
	for _, r := range rows {
		h := r.Hol
		if h == nil {
			continue
		}
		fmt.Fprintf(w, "| %s | %g%% | %d | %s / %s / %s | %s / %s / %s | %+.1f | %s / %s | %.2f | %.2f | %s |\n",
			r.Transport, r.LossPct, r.Connected, ms(h.BothP50ms), ms(h.BothP99ms), ms(h.BothP999ms),
			ms(h.OnlyP50ms), ms(h.OnlyP99ms), ms(h.OnlyP999ms), h.BothP99ms-h.OnlyP99ms, ms(h.BusyP50ms), ms(h.BusyP99ms),
			r.GenCPU, r.ServerCPU, r.LoadAvg)
	}
}

// mobileSeries is one line of the plot: a transport's percentile (or, for
// hol, room B's p99 for one class of clients) against loss.
type mobileSeries struct {
	name      string
	transport string
	dashes    []vg.Length
	value     func(r mobileResult) float64
}

// mobilePlot draws latency percentiles against the loss rate, one colour
// per transport.
func mobilePlot(mode string, rows []mobileResult) (*plot.Plot, error) {
	var series []mobileSeries
	var p *plot.Plot
	dot, dash := []vg.Length{vg.Points(2), vg.Points(3)}, []vg.Length{vg.Points(8), vg.Points(4)}
	for _, t := range []string{"quic", "tcp"} {
		if mode == "hol" {
			series = append(series,
				mobileSeries{t + " room B p99, in A and B", t, nil, func(r mobileResult) float64 { return r.Hol.BothP99ms }},
				mobileSeries{t + " room B p99, in B only", t, dash, func(r mobileResult) float64 { return r.Hol.OnlyP99ms }},
				mobileSeries{t + " room B p50, in A and B", t, dot, func(r mobileResult) float64 { return r.Hol.BothP50ms }})
		} else {
			series = append(series,
				mobileSeries{t + " p50", t, dot, func(r mobileResult) float64 { return r.P50ms }},
				mobileSeries{t + " p99", t, dash, func(r mobileResult) float64 { return r.P99ms }},
				mobileSeries{t + " p99.9", t, nil, func(r mobileResult) float64 { return r.P999ms }})
		}
	}
	if mode == "hol" {
		p = newPlot("Head-of-line: room B's latency with a busy room A on the same connection", "loss, both directions (%)", "milliseconds (log)")
	} else {
		p = newPlot("Mobile: push latency through the lab, clients moving every 30 s", "loss, both directions (%)", "milliseconds (log)")
	}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	for _, s := range series {
		var xys plotter.XYs
		for _, r := range rows {
			if r.Transport != s.transport || (mode == "hol" && r.Hol == nil) {
				continue
			}
			xys = append(xys, plotter.XY{X: r.LossPct, Y: max(s.value(r), 0.1)})
		}
		if len(xys) == 0 {
			continue
		}
		sortXY(xys)
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = transportColor[s.transport], transportColor[s.transport]
		l.Width = vg.Points(2)
		l.Dashes = s.dashes
		pts.Shape = draw.CircleGlyph{}
		p.Add(l, pts)
		p.Legend.Add(s.name, l)
	}
	return p, nil
}
