package main

import (
	"fmt"
	"image"
	"image/color"
	"image/color/palette"
	imgdraw "image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Plot colours: one per transport, and one per series of a bar group.
var (
	transportColor = map[string]color.Color{
		"tcp":          color.RGBA{0x1f, 0x77, 0xb4, 0xff},
		"ws":           color.RGBA{0xff, 0x7f, 0x0e, 0xff},
		"quic":         color.RGBA{0x2c, 0xa0, 0x2c, 0xff},
		"webtransport": color.RGBA{0xd6, 0x27, 0x28, 0xff},
	}
	seriesColor = []color.Color{
		color.RGBA{0x1f, 0x77, 0xb4, 0xff},
		color.RGBA{0x9e, 0xc8, 0xe8, 0xff},
		color.RGBA{0xff, 0x7f, 0x0e, 0xff},
		color.RGBA{0xb0, 0xb0, 0xb0, 0xff},
	}
)

// plotDPI keeps the PNGs readable and small (tens of KB each).
const plotDPI = 96

// writePlots draws the report's PNGs into dir and returns their names.
func writePlots(dir string, rows []result) ([]string, error) {
	var out []string
	for _, d := range []struct {
		name string
		make func([]result) ([]*plot.Plot, error)
	}{
		{"memory.png", memoryPlot},
		{"throughput.png", throughputPlots},
		{"latency.png", latencyPlots},
		{"saturation.png", saturationPlot},
	} {
		ps, err := d.make(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		if len(ps) == 0 {
			continue
		}
		w := 5.5 * vg.Inch * vg.Length(len(ps))
		if len(ps) == 1 {
			w = 8 * vg.Inch
		}
		if err := savePNG(filepath.Join(dir, d.name), ps, w, 4.5*vg.Inch); err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		out = append(out, d.name)
	}
	return out, nil
}

// savePNG draws plots side by side into one PNG.
func savePNG(file string, ps []*plot.Plot, w, h vg.Length) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(plotDPI))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(ps), PadX: vg.Inch / 3, PadTop: vg.Inch / 8, PadBottom: vg.Inch / 8, PadLeft: vg.Inch / 8, PadRight: vg.Inch / 4}
	canvases := plot.Align([][]*plot.Plot{ps}, tiles, dc)
	for i, p := range ps {
		p.Draw(canvases[0][i])
	}
	// A 256-colour palette without dithering keeps the lines crisp and
	// the files several times smaller than RGBA.
	src := img.Image()
	pal := image.NewPaletted(src.Bounds(), palette.Plan9)
	imgdraw.Draw(pal, pal.Bounds(), src, src.Bounds().Min, imgdraw.Src)
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(f, pal); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// present returns the transports that have a result in m, in order.
func present(m map[string]*result) []string {
	var ts []string
	for _, t := range transports {
		if m[t] != nil {
			ts = append(ts, t)
		}
	}
	return ts
}

// bars adds grouped bar series (one value per transport each) to p.
func bars(p *plot.Plot, names []string, series [][]float64) error {
	width := vg.Points(16)
	for i, vs := range series {
		b, err := plotter.NewBarChart(plotter.Values(vs), width)
		if err != nil {
			return err
		}
		b.Color = seriesColor[i%len(seriesColor)]
		b.LineStyle.Width = 0
		b.Offset = width * vg.Length(2*i-len(series)+1) / 2
		p.Add(b)
		p.Legend.Add(names[i], b)
	}
	return nil
}

// memoryPlot: idle server cost per connection by transport, with targets.
func memoryPlot(rows []result) ([]*plot.Plot, error) {
	idle := latest(rows, "idle")
	ts := present(idle)
	if len(ts) == 0 {
		return nil, nil
	}
	p := newPlot("Idle server memory per connection", "", "KiB per connection")
	var rss, live, stack, target []float64
	for _, t := range ts {
		r := idle[t]
		rss = append(rss, r.RSSPerConn/1024)
		live = append(live, max(r.LiveHeapPerConn, 0)/1024)
		stack = append(stack, max(r.StackPerConn, 0)/1024)
		target = append(target, idleTargetKB[t]*1000/1024)
	}
	if err := bars(p, []string{"RSS delta", "live heap", "goroutine stacks", "RSS target"}, [][]float64{rss, live, stack, target}); err != nil {
		return nil, err
	}
	p.NominalX(labels(ts, idle)...)
	headroom(p, rss, live, stack, target)
	return []*plot.Plot{p}, nil
}

func labels(ts []string, m map[string]*result) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = fmt.Sprintf("%s (%d)", t, m[t].ConnsOK)
	}
	return out
}

// throughputPlots: deliveries/s and CPU-s per million deliveries by
// transport, at saturation and in the goim-room run.
func throughputPlots(rows []result) ([]*plot.Plot, error) {
	sat, room := latest(rows, "saturation"), latest(rows, "goim-room")
	var ts []string
	for _, t := range transports {
		if sat[t] != nil || room[t] != nil {
			ts = append(ts, t)
		}
	}
	if len(ts) == 0 {
		return nil, nil
	}
	get := func(m map[string]*result, f func(*result) float64) []float64 {
		out := make([]float64, len(ts))
		for i, t := range ts {
			if m[t] != nil {
				out[i] = f(m[t])
			}
		}
		return out
	}
	satMax := get(sat, func(r *result) float64 {
		if r.Saturation == nil {
			return 0
		}
		return r.Saturation.MaxDeliveriesPerS / 1000
	})
	satPeak := get(sat, func(r *result) float64 {
		if r.Saturation == nil {
			return 0
		}
		return r.Saturation.PeakDeliveriesPerS / 1000
	})
	roomD := get(room, func(r *result) float64 { return r.DeliveriesPerS / 1000 })
	p1 := newPlot("Deliveries per second", "", "thousand deliveries/s")
	if err := bars(p1, []string{"max sustained (saturation)", "peak, any step", "goim-room run"}, [][]float64{satMax, satPeak, roomD}); err != nil {
		return nil, err
	}
	p1.NominalX(ts...)
	headroom(p1, satMax, satPeak, roomD)

	satCPU := get(sat, func(r *result) float64 {
		if r.Saturation == nil {
			return 0
		}
		return r.Saturation.CPUsPerMillion
	})
	roomCPU := get(room, func(r *result) float64 { return r.CPUsPerMillion })
	p2 := newPlot("Server CPU per million deliveries (lower is better)", "", "CPU-seconds per million deliveries")
	if err := bars(p2, []string{"at max sustained rate", "goim-room run"}, [][]float64{satCPU, roomCPU}); err != nil {
		return nil, err
	}
	target, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 1e6 / fanoutTarget}, {X: float64(len(ts)) - 0.5, Y: 1e6 / fanoutTarget}})
	if err != nil {
		return nil, err
	}
	target.Color = color.Black
	target.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p2.Add(target)
	p2.Legend.Add("target: 1.5M per CPU-s (TCP, WS)", target)
	p2.NominalX(ts...)
	headroom(p2, satCPU, roomCPU, []float64{1e6 / fanoutTarget})
	return []*plot.Plot{p1, p2}, nil
}

// Percentiles on the latency plots' x axis, placed at -log10(1-q).
var percentileTicks = []struct {
	q     float64
	label string
}{{0.5, "p50"}, {0.9, "p90"}, {0.99, "p99"}, {0.999, "p99.9"}, {0.9999, "p99.99"}}

// latencyPlots: the latency percentile spectrum by transport, in the
// goim-room run and at half the saturation rate.
func latencyPlots(rows []result) ([]*plot.Plot, error) {
	var out []*plot.Plot
	for _, src := range []struct {
		scenario, title string
	}{
		{"goim-room", "Push-to-client latency, goim-room run"},
		{"saturation", "Latency at half the saturation rate"},
		{"many-rooms", "Latency, many rooms with churn"},
	} {
		m := latest(rows, src.scenario)
		p := newPlot(src.title, "percentile", "milliseconds (log)")
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{}
		var ticks []plot.Tick
		for _, t := range percentileTicks {
			ticks = append(ticks, plot.Tick{Value: -math.Log10(1 - t.q), Label: t.label})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.X.Min, p.X.Max = 0.25, 4.05
		n := 0
		for _, t := range transports {
			r := m[t]
			if r == nil || r.LatencyHist == nil || r.LatencyHist.N == 0 {
				continue
			}
			var h histogram
			h.add(*r.LatencyHist)
			var xys plotter.XYs
			for x := 0.0; x <= 4.0001; x += 0.05 {
				q := 1 - math.Pow(10, -x)
				if q < 0.5 {
					continue
				}
				xys = append(xys, plotter.XY{X: x, Y: max(h.quantile(q)/1000, 0.01)})
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return nil, err
			}
			l.Color = transportColor[t]
			l.Width = vg.Points(2)
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("%s (%d conns, %.0f/s)", t, r.ConnsOK, latencyRate(r)), l)
			n++
		}
		if n > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func latencyRate(r *result) float64 {
	if r.Saturation != nil {
		return r.Saturation.HalfRate
	}
	return r.Rate
}

// saturationPlot: deliveries/s against deliveries offered, step by step.
func saturationPlot(rows []result) ([]*plot.Plot, error) {
	sat := latest(rows, "saturation")
	ts := present(sat)
	if len(ts) == 0 {
		return nil, nil
	}
	p := newPlot("Saturation search: delivered against offered", "offered deliveries/s (pushes/s x connections, log)", "delivered/s (log)")
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker, p.Y.Tick.Marker = logTicks{}, logTicks{}
	lo, hi := math.Inf(1), 0.0
	for _, t := range ts {
		r := sat[t]
		if r.Saturation == nil {
			continue
		}
		var xys plotter.XYs
		for _, s := range r.Saturation.Steps {
			if (s.Phase == "search" || s.Phase == "refine") && s.Offered > 0 && s.DeliveriesPerS > 0 {
				xys = append(xys, plotter.XY{X: s.Rate * float64(r.ConnsOK), Y: s.DeliveriesPerS})
				lo, hi = min(lo, s.Rate*float64(r.ConnsOK)), max(hi, s.Rate*float64(r.ConnsOK))
			}
		}
		if len(xys) == 0 {
			continue
		}
		sortXY(xys)
		l, pts, err := plotter.NewLinePoints(xys)
		if err != nil {
			return nil, err
		}
		l.Color, pts.Color = transportColor[t], transportColor[t]
		l.Width = vg.Points(2)
		p.Add(l, pts)
		p.Legend.Add(fmt.Sprintf("%s (%d conns)", t, r.ConnsOK), l)
	}
	if hi == 0 {
		return nil, nil
	}
	ideal, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return nil, err
	}
	ideal.Color = color.Gray{0x80}
	ideal.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(ideal)
	p.Legend.Add("all delivered in time", ideal)
	return []*plot.Plot{p}, nil
}

func sortXY(xys plotter.XYs) {
	for i := 1; i < len(xys); i++ {
		for j := i; j > 0 && xys[j].X < xys[j-1].X; j-- {
			xys[j], xys[j-1] = xys[j-1], xys[j]
		}
	}
}

// headroom starts the y axis at 0 and leaves room above the bars for the
// legend.
func headroom(p *plot.Plot, series ...[]float64) {
	top := 0.0
	for _, vs := range series {
		for _, v := range vs {
			top = max(top, v)
		}
	}
	p.Y.Min = 0
	if top > 0 {
		p.Y.Max = top * 1.45
	}
}

// logTicks labels 1, 2 and 5 times each power of ten on a log axis, with
// unlabelled minor ticks at the other multiples.
type logTicks struct{}

func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= lo {
		return nil
	}
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := float64(m) * base
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 2 || m == 5 {
				t.Label = tickLabel(v)
			}
			ticks = append(ticks, t)
		}
	}
	labelled := 0
	for _, t := range ticks {
		if t.Label != "" {
			labelled++
		}
	}
	if labelled < 3 {
		// A narrow range: label every tick.
		for i := range ticks {
			ticks[i].Label = tickLabel(ticks[i].Value)
		}
	}
	return ticks
}

func tickLabel(v float64) string {
	if v >= 1e6 {
		return fmt.Sprintf("%gM", v/1e6)
	}
	if v >= 1e4 {
		return fmt.Sprintf("%gk", v/1000)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
