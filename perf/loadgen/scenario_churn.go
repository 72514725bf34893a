package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// churnConfig shapes the churn scenario.
type churnConfig struct {
	parallel int // connections cycling at once
}

// churnResult is what the churn scenario measured.
type churnResult struct {
	Parallel int `json:"parallel"`
	// Cycles completed (dial, auth, join, leave, close), per second, and
	// failed ones.
	Cycles     int64   `json:"cycles"`
	CyclesPerS float64 `json:"cycles_per_s"`
	Failures   int64   `json:"failures"`
	// Handshake is dial to JoinOK; cycle adds Leave and close.
	HandshakeP50ms float64 `json:"handshake_p50_ms"`
	HandshakeP99ms float64 `json:"handshake_p99_ms"`
	CycleP50ms     float64 `json:"cycle_p50_ms"`
	CycleP99ms     float64 `json:"cycle_p99_ms"`
	// Server CPU per cycle, milliseconds.
	ServerCPUmsPerCycle float64 `json:"server_cpu_ms_per_cycle"`
	// The server's goroutines and RSS before churning and after it, once
	// the last connections had a few seconds to go away: growth here is
	// a leak.
	GoroutinesBefore float64 `json:"goroutines_before"`
	GoroutinesAfter  float64 `json:"goroutines_after"`
	RSSBefore        int64   `json:"rss_before_bytes"`
	RSSAfter         int64   `json:"rss_after_bytes"`
	HeapBefore       float64 `json:"heap_before_bytes"`
	HeapAfter        float64 `json:"heap_after_bytes"`
}

// runChurn opens, authenticates, joins, leaves and closes connections as
// fast as c.churn.parallel loops can, for c.duration.
func runChurn(ctx context.Context, c config, tgt *target, res *result) error {
	var src []net.IP
	if c.sources > 0 {
		src = sourceAddrs(c.sourceBase, c.sources)
	}
	dial, pool, err := dialer(c.transport, tgt, 0, src, c.quicSockets)
	if err != nil {
		return err
	}
	if pool != nil {
		defer pool.close()
	}
	cl := newClients(dial, 0, 0, oneRoom(c.room), tgt.jwtSecret, 2*time.Hour, 4*runtime.GOMAXPROCS(0))
	cr := &churnResult{Parallel: c.churn.parallel}
	res.Churn = cr

	_, _ = tgt.liveHeap(ctx, "")
	before, beforeM := serverMemory(tgt)
	cr.GoroutinesBefore, cr.RSSBefore, cr.HeapBefore = beforeM.goroutines, before.rss, beforeM.heapInuse

	var hsLat, cycleLat histogram
	var cycles, fails, next atomic.Int64
	g0, s0, b0, st0 := readProc(selfPID()).cpu, serverCPU(tgt), machineBusy(), machineSteal()
	start := time.Now()
	end := start.Add(c.duration)
	cctx, cancel := context.WithDeadline(ctx, end)
	defer cancel()
	// Failures at the end are the deadline cutting a cycle short: a dial
	// sees its deadline pass a moment before the context says so.
	live := func() bool { return time.Now().Before(end) && cctx.Err() == nil }
	logf("churning %s connections, %d at a time, for %v", c.transport, c.churn.parallel, c.duration)
	profDone := make(chan struct{})
	go func() {
		defer close(profDone)
		if c.cpuProfile == "" {
			return
		}
		secs := max(1, int(c.duration.Seconds()))
		if err := tgt.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), c.cpuProfile); err != nil {
			logf("cpu profile: %v", err)
			return
		}
		res.CPUProfile = filepath.Base(c.cpuProfile)
	}()
	var wg sync.WaitGroup
	for range c.churn.parallel {
		wg.Go(func() {
			for live() {
				// Users cycle through a bounded set; slots spread the
				// source addresses.
				i := int(next.Add(1) % 1_000_000)
				t0 := time.Now()
				cn, err := cl.handshake(cctx, i)
				if err != nil {
					if live() {
						fails.Add(1)
						cl.errs.add(err.Error())
					}
					continue
				}
				hsLat.record(uint64(time.Since(t0).Microseconds()))
				room := c.room
				_, err = cn.request(wire.OpLeave, room, func(seq uint32) []byte {
					return wire.AppendRoom(nil, wire.OpLeave, seq, room)
				}, cl)
				cn.l.close()
				if err != nil {
					if live() {
						fails.Add(1)
						cl.errs.add("leave: " + err.Error())
					}
					continue
				}
				cycleLat.record(uint64(time.Since(t0).Microseconds()))
				cycles.Add(1)
			}
		})
	}
	wg.Wait()
	<-profDone
	wall := time.Since(start).Seconds()
	g1, s1, b1, st1 := readProc(selfPID()).cpu, serverCPU(tgt), machineBusy(), machineSteal()

	cr.Cycles, cr.Failures = cycles.Load(), fails.Load()
	cr.CyclesPerS = float64(cr.Cycles) / wall
	cr.HandshakeP50ms, cr.HandshakeP99ms = hsLat.quantile(0.5)/1000, hsLat.quantile(0.99)/1000
	cr.CycleP50ms, cr.CycleP99ms = cycleLat.quantile(0.5)/1000, cycleLat.quantile(0.99)/1000
	res.ServerCPUs = (s1 - s0).Seconds()
	res.ServerCPUUtil = res.ServerCPUs / wall
	if cr.Cycles > 0 {
		cr.ServerCPUmsPerCycle = res.ServerCPUs / float64(cr.Cycles) * 1000
	}
	res.GenCPUs = (g1 - g0).Seconds()
	res.GenCPUUtil = res.GenCPUs / wall / float64(genCores())
	res.OtherCPUUtil = max(0, (b1-b0).Seconds()-res.ServerCPUs-res.GenCPUs) / wall
	res.StealUtil = (st1 - st0).Seconds() / wall
	res.ConnsOK = int(cr.Cycles)
	res.ConnectS = wall
	res.ConnectPerS = cr.CyclesPerS
	res.ConnectFails = cr.Failures
	snap := hsLat.snapshot()
	res.LatencyHist = &snap
	logf("churn: %d cycles (%.0f/s), %d failed; handshake p50 %.1f ms p99 %.1f ms; server %.0f%% of a core, %.2f ms CPU per cycle",
		cr.Cycles, cr.CyclesPerS, cr.Failures, cr.HandshakeP50ms, cr.HandshakeP99ms, 100*res.ServerCPUUtil, cr.ServerCPUmsPerCycle)

	// Give the server time to tear the last connections down, then look
	// for what stayed behind.
	sleep(ctx, 3*time.Second)
	if c.heapProfile != "" {
		if tgt.fetchProfile(ctx, "heap?gc=1", c.heapProfile) == nil {
			res.HeapProfile = filepath.Base(c.heapProfile)
		}
	} else {
		_, _ = tgt.liveHeap(ctx, "")
	}
	after, afterM := serverMemory(tgt)
	cr.GoroutinesAfter, cr.RSSAfter, cr.HeapAfter = afterM.goroutines, after.rss, afterM.heapInuse
	res.Errors = cl.errs.snapshot()
	res.Disconnects = cl.disconnects.snapshot()
	if cr.GoroutinesAfter > cr.GoroutinesBefore+float64(c.churn.parallel) {
		res.Errors[fmt.Sprintf("server goroutines grew from %.0f to %.0f", cr.GoroutinesBefore, cr.GoroutinesAfter)]++
	}
	return nil
}
