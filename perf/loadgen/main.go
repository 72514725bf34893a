// Command loadgen measures a quicpush server under load: it opens N client
// connections over one transport, joins them to one room, measures the
// server's idle memory per connection, then pushes to the room at a steady
// rate and measures deliveries per second, end-to-end latency and the
// server's CPU per delivery. It prints one JSON line per run on stdout and a
// summary on stderr.
//
//	loadgen --spawn --transport tcp --conns 2000 --rate 40 --duration 10s
//	loadgen table perf/results/*.json
//
// With --spawn it starts `quicpush serve` itself on free loopback ports;
// otherwise point it at a running server with --api, --edge-quic,
// --edge-tcp, --dev-dir and --server-pid. See perf/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// Bounds that keep a run inside what one process and this kind of box can
// hold. TCP and WebSocket connections each take a file descriptor in the
// generator and in the server, both limited to 20,000.
const (
	maxStreamConns = 19_000
	maxQUICConns   = 20_000
	maxDuration    = 10 * time.Minute
	maxWarmup      = 2 * time.Minute
	maxRate        = 20_000
	// disturbed is the CPU (in cores) other processes and the hypervisor
	// may take during a measurement before it counts as disturbed.
	disturbed = 0.2
)

type config struct {
	transport   string
	conns       int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	payload     int
	room        string
	sources     int
	quicSockets int
	pushers     int
	dialPar     int
	settle      time.Duration
	drain       time.Duration
	label       string
	serverRev   string
	cpuProfile  string
	heapProfile string
	quietWait   time.Duration
	retries     int

	spawn       bool
	serverBin   string
	serverCPUs  string
	serverFlags multiFlag
	genCPUs     string

	api, edgeQUIC, edgeTCP, devDir, admin string
	serverPID                             int
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "table" {
		if err := printTable(os.Stdout, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}
	var c config
	fs := flag.NewFlagSet("loadgen", flag.ExitOnError)
	fs.StringVar(&c.transport, "transport", "tcp", "tcp, ws, quic or webtransport")
	fs.IntVar(&c.conns, "conns", 1000, "connections, all in one room")
	fs.Float64Var(&c.rate, "rate", 40, "pushes per second to the room (0: measure idle memory only)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured push phase")
	fs.DurationVar(&c.warmup, "warmup", 3*time.Second, "pushing before the measurement starts")
	fs.IntVar(&c.payload, "payload", 0, `payload size in bytes: {"test":1,"t":<unix nanos>} padded; 0 means unpadded (34 bytes)`)
	fs.StringVar(&c.room, "room", "bench", "room name")
	fs.IntVar(&c.sources, "sources", 4, "spread connections over source addresses 127.0.0.2 .. 127.0.0.(K+1); 0 lets the kernel choose")
	fs.IntVar(&c.quicSockets, "quic-sockets", 8, "UDP sockets shared by the QUIC and WebTransport connections")
	fs.IntVar(&c.pushers, "pushers", 128, "concurrent PushRoom calls at most (one HTTP/2 connection)")
	fs.IntVar(&c.dialPar, "dial-concurrency", 64, "connections handshaking at once")
	fs.DurationVar(&c.settle, "settle", 3*time.Second, "wait after connecting before measuring idle memory")
	fs.DurationVar(&c.drain, "drain", 10*time.Second, "longest wait for deliveries after the last push")
	fs.StringVar(&c.label, "label", "", "free text copied into the result")
	fs.DurationVar(&c.quietWait, "quiet-wait", 0, "before starting, wait up to this long for other processes to leave the CPUs idle")
	fs.IntVar(&c.retries, "retries", 0, "run again (against a fresh server) up to this many times when other processes or the hypervisor took more than 0.2 cores during the measurement")
	fs.StringVar(&c.serverRev, "server-rev", "", "the server's source revision, copied into the result (bench.sh passes git describe)")
	fs.StringVar(&c.cpuProfile, "cpu-profile", "", "save the server's CPU profile over the measured window here (needs pprof: serve --admin-addr)")
	fs.StringVar(&c.heapProfile, "heap-profile", "", "save the server's heap profile (after a GC) once connected and idle here (needs pprof: serve --admin-addr)")
	fs.BoolVar(&c.spawn, "spawn", false, "start `quicpush serve` on free loopback ports with a fresh dev dir")
	fs.StringVar(&c.serverBin, "server-bin", "", "quicpush binary for --spawn (default: quicpush next to loadgen, then $PATH)")
	fs.StringVar(&c.serverCPUs, "server-cpus", "", "with --spawn, pin the server to these CPUs (taskset -c), e.g. 0")
	fs.Var(&c.serverFlags, "server-flag", "with --spawn, an extra flag for `quicpush serve` (repeatable), e.g. --server-flag=--merge-window=5ms")
	fs.StringVar(&c.genCPUs, "gen-cpus", "", "pin the generator to these CPUs (re-exec under taskset -c), e.g. 1")
	fs.StringVar(&c.genCPUs, "gen-cpu", "", "same as --gen-cpus")
	fs.StringVar(&c.api, "api", "", "push API host:port (without --spawn)")
	fs.StringVar(&c.edgeQUIC, "edge-quic", "", "edge UDP host:port for quic and webtransport (without --spawn)")
	fs.StringVar(&c.admin, "admin", "", "the server's --admin-addr host:port, for pprof (without --spawn; optional)")
	fs.StringVar(&c.edgeTCP, "edge-tcp", "", "edge TCP host:port for tcp and ws (without --spawn)")
	fs.StringVar(&c.devDir, "dev-dir", ".quicpush-dev", "the server's dev dir, to read secrets.json (without --spawn)")
	fs.IntVar(&c.serverPID, "server-pid", 0, "server process id, for CPU and RSS from /proc (without --spawn; default: from /metrics)")
	_ = fs.Parse(os.Args[1:])

	if err := pinSelf(c.genCPUs); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	if err := c.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	// The receive path allocates little; a higher GOGC keeps the collector
	// off the generator's single core.
	debug.SetGCPercent(200)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A run ends by itself: this is the backstop if something hangs.
	budget := time.Duration(c.retries+1) * (10*time.Minute + c.warmup + c.duration + c.drain + c.settle + c.quietWait)
	watchdog := time.AfterFunc(budget, func() {
		fmt.Fprintf(os.Stderr, "loadgen: run exceeded %v, giving up\n", budget)
		os.Exit(3)
	})
	defer watchdog.Stop()

	var r *result
	for attempt := 0; ; attempt++ {
		var err error
		r, err = run(ctx, c)
		if err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		r.Attempts = attempt + 1
		r.Disturbed = r.OtherCPUUtil+r.StealUtil > disturbed
		if !r.Disturbed || attempt >= c.retries || ctx.Err() != nil {
			break
		}
		logf("disturbed by other processes (%.2f cores) or steal (%.2f): running again", r.OtherCPUUtil, r.StealUtil)
	}
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
	r.summary(os.Stderr)
}

func (c *config) validate() error {
	switch c.transport {
	case "tcp", "ws":
		if c.conns > maxStreamConns {
			return fmt.Errorf("--conns %d over %d: one process holds at most ~20,000 sockets; run several generators", c.conns, maxStreamConns)
		}
	case "quic", "webtransport":
		if c.conns > maxQUICConns {
			return fmt.Errorf("--conns %d over %d for %s", c.conns, maxQUICConns, c.transport)
		}
	default:
		return fmt.Errorf("--transport %q: want tcp, ws, quic or webtransport", c.transport)
	}
	switch {
	case c.conns < 1:
		return errors.New("--conns must be at least 1")
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("--duration must be in (0, %v]", maxDuration)
	case c.warmup < 0 || c.warmup > maxWarmup:
		return fmt.Errorf("--warmup must be in [0, %v]", maxWarmup)
	case c.rate < 0 || c.rate > maxRate:
		return fmt.Errorf("--rate must be in [0, %d]", maxRate)
	case c.payload > 60<<10:
		return errors.New("--payload over the push API's 60 KiB limit")
	case c.sources < 0 || c.sources > 250:
		return errors.New("--sources must be in [0, 250]")
	case c.retries < 0 || c.retries > 5:
		return errors.New("--retries must be in [0, 5]")
	case c.pushers < 1 || c.dialPar < 1:
		return errors.New("--pushers and --dial-concurrency must be at least 1")
	}
	if !c.spawn {
		need := c.edgeTCP
		if c.transport == "quic" || c.transport == "webtransport" {
			need = c.edgeQUIC
		}
		if c.api == "" || need == "" {
			return errors.New("without --spawn, give --api and --edge-tcp (tcp, ws) or --edge-quic (quic, webtransport)")
		}
	}
	return nil
}

func serverBinary(c config) (string, error) {
	if c.serverBin != "" {
		return c.serverBin, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "quicpush")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return exec.LookPath("quicpush")
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// run performs one measurement: connect, idle memory, push phase, drain.
func run(ctx context.Context, c config) (*result, error) {
	nofile, err := raiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("raise open-file limit: %w", err)
	}
	if (c.transport == "tcp" || c.transport == "ws") && uint64(c.conns)+500 > nofile {
		return nil, fmt.Errorf("--conns %d needs more than the %d open files allowed", c.conns, nofile)
	}

	if c.quietWait > 0 {
		if other := waitQuiet(ctx, c.serverPID, c.quietWait); other >= 0.15 {
			logf("warning: other processes use %.2f cores; figures will be disturbed", other)
		}
	}
	var tgt *target
	if c.spawn {
		bin, err := serverBinary(c)
		if err != nil {
			return nil, fmt.Errorf("no quicpush binary: %w", err)
		}
		if tgt, err = spawn(bin, c.serverCPUs, c.serverFlags); err != nil {
			return nil, err
		}
		logf("spawned %s (pid %d, cpus %q): quic %s, tcp %s, api %s", bin, tgt.pid, c.serverCPUs, tgt.quic, tgt.tcp, tgt.api)
	} else {
		key, secret, err := readSecrets(c.devDir)
		if err != nil {
			return nil, err
		}
		tgt = &target{api: c.api, quic: c.edgeQUIC, tcp: c.edgeTCP, pprof: c.admin, pid: c.serverPID, apiKey: key, jwtSecret: secret}
	}
	defer tgt.stop()

	var src []net.IP
	if c.sources > 0 {
		src = sourceAddrs(c.sources)
	}
	var dial func(context.Context, int) (link, error)
	var genUDP map[int]bool
	switch c.transport {
	case "tcp":
		dial = dialTCP(tgt.tcp, src)
	case "ws":
		dial = dialWS(tgt.tcp, src)
	case "quic", "webtransport":
		pool, err := newQUICPool(tgt.quic, c.quicSockets, src)
		if err != nil {
			return nil, err
		}
		defer pool.close()
		genUDP = pool.ports()
		if c.transport == "quic" {
			dial = dialQUIC(pool)
		} else {
			dial = dialWebTransport(pool, tgt.quic)
		}
	}

	res := &result{
		Time: time.Now().UTC().Format(time.RFC3339), Label: c.label, Rev: c.serverRev, Transport: c.transport, Conns: c.conns,
		Rate: c.rate, DurationS: c.duration.Seconds(), WarmupS: c.warmup.Seconds(), PayloadBytes: c.payload,
		ServerPin: c.serverCPUs, GenPin: cpuAffinity(), GenProcs: runtime.GOMAXPROCS(0),
	}
	ttl := 2*time.Hour + c.duration + c.warmup
	cl := newClients(dial, c.room, tgt.jwtSecret, ttl, 4*runtime.GOMAXPROCS(0))

	// Baseline, then connect.
	baseLive, haveLive := tgt.liveHeap(ctx, "")
	base, baseM := serverMemory(tgt)
	logf("connecting %d %s clients (%d at a time)", c.conns, c.transport, c.dialPar)
	start := time.Now()
	cl.connect(ctx, c.conns, c.dialPar, func(done int) { logf("  %d handshakes done", done) })
	res.ConnectS = time.Since(start).Seconds()
	res.ConnsOK = cl.connected()
	res.ConnectPerS = float64(res.ConnsOK) / res.ConnectS
	res.ConnectFails = cl.errs.total()
	defer cl.closeAll(64, 10*time.Second)
	logf("connected %d of %d in %.2fs (%.0f/s), %d failed", res.ConnsOK, c.conns, res.ConnectS, res.ConnectPerS, res.ConnectFails)
	if res.ConnsOK == 0 {
		res.Errors = cl.errs.snapshot()
		return nil, fmt.Errorf("no connection succeeded: %v", res.Errors)
	}
	pingCtx, stopPing := context.WithCancel(ctx)
	defer stopPing()
	go cl.ping(pingCtx)

	// Idle memory, and the CPU the server spends on idle connections over
	// the second half of the settle time.
	if !sleep(ctx, c.settle/2) {
		return nil, ctx.Err()
	}
	idleCPU0, idleT0 := serverCPU(tgt), time.Now()
	if !sleep(ctx, c.settle-c.settle/2) {
		return nil, ctx.Err()
	}
	res.ServerIdleCPUUtil = (serverCPU(tgt) - idleCPU0).Seconds() / time.Since(idleT0).Seconds()
	idle, idleM := serverMemory(tgt)
	n := float64(res.ConnsOK)
	res.ServerIdleRSS = idle.rss
	res.RSSPerConn = float64(idle.rss-base.rss) / n
	res.HeapPerConn = (idleM.heapInuse - baseM.heapInuse) / n
	res.StackPerConn = (idleM.stackInuse - baseM.stackInuse) / n
	res.GoroutinesPerConn = (idleM.goroutines - baseM.goroutines) / n
	logf("idle: %.1f KiB RSS, %.1f KiB heap, %.1f KiB stack, %.2f goroutines per connection; server CPU %.0f%%",
		res.RSSPerConn/1024, res.HeapPerConn/1024, res.StackPerConn/1024, res.GoroutinesPerConn, 100*res.ServerIdleCPUUtil)
	if haveLive {
		if live, ok := tgt.liveHeap(ctx, c.heapProfile); ok {
			res.LiveHeapPerConn = (live - baseLive) / n
			logf("live heap after a forced GC: %.1f KiB per connection", res.LiveHeapPerConn/1024)
			if c.heapProfile != "" {
				logf("heap profile saved to %s", c.heapProfile)
			}
		}
	} else if c.heapProfile != "" {
		logf("heap profile: the server exposes no pprof endpoint (start it with --admin-addr; with --spawn: --server-flag=--admin-addr=127.0.0.1:0)")
	}

	if c.rate > 0 {
		if err := pushPhase(ctx, c, tgt, cl, res, genUDP); err != nil {
			return nil, err
		}
	}
	res.Pongs = cl.pongs()
	if n := cl.unstamped(); n > 0 {
		cl.errs.addN("pushes without a send time", n)
	}
	res.Errors = cl.errs.snapshot()
	res.Disconnects = cl.disconnects.snapshot()
	return res, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// serverMemory reads the server's RSS (from /proc when its pid is known, else
// from its metrics) and its metrics.
func serverMemory(t *target) (procStat, scrape) {
	m := scrapeMetrics(t.api)
	p := readProc(t.pid)
	if !p.ok {
		p = procStat{cpu: time.Duration(m.cpu * float64(time.Second)), rss: int64(m.rss), ok: m.ok}
	}
	return p, m
}

func serverCPU(t *target) time.Duration {
	if p := readProc(t.pid); p.ok {
		return p.cpu
	}
	return time.Duration(scrapeMetrics(t.api).cpu * float64(time.Second))
}

// pushPhase pushes through the warmup and the measured window, waits for the
// window's deliveries and fills in the delivery, latency and CPU figures.
func pushPhase(ctx context.Context, c config, tgt *target, cl *clients, res *result, genUDP map[int]bool) error {
	srvUDP := map[int]bool{}
	if genUDP != nil {
		srvUDP[port(tgt.quic)] = true
	}
	p := newPusher(tgt.api, tgt.apiKey, c.room, c.payload, &cl.winStart, &cl.winEnd)
	defer p.transport.CloseIdleConnections()
	pctx, stopPush := context.WithCancel(ctx)
	defer stopPush()
	pushDone := make(chan struct{})
	go func() { p.run(pctx, c.rate, c.pushers); close(pushDone) }()

	logf("pushing %.0f/s: %v warmup, then %v measured", c.rate, c.warmup, c.duration)
	if !sleep(ctx, c.warmup) {
		return ctx.Err()
	}
	m0 := scrapeMetrics(tgt.api)
	self := os.Getpid()
	g0, s0, b0, st0 := readProc(self).cpu, serverCPU(tgt), machineBusy(), machineSteal()
	a0, r0 := cl.arrivals(), cl.reads()
	sd0, gd0 := udpDrops(srvUDP), udpDrops(genUDP)
	winStart := time.Now()
	cl.winStart.Store(winStart.UnixNano())
	profDone := make(chan struct{})
	if c.cpuProfile != "" {
		go func() {
			defer close(profDone)
			secs := max(1, int(c.duration.Seconds()))
			if err := tgt.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), c.cpuProfile); err != nil {
				logf("cpu profile: %v", err)
			} else {
				logf("cpu profile saved to %s", c.cpuProfile)
			}
		}()
	} else {
		close(profDone)
	}
	defer func() { <-profDone }()

	// Progress once a second.
	tk := time.NewTicker(time.Second)
	lastA, lastS, lastG, lastB, lastT := a0, s0, g0, b0, winStart
	end := winStart.Add(c.duration)
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			tk.Stop()
			return ctx.Err()
		case now := <-tk.C:
			a, s, g, b := cl.arrivals(), serverCPU(tgt), readProc(self).cpu, machineBusy()
			dt := now.Sub(lastT).Seconds()
			logf("  %7.0f deliveries/s   server CPU %3.0f%%   generator CPU %3.0f%%   others %3.0f%%   errors %d",
				float64(a-lastA)/dt, 100*(s-lastS).Seconds()/dt, 100*(g-lastG).Seconds()/dt,
				100*max(0, (b-lastB)-(s-lastS)-(g-lastG)).Seconds()/dt, cl.errs.total()-res.ConnectFails)
			lastA, lastS, lastG, lastB, lastT = a, s, g, b, now
		case <-time.After(time.Until(end)):
		}
	}
	tk.Stop()
	winEnd := time.Now()
	cl.winEnd.Store(winEnd.UnixNano())
	stopPush()
	<-pushDone
	pushEnd := time.Now()

	// Wait for the window's deliveries: until all arrived, nothing arrived
	// for 3 seconds (QUIC recovers lost packets with backoff), or the drain
	// limit.
	expected := p.accepted.Load() * int64(res.ConnsOK)
	deadline := pushEnd.Add(c.drain)
	prev, still := int64(-1), time.Now()
	for {
		got := cl.delivered()
		if got >= expected || time.Now().After(deadline) {
			break
		}
		if got != prev {
			prev, still = got, time.Now()
		} else if time.Since(still) > 3*time.Second {
			break
		}
		if !sleep(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
	g1, s1, b1, st1 := readProc(self).cpu, serverCPU(tgt), machineBusy(), machineSteal()
	a1, r1 := cl.arrivals(), cl.reads()
	res.ServerUDPDrops, res.GenUDPDrops = udpDrops(srvUDP)-sd0, udpDrops(genUDP)-gd0
	wall := time.Since(winStart).Seconds()
	m1 := scrapeMetrics(tgt.api)
	if p1 := readProc(tgt.pid); p1.ok {
		res.ServerEndRSS = p1.rss
	}

	lat, last := cl.latency()
	res.Pushes = p.accepted.Load()
	res.PushErrors = p.failed.Load()
	res.PushRate = float64(res.Pushes+res.PushErrors) / c.duration.Seconds()
	res.PushesBehind = p.behind.Load()
	res.Expected = expected
	res.Deliveries = int64(lat.count())
	res.Lost = expected - res.Deliveries
	span := max(c.duration.Seconds(), last.Sub(winStart).Seconds())
	res.DeliveriesPerS = float64(res.Deliveries) / span
	res.DrainS = max(0, last.Sub(winEnd).Seconds())
	ms := func(us float64) float64 { return us / 1000 }
	res.P50ms, res.P90ms = ms(lat.quantile(0.5)), ms(lat.quantile(0.9))
	res.P99ms, res.P999ms = ms(lat.quantile(0.99)), ms(lat.quantile(0.999))
	res.MaxMs, res.MeanMs = ms(float64(lat.max.Load())), ms(lat.mean())
	res.PushCallP50ms, res.PushCallP99ms = ms(p.callLat.quantile(0.5)), ms(p.callLat.quantile(0.99))

	res.MeasuredFrames = a1 - a0
	if r1 > r0 {
		res.PushesPerRead = float64(a1-a0) / float64(r1-r0)
	}
	res.ServerCPUs = (s1 - s0).Seconds()
	if s1 < s0 || (tgt.pid > 0 && !readProc(tgt.pid).ok) {
		// The server is gone: its CPU time went with it.
		cl.errs.add("server exited during the measurement")
		res.ServerCPUs = 0
	}
	if res.MeasuredFrames > 0 {
		res.CPUsPerMillion = res.ServerCPUs / float64(res.MeasuredFrames) * 1e6
	}
	res.ServerCPUUtil = res.ServerCPUs / wall
	res.GenCPUs = (g1 - g0).Seconds()
	res.GenCPUUtil = res.GenCPUs / wall / float64(runtime.GOMAXPROCS(0))
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
	for k, v := range p.errs.snapshot() {
		cl.errs.addN("push: "+k, v)
	}
	return nil
}
