package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// roomsResult is what the many-rooms scenario measured.
type roomsResult struct {
	Groups      int     `json:"groups"`
	GroupSize   int     `json:"group_size"`
	GroupShare  float64 `json:"group_share"`
	ChurnPerMin float64 `json:"churn_per_min"`
	// In-window pushes accepted by the API, to groups and to users.
	GroupPushes int64 `json:"group_pushes"`
	UserPushes  int64 `json:"user_pushes"`
	// Expected deliveries (members joined before the push and not closed
	// on purpose within the grace time after it), those delivered, those
	// lost; Extra are deliveries to members not expected to get them
	// (joined or closing around the push), Duplicates repeated deliveries
	// of one push to one session.
	Expected   int64 `json:"expected"`
	Delivered  int64 `json:"delivered"`
	Lost       int64 `json:"lost"`
	Extra      int64 `json:"extra"`
	Duplicates int64 `json:"duplicates"`
	// Reconnects made by the churn, failed ones, and the time a reconnect
	// took (dial, auth, join).
	Reconnects      int64   `json:"reconnects"`
	ReconnectErrors int64   `json:"reconnect_errors"`
	ReconnectP50ms  float64 `json:"reconnect_p50_ms"`
	ReconnectP99ms  float64 `json:"reconnect_p99_ms"`
}

// pushRec is one push as the many-rooms accounting needs it.
type pushRec struct {
	t  int64 // due time, unix nanos
	ok bool  // accepted by the API
}

// runManyRooms is Centrifugo's 2020 benchmark shape scaled down: every
// connection is its user's only session and a member of one group room;
// pushes go at a steady rate to random groups or users; a share of the
// connections is closed and opened again every minute. Each push carries
// its number, so the accounting knows which session should have got which
// push.
func runManyRooms(ctx context.Context, c config, tgt *target, res *result) error {
	lay := roomsLayout{conns: c.conns, groupSize: c.rooms.groupSize, groupShare: c.rooms.groupShare, seed: 0x9e3779b97f4a7c15}
	rooms := func(i int) []string { return []string{groupRoom(lay.groupOf(i))} }
	f, st, err := openLocal(ctx, c, tgt, c.conns, 0, rooms, true)
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			f.close()
		}
	}()
	res.setConnect(st)
	logf("connected %d of %d in %.2fs (%.0f/s), %d failed; %d groups of %d", res.ConnsOK, c.conns, res.ConnectS, res.ConnectPerS, res.ConnectFails, lay.groups(), lay.groupSize)
	if res.ConnsOK == 0 {
		res.Errors, _ = f.errors()
		return fmt.Errorf("no connection succeeded: %v", res.Errors)
	}
	rr := &roomsResult{Groups: lay.groups(), GroupSize: lay.groupSize, GroupShare: lay.groupShare, ChurnPerMin: c.rooms.churnPerMin}
	res.ManyRooms = rr

	// Pushes are recorded by number; the pusher's workers write distinct
	// elements.
	recs := make([]pushRec, int(c.rate*(c.warmup+c.duration).Seconds())+int(c.rate)+64)
	var overflow atomic.Int64
	done := func(n, t int64, err error) {
		if n >= int64(len(recs)) {
			overflow.Add(1)
			return
		}
		recs[n] = pushRec{t: t, ok: err == nil}
	}
	pick := func(n int64) pushTarget {
		g, idx := lay.target(n)
		if g {
			return pushTarget{room: groupRoom(idx)}
		}
		return pushTarget{user: f.cl.user(idx)}
	}

	// Churn from the start of the warmup to the end of the window.
	var reconnects, reconnectErrs atomic.Int64
	var reconnectLat histogram
	churnCtx, stopChurn := context.WithCancel(ctx)
	var churners sync.WaitGroup
	if iv := churnInterval(c.conns, c.rooms.churnPerMin); iv > 0 {
		churners.Go(func() {
			rng := rand.New(rand.NewPCG(2, 3))
			tk := time.NewTicker(iv)
			defer tk.Stop()
			sem := make(chan struct{}, 16)
			for {
				select {
				case <-churnCtx.Done():
					return
				case <-tk.C:
				}
				select {
				case sem <- struct{}{}:
				default:
					continue // reconnects are piling up: skip this one
				}
				i := rng.IntN(c.conns)
				churners.Go(func() {
					defer func() { <-sem }()
					d, err := f.cl.reopen(churnCtx, i)
					if err != nil {
						if churnCtx.Err() == nil {
							reconnectErrs.Add(1)
							f.cl.errs.add("reconnect: " + err.Error())
						}
						return
					}
					reconnects.Add(1)
					reconnectLat.record(uint64(d.Microseconds()))
				})
			}
		})
	}

	// expected counts the deliveries the window's accepted pushes should
	// make, from the sessions as they are now.
	var grp, usr int64
	expected := func(int64) int64 {
		sess := sessionsBySlot(f.cl)
		var n int64
		grp, usr = 0, 0
		lo, hi := f.cl.winStart.Load(), f.cl.winEnd.Load()
		for i, r := range recs {
			if !r.ok || r.t < lo || r.t >= hi {
				continue
			}
			isGroup, idx := lay.target(int64(i))
			from, to := idx, idx+1
			if isGroup {
				grp++
				from, to = lay.members(idx)
			} else {
				usr++
			}
			for m := from; m < to; m++ {
				for _, s := range sess[m] {
					if s.expects(r.t, c.rooms.grace) {
						n++
					}
				}
			}
		}
		return n
	}
	ph := phase{
		rate: c.rate, warmup: c.warmup, duration: c.duration, drain: c.drain, cpuProfile: c.cpuProfile,
		pick: pick, numbered: true, done: done, expected: expected, stall: 2 * time.Second, progress: true,
	}
	err = pushPhase(ctx, c, tgt, f, ph, res)
	stopChurn()
	churners.Wait()
	if err != nil {
		return err
	}
	h, _ := f.latency()
	snap := h.snapshot()
	res.LatencyHist = &snap
	if c.heapProfile != "" && tgt.fetchProfile(ctx, "heap?gc=1", c.heapProfile) == nil {
		res.HeapProfile = filepath.Base(c.heapProfile)
	}
	t := f.totals()
	res.Pongs = t.Pongs

	// Close everything so that every reader has returned before the
	// sessions' push lists are read.
	f.close()
	closed = true
	rr.Expected = expected(0)
	rr.GroupPushes, rr.UserPushes = grp, usr
	rr.Reconnects, rr.ReconnectErrors = reconnects.Load(), reconnectErrs.Load()
	rr.ReconnectP50ms, rr.ReconnectP99ms = reconnectLat.quantile(0.5)/1000, reconnectLat.quantile(0.99)/1000
	lo, hi := f.cl.winStart.Load(), f.cl.winEnd.Load()
	for _, cn := range allSessions(f.cl) {
		s := session{joined: cn.joined.Load(), closed: cn.closed.Load()}
		got := slices.Clone(cn.got)
		slices.Sort(got)
		for k, n := range got {
			if k > 0 && got[k-1] == n {
				rr.Duplicates++
				continue
			}
			if int(n) >= len(recs) {
				rr.Extra++
				continue
			}
			r := recs[n]
			if !r.ok || r.t < lo || r.t >= hi || !s.expects(r.t, c.rooms.grace) || !lay.reaches(int64(n), cn.i) {
				rr.Extra++
				continue
			}
			rr.Delivered++
		}
	}
	rr.Lost = rr.Expected - rr.Delivered
	res.Expected, res.Lost = rr.Expected, rr.Lost
	if n := overflow.Load(); n > 0 {
		res.PushErrs = addErr(res.PushErrs, "pushes past the accounting's end", n)
	}
	res.Errors, res.Disconnects = f.errors()
	logf("many-rooms: %d group and %d user pushes, %d deliveries expected, %d delivered, %d lost, %d extra, %d duplicates; %d reconnects (%d failed), reconnect p50 %.1f ms p99 %.1f ms",
		rr.GroupPushes, rr.UserPushes, rr.Expected, rr.Delivered, rr.Lost, rr.Extra, rr.Duplicates, rr.Reconnects, rr.ReconnectErrors, rr.ReconnectP50ms, rr.ReconnectP99ms)
	return nil
}

// reaches tells whether push n is addressed to connection i.
func (l roomsLayout) reaches(n int64, i int) bool {
	isGroup, idx := l.target(n)
	if isGroup {
		return l.groupOf(i) == idx
	}
	return idx == i
}

func addErr(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	m[k] += n
	return m
}

// sessionsBySlot returns every session's lifetime, by slot.
func sessionsBySlot(cl *clients) map[int][]session {
	out := map[int][]session{}
	for _, cn := range allSessions(cl) {
		out[cn.i] = append(out[cn.i], session{joined: cn.joined.Load(), closed: cn.closed.Load()})
	}
	return out
}

func allSessions(cl *clients) []*conn {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return slices.Clone(cl.sessions)
}
