package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/internal/netlab"
	"github.com/quicpush/quicpush/wire"
)

// The mobile scenario (perf/README.md, "Mobile networks"): QUIC and framed
// TCP clients side by side in one room of one server, each transport behind
// its relay of the network lab (internal/netlab) with the same delay and
// loss, while every client moves its address now and then, staggered: a
// QUIC client by a NAT rebinding (the relay gives it a new source port; the
// edge must migrate the connection, the client must not reconnect), a TCP
// client by its connection being cut (a TCP connection cannot survive an
// address change; the client reconnects and resumes from its positions). It
// counts, per transport, the pushes every client received against those the
// API accepted (lost, repeats), the reconnects, and the one-way latency of
// the pushes sent in the measured window, replays after a reconnect
// included: they are what a user waits for.
//
// With --hol it measures head-of-line blocking instead: no moves; half the
// clients of each transport are in a busy room A and a sparse room B, the
// other half only in B, and room B's latency is compared between the two
// halves: on one stream, a lost packet of room A's traffic holds back room
// B's pushes behind it.

// mobileCmd is `loadgen mobile`.
type mobileCmd struct {
	QUIC        int           `name:"quic" default:"1000" help:"QUIC clients"`
	TCP         int           `name:"tcp" default:"1000" help:"framed TCP clients"`
	Loss        []float64     `default:"0,0.01,0.05" help:"loss rates in [0, 0.5], both directions: one run (a fresh server) each"`
	RTT         time.Duration `name:"rtt" default:"50ms" help:"round-trip time the lab adds, half each way"`
	Rate        float64       `default:"10" help:"pushes per second to the room"`
	Payload     int           `default:"0" help:"payload size in bytes (0: unpadded)"`
	Duration    time.Duration `default:"75s" help:"measured window per loss rate"`
	Warmup      time.Duration `default:"3s" help:"pushing before the window"`
	Drain       time.Duration `default:"15s" help:"longest wait, after the last push, for every client to have every push"`
	MoveEvery   time.Duration `name:"move-every" default:"30s" help:"each client moves its address this often, staggered over the clients (0: never)"`
	QUICCID     string        `name:"quic-cid" default:"zero" enum:"zero,4" help:"zero: each QUIC client dials as the Go client does (quic.DialAddr: its own socket, zero-length connection IDs); 4: on a quic.Transport of its own (4-byte connection IDs, as loadgen's shared sockets and frameconn's QUICTransport option)"`
	QUICMove    string        `name:"quic-move" default:"migrate" enum:"migrate,rebind" help:"how a QUIC client moves: migrate: it changes networks, as a phone does, moving its connection to a new socket itself (probe, switch, then a Ping: what clients/go's Client.Migrate does), reconnecting and resuming if the probe fails; rebind: a NAT rebinds its port behind its back (UDPRelay.Rebind), and the edge must notice"`
	Nudge       bool          `default:"true" negatable:"" help:"after a rebinding, the QUIC client sends a Ping at once, as a client told of a network change does; --no-nudge: it stays silent until its next periodic Ping, and the edge keeps sending to the old address until then"`
	KeepAlive   time.Duration `name:"quic-keepalive" default:"0s" help:"QUIC clients send a QUIC PING when they have sent nothing for this long (quic.Config.KeepAlivePeriod; 0: never, as the Go client)"`
	HOL         bool          `name:"hol" help:"measure head-of-line blocking instead: half the clients in a busy room A and a sparse room B, half only in B; no moves"`
	BusyRate    float64       `name:"busy-rate" default:"50" help:"--hol: pushes per second to room A"`
	BusyPayload int           `name:"busy-payload" default:"1024" help:"--hol: room A's payload size"`
	SparseRate  float64       `name:"sparse-rate" default:"5" help:"--hol: pushes per second to room B (unpadded)"`
	Seed        uint64        `default:"1" help:"seed of the lab's loss draws"`
	Sources     int           `default:"4" help:"spread the clients over source addresses 127.0.0.2 .. 127.0.0.(K+1)"`
	DialPar     int           `name:"dial-concurrency" default:"64" help:"connections handshaking at once, per transport"`
	Out         string        `help:"folder to write <mode>.json, <mode>.md and <mode>.png into (mode: mobile or hol)"`
	Label       string        `help:"free text copied into the results"`
	ServerBin   string        `name:"server-bin" help:"quicpush binary (default: quicpush next to loadgen, then $$PATH)"`
	ServerCPUs  string        `name:"server-cpus" help:"pin the server to these CPUs (taskset -c)"`
	ServerFlags flagList      `name:"server-flag" help:"an extra flag for 'quicpush serve' (repeatable)"`
	GenCPUs     string        `name:"gen-cpus" help:"pin the generator to these CPUs (re-exec under taskset -c)"`
}

// Rooms of the mobile scenario and of the head-of-line measurement.
const (
	mobileRoom = "mobile"
	holBusy    = "hol-a"
	holSparse  = "hol-b"
)

// mobileResult is one transport at one loss rate.
type mobileResult struct {
	Time       string  `json:"time"`
	Mode       string  `json:"mode"` // mobile or hol
	Label      string  `json:"label,omitempty"`
	Transport  string  `json:"transport"`
	LossPct    float64 `json:"loss_pct"`
	RTTms      float64 `json:"rtt_ms"`
	Clients    int     `json:"clients"`
	Connected  int     `json:"connected"`
	Rate       float64 `json:"rate"`
	DurationS  float64 `json:"duration_s"`
	MoveEveryS float64 `json:"move_every_s,omitempty"`
	// Nudge: a QUIC client sends a Ping right after its address moved.
	Nudge   bool   `json:"nudge,omitempty"`
	QUICCID string `json:"quic_cid,omitempty"`
	// QUICMove is how QUIC clients moved: migrate (the client moved its
	// connection to a new socket) or rebind (a NAT rebinding);
	// MigrateFailed counts migrations whose probe failed, after which the
	// client reconnected.
	QUICMove      string `json:"quic_move,omitempty"`
	MigrateFailed int64  `json:"migrate_failed,omitempty"`
	// KeepAliveS is the QUIC clients' keep-alive period.
	KeepAliveS float64 `json:"quic_keepalive_s,omitempty"`
	// Moves are the address changes done: QUIC rebinds, TCP cuts;
	// MovesSkipped found the client reconnecting, MovesFailed found no
	// connection at the relay.
	Moves        int64 `json:"moves"`
	MovesSkipped int64 `json:"moves_skipped,omitempty"`
	MovesFailed  int64 `json:"moves_failed,omitempty"`
	// Reconnects are sessions that ended without the generator closing
	// them and were opened again; FailedAttempts the attempts among them
	// that failed and were tried again.
	Reconnects     int64 `json:"reconnects"`
	FailedAttempts int64 `json:"failed_attempts"`
	// Exactly-once accounting over the whole run, as resume-storm's: every
	// push the API accepted to every client connected at the start.
	Pushes        int64 `json:"pushes"`
	PushErrors    int64 `json:"push_errors"`
	Expected      int64 `json:"expected"`
	Delivered     int64 `json:"delivered"`
	Lost          int64 `json:"lost"`
	LossClients   int   `json:"loss_clients"`    // clients that missed at least one push
	Repeats       int64 `json:"repeats"`         // dropped by position, as clients do
	DupAfterDedup int64 `json:"dup_after_dedup"` // the same push twice after that: a bug
	// Latency of the pushes sent in the window (one-way: the send time in
	// the payload to receipt).
	Deliveries  int64         `json:"deliveries"`
	P50ms       float64       `json:"p50_ms"`
	P99ms       float64       `json:"p99_ms"`
	P999ms      float64       `json:"p999_ms"`
	MaxMs       float64       `json:"max_ms"`
	LatencyHist *histSnapshot `json:"latency_hist,omitempty"`
	Hol         *holResult    `json:"hol,omitempty"`
	// Over the window, in cores: the generator's process (both
	// transports' clients and both relays), the server, and the whole
	// machine; the load average before and after.
	GenCPU     float64 `json:"gen_cpu_cores"`
	ServerCPU  float64 `json:"server_cpu_cores"`
	MachineCPU float64 `json:"machine_cpu_cores"`
	LoadAvg    string  `json:"loadavg"`
	// The transport's relay: datagrams lost (UDP) or segments delayed by
	// a retransmission timeout (TCP), and forwarded.
	RelayLost      uint64           `json:"relay_lost"`
	RelayForwarded uint64           `json:"relay_forwarded"`
	Errors         map[string]int64 `json:"errors,omitempty"`
	Disconnects    map[string]int64 `json:"disconnects,omitempty"`
}

// holResult is room B's latency for the clients in both rooms and for those
// only in B, and room A's.
type holResult struct {
	BusyRate    float64       `json:"busy_rate"`
	BusyPayload int           `json:"busy_payload"`
	SparseRate  float64       `json:"sparse_rate"`
	BothN       uint64        `json:"both_n"`
	BothP50ms   float64       `json:"both_p50_ms"`
	BothP99ms   float64       `json:"both_p99_ms"`
	BothP999ms  float64       `json:"both_p999_ms"`
	OnlyN       uint64        `json:"only_n"`
	OnlyP50ms   float64       `json:"only_p50_ms"`
	OnlyP99ms   float64       `json:"only_p99_ms"`
	OnlyP999ms  float64       `json:"only_p999_ms"`
	BusyP50ms   float64       `json:"busy_p50_ms"`
	BusyP99ms   float64       `json:"busy_p99_ms"`
	BothHist    *histSnapshot `json:"both_hist,omitempty"`
	OnlyHist    *histSnapshot `json:"only_hist,omitempty"`
	both, only  histogram
	busy        histogram
}

// moveAt is one address change: client's, at this offset from the start of
// the pushes.
type moveAt struct {
	at     time.Duration
	client int
}

// moveSchedule spreads the moves of n clients over span: client i moves at
// every*(i+1)/n and every `every` after, so that the moves are evenly
// staggered and none comes at the very start. The moves are in time order.
func moveSchedule(n int, every, span time.Duration) []moveAt {
	if n <= 0 || every <= 0 {
		return nil
	}
	var out []moveAt
	for i := range n {
		for t := time.Duration(int64(every) * int64(i+1) / int64(n)); t < span; t += every {
			out = append(out, moveAt{at: t, client: i})
		}
	}
	slices.SortStableFunc(out, func(a, b moveAt) int { return int(a.at - b.at) })
	return out
}

// pushRoom returns the room of a Push body without copying.
func pushRoom(body []byte) ([]byte, bool) {
	if len(body) < 1 {
		return nil, false
	}
	n, k := binary.Uvarint(body[1:])
	if k <= 0 || n > uint64(len(body)-1-k) {
		return nil, false
	}
	return body[1+k : 1+k+int(n)], true
}

// mobileSide is one transport's clients and relay.
type mobileSide struct {
	transport string
	cl        *clients
	tr        *resumeTracker // mobile mode
	hol       *holResult     // hol mode
	move      func(i int) error
	relay     func() netlab.Stats
	closeFn   func()

	moves, skipped, moveFails atomic.Int64
	migrateFails              atomic.Int64 // QUIC moves whose probe failed: reconnected
	reconnects, attempts      atomic.Int64
	failed                    atomic.Int64
	active                    int
}

func (m *mobileCmd) validate() error {
	switch {
	case m.QUIC < 0 || m.TCP < 0 || m.QUIC+m.TCP == 0:
		return errors.New("--quic and --tcp must be >= 0, not both 0")
	case m.QUIC > 8000 || m.TCP > 4000:
		// A TCP client costs three descriptors here (its socket, both
		// sides at the relay), a QUIC client two (its socket, the relay's
		// upstream socket): under the 20,000 of one process.
		return errors.New("at most 8,000 QUIC and 4,000 TCP clients in one process")
	case len(m.Loss) == 0:
		return errors.New("--loss: give at least one rate")
	case m.Rate <= 0 || m.Rate > 1000 || m.Duration <= 0 || m.Duration > maxDuration:
		return fmt.Errorf("--rate must be in (0, 1000] and --duration in (0, %v]", maxDuration)
	case m.HOL && (m.BusyRate <= 0 || m.SparseRate <= 0):
		return errors.New("--hol needs --busy-rate and --sparse-rate > 0")
	case m.Sources < 1 || m.Sources > 250 || m.DialPar < 1:
		return errors.New("--sources must be in [1, 250] and --dial-concurrency at least 1")
	}
	for _, l := range m.Loss {
		if l < 0 || l > 0.5 {
			return fmt.Errorf("--loss %g: want [0, 0.5]", l)
		}
	}
	return nil
}

func (m *mobileCmd) mode() string {
	if m.HOL {
		return "hol"
	}
	return "mobile"
}

// Run runs each loss rate against a fresh server and prints one JSON line
// per transport and rate; with --out it writes them with their table and
// plot.
func (m *mobileCmd) Run() error {
	if err := pinSelf(m.GenCPUs); err != nil {
		return err
	}
	if err := m.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	if _, err := raiseFileLimit(); err != nil {
		return fmt.Errorf("raise open-file limit: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var rows []mobileResult
	for _, loss := range m.Loss {
		rs, err := m.runLoss(ctx, loss)
		if err != nil {
			return fmt.Errorf("loss %g: %w", loss, err)
		}
		for _, r := range rs {
			b, _ := json.Marshal(r)
			fmt.Println(string(b))
		}
		rows = append(rows, rs...)
	}
	if m.Out == "" {
		return nil
	}
	return writeMobile(m.Out, m.mode(), rows)
}

// runLoss is one loss rate: a fresh server, both relays, both fleets.
func (m *mobileCmd) runLoss(ctx context.Context, loss float64) ([]mobileResult, error) {
	bin, err := serverBinary(config{serverBin: m.ServerBin})
	if err != nil {
		return nil, fmt.Errorf("no quicpush binary: %w", err)
	}
	tgt, err := spawn(bin, m.ServerCPUs, m.ServerFlags)
	if err != nil {
		return nil, err
	}
	defer tgt.stop()
	link := netlab.Link{Delay: m.RTT / 2, Loss: loss}
	path := netlab.Path{Up: link, Down: link}
	logf("%s, loss %.1f%%, RTT %v: server pid %d; %d QUIC and %d TCP clients", m.mode(), 100*loss, m.RTT, tgt.procs[0].pid, m.QUIC, m.TCP)

	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	src := sourceAddrs(0, m.Sources)
	var sides []*mobileSide
	defer func() {
		for _, s := range sides {
			s.closeFn()
		}
	}()
	if m.QUIC > 0 {
		s, err := m.quicSide(rctx, tgt, path, src)
		if err != nil {
			return nil, err
		}
		sides = append(sides, s)
	}
	if m.TCP > 0 {
		s, err := m.tcpSide(rctx, tgt, path, src)
		if err != nil {
			return nil, err
		}
		sides = append(sides, s)
	}

	// Pushers: one room, numbered for the accounting; or rooms A and B.
	var pushers []*pusher
	var rates []float64
	pushCap := int(m.Rate*(m.Warmup+m.Duration+m.Drain+time.Minute).Seconds()*1.25) + 64
	if m.HOL {
		pushers = []*pusher{newPusher(tgt.api, tgt.apiKey, holBusy, m.BusyPayload), newPusher(tgt.api, tgt.apiKey, holSparse, 0)}
		rates = []float64{m.BusyRate, m.SparseRate}
	} else {
		pu := newPusher(tgt.api, tgt.apiKey, mobileRoom, m.Payload)
		pu.numbered = true
		pu.done = func(n, t int64, err error) {
			for _, s := range sides {
				s.tr.done(n, t, err)
			}
		}
		pushers, rates = []*pusher{pu}, []float64{m.Rate}
	}
	for _, pu := range pushers {
		if err := pu.warm(ctx); err != nil {
			return nil, fmt.Errorf("push API: %w", err)
		}
		defer pu.transport.CloseIdleConnections()
	}

	for _, s := range sides {
		if err := m.connect(rctx, s, pushCap); err != nil {
			return nil, err
		}
	}

	// Push, move, measure.
	pctx, stopPush := context.WithCancel(rctx)
	defer stopPush()
	var pushing sync.WaitGroup
	for k, pu := range pushers {
		pushing.Go(func() { pu.run(pctx, rates[k], 32) })
	}
	start := time.Now()
	var moving sync.WaitGroup
	if !m.HOL && m.MoveEvery > 0 {
		for _, s := range sides {
			sched := moveSchedule(s.active, m.MoveEvery, m.Warmup+m.Duration)
			moving.Go(func() { s.runMoves(pctx, sched, start) })
		}
	}
	logf("pushing: %v warmup, %v measured", m.Warmup, m.Duration)
	if !sleep(ctx, m.Warmup) {
		return nil, ctx.Err()
	}
	load0 := loadAvg()
	g0, sv0, b0 := readProc(os.Getpid()).cpu, serverCPU(tgt), machineBusy()
	winStart := time.Now()
	for _, s := range sides {
		s.cl.winStart.Store(winStart.UnixNano())
		s.cl.winEnd.Store(winStart.Add(m.Duration).UnixNano())
	}
	for t := time.Duration(0); t < m.Duration; t += 10 * time.Second {
		if !sleep(ctx, min(10*time.Second, m.Duration-t)) {
			return nil, ctx.Err()
		}
		var b strings.Builder
		for _, s := range sides {
			fmt.Fprintf(&b, "  %s: %d live, %d moves, %d reconnects", s.transport, s.cl.connected(), s.moves.Load(), s.reconnects.Load())
		}
		logf("+%3.0fs%s", time.Since(winStart).Seconds(), b.String())
	}
	wall := time.Since(winStart).Seconds()
	g1, sv1, b1 := readProc(os.Getpid()).cpu, serverCPU(tgt), machineBusy()
	load1 := loadAvg()
	stopPush()
	pushing.Wait()
	moving.Wait()

	// Drain: every accepted push to every client, or quiet for 3 s.
	drainEnd := time.Now().Add(m.Drain)
	if m.HOL {
		drainEnd = time.Now().Add(min(m.Drain, 2*time.Second))
	}
	for time.Now().Before(drainEnd) {
		missing := int64(0)
		for _, s := range sides {
			if s.tr != nil {
				missing += s.tr.missing(s.active)
			}
		}
		if missing == 0 && !m.HOL {
			break
		}
		if !sleep(ctx, 50*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	cancel() // reconnects in flight end
	var out []mobileResult
	for _, s := range sides {
		s.closeFn()
		r := mobileResult{
			Time: time.Now().UTC().Format(time.RFC3339), Mode: m.mode(), Label: m.Label, Transport: s.transport,
			LossPct: 100 * loss, RTTms: float64(m.RTT) / 1e6, Clients: len(s.cl.slots), Connected: s.active,
			Rate: m.Rate, DurationS: m.Duration.Seconds(),
			Moves: s.moves.Load(), MovesSkipped: s.skipped.Load(), MovesFailed: s.moveFails.Load(),
			Reconnects: s.reconnects.Load(), FailedAttempts: s.failed.Load(),
			GenCPU: (g1 - g0).Seconds() / wall, ServerCPU: (sv1 - sv0).Seconds() / wall, MachineCPU: (b1 - b0).Seconds() / wall,
			LoadAvg: load0 + " -> " + load1,
		}
		if !m.HOL {
			r.MoveEveryS = m.MoveEvery.Seconds()
			r.Nudge = m.Nudge && s.transport == "quic" && m.QUICMove == "rebind"
		}
		if s.transport == "quic" {
			r.QUICCID = m.QUICCID
			if !m.HOL {
				r.QUICMove, r.MigrateFailed = m.QUICMove, s.migrateFails.Load()
			}
			r.KeepAliveS = m.KeepAlive.Seconds()
		}
		st := s.relay()
		r.RelayLost, r.RelayForwarded = st.DroppedLoss+st.Retransmitted, st.Forwarded
		r.Errors, r.Disconnects = s.cl.errs.snapshot(), s.cl.disconnects.snapshot()
		if s.tr != nil {
			var sr stormResult
			s.tr.account(&sr)
			r.Pushes, r.PushErrors, r.Expected, r.Delivered, r.Lost = sr.Pushes, sr.PushErrors, sr.Expected, sr.Delivered, sr.Lost
			r.Repeats, r.DupAfterDedup = sr.DupByPosition, sr.DupAfterDedup
			r.LossClients = s.tr.lossClients()
			lat, _ := s.cl.latency()
			r.setLatency(lat)
		}
		if s.hol != nil {
			h := s.hol
			h.BusyRate, h.BusyPayload, h.SparseRate = m.BusyRate, m.BusyPayload, m.SparseRate
			r.Rate = m.SparseRate
			h.BothN, h.OnlyN = h.both.count(), h.only.count()
			h.BothP50ms, h.BothP99ms, h.BothP999ms = h.both.quantile(0.5)/1000, h.both.quantile(0.99)/1000, h.both.quantile(0.999)/1000
			h.OnlyP50ms, h.OnlyP99ms, h.OnlyP999ms = h.only.quantile(0.5)/1000, h.only.quantile(0.99)/1000, h.only.quantile(0.999)/1000
			h.BusyP50ms, h.BusyP99ms = h.busy.quantile(0.5)/1000, h.busy.quantile(0.99)/1000
			bs, oss := h.both.snapshot(), h.only.snapshot()
			h.BothHist, h.OnlyHist = &bs, &oss
			r.Hol = h
			lat, _ := s.cl.latency()
			r.setLatency(lat)
		}
		logf("%s loss %.1f%%: %d moves, %d reconnects; %d expected, %d lost, %d repeats; p50 %.1f ms, p99 %.1f, p99.9 %.1f; generator %.2f cores, server %.2f, machine %.2f; load %s",
			r.Transport, r.LossPct, r.Moves, r.Reconnects, r.Expected, r.Lost, r.Repeats, r.P50ms, r.P99ms, r.P999ms, r.GenCPU, r.ServerCPU, r.MachineCPU, r.LoadAvg)
		if r.Hol != nil {
			logf("   room B: both rooms p50 %.1f p99 %.1f p99.9 %.1f ms; B only p50 %.1f p99 %.1f p99.9 %.1f ms",
				r.Hol.BothP50ms, r.Hol.BothP99ms, r.Hol.BothP999ms, r.Hol.OnlyP50ms, r.Hol.OnlyP99ms, r.Hol.OnlyP999ms)
		}
		out = append(out, r)
	}
	return out, nil
}

func (r *mobileResult) setLatency(h *histogram) {
	s := h.snapshot()
	r.LatencyHist = &s
	r.Deliveries = int64(h.count())
	r.P50ms, r.P99ms, r.P999ms = h.quantile(0.5)/1000, h.quantile(0.99)/1000, h.quantile(0.999)/1000
	r.MaxMs = float64(h.max.Load()) / 1000
}

// loadAvg is /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// rooms returns the rooms of client i: the one room, or (--hol) rooms A
// and B for even clients and B alone for odd ones.
func (m *mobileCmd) rooms() func(i int) []string {
	if !m.HOL {
		return oneRoom(mobileRoom)
	}
	both, only := []string{holBusy, holSparse}, []string{holSparse}
	return func(i int) []string {
		if i%2 == 0 {
			return both
		}
		return only
	}
}

// newSide prepares a transport's clients; users are u<first> on.
func (m *mobileCmd) newSide(ctx context.Context, transport string, n, first int, tgt *target, dial func(context.Context, int) (link, error)) *mobileSide {
	s := &mobileSide{transport: transport}
	s.cl = newClients(dial, n, first, m.rooms(), tgt.jwtSecret, 2*time.Hour, 4*runtime.GOMAXPROCS(0))
	s.cl.onEnd = func(cn *conn) {
		s.reconnects.Add(1)
		if s.tr == nil {
			return // --hol: nothing moves; a session lost is counted, not reopened
		}
		go reconnect(ctx, s.cl, s.tr, cn.i, uint64(cn.i), &s.attempts, &s.failed)
	}
	if m.HOL {
		s.hol = new(holResult)
		s.cl.onStamped = func(cn *conn, body []byte, t, now int64) {
			if t < s.cl.winStart.Load() || t >= s.cl.winEnd.Load() {
				return
			}
			room, ok := pushRoom(body)
			if !ok {
				return
			}
			us := uint64(max(now-t, 0)) / 1000
			switch {
			case string(room) == holBusy:
				s.hol.busy.record(us)
			case cn.i%2 == 0:
				s.hol.both.record(us)
			default:
				s.hol.only.record(us)
			}
		}
	}
	return s
}

// quicSide puts QUIC clients behind a UDP relay, each on a socket of its
// own so that the relay sees (and rebinds) each client apart.
func (m *mobileCmd) quicSide(ctx context.Context, tgt *target, path netlab.Path, src []net.IP) (*mobileSide, error) {
	// A migrating client comes from a new address at each move, and the
	// relay keeps every address it has seen.
	maxClients := m.QUIC + 64
	if m.QUICMove == "migrate" && m.MoveEvery > 0 {
		maxClients += m.QUIC * int((m.Warmup+m.Duration+m.Drain)/m.MoveEvery+1)
	}
	ur, err := netlab.NewUDPRelay(netlab.UDPConfig{Target: tgt.quic[0], Path: path, Seed: m.Seed, MaxClients: maxClients})
	if err != nil {
		return nil, err
	}
	var trs []*quic.Transport
	closeAll := func() {
		for _, tr := range trs {
			_ = tr.Close()
			_ = tr.Conn.Close()
		}
		_ = ur.Close()
	}
	if m.QUICCID == "4" {
		for i := range m.QUIC {
			uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: src[i%len(src)]})
			if err != nil {
				closeAll()
				return nil, err
			}
			trs = append(trs, &quic.Transport{Conn: uc})
		}
	}
	tlsConf, qconf := clientTLS(), clientQUICConfig()
	qconf.KeepAlivePeriod = m.KeepAlive
	relay := ur.Addr().String()
	local := make([]atomic.Pointer[netip.AddrPort], m.QUIC)
	dial := func(ctx context.Context, i int) (link, error) {
		o := frameconn.Options{TLS: tlsConf, QUICConfig: qconf, ReadBufferSize: readBufSize}
		if trs != nil {
			o.QUICTransport = trs[i]
		}
		c, err := frameconn.DialQUIC(ctx, relay, o)
		if err == nil {
			// A socket of quic.DialAddr is bound to the unspecified
			// address; the relay sees it from loopback.
			a := c.QUIC().LocalAddr().(*net.UDPAddr).AddrPort()
			if a.Addr().IsUnspecified() {
				a = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), a.Port())
			}
			local[i].Store(&a)
		}
		return linked(c, err)
	}
	s := m.newSide(ctx, "quic", m.QUIC, 0, tgt, dial)
	var nudges atomic.Uint32
	s.move = func(i int) error {
		a := local[i].Load()
		if a == nil {
			return errors.New("not connected yet")
		}
		if m.QUICMove == "migrate" {
			cn := s.cl.slots[i].Load()
			if cn == nil {
				return errors.New("not connected")
			}
			return m.migrate(ctx, cn, a.Addr(), &s.migrateFails, func(seq uint32) error {
				return cn.writeLocked(wire.AppendFrame(nil, wire.OpPing, 3<<30+seq%(1<<30), nil))
			}, nudges.Add)
		}
		if _, err := ur.Rebind(*a); err != nil {
			return err
		}
		if cn := s.cl.slots[i].Load(); cn != nil && m.Nudge {
			// A packet from the new address is what makes the edge see
			// it, validate it and move the connection there. Sequence
			// numbers from 3<<30 keep clear of the pinger's.
			seq := 3<<30 + nudges.Add(1)%(1<<30)
			if err := cn.writeLocked(wire.AppendFrame(nil, wire.OpPing, seq, nil)); err != nil {
				s.cl.errs.add("ping after a move: " + causeOf(err))
			}
		}
		return nil
	}
	s.relay = ur.Stats
	var once sync.Once
	s.closeFn = func() { once.Do(func() { s.cl.closeAll(64, 10*time.Second); closeAll() }) }
	return s, nil
}

// migrateTimeout bounds a QUIC client's probe of its new path, as
// clients/go's DefaultMigrateTimeout does.
const migrateTimeout = 3 * time.Second

// migrate moves cn's QUIC connection to a new socket on ip, as
// clients/go's Client.Migrate does: the relay sees the client at a new
// address, as the edge sees a phone on its new network. If the probe goes
// unanswered the connection is closed, and the client reconnects and resumes
// as a TCP client does after its cut; fails counts those.
func (m *mobileCmd) migrate(ctx context.Context, cn *conn, ip netip.Addr, fails *atomic.Int64, ping func(uint32) error, next func(uint32) uint32) error {
	fl, ok := cn.l.(frameLink)
	if !ok || fl.c.QUIC() == nil {
		return errors.New("not a QUIC connection")
	}
	uc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, migrateTimeout)
	defer cancel()
	if err := fl.c.MovePath(pctx, uc); err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // the run ended: the connection stays as it was
		}
		fails.Add(1)
		fl.close()
		return nil
	}
	// The old network may be gone: a packet on the new path is what tells
	// the edge to send there.
	if err := ping(next(1)); err != nil {
		return fmt.Errorf("ping after a migration: %w", err)
	}
	return nil
}

// tcpSide puts framed TCP clients behind a TCP relay; a move cuts the
// client's connection there.
func (m *mobileCmd) tcpSide(ctx context.Context, tgt *target, path netlab.Path, src []net.IP) (*mobileSide, error) {
	tr, err := netlab.NewTCPRelay(netlab.TCPConfig{Target: tgt.tcp[0], Path: path, Seed: m.Seed, MaxConns: 2*m.TCP + 64})
	if err != nil {
		return nil, err
	}
	local := make([]atomic.Pointer[netip.AddrPort], m.TCP)
	td := tcpDialer(src)
	relay := tr.Addr().String()
	dial := func(ctx context.Context, i int) (link, error) {
		return linked(frameconn.DialTCP(ctx, relay, frameconn.Options{
			ReadBufferSize: readBufSize,
			NetDial: func(ctx context.Context, _, addr string) (net.Conn, error) {
				c, err := td(ctx, addr, i)
				if err == nil {
					a := c.LocalAddr().(*net.TCPAddr).AddrPort()
					local[i].Store(&a)
				}
				return c, err
			},
		}))
	}
	s := m.newSide(ctx, "tcp", m.TCP, m.QUIC, tgt, dial)
	s.move = func(i int) error {
		a := local[i].Load()
		if a == nil || !tr.CutConn(*a) {
			return errors.New("no connection at the relay")
		}
		return nil
	}
	s.relay = tr.Stats
	var once sync.Once
	s.closeFn = func() { once.Do(func() { s.cl.closeAll(64, 10*time.Second); _ = tr.Close() }) }
	return s, nil
}

// connect opens a side's clients, tries the failed ones again, and starts
// their pinger and (mobile) their accounting.
func (m *mobileCmd) connect(ctx context.Context, s *mobileSide, pushCap int) error {
	n := len(s.cl.slots)
	if !m.HOL {
		s.tr = newResumeTracker(n, pushCap)
		s.cl.resume = s.tr
	}
	logf("connecting %d %s clients through the lab", n, s.transport)
	start := time.Now()
	s.cl.connect(ctx, n, m.DialPar, func(done int) { logf("  %d %s handshakes done", done, s.transport) })
	if missing := unconnected(s.cl); len(missing) > 0 && s.tr != nil {
		logf("connecting %d failed %s clients again", len(missing), s.transport)
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var a, f atomic.Int64
		var wg sync.WaitGroup
		for k, i := range missing {
			wg.Go(func() { reconnect(rctx, s.cl, s.tr, i, uint64(k), &a, &f) })
		}
		wg.Wait()
		cancel()
	}
	for i := range s.cl.slots {
		if s.cl.slots[i].Load() != nil {
			s.active++
			if s.tr != nil {
				s.tr.slots[i].active = true
			}
		}
	}
	logf("connected %d of %d %s clients in %.1fs", s.active, n, s.transport, time.Since(start).Seconds())
	if s.active == 0 {
		return fmt.Errorf("no %s client connected: %v", s.transport, s.cl.errs.snapshot())
	}
	go s.cl.ping(ctx)
	return nil
}

// runMoves moves the clients on schedule from start until ctx ends. A move
// runs on its own goroutine, at most maxMovesInFlight at once: a QUIC
// migration waits a round trip or more for its probe, longer than the
// schedule's spacing of moves.
func (s *mobileSide) runMoves(ctx context.Context, sched []moveAt, start time.Time) {
	const maxMovesInFlight = 256
	sem := make(chan struct{}, maxMovesInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, mv := range sched {
		if !sleep(ctx, time.Until(start.Add(mv.at))) {
			return
		}
		if s.cl.slots[mv.client].Load() == nil {
			s.skipped.Add(1)
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := s.move(mv.client); err != nil {
				s.moveFails.Add(1)
				return
			}
			s.moves.Add(1)
		})
	}
}

// lossClients counts the active clients that miss at least one push the
// API accepted, and logs the first few: where a client's pushes stop tells
// a connection that went deaf from scattered losses.
func (t *resumeTracker) lossClients() int {
	n := 0
	for i := range t.slots {
		s := &t.slots[i]
		s.mu.Lock()
		for k := range t.recs {
			if s.active && t.recs[k].Load() == pushOK && !s.has(k) {
				if n < 5 {
					logf("  client %d misses push %d (received up to %d)", i, k, s.hi)
				}
				n++
				break
			}
		}
		s.mu.Unlock()
	}
	return n
}
