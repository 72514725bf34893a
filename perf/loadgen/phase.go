package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// phase is one push phase: a steady rate through a warmup and a measured
// window, then a drain.
type phase struct {
	rate                    float64
	warmup, duration, drain time.Duration
	// cpuProfile, when set, receives the server's CPU profile over the
	// window.
	cpuProfile string
	// pick, numbered and done are handed to the pusher (many-rooms).
	pick     func(n int64) pushTarget
	numbered bool
	done     func(n, t int64, err error)
	// expected returns how many deliveries the window's pushes should make;
	// nil means every accepted push to every connection. The drain ends
	// when they all arrived or arrivals stall.
	expected func(accepted int64) int64
	// stall ends the drain when nothing arrived for this long (0: 3 s;
	// QUIC recovers lost packets with backoff).
	stall time.Duration
	// progress logs deliveries and CPU once a second.
	progress bool
	// pusher, when set, is used instead of a new one (warmed before the
	// clients connected).
	pusher *pusher
}

// drainQuiet is how long arrivals must stop, once more deliveries than
// expected arrived, before the drain ends.
const drainQuiet = time.Second

// pushPhase pushes through the warmup and the measured window, waits for the
// window's deliveries and fills in the delivery, latency and CPU figures of
// res. The latency histogram stays in the fleet for the caller to read.
func pushPhase(ctx context.Context, c config, tgt *target, f fleet, ph phase, res *result) error {
	srvUDP := map[int]bool{}
	genUDP := f.udpPorts()
	if len(genUDP) > 0 {
		for _, a := range tgt.quic {
			srvUDP[port(a)] = true
		}
	}
	p := ph.pusher
	if p == nil {
		p = newPusher(tgt.api, tgt.apiKey, c.room, c.payload)
	}
	p.pick, p.numbered, p.done = ph.pick, ph.numbered, ph.done
	defer p.transport.CloseIdleConnections()
	pctx, stopPush := context.WithCancel(ctx)
	defer stopPush()
	pushDone := make(chan struct{})
	go func() { p.run(pctx, ph.rate, c.pushers); close(pushDone) }()

	if ph.progress {
		logf("pushing %.0f/s: %v warmup, then %v measured", ph.rate, ph.warmup, ph.duration)
	}
	if !sleep(ctx, ph.warmup) {
		return ctx.Err()
	}
	m0 := tgt.metrics()
	g0, ss0, b0, st0 := f.genCPU(), tgt.sample(), machineBusy(), machineSteal()
	s0 := ss0.cpu
	t0 := f.totals()
	sd0, gd0 := udpDrops(srvUDP), udpDrops(genUDP)
	winStart := time.Now()
	winEnd := winStart.Add(ph.duration)
	// The window is set ahead for both ends: pushes are stamped with their
	// due time, and no push is due after winEnd before the pusher stops.
	p.setWindow(winStart.UnixNano(), winEnd.UnixNano())
	f.setWindow(winStart.UnixNano(), winEnd.UnixNano())
	profDone := make(chan struct{})
	if ph.cpuProfile != "" {
		go func() {
			defer close(profDone)
			secs := max(1, int(ph.duration.Seconds()))
			if err := tgt.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), ph.cpuProfile); err != nil {
				logf("cpu profile: %v", err)
			} else {
				res.CPUProfile = filepath.Base(ph.cpuProfile)
				logf("cpu profile saved to %s", ph.cpuProfile)
			}
		}()
	} else {
		close(profDone)
	}
	defer func() { <-profDone }()

	// Progress once a second.
	tk := time.NewTicker(time.Second)
	lastA, lastS, lastG, lastB, lastT := t0.Arrivals, s0, g0, b0, winStart
	for time.Now().Before(winEnd) {
		select {
		case <-ctx.Done():
			tk.Stop()
			return ctx.Err()
		case now := <-tk.C:
			if !ph.progress {
				continue
			}
			a, s, g, b := f.totals().Arrivals, serverCPU(tgt), f.genCPU(), machineBusy()
			dt := now.Sub(lastT).Seconds()
			logf("  %7.0f deliveries/s   server CPU %3.0f%%   generator CPU %3.0f%%   others %3.0f%%",
				float64(a-lastA)/dt, 100*(s-lastS).Seconds()/dt, 100*(g-lastG).Seconds()/dt,
				100*max(0, (b-lastB)-(s-lastS)-(g-lastG)).Seconds()/dt)
			lastA, lastS, lastG, lastB, lastT = a, s, g, b, now
		case <-time.After(time.Until(winEnd)):
		}
	}
	tk.Stop()
	stopPush()
	<-pushDone
	pushEnd := time.Now()

	// Wait for the window's deliveries: until all arrived, nothing arrived
	// for the stall time, or the drain limit.
	expected := p.accepted.Load() * int64(res.ConnsOK)
	if ph.expected != nil {
		expected = ph.expected(p.accepted.Load())
	}
	stall := ph.stall
	if stall <= 0 {
		stall = 3 * time.Second
	}
	poll := 20 * time.Millisecond
	if _, remote := f.(*workerFleet); remote {
		poll = 100 * time.Millisecond
	}
	deadline := pushEnd.Add(ph.drain)
	prev, still := int64(-1), time.Now()
	for {
		got := f.totals().Delivered
		if got != prev {
			prev, still = got, time.Now()
		}
		// More than expected means the count holds deliveries nobody
		// expected (a connection that joined after a push got it): it no
		// longer proves that the expected ones all arrived, so wait until
		// arrivals stop for drainQuiet, which is longer than the server
		// holds a message (its write budget, 350 ms by default).
		if (got == expected || got > expected && time.Since(still) > drainQuiet) || time.Now().After(deadline) {
			break
		}
		if time.Since(still) > stall {
			break
		}
		if !sleep(ctx, poll) {
			return ctx.Err()
		}
	}
	g1, ss1, b1, st1 := f.genCPU(), tgt.sample(), machineBusy(), machineSteal()
	s1 := ss1.cpu
	t1 := f.totals()
	res.ServerUDPDrops, res.GenUDPDrops = udpDrops(srvUDP)-sd0, udpDrops(genUDP)-gd0
	wall := time.Since(winStart).Seconds()
	m1 := tgt.metrics()
	if len(tgt.procs) > 0 && ss1.ok {
		res.ServerEndRSS = ss1.rss
	}

	lat, last := f.latency()
	res.Rate, res.DurationS, res.WarmupS = ph.rate, ph.duration.Seconds(), ph.warmup.Seconds()
	res.Pushes = p.accepted.Load()
	res.PushErrors = p.failed.Load()
	res.PushRate = float64(res.Pushes+res.PushErrors) / ph.duration.Seconds()
	res.PushesBehind = p.behind.Load()
	res.Expected = expected
	res.Deliveries = int64(lat.count())
	res.Lost = expected - res.Deliveries
	span := max(ph.duration.Seconds(), last.Sub(winStart).Seconds())
	res.DeliveriesPerS = float64(res.Deliveries) / span
	res.DrainS = max(0, last.Sub(winEnd).Seconds())
	ms := func(us float64) float64 { return us / 1000 }
	res.P50ms, res.P90ms = ms(lat.quantile(0.5)), ms(lat.quantile(0.9))
	res.P99ms, res.P999ms = ms(lat.quantile(0.99)), ms(lat.quantile(0.999))
	res.MaxMs, res.MeanMs = ms(float64(lat.max.Load())), ms(lat.mean())
	res.PushCallP50ms, res.PushCallP99ms = ms(p.callLat.quantile(0.5)), ms(p.callLat.quantile(0.99))

	res.MeasuredFrames = t1.Arrivals - t0.Arrivals
	if t1.Reads > t0.Reads {
		res.PushesPerRead = float64(t1.Arrivals-t0.Arrivals) / float64(t1.Reads-t0.Reads)
	}
	res.ServerCPUs = (s1 - s0).Seconds()
	serverGone := s1 < s0 || ss1.gone()
	if serverGone {
		// The server is gone: its CPU time went with it.
		res.ServerCPUs = 0
	}
	if res.MeasuredFrames > 0 {
		res.CPUsPerMillion = res.ServerCPUs / float64(res.MeasuredFrames) * 1e6
	}
	res.ServerCPUUtil = res.ServerCPUs / wall
	if len(tgt.procs) > 1 && !serverGone {
		for i, p := range tgt.procs {
			pr := res.proc(p.name)
			pr.CPUs = (ss1.procs[i].cpu - ss0.procs[i].cpu).Seconds()
			pr.CPUUtil = pr.CPUs / wall
			if res.MeasuredFrames > 0 {
				pr.CPUsPerMillion = pr.CPUs / float64(res.MeasuredFrames) * 1e6
			}
			pr.EndRSS = ss1.procs[i].rss
		}
	}
	res.GenCPUs = (g1 - g0).Seconds()
	res.GenCPUUtil = res.GenCPUs / wall / float64(genCores())
	res.OtherCPUUtil = max(0, (b1-b0).Seconds()-res.ServerCPUs-res.GenCPUs) / wall
	res.StealUtil = (st1 - st0).Seconds() / wall
	if res.OtherCPUUtil > 0.15 || res.StealUtil > 0.1 {
		logf("warning: other processes used %.2f cores and the hypervisor stole %.2f during the measurement",
			res.OtherCPUUtil, res.StealUtil)
	}
	res.ServerQueued = int64(m1.deliveries - m0.deliveries)
	if n := m1.apiCount - m0.apiCount; n > 0 {
		res.APIHandleMs = (m1.apiSum - m0.apiSum) / n * 1000
	}
	if n := m1.edgeCount - m0.edgeCount; n > 0 {
		res.AcceptToEdgeMs = (m1.edgeSum - m0.edgeSum) / n * 1000
	}
	if db := m1.batchCount - m0.batchCount; db > 0 {
		res.AvgCoreBatch = (m1.batchSum - m0.batchSum) / db
	}
	res.SlowConsumers = m1.slowConsumers
	if len(m1.disconnects) > 0 {
		res.ServerDisconnects = m1.disconnects
	}
	if res.PushErrs == nil {
		res.PushErrs = map[string]int64{}
	}
	for k, v := range p.errs.snapshot() {
		res.PushErrs[k] += v
	}
	if serverGone {
		res.PushErrs["server exited during the measurement"]++
	}
	return nil
}

// genCores is the number of CPUs the generator may run on.
func genCores() int {
	n := 0
	for _, c := range cpuAffinity() {
		if c == ',' {
			n++
		}
	}
	return max(n+1, 1)
}
