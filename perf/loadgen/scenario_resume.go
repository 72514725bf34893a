package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// The resume-storm scenario (docs/protocol.md, section 11): N connections in
// one room receive numbered pushes at rate R and remember the last position
// of the room's stream (and of their user's stream); then every connection is
// cut at once on the client side, pushes go on for a gap, and all reconnect
// at once (at most --storm-concurrency handshakes in flight) and rejoin with
// their positions. It measures how long until every client has its JoinOK
// and until every client has caught up (replay received, live again), what
// the JoinOKs said, and checks that every accepted push reached every
// client exactly once after dropping repeats by position.

// stormConfig shapes the resume-storm scenario.
type stormConfig struct {
	gap         time.Duration // how long the connections stay cut
	concurrency int           // reconnects in flight at once; 0: all
	timeout     time.Duration // longest wait, from the reconnects' start, for every client to catch up
	tail        time.Duration // pushing on after the last catch-up, before the drain
}

// stormResult is what the resume-storm scenario measured. Times are
// seconds from the cut unless named otherwise.
type stormResult struct {
	GapS float64 `json:"gap_s"`
	// Concurrency is the most reconnects in flight at once (the clients
	// when all went at once).
	Concurrency int `json:"reconnect_concurrency"`
	// Clients is the connections cut and reconnected.
	Clients int `json:"clients"`
	// CutS is how long closing every connection took.
	CutS float64 `json:"cut_s"`
	// AllRejoinedS: from the cut until the last client had its JoinOK;
	// AllCaughtUpS: until the last client had caught up: it holds every
	// push so far, without a gap, up to one due after its JoinOK.
	AllRejoinedS float64 `json:"all_rejoined_s"`
	AllCaughtUpS float64 `json:"all_caught_up_s"`
	// RejoinS and CatchUpS are the same from the start of the reconnects
	// (the cut plus the gap).
	RejoinS    float64 `json:"rejoin_s"`
	CatchUpS   float64 `json:"catch_up_s"`
	RejoinPerS float64 `json:"rejoin_per_s"`
	Rejoined   int64   `json:"rejoined"`
	CaughtUp   int64   `json:"caught_up"`
	TimedOut   bool    `json:"timed_out,omitempty"`
	// Per client: from the start of its reconnect to its JoinOK (retries
	// included), and from its JoinOK to caught up (at least the wait for
	// the next push due after it, up to 1/R).
	RejoinP50ms  float64 `json:"rejoin_p50_ms"`
	RejoinP99ms  float64 `json:"rejoin_p99_ms"`
	RejoinMaxMs  float64 `json:"rejoin_max_ms"`
	CatchUpP50ms float64 `json:"catch_up_p50_ms"`
	CatchUpP99ms float64 `json:"catch_up_p99_ms"`
	CatchUpMaxMs float64 `json:"catch_up_max_ms"`
	// The stages of the storm's successful handshakes, p50 and p99: dial
	// (TCP connect, or the QUIC or WebTransport handshake), Auth to AuthOK
	// (token check, user stream resumed), Join to JoinOK (room joined,
	// history read; the replay follows the JoinOK in the same write).
	DialP50ms float64 `json:"dial_p50_ms"`
	DialP99ms float64 `json:"dial_p99_ms"`
	AuthP50ms float64 `json:"auth_p50_ms"`
	AuthP99ms float64 `json:"auth_p99_ms"`
	JoinP50ms float64 `json:"join_p50_ms"`
	JoinP99ms float64 `json:"join_p99_ms"`
	// Attempts are the reconnect attempts, FailedAttempts those that failed
	// and were tried again after a backoff (by cause in the errors).
	Attempts       int64 `json:"attempts"`
	FailedAttempts int64 `json:"failed_attempts"`
	// The storm's JoinOK answers (room stream) and AuthOK answers (user
	// stream; per attempt: an attempt that fails after its AuthOK counts
	// too), by recovery.
	Recovered        int64 `json:"recovered"`
	NotRecovered     int64 `json:"not_recovered"`
	NoRecovery       int64 `json:"no_recovery"`
	UserRecovered    int64 `json:"user_recovered"`
	UserNotRecovered int64 `json:"user_not_recovered"`
	UserNoRecovery   int64 `json:"user_no_recovery"`
	// Replayed counts the pushes clients received at or below a recovered
	// JoinOK's position (the replay); ServerReplayed is the server's own
	// counter, HistoryReads its history reads for resumes and their mean
	// time.
	Replayed          int64   `json:"replayed"`
	ReplayedPerClient float64 `json:"replayed_per_client"`
	ServerReplayed    int64   `json:"server_replayed"`
	HistoryReads      int64   `json:"history_reads"`
	HistoryReadMeanMs float64 `json:"history_read_mean_ms"`
	// Exactly-once accounting over the whole run: every push the API
	// accepted (Pushes) to every client (Expected), those received
	// (Delivered) and missing (Lost); DupByPosition are repeats dropped by
	// position (allowed: at-least-once), DupAfterDedup the same push twice
	// after that (a bug), Extra pushes received that the API refused or
	// timed out, EpochChanges pushes that started a new epoch.
	Pushes        int64 `json:"pushes"`
	PushErrors    int64 `json:"push_errors"`
	Expected      int64 `json:"expected"`
	Delivered     int64 `json:"delivered"`
	Lost          int64 `json:"lost"`
	DupByPosition int64 `json:"dup_by_position"`
	DupAfterDedup int64 `json:"dup_after_dedup"`
	Extra         int64 `json:"extra"`
	EpochChanges  int64 `json:"epoch_changes"`
	// The server from the start of the reconnects until the last catch-up:
	// CPU seconds, share of a core, CPU ms per client; the generator's
	// share of its cores; the server's CPU while the cut connections went.
	ServerCPUs           float64 `json:"server_cpu_s"`
	ServerCPUUtil        float64 `json:"server_cpu_util"`
	ServerCPUmsPerClient float64 `json:"server_cpu_ms_per_client"`
	// StormDeliveries are the live pushes the server queued to connections
	// during the storm (its delivery counter; replays are not in it), and
	// FanoutCPUs their estimated cost at the CPU-s per million measured
	// before the cut; ReconnectCPUmsPerClient is the rest of the storm's
	// CPU per client: handshake, history read, reply and replay.
	StormDeliveries         int64   `json:"storm_deliveries"`
	FanoutCPUs              float64 `json:"fanout_cpu_s_estimate"`
	ReconnectCPUmsPerClient float64 `json:"reconnect_cpu_ms_per_client_estimate"`
	GenCPUUtil              float64 `json:"gen_cpu_util"`
	CutServerCPUs           float64 `json:"cut_server_cpu_s"`
	// Server memory: before the cut, the peak from the cut to the end of
	// the drain (RSS sampled every 100 ms, heap and goroutines every
	// second), and after the drain.
	RSSBefore        int64   `json:"rss_before_bytes"`
	RSSPeak          int64   `json:"rss_peak_bytes"`
	RSSAfter         int64   `json:"rss_after_bytes"`
	HeapBefore       float64 `json:"heap_before_bytes"`
	HeapPeak         float64 `json:"heap_peak_bytes"`
	GoroutinesBefore float64 `json:"goroutines_before"`
	GoroutinesPeak   float64 `json:"goroutines_peak"`
	// Handshakes the server began during the storm and lost before the
	// protocol handshake, and connections a limit refused or asked to
	// Retry (QUIC), by limit.
	Handshakes        int64            `json:"server_handshakes"`
	HandshakeFailures int64            `json:"server_handshake_failures"`
	Limited           map[string]int64 `json:"limited,omitempty"`
}

// Push numbers' fates, in resumeTracker.recs.
const (
	pushPending uint32 = iota
	pushOK
	pushFailed
)

// position is a place in a stream as a client keeps it.
type position struct {
	off   uint64
	epoch string
}

// set applies a reply's position group to p: after recovery 0 or 2 the
// client takes the reply's position, unless the reply carries none;
// after recovered it keeps its own (the replay moves it).
func (p *position) set(r wire.Recovery, off uint64, epoch string) {
	if r == wire.RecoveryRecovered || (r == wire.RecoveryNone && off == 0 && epoch == "") {
		return
	}
	p.off, p.epoch = off, epoch
}

// slotState is what one client (a connection slot, across its sessions)
// knows: its positions, the pushes it received, and its storm timings.
type slotState struct {
	mu     sync.Mutex
	active bool // connected before the cut
	room   position
	user   position
	got    []uint64 // bit n: push n received
	low    int      // every push below low was received (or refused)
	hi     int      // highest push received, -1: none
	hiDue  int64    // its due time, unix nanos

	dupPos, dupN, epochChanges int64

	reconnStart, rejoinedAt, caughtAt int64 // unix nanos
	replayEpoch                       string
	replayTop                         uint64
	replaying                         bool
}

func (s *slotState) has(n int) bool {
	w := n / 64
	return w < len(s.got) && s.got[w]&(1<<(n%64)) != 0
}

func (s *slotState) mark(n int) {
	w := n / 64
	for w >= len(s.got) {
		s.got = append(s.got, 0)
	}
	s.got[w] |= 1 << (n % 64)
}

// resumeTracker follows every client of a resume storm.
type resumeTracker struct {
	slots []slotState
	// recs holds the fate of each push number (pushPending, pushOK,
	// pushFailed), set by the pusher when the API answers.
	recs []atomic.Uint32
	// got counts, per push number, the clients that received it.
	got      []atomic.Int32
	overflow atomic.Int64
	storm    atomic.Bool // the reconnects have started

	delivered  atomic.Int64 // distinct pushes received, summed over clients
	replayed   atomic.Int64
	rejoined   atomic.Int64
	caught     atomic.Int64
	lastRejoin atomic.Int64 // unix nanos
	lastCaught atomic.Int64
	rejoinLat  histogram // microseconds
	catchLat   histogram
	// The storm's successful handshakes by stage, microseconds: dial (TCP
	// connect; QUIC or WebTransport handshake), Auth to AuthOK, Join to
	// JoinOK.
	dialLat, authLat, joinLat histogram
	roomRec                   [3]atomic.Int64 // storm JoinOKs by recovery
	userRec                   [3]atomic.Int64 // storm AuthOKs by recovery
}

func newResumeTracker(clients, pushes int) *resumeTracker {
	t := &resumeTracker{slots: make([]slotState, clients), recs: make([]atomic.Uint32, pushes), got: make([]atomic.Int32, pushes)}
	for i := range t.slots {
		t.slots[i].hi = -1
	}
	return t
}

// done is the pusher's report on push n.
func (t *resumeTracker) done(n, _ int64, err error) {
	if n < 0 || n >= int64(len(t.recs)) {
		t.overflow.Add(1)
		return
	}
	if err != nil {
		t.recs[n].Store(pushFailed)
	} else {
		t.recs[n].Store(pushOK)
	}
}

func (t *resumeTracker) roomPosition(i int) (uint64, string) {
	s := &t.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.room.off, s.room.epoch
}

func (t *resumeTracker) userPosition(i int) (uint64, string) {
	s := &t.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user.off, s.user.epoch
}

func (t *resumeTracker) onAuthOK(i int, a *wire.AuthOK) {
	s := &t.slots[i]
	s.mu.Lock()
	s.user.set(a.Recovery, a.Offset, a.Epoch)
	s.mu.Unlock()
	if t.storm.Load() && int(a.Recovery) < len(t.userRec) {
		t.userRec[a.Recovery].Add(1)
	}
}

func (t *resumeTracker) onJoinOK(i int, ok *wire.JoinOK) {
	now := time.Now().UnixNano()
	s := &t.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.room.set(ok.Recovery, ok.Offset, ok.Epoch)
	s.replaying = ok.Recovery == wire.RecoveryRecovered
	s.replayEpoch, s.replayTop = ok.Epoch, ok.Offset
	if !t.storm.Load() {
		return
	}
	if int(ok.Recovery) < len(t.roomRec) {
		t.roomRec[ok.Recovery].Add(1)
	}
	s.rejoinedAt = now
	t.rejoined.Add(1)
	if s.reconnStart > 0 {
		t.rejoinLat.record(uint64(max(now-s.reconnStart, 0)) / 1000)
	}
	storeMax(&t.lastRejoin, now)
}

// stages records how long the stages of a storm handshake took.
func (t *resumeTracker) stages(dial, auth, join time.Duration) {
	if !t.storm.Load() {
		return
	}
	t.dialLat.record(uint64(max(dial, 0).Microseconds()))
	t.authLat.record(uint64(max(auth, 0).Microseconds()))
	t.joinLat.record(uint64(max(join, 0).Microseconds()))
}

// onPush takes push frame body (due time due) received by client i at now.
func (t *resumeTracker) onPush(i int, body []byte, due, now int64) {
	off, epoch, data, ok := pushPosition(body)
	if !ok {
		return
	}
	n64, numbered := intField(data, numKey)
	s := &t.slots[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(epoch) > 0 {
		if string(epoch) == s.room.epoch && off <= s.room.off {
			s.dupPos++ // a repeat: dropped, as clients do
			return
		}
		if string(epoch) != s.room.epoch {
			if s.room.epoch != "" {
				s.epochChanges++
			}
			s.room.epoch = string(epoch)
		}
		s.room.off = off
		if s.replaying && s.room.epoch == s.replayEpoch && off <= s.replayTop {
			t.replayed.Add(1)
		}
	}
	if !numbered {
		return
	}
	if n64 >= int64(len(t.recs)) {
		t.overflow.Add(1)
		return
	}
	n := int(n64)
	if s.has(n) {
		s.dupN++
		return
	}
	s.mark(n)
	t.delivered.Add(1)
	t.got[n].Add(1)
	if n > s.hi {
		s.hi, s.hiDue = n, due
	}
	for s.low < len(t.recs) && (s.has(s.low) || t.recs[s.low].Load() == pushFailed) {
		s.low++
	}
	if s.rejoinedAt != 0 && s.caughtAt == 0 && s.low > s.hi && s.hiDue >= s.rejoinedAt {
		s.caughtAt = now
		t.caught.Add(1)
		t.catchLat.record(uint64(max(now-s.rejoinedAt, 0)) / 1000)
		storeMax(&t.lastCaught, now)
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// missing is how many deliveries of the pushes the API accepted have not
// arrived yet, given clients clients: what the drain waits for. Pushes the
// API refused but delivered anyway do not make up for missing ones.
func (t *resumeTracker) missing(clients int) int64 {
	var n int64
	for i := range t.recs {
		if t.recs[i].Load() == pushOK {
			n += int64(max(clients-int(t.got[i].Load()), 0))
		}
	}
	return n
}

// account counts, once every reader has returned, what the active clients
// received against what the API accepted.
func (t *resumeTracker) account(sr *stormResult) {
	for n := range t.recs {
		switch t.recs[n].Load() {
		case pushOK:
			sr.Pushes++
		case pushFailed:
			sr.PushErrors++
		}
	}
	for i := range t.slots {
		s := &t.slots[i]
		s.mu.Lock()
		if !s.active {
			s.mu.Unlock()
			continue
		}
		for n := range t.recs {
			has := s.has(n)
			if t.recs[n].Load() == pushOK {
				sr.Expected++
				if has {
					sr.Delivered++
				} else {
					sr.Lost++
				}
			} else if has {
				sr.Extra++
			}
		}
		sr.DupByPosition += s.dupPos
		sr.DupAfterDedup += s.dupN
		sr.EpochChanges += s.epochChanges
		s.mu.Unlock()
	}
}

// pushPosition reads a Push body's stream position and data without
// copying (wire.Push.Decode allocates three strings per push).
func pushPosition(body []byte) (off uint64, epoch, data []byte, ok bool) {
	if len(body) < 1 {
		return 0, nil, nil, false
	}
	b := body[1:]
	field := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	if _, ok = field(); !ok { // room
		return
	}
	if _, ok = field(); !ok { // message id
		return
	}
	off, k := binary.Uvarint(b)
	if k <= 0 {
		return 0, nil, nil, false
	}
	b = b[k:]
	if epoch, ok = field(); !ok {
		return
	}
	data, ok = field()
	return off, epoch, data, ok
}

// stormPushes is how many push numbers a run of c can issue at most: its
// phases, plus the waits for readers after the cut and for handshakes in
// flight at the storm's timeout, with room to spare.
func stormPushes(c config) int {
	d := c.warmup + c.duration + time.Second + c.storm.gap + 5*time.Second + c.storm.timeout + handshakeTimeout + c.storm.tail
	return int(c.rate*d.Seconds()*1.25) + 64
}

// stormProfileSeconds guesses how long reconnecting n clients takes, for
// the length of the CPU profile of the storm.
func stormProfileSeconds(n int, transport string) int {
	return min(max(int(1.5*float64(n)/setupRateGuess(transport))+1, 2), 30)
}

// runResumeStorm is the resume-storm scenario.
func runResumeStorm(ctx context.Context, c config, tgt *target, res *result) error {
	pu := newPusher(tgt.api, tgt.apiKey, c.room, c.payload)
	if err := pu.warm(ctx); err != nil {
		return fmt.Errorf("push API: %w", err)
	}
	tr := newResumeTracker(c.conns, stormPushes(c))
	start := time.Now()
	f, st, err := openClients(ctx, c, tgt, c.conns, 0, oneRoom(c.room), func(cl *clients) { cl.resume = tr })
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			f.close()
		}
	}()
	cl := f.cl
	// Connections refused in the connect phase (QUIC: the server's accept
	// queue overflows now and then) are tried again, so that the storm has
	// every client; the retries count as connect errors.
	if missing := unconnected(cl); len(missing) > 0 {
		logf("connecting %d failed clients again", len(missing))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var a, fl atomic.Int64
		var wg sync.WaitGroup
		sem := make(chan struct{}, c.dialPar)
		for k, i := range missing {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				reconnect(rctx, cl, tr, i, uint64(k), &a, &fl)
			})
		}
		wg.Wait()
		cancel()
		st.ok = cl.connected()
		st.dur = time.Since(start)
	}
	res.setConnect(st)
	logf("connected %d of %d in %.2fs (%.0f/s), %d failed", res.ConnsOK, c.conns, res.ConnectS, res.ConnectPerS, res.ConnectFails)
	if res.ConnsOK == 0 {
		res.Errors, _ = f.errors()
		return fmt.Errorf("no connection succeeded: %v", res.Errors)
	}
	var active []int
	for i := range cl.slots {
		if cl.slots[i].Load() != nil {
			tr.slots[i].active = true
			active = append(active, i)
		}
	}
	sr := &stormResult{GapS: c.storm.gap.Seconds(), Clients: len(active), Concurrency: c.storm.concurrency}
	if sr.Concurrency <= 0 || sr.Concurrency > len(active) {
		sr.Concurrency = len(active)
	}
	res.Storm = sr

	// Push: warmup, the measured window (steady state before the cut),
	// one more second for the window's deliveries.
	pu.numbered, pu.done = true, tr.done
	defer pu.transport.CloseIdleConnections()
	pctx, stopPush := context.WithCancel(ctx)
	defer stopPush()
	pushDone := make(chan struct{})
	go func() { pu.run(pctx, c.rate, c.pushers); close(pushDone) }()
	logf("pushing %.0f/s: %v warmup, %v measured, then the cut", c.rate, c.warmup, c.duration)
	if !sleep(ctx, c.warmup) {
		return ctx.Err()
	}
	g0, ss0, b0, st0 := f.genCPU(), tgt.sample(), machineBusy(), machineSteal()
	a0 := f.totals().Arrivals
	winStart := time.Now()
	winEnd := winStart.Add(c.duration)
	pu.setWindow(winStart.UnixNano(), winEnd.UnixNano())
	f.setWindow(winStart.UnixNano(), winEnd.UnixNano())
	if !sleep(ctx, c.duration) {
		return ctx.Err()
	}
	g1, ss1, a1 := f.genCPU(), tgt.sample(), f.totals().Arrivals
	wall := time.Since(winStart).Seconds()
	if !sleep(ctx, time.Second) {
		return ctx.Err()
	}
	// Replays of the window's pushes must not count as its latency.
	never := int64(^uint64(0) >> 1)
	f.setWindow(never, never)
	lat, _ := f.latency()
	snap := lat.snapshot()
	res.LatencyHist = &snap
	res.Deliveries = int64(lat.count())
	res.DeliveriesPerS = float64(res.Deliveries) / c.duration.Seconds()
	msOf := func(us float64) float64 { return us / 1000 }
	res.P50ms, res.P90ms = msOf(lat.quantile(0.5)), msOf(lat.quantile(0.9))
	res.P99ms, res.P999ms = msOf(lat.quantile(0.99)), msOf(lat.quantile(0.999))
	res.MaxMs, res.MeanMs = msOf(float64(lat.max.Load())), msOf(lat.mean())
	res.MeasuredFrames = a1 - a0
	res.ServerCPUs = (ss1.cpu - ss0.cpu).Seconds()
	res.ServerCPUUtil = res.ServerCPUs / wall
	if res.MeasuredFrames > 0 {
		res.CPUsPerMillion = res.ServerCPUs / float64(res.MeasuredFrames) * 1e6
	}
	res.GenCPUs = (g1 - g0).Seconds()
	res.GenCPUUtil = res.GenCPUs / wall / float64(genCores())
	res.Pushes = pu.accepted.Load()
	res.PushRate = float64(pu.accepted.Load()+pu.failed.Load()) / c.duration.Seconds()
	logf("before the cut: %.0f deliveries/s, p50 %.1f ms, p99 %.1f ms, server %.0f%% of a core, %.2f CPU-s per million",
		res.DeliveriesPerS, res.P50ms, res.P99ms, 100*res.ServerCPUUtil, res.CPUsPerMillion)

	// Watch the server's memory from before the cut to the end.
	m0 := tgt.metrics()
	before := tgt.sample()
	sr.RSSBefore, sr.HeapBefore, sr.GoroutinesBefore = before.rss, m0.heapInuse, m0.goroutines
	sr.RSSPeak, sr.HeapPeak, sr.GoroutinesPeak = before.rss, m0.heapInuse, m0.goroutines
	var peakMu sync.Mutex
	wctx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		tk := time.NewTicker(100 * time.Millisecond)
		defer tk.Stop()
		for k := 1; ; k++ {
			select {
			case <-wctx.Done():
				return
			case <-tk.C:
			}
			s := tgt.sample()
			var m scrape
			if k%10 == 0 {
				m = tgt.metrics()
			}
			peakMu.Lock()
			sr.RSSPeak = max(sr.RSSPeak, s.rss)
			if m.ok {
				sr.HeapPeak = max(sr.HeapPeak, m.heapInuse)
				sr.GoroutinesPeak = max(sr.GoroutinesPeak, m.goroutines)
			}
			peakMu.Unlock()
		}
	}()
	defer func() { stopWatch(); <-watchDone }()

	// The cut: every connection closed by the client, 64 at a time.
	cutAt := time.Now()
	sc0 := serverCPU(tgt)
	cutSlots(cl, active, 64)
	sr.CutS = time.Since(cutAt).Seconds()
	readersDone := make(chan struct{})
	go func() { cl.readers.Wait(); close(readersDone) }()
	select {
	case <-readersDone:
	case <-time.After(time.Until(cutAt.Add(c.storm.gap)) + 5*time.Second):
		logf("warning: some readers of the cut connections had not returned after %v", time.Since(cutAt).Round(time.Millisecond))
	}
	logf("cut %d connections in %.2fs; reconnecting %v after the cut", len(active), sr.CutS, c.storm.gap)
	// Nobody is connected until the storm: the delivery counter stands.
	mStorm := tgt.metrics()
	if !sleep(ctx, time.Until(cutAt.Add(c.storm.gap))) {
		return ctx.Err()
	}
	sr.CutServerCPUs = (serverCPU(tgt) - sc0).Seconds()

	// The storm.
	tr.storm.Store(true)
	stormAt := time.Now()
	deadline := stormAt.Add(c.storm.timeout)
	s0, gs0 := serverCPU(tgt), f.genCPU()
	profDone := make(chan struct{})
	go func() {
		defer close(profDone)
		if c.cpuProfile == "" {
			return
		}
		secs := stormProfileSeconds(len(active), c.transport)
		if err := tgt.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), c.cpuProfile); err != nil {
			logf("cpu profile: %v", err)
			return
		}
		res.CPUProfile = filepath.Base(c.cpuProfile)
		logf("cpu profile of the storm's first %d s saved to %s", secs, c.cpuProfile)
	}()
	sctx, stopStorm := context.WithDeadline(ctx, deadline)
	defer stopStorm()
	var attempts, failed atomic.Int64
	var dispatch sync.WaitGroup
	dispatch.Go(func() {
		sem := make(chan struct{}, sr.Concurrency)
		var wg sync.WaitGroup
		defer wg.Wait()
		for k, i := range active {
			select {
			case sem <- struct{}{}:
			case <-sctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-sem }()
				reconnect(sctx, cl, tr, i, uint64(k), &attempts, &failed)
			})
		}
	})
	logf("reconnecting %d clients, %d at a time", len(active), sr.Concurrency)
	want := int64(len(active))
	tk := time.NewTicker(20 * time.Millisecond)
	lastLog, lastS := stormAt, s0
	for tr.caught.Load() < want && time.Now().Before(deadline) && ctx.Err() == nil {
		now := <-tk.C
		if now.Sub(lastLog) >= time.Second {
			s := serverCPU(tgt)
			peakMu.Lock()
			rss := sr.RSSPeak
			peakMu.Unlock()
			logf("  +%4.1fs  rejoined %6d  caught up %6d of %d   server CPU %3.0f%%   peak RSS %.0f MiB",
				now.Sub(stormAt).Seconds(), tr.rejoined.Load(), tr.caught.Load(), want,
				100*(s-lastS).Seconds()/now.Sub(lastLog).Seconds(), float64(rss)/(1<<20))
			lastLog, lastS = now, s
		}
	}
	tk.Stop()
	// The storm's CPU window ends here, where the counters were read (the
	// last catch-up may be a little earlier: the poll runs every tick).
	s1, gs1, b1, st1 := serverCPU(tgt), f.genCPU(), machineBusy(), machineSteal()
	sampled := time.Now()
	mS := tgt.metrics()
	if tr.caught.Load() < want {
		sr.TimedOut = true
		logf("warning: %d of %d clients caught up within %v", tr.caught.Load(), want, c.storm.timeout)
	}
	stopStorm()
	dispatch.Wait()
	<-profDone

	// Push on a little, then drain: every accepted push to every client.
	sleep(ctx, c.storm.tail)
	stopPush()
	<-pushDone
	drainEnd := time.Now().Add(c.drain)
	prev, still := int64(-1), time.Now()
	for tr.missing(int(want)) != 0 && !time.Now().After(drainEnd) {
		got := tr.delivered.Load()
		if got != prev {
			prev, still = got, time.Now()
		} else if time.Since(still) > 3*time.Second {
			break
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	after := tgt.sample()
	m1 := tgt.metrics()
	stopWatch()
	<-watchDone
	sr.RSSAfter = after.rss
	t := f.totals()
	res.Pongs = t.Pongs
	f.close()
	closed = true

	// Figures.
	span := func(t int64) float64 {
		if t == 0 {
			return 0
		}
		return time.Unix(0, t).Sub(cutAt).Seconds()
	}
	sr.Rejoined, sr.CaughtUp = tr.rejoined.Load(), tr.caught.Load()
	sr.AllRejoinedS, sr.AllCaughtUpS = span(tr.lastRejoin.Load()), span(tr.lastCaught.Load())
	if sr.Rejoined < want {
		sr.AllRejoinedS = 0
	}
	if sr.CaughtUp < want {
		sr.AllCaughtUpS = 0
	}
	if sr.AllRejoinedS > 0 {
		sr.RejoinS = sr.AllRejoinedS - c.storm.gap.Seconds()
		sr.RejoinPerS = float64(sr.Rejoined) / sr.RejoinS
	}
	if sr.AllCaughtUpS > 0 {
		sr.CatchUpS = sr.AllCaughtUpS - c.storm.gap.Seconds()
	}
	sr.RejoinP50ms, sr.RejoinP99ms = tr.rejoinLat.quantile(0.5)/1000, tr.rejoinLat.quantile(0.99)/1000
	sr.RejoinMaxMs = float64(tr.rejoinLat.max.Load()) / 1000
	sr.CatchUpP50ms, sr.CatchUpP99ms = tr.catchLat.quantile(0.5)/1000, tr.catchLat.quantile(0.99)/1000
	sr.CatchUpMaxMs = float64(tr.catchLat.max.Load()) / 1000
	sr.Attempts, sr.FailedAttempts = attempts.Load(), failed.Load()
	sr.DialP50ms, sr.DialP99ms = tr.dialLat.quantile(0.5)/1000, tr.dialLat.quantile(0.99)/1000
	sr.AuthP50ms, sr.AuthP99ms = tr.authLat.quantile(0.5)/1000, tr.authLat.quantile(0.99)/1000
	sr.JoinP50ms, sr.JoinP99ms = tr.joinLat.quantile(0.5)/1000, tr.joinLat.quantile(0.99)/1000
	sr.NoRecovery, sr.Recovered, sr.NotRecovered = tr.roomRec[0].Load(), tr.roomRec[1].Load(), tr.roomRec[2].Load()
	sr.UserNoRecovery, sr.UserRecovered, sr.UserNotRecovered = tr.userRec[0].Load(), tr.userRec[1].Load(), tr.userRec[2].Load()
	sr.Replayed = tr.replayed.Load()
	if sr.Rejoined > 0 {
		sr.ReplayedPerClient = float64(sr.Replayed) / float64(sr.Rejoined)
	}
	sr.ServerReplayed = int64(m1.replayed - m0.replayed)
	if n := m1.historyReads - m0.historyReads; n > 0 {
		sr.HistoryReads = int64(n)
		sr.HistoryReadMeanMs = (m1.historyReadSum - m0.historyReadSum) / n * 1000
	}
	sr.Handshakes = int64(m1.handshakes - m0.handshakes)
	sr.HandshakeFailures = int64(m1.handshakeFails - m0.handshakeFails)
	for k, v := range m1.limited {
		if d := int64(v - m0.limited[k]); d > 0 {
			if sr.Limited == nil {
				sr.Limited = map[string]int64{}
			}
			sr.Limited[k] = d
		}
	}
	stormS := sampled.Sub(stormAt).Seconds()
	sr.ServerCPUs = (s1 - s0).Seconds()
	sr.ServerCPUUtil = sr.ServerCPUs / stormS
	if sr.Rejoined > 0 {
		sr.ServerCPUmsPerClient = sr.ServerCPUs / float64(sr.Rejoined) * 1000
	}
	sr.GenCPUUtil = (gs1 - gs0).Seconds() / stormS / float64(genCores())
	if mS.ok && m0.ok {
		sr.StormDeliveries = int64(mS.deliveries - mStorm.deliveries)
		sr.FanoutCPUs = float64(sr.StormDeliveries) * res.CPUsPerMillion / 1e6
		if sr.Rejoined > 0 {
			sr.ReconnectCPUmsPerClient = max(0, sr.ServerCPUs-sr.FanoutCPUs) / float64(sr.Rejoined) * 1000
		}
	}
	// Other work from the window's start to the storm's end marks the run
	// disturbed.
	whole := sampled.Sub(winStart).Seconds()
	other := (b1 - b0) - (s1 - ss0.cpu) - (gs1 - g0)
	res.OtherCPUUtil = max(0, other.Seconds()) / whole
	res.StealUtil = (st1 - st0).Seconds() / whole
	tr.account(sr)
	res.Expected, res.Lost = sr.Expected, sr.Lost
	if n := tr.overflow.Load(); n > 0 {
		res.PushErrs = addErr(res.PushErrs, "pushes past the accounting's end", n)
	}
	res.Errors, res.Disconnects = f.errors()
	if t.Unstamped > 0 {
		res.Errors["pushes without a send time"] += t.Unstamped
	}
	if sr.DupAfterDedup > 0 {
		res.Errors["same push twice after dedup by position"] += sr.DupAfterDedup
	}
	if sr.EpochChanges > 0 {
		res.Errors["epoch changes"] += sr.EpochChanges
	}
	logf("storm: all rejoined %.2fs and caught up %.2fs after the cut (gap %v); %d recovered, %d not recovered, %d none; %d replayed; %d lost, %d repeats dropped, %d after dedup",
		sr.AllRejoinedS, sr.AllCaughtUpS, c.storm.gap, sr.Recovered, sr.NotRecovered, sr.NoRecovery, sr.Replayed, sr.Lost, sr.DupByPosition, sr.DupAfterDedup)
	return nil
}

// unconnected lists the slots without a live connection.
func unconnected(cl *clients) []int {
	var out []int
	for i := range cl.slots {
		if cl.slots[i].Load() == nil {
			out = append(out, i)
		}
	}
	return out
}

// cutSlots closes the connections of the given slots on purpose, par at a
// time.
func cutSlots(cl *clients, slots []int, par int) {
	ch := make(chan int)
	var wg sync.WaitGroup
	now := time.Now().UnixNano()
	for range par {
		wg.Go(func() {
			for i := range ch {
				if old := cl.slots[i].Swap(nil); old != nil {
					old.closing.Store(true)
					old.closed.Store(now)
					old.l.close()
				}
			}
		})
	}
	for _, i := range slots {
		ch <- i
	}
	close(ch)
	wg.Wait()
}

// reconnect opens slot i (again, with its positions), trying again after a
// growing, jittered backoff (100-300 ms, times the attempt up to 5) until
// ctx ends, as a client would.
func reconnect(ctx context.Context, cl *clients, tr *resumeTracker, i int, seed uint64, attempts, failed *atomic.Int64) {
	s := &tr.slots[i]
	s.mu.Lock()
	s.reconnStart = time.Now().UnixNano()
	s.mu.Unlock()
	rng := rand.New(rand.NewPCG(seed, 7))
	for attempt := 1; ; attempt++ {
		attempts.Add(1)
		err := cl.open(ctx, i)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		failed.Add(1)
		what := "connect again "
		if tr.storm.Load() {
			what = "reconnect "
		}
		var ce *connectError
		if errors.As(err, &ce) {
			cl.errs.add(what + ce.Error())
		} else {
			cl.errs.add(what + err.Error())
		}
		backoff := time.Duration(min(attempt, 5)) * (100*time.Millisecond + time.Duration(rng.IntN(200))*time.Millisecond)
		if !sleep(ctx, backoff) {
			return
		}
	}
}

// stormSummary writes the resume-storm part of the summary.
func (r *result) stormSummary(w io.Writer) {
	s := r.Storm
	fmt.Fprintf(w, "\n== resume-storm on %s: %d clients, %.0f pushes/s, cut for %.1fs, %d reconnecting at once\n",
		r.Transport, s.Clients, r.Rate, s.GapS, s.Concurrency)
	fmt.Fprintf(w, "   before       %.0f deliveries/s, p50 %.2f ms, p99 %.2f; server %.0f%% of a core, %.2f CPU-s per million\n",
		r.DeliveriesPerS, r.P50ms, r.P99ms, 100*r.ServerCPUUtil, r.CPUsPerMillion)
	fmt.Fprintf(w, "   storm        all rejoined %.2fs after the cut (%.2fs after reconnecting, %.0f/s), all caught up %.2fs (%.2fs)%s\n",
		s.AllRejoinedS, s.RejoinS, s.RejoinPerS, s.AllCaughtUpS, s.CatchUpS, map[bool]string{true: "; TIMED OUT", false: ""}[s.TimedOut])
	fmt.Fprintf(w, "   per client   rejoin p50 %.0f ms, p99 %.0f, max %.0f; JoinOK to caught up p50 %.0f ms, p99 %.0f, max %.0f; %d attempts, %d failed\n",
		s.RejoinP50ms, s.RejoinP99ms, s.RejoinMaxMs, s.CatchUpP50ms, s.CatchUpP99ms, s.CatchUpMaxMs, s.Attempts, s.FailedAttempts)
	fmt.Fprintf(w, "   stages       dial p50 %.0f ms, p99 %.0f; Auth to AuthOK p50 %.0f, p99 %.0f; Join to JoinOK p50 %.0f, p99 %.0f\n",
		s.DialP50ms, s.DialP99ms, s.AuthP50ms, s.AuthP99ms, s.JoinP50ms, s.JoinP99ms)
	fmt.Fprintf(w, "   JoinOK       %d recovered, %d not recovered, %d none; user stream %d / %d / %d\n",
		s.Recovered, s.NotRecovered, s.NoRecovery, s.UserRecovered, s.UserNotRecovered, s.UserNoRecovery)
	fmt.Fprintf(w, "   replay       %d pushes (%.1f per client; server: %d), %d history reads, %.3f ms mean\n",
		s.Replayed, s.ReplayedPerClient, s.ServerReplayed, s.HistoryReads, s.HistoryReadMeanMs)
	fmt.Fprintf(w, "   exactly once %d pushes x %d clients: %d expected, %d delivered, %d lost; %d repeats dropped by position, %d after dedup, %d extra\n",
		s.Pushes, s.Clients, s.Expected, s.Delivered, s.Lost, s.DupByPosition, s.DupAfterDedup, s.Extra)
	fmt.Fprintf(w, "   server       %.2f CPU-s in the storm (%.0f%% of a core, %.2f ms per client), %.2f CPU-s for the cut; RSS %.0f -> peak %.0f -> %.0f MiB; heap peak %.0f MiB; goroutines %.0f -> peak %.0f\n",
		s.ServerCPUs, 100*s.ServerCPUUtil, s.ServerCPUmsPerClient, s.CutServerCPUs, mib(s.RSSBefore), mib(s.RSSPeak), mib(s.RSSAfter),
		s.HeapPeak/(1<<20), s.GoroutinesBefore, s.GoroutinesPeak)
	fmt.Fprintf(w, "   split        %d live deliveries during the storm, ~%.2f CPU-s at the rate before the cut; the rest ~%.2f ms per client\n",
		s.StormDeliveries, s.FanoutCPUs, s.ReconnectCPUmsPerClient)
	fmt.Fprintf(w, "   generator    %.0f%% of its core(s) in the storm; other processes %.2f cores, steal %.2f\n", 100*s.GenCPUUtil, r.OtherCPUUtil, r.StealUtil)
	if len(s.Limited) > 0 || s.HandshakeFailures > 0 {
		fmt.Fprintf(w, "   limits       %v; %d of %d server handshakes failed\n", s.Limited, s.HandshakeFailures, s.Handshakes)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "   errors       %v\n", r.Errors)
	}
	if len(r.Disconnects) > 0 {
		fmt.Fprintf(w, "   disconnects  %v\n", r.Disconnects)
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
