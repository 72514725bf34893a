package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// satResult is what the saturation scenario found.
type satResult struct {
	Steps []satStep `json:"steps"`
	// MaxRate is the highest rate (pushes/s to the room) sustained;
	// MaxDeliveriesPerS and CPUsPerMillion come from the confirm step at
	// that rate.
	MaxRate           float64 `json:"max_rate"`
	MaxDeliveriesPerS float64 `json:"max_deliveries_per_s"`
	CPUsPerMillion    float64 `json:"cpu_s_per_million"`
	// PeakDeliveriesPerS is the most deliveries/s of any step, sustained
	// or not.
	PeakDeliveriesPerS float64 `json:"peak_deliveries_per_s"`
	// Latency at half the sustained rate (the half step).
	HalfRate   float64 `json:"half_rate"`
	HalfP50ms  float64 `json:"half_p50_ms"`
	HalfP99ms  float64 `json:"half_p99_ms"`
	HalfP999ms float64 `json:"half_p999_ms"`
	// Limit says which side ran out first at the first unsustained step:
	// "server core", "generator core", or "neither" (latency or loss
	// without a full core).
	Limit string `json:"limit"`
}

// runSaturation connects c.conns connections in one room and raises the
// push rate step by step (see satConfig.satNext) until deliveries/s stop
// rising or losses or latency blow up; then it measures the highest
// sustained rate again (with the CPU profile) and half of it (latency).
func runSaturation(ctx context.Context, c config, tgt *target, res *result) error {
	f, st, err := openLocal(ctx, c, tgt, c.conns, 0, oneRoom(c.room), false)
	if err != nil {
		return err
	}
	defer f.close()
	res.setConnect(st)
	if res.ConnsOK == 0 {
		res.Errors, _ = f.errors()
		return fmt.Errorf("no connection succeeded: %v", res.Errors)
	}
	logf("connected %d in %.2fs; searching from %.0f pushes/s x %g", res.ConnsOK, res.ConnectS, c.rate, c.sat.factor)
	if !sleep(ctx, time.Second) {
		return ctx.Err()
	}
	sat := &satResult{}
	res.Saturation = sat
	drain := min(c.drain, 5*time.Second)
	var halfHist *histSnapshot
	for {
		rate, ph := c.sat.satNext(c.rate, sat.Steps)
		if ph == "" {
			break
		}
		step := &result{ConnsOK: res.ConnsOK}
		warm := time.Second
		if len(sat.Steps) == 0 {
			// A fresh server warms up (goroutines, buffers) on the
			// first pushes.
			warm = 3 * time.Second
		}
		p := phase{rate: rate, warmup: warm, duration: c.sat.step, drain: drain, stall: time.Second}
		if ph == "confirm" && c.cpuProfile != "" {
			p.cpuProfile = c.cpuProfile
		}
		f.resetLatency()
		if err := pushPhase(ctx, c, tgt, f, p, step); err != nil {
			return err
		}
		// Every push of the step arrived, the last within the p99 limit
		// of the step's end: the server kept pace, and a server that holds
		// messages on purpose (its write budget) is not "behind" for the
		// hold. Its rate is then what was pushed, over the step.
		delivered := step.DeliveriesPerS
		if step.Lost == 0 && step.Expected > 0 && step.DrainS <= c.sat.p99Limit.Seconds() {
			delivered = float64(step.Deliveries) / c.sat.step.Seconds()
		}
		s := satStep{
			Phase: ph, Rate: rate, PushRate: step.PushRate,
			Offered:        float64(step.Pushes) * float64(res.ConnsOK) / c.sat.step.Seconds(),
			DeliveriesPerS: delivered, Expected: step.Expected, Lost: step.Lost,
			P50ms: step.P50ms, P99ms: step.P99ms, P999ms: step.P999ms,
			CPUsPerMillion: step.CPUsPerMillion, ServerCPUUtil: step.ServerCPUUtil, GenCPUUtil: step.GenCPUUtil,
			PushesPerRead: step.PushesPerRead, AvgCoreBatch: step.AvgCoreBatch,
		}
		s.Sustained, s.Why = c.sat.sustained(s)
		sat.Steps = append(sat.Steps, s)
		sat.PeakDeliveriesPerS = max(sat.PeakDeliveriesPerS, s.DeliveriesPerS)
		mark := "sustained"
		if !s.Sustained {
			mark = "NOT sustained: " + s.Why
			if sat.Limit == "" && ph == "search" {
				sat.Limit = limitOf(step)
			}
		}
		logf("  %-7s %8.1f pushes/s: %9.0f deliveries/s (offered %9.0f), lost %d, p99 %.1f ms, server %3.0f%%, gen %3.0f%%, %.2f CPU-s/M: %s",
			ph, rate, s.DeliveriesPerS, s.Offered, s.Lost, s.P99ms, 100*s.ServerCPUUtil, 100*s.GenCPUUtil, s.CPUsPerMillion, mark)
		res.OtherCPUUtil = max(res.OtherCPUUtil, step.OtherCPUUtil)
		res.StealUtil = max(res.StealUtil, step.StealUtil)
		res.ServerUDPDrops += step.ServerUDPDrops
		res.GenUDPDrops += step.GenUDPDrops
		for k, v := range step.PushErrs {
			if res.PushErrs == nil {
				res.PushErrs = map[string]int64{}
			}
			res.PushErrs[k] += v
		}
		switch ph {
		case "confirm":
			// The confirm step is the figure of record: copy it whole.
			sat.MaxRate, sat.MaxDeliveriesPerS, sat.CPUsPerMillion = rate, s.DeliveriesPerS, s.CPUsPerMillion
			copyMeasurement(res, step)
			res.CPUProfile = step.CPUProfile
		case "half":
			sat.HalfRate, sat.HalfP50ms, sat.HalfP99ms, sat.HalfP999ms = rate, s.P50ms, s.P99ms, s.P999ms
			h, _ := f.latency()
			snap := h.snapshot()
			halfHist = &snap
		}
		if !sleep(ctx, 300*time.Millisecond) {
			return ctx.Err()
		}
	}
	if sat.Limit == "" {
		sat.Limit = "not reached"
	}
	res.LatencyHist = halfHist
	if c.heapProfile != "" {
		if tgt.fetchProfile(ctx, "heap?gc=1", c.heapProfile) == nil {
			res.HeapProfile = filepath.Base(c.heapProfile)
		}
	}
	t := f.totals()
	res.Pongs = t.Pongs
	res.Errors, res.Disconnects = f.errors()
	return nil
}

// limitOf names the side whose core was (nearly) full in a step.
func limitOf(step *result) string {
	switch {
	case step.ServerCPUUtil >= 0.9 && step.ServerCPUUtil >= step.GenCPUUtil:
		return "server core"
	case step.GenCPUUtil >= 0.9:
		return "generator core"
	}
	return "neither"
}

// copyMeasurement copies the push-phase figures of one step into the run's
// result.
func copyMeasurement(dst, src *result) {
	dst.Rate, dst.Pushes, dst.PushErrors, dst.PushRate, dst.PushesBehind = src.Rate, src.Pushes, src.PushErrors, src.PushRate, src.PushesBehind
	dst.Deliveries, dst.Expected, dst.Lost, dst.DeliveriesPerS, dst.DrainS = src.Deliveries, src.Expected, src.Lost, src.DeliveriesPerS, src.DrainS
	dst.P50ms, dst.P90ms, dst.P99ms, dst.P999ms, dst.MaxMs, dst.MeanMs = src.P50ms, src.P90ms, src.P99ms, src.P999ms, src.MaxMs, src.MeanMs
	dst.PushCallP50ms, dst.PushCallP99ms, dst.APIHandleMs, dst.AcceptToEdgeMs = src.PushCallP50ms, src.PushCallP99ms, src.APIHandleMs, src.AcceptToEdgeMs
	dst.ServerCPUs, dst.CPUsPerMillion, dst.ServerCPUUtil, dst.GenCPUs, dst.GenCPUUtil = src.ServerCPUs, src.CPUsPerMillion, src.ServerCPUUtil, src.GenCPUs, src.GenCPUUtil
	dst.MeasuredFrames, dst.PushesPerRead, dst.ServerQueued, dst.AvgCoreBatch = src.MeasuredFrames, src.PushesPerRead, src.ServerQueued, src.AvgCoreBatch
	dst.ServerEndRSS, dst.SlowConsumers, dst.ServerDisconnects = src.ServerEndRSS, src.SlowConsumers, src.ServerDisconnects
	dst.DurationS = src.DurationS
}
