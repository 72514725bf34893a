// Command loadgen measures a quicpush server under load. Each run is one
// scenario on one transport against a server it spawns (or one already
// running), and prints one JSON line on stdout and a summary on stderr:
//
//	idle        N connections, no traffic: memory and goroutines per connection, setup rate
//	goim-room   N connections in one room, R pushes/s: deliveries/s, latency, CPU per delivery
//	saturation  one room, R doubled step by step until deliveries stop rising
//	many-rooms  personal and 10-member group rooms, random pushes, 10% of connections churning per minute
//	churn       connect, auth, join, leave, close in a loop: handshakes per second
//	resume-storm  N connections in one room cut at once, pushes go on, all reconnect and
//	            resume from their positions: time until all are live again, exactly-once check
//
//	loadgen run --spawn --scenario goim-room --transport tcp --conns 2000 --rate 40
//	loadgen run --spawn --transport ws --conns 20000 --workers 2   (over 19,000: worker processes)
//	loadgen table perf/results/<date>/*.json
//	loadgen report perf/results/<date>     (report.md and PNG plots)
//	loadgen frontier perf/results/<date>/frontier -o frontier.png   (and frontier.md)
//	loadgen mobile --quic 1000 --tcp 1000 --loss 0,0.01,0.05 --out perf/results/<date>/mobile
//	            (mobile.json, mobile.md, mobile.png; --hol: hol.*)
//
// run is the default command: `loadgen --spawn ...` is `loadgen run
// --spawn ...`. `loadgen worker` is a worker process of a run spread over
// several (worker.go); the run starts it itself.
//
// With --spawn it starts `quicpush serve` itself on free loopback ports;
// otherwise point it at a running server with --api, --edge-quic,
// --edge-tcp, --dev-dir and --server-pid, or at a cluster: comma lists of
// edges in --edge-quic and --edge-tcp, and its processes' admin listeners in
// --server-admin (perf/cluster.sh). See perf/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
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
	scenario    string
	transport   string
	conns       int
	workers     int
	rate        float64
	duration    time.Duration
	warmup      time.Duration
	payload     int
	room        string
	sources     int
	sourceBase  int
	first       int
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

	sat   satConfig
	rooms roomsConfig
	churn churnConfig
	storm stormConfig

	spawn       bool
	serverBin   string
	serverCPUs  string
	serverFlags []string
	genCPUs     string

	// edgeQUIC and edgeTCP are comma lists; serverAdmin and serverPID
	// comma lists of [name=]host:port and [name=]pid (parseServerProcs).
	api, edgeQUIC, edgeTCP, devDir, admin string
	serverAdmin, serverPID                string
}

// scenarios names the scenarios --scenario accepts.
var scenarios = []string{"idle", "goim-room", "saturation", "many-rooms", "churn", "resume-storm"}

type cli struct {
	Run           runCmd           `cmd:"" default:"withargs" help:"Run one scenario on one transport: one JSON line on stdout, a summary on stderr (the default command)."`
	Worker        workerModeCmd    `cmd:"" help:"Hold a share of a run's connections and answer its coordinator on stdin and stdout (started by run with --workers)."`
	Table         tableCmd         `cmd:"" help:"Print a Markdown table of the runs in FILES (JSON lines)."`
	Report        reportCmd        `cmd:"" help:"Write report.md and PNG plots from the runs (*.json) in DIR."`
	Mobile        mobileCmd        `cmd:"" help:"QUIC and TCP clients side by side through the network lab (delay, loss), moving their addresses: losses, reconnects, latency per loss rate; --hol: head-of-line blocking between two rooms of one connection."`
	Frontier      frontierCmd      `cmd:"" help:"Plot p99 latency against server CPU per million deliveries of the goim-room runs in DIR, one line per transport through its write budgets, and write their table next to the PNG (.md)."`
	ReconnectCost reconnectCostCmd `cmd:"" name:"reconnect-cost" help:"Measure the time from a reconnect's dial to its first missed push through a lab path: full QUIC handshake, QUIC 0-RTT, full TLS handshake, resumed TLS session."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c,
		kong.Name("loadgen"),
		kong.Description("Measure a quicpush server under load. See perf/README.md."),
		kong.UsageOnError(),
		// As the flag package did: --server-flag --admin-addr=... passes
		// the next argument on whatever it starts with.
		kong.WithHyphenPrefixedParameters(true),
	)
	if err := ctx.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

type tableCmd struct {
	Files []string `arg:"" optional:"" help:"Result files, one JSON line per run."`
}

func (t *tableCmd) Run() error { return printTable(os.Stdout, t.Files) }

type reportCmd struct {
	Dir string `arg:"" help:"A folder of results, e.g. perf/results/<date>."`
}

func (r *reportCmd) Run() error { return writeReport(r.Dir) }

// workerModeCmd is `loadgen worker` (workerCmd is what its coordinator
// sends it).
type workerModeCmd struct {
	runFlags
}

func (w *workerModeCmd) Run() error { return runWorker(context.Background(), w.config()) }

type runCmd struct {
	runFlags
}

// Run performs the run, again when it was disturbed and --retries allows,
// and prints its result. A run that cannot start exits with 2, a failed one
// with 1, one that hangs past its budget with 3.
func (r *runCmd) Run() error {
	c := r.config()
	if err := pinSelf(c.genCPUs); err != nil {
		return err
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
	budget := time.Duration(c.retries+1) * (10*time.Minute + c.budget())
	watchdog := time.AfterFunc(budget, func() {
		fmt.Fprintf(os.Stderr, "loadgen: run exceeded %v, giving up\n", budget)
		os.Exit(3)
	})
	defer watchdog.Stop()

	var res *result
	for attempt := 0; ; attempt++ {
		var err error
		res, err = runScenario(ctx, c)
		if err != nil {
			return err
		}
		res.Attempts = attempt + 1
		// Churn's own kernel work (softirqs of short-lived loopback
		// connections) shows as "other": it does not mark a churn run.
		res.Disturbed = res.OtherCPUUtil+res.StealUtil > disturbed && c.scenario != "churn"
		if !res.Disturbed || attempt >= c.retries || ctx.Err() != nil {
			break
		}
		logf("disturbed by other processes (%.2f cores) or steal (%.2f): running again", res.OtherCPUUtil, res.StealUtil)
		if !c.spawn {
			// The same server: let it drop this attempt's sessions before
			// the next attempt takes its baseline.
			sleep(ctx, 5*time.Second)
		}
	}
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	res.summary(os.Stderr)
	return nil
}

// budget is how long a run may take at most, the connect phase aside.
func (c *config) budget() time.Duration {
	d := c.warmup + c.duration + c.drain + c.settle + c.quietWait
	if c.scenario == "saturation" {
		d += time.Duration(c.sat.maxSteps+2+c.sat.refine) * (c.sat.step + time.Second + c.drain)
	}
	if c.scenario == "resume-storm" {
		d += time.Second + c.storm.gap + 5*time.Second + c.storm.timeout + c.storm.tail
	}
	return d
}

// streamWorkers is how many processes a run of c needs for its TCP or
// WebSocket connections.
func (c *config) streamWorkers() int {
	if c.workers > 0 {
		return c.workers
	}
	if c.transport == "tcp" || c.transport == "ws" {
		return (c.conns + maxStreamConns - 1) / maxStreamConns
	}
	return 1
}

func (c *config) validate() error {
	if !slices.Contains(scenarios, c.scenario) {
		return fmt.Errorf("--scenario %q: want one of %s", c.scenario, strings.Join(scenarios, ", "))
	}
	multi := c.streamWorkers() > 1
	if multi && c.scenario != "idle" && c.scenario != "goim-room" {
		return fmt.Errorf("--workers: only idle and goim-room run over several processes")
	}
	switch c.transport {
	case "tcp", "ws":
		if c.conns > maxStreamConns*c.streamWorkers() {
			return fmt.Errorf("--conns %d over %d per process: one process holds at most ~20,000 sockets; give more --workers", c.conns, maxStreamConns)
		}
	case "quic", "webtransport":
		if c.conns > maxQUICConns*c.streamWorkers() {
			return fmt.Errorf("--conns %d over %d per process for %s", c.conns, maxQUICConns, c.transport)
		}
	default:
		return fmt.Errorf("--transport %q: want tcp, ws, quic or webtransport", c.transport)
	}
	switch {
	case c.conns < 1:
		return errors.New("--conns must be at least 1")
	case c.workers < 0 || c.workers > 16:
		return errors.New("--workers must be in [0, 16]")
	case c.duration <= 0 || c.duration > maxDuration:
		return fmt.Errorf("--duration must be in (0, %v]", maxDuration)
	case c.warmup < 0 || c.warmup > maxWarmup:
		return fmt.Errorf("--warmup must be in [0, %v]", maxWarmup)
	case c.rate < 0 || c.rate > maxRate:
		return fmt.Errorf("--rate must be in [0, %d]", maxRate)
	case c.scenario == "saturation" && (c.rate <= 0 || c.sat.factor <= 1 || c.sat.maxSteps < 1 || c.sat.step <= 0):
		return errors.New("saturation needs --rate > 0, --sat-factor > 1, --sat-max-steps >= 1 and --sat-step > 0")
	case c.scenario == "many-rooms" && (c.rate <= 0 || c.rooms.groupSize < 1 || c.rooms.groupShare < 0 || c.rooms.groupShare > 1 || c.rooms.churnPerMin < 0 || c.rooms.churnPerMin > 10):
		return errors.New("many-rooms needs --rate > 0, --group-size >= 1, --group-share in [0, 1] and --churn-per-min in [0, 10]")
	case c.scenario == "churn" && (c.churn.parallel < 1 || c.churn.parallel > 1024):
		return errors.New("--parallel must be in [1, 1024]")
	case c.scenario == "resume-storm" && (c.rate <= 0 || c.storm.gap < 0 || c.storm.gap > 5*time.Minute || c.storm.concurrency < 0 ||
		c.storm.timeout <= 0 || c.storm.timeout > maxDuration || c.storm.tail < 0 || c.storm.tail > time.Minute):
		return errors.New("resume-storm needs --rate > 0, --gap in [0, 5m], --storm-concurrency >= 0, --storm-timeout in (0, 10m] and --storm-tail in [0, 1m]")
	case c.payload > 60<<10:
		return errors.New("--payload over the push API's 60 KiB limit")
	case c.sources < 0 || c.sources > 250 || c.sourceBase < 0 || c.sourceBase > 60_000:
		return errors.New("--sources must be in [0, 250] and --source-base in [0, 60000]")
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
		if c.api == "" || len(splitList(need)) == 0 {
			return errors.New("without --spawn, give --api and --edge-tcp (tcp, ws) or --edge-quic (quic, webtransport)")
		}
		for _, e := range append(splitList(c.edgeTCP), splitList(c.edgeQUIC)...) {
			if _, _, err := net.SplitHostPort(e); err != nil {
				return fmt.Errorf("edge address %q: want host:port", e)
			}
		}
	}
	if c.spawn && (c.serverAdmin != "" || c.serverPID != "") {
		return errors.New("--server-admin and --server-pid name a running server: not with --spawn")
	}
	if _, err := parseServerProcs(c.serverAdmin, c.serverPID); err != nil {
		return err
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

// runScenario performs one run of c's scenario against a fresh server (with
// --spawn) or the given one.
func runScenario(ctx context.Context, c config) (*result, error) {
	nofile, err := raiseFileLimit()
	if err != nil {
		return nil, fmt.Errorf("raise open-file limit: %w", err)
	}
	perProc := (c.conns + c.streamWorkers() - 1) / c.streamWorkers()
	if (c.transport == "tcp" || c.transport == "ws") && uint64(perProc)+500 > nofile {
		return nil, fmt.Errorf("--conns %d needs more than the %d open files allowed", c.conns, nofile)
	}
	tgt, err := openTarget(c)
	if err != nil {
		return nil, err
	}
	defer tgt.stop()
	if c.quietWait > 0 {
		if other := waitQuiet(ctx, func() time.Duration { return serverCPU(tgt) }, c.quietWait); other >= 0.15 {
			logf("warning: other processes use %.2f cores; figures will be disturbed", other)
		}
	}

	res := &result{
		Time: time.Now().UTC().Format(time.RFC3339), Scenario: c.scenario, Label: c.label, Rev: c.serverRev,
		Transport: c.transport, Conns: c.conns, Rate: c.rate, DurationS: c.duration.Seconds(), WarmupS: c.warmup.Seconds(),
		PayloadBytes: c.payload, ServerPin: c.serverCPUs, GenPin: cpuAffinity(), GenProcs: runtime.GOMAXPROCS(0),
		ServerFlags: c.serverFlags,
	}
	if c.spawn {
		res.ServerFlags = append([]string(nil), c.serverFlags...)
	}
	switch c.scenario {
	case "saturation":
		err = runSaturation(ctx, c, tgt, res)
	case "many-rooms":
		err = runManyRooms(ctx, c, tgt, res)
	case "churn":
		err = runChurn(ctx, c, tgt, res)
	case "resume-storm":
		err = runResumeStorm(ctx, c, tgt, res)
	default:
		err = runRoom(ctx, c, tgt, res)
	}
	if err != nil {
		return nil, err
	}
	if res.Errors == nil {
		res.Errors = map[string]int64{}
	}
	for k, v := range res.PushErrs {
		res.Errors["push: "+k] += v
	}
	return res, nil
}

// openTarget spawns the server or describes the one given by flags.
func openTarget(c config) (*target, error) {
	if !c.spawn {
		key, secret, err := readSecrets(c.devDir)
		if err != nil {
			return nil, err
		}
		procs, err := parseServerProcs(c.serverAdmin, c.serverPID)
		if err != nil {
			return nil, err
		}
		return &target{
			api: c.api, quic: splitList(c.edgeQUIC), tcp: splitList(c.edgeTCP), pprof: c.admin, procs: procs,
			apiKey: key, jwtSecret: secret,
		}, nil
	}
	bin, err := serverBinary(c)
	if err != nil {
		return nil, fmt.Errorf("no quicpush binary: %w", err)
	}
	tgt, err := spawn(bin, c.serverCPUs, c.serverFlags)
	if err != nil {
		return nil, err
	}
	logf("spawned %s (pid %d, cpus %q): quic %s, tcp %s, api %s", bin, tgt.procs[0].pid, c.serverCPUs, tgt.quic[0], tgt.tcp[0], tgt.api)
	return tgt, nil
}

// openFleet connects c.conns connections joined to c.room, in this process
// or over worker processes.
func openFleet(ctx context.Context, c config, tgt *target) (fleet, connectStats, error) {
	if k := c.streamWorkers(); k > 1 {
		return openWorkers(ctx, c, tgt, k)
	}
	return openLocal(ctx, c, tgt, c.conns, c.first, oneRoom(c.room), false)
}

// runRoom is the idle and goim-room scenarios: connect, measure idle
// memory, then (goim-room) push to the room at a steady rate.
func runRoom(ctx context.Context, c config, tgt *target, res *result) error {
	res.Workers = c.streamWorkers()
	// The push API connection is opened before the clients take the
	// server's file descriptors.
	pu := newPusher(tgt.api, tgt.apiKey, c.room, c.payload)
	if c.rate > 0 {
		if err := pu.warm(ctx); err != nil {
			return fmt.Errorf("push API: %w", err)
		}
	}
	baseLive, haveLive := tgt.liveHeap(ctx, "")
	base, baseM := serverMemory(tgt)
	// In the idle scenario the CPU profile covers the connect phase (its
	// expected length): what setting a connection up costs.
	profDone := make(chan struct{})
	go func() {
		defer close(profDone)
		if c.scenario != "idle" || c.cpuProfile == "" {
			return
		}
		secs := max(1, int(float64(c.conns)/setupRateGuess(c.transport)))
		if err := tgt.fetchProfile(ctx, fmt.Sprintf("profile?seconds=%d", secs), c.cpuProfile); err != nil {
			logf("cpu profile: %v", err)
			return
		}
		res.CPUProfile = filepath.Base(c.cpuProfile)
	}()
	f, st, err := openFleet(ctx, c, tgt)
	<-profDone
	if err != nil {
		return err
	}
	defer f.close()
	res.setConnect(st)
	logf("connected %d of %d in %.2fs (%.0f/s), %d failed", res.ConnsOK, c.conns, res.ConnectS, res.ConnectPerS, res.ConnectFails)
	if res.ConnsOK == 0 {
		res.Errors, _ = f.errors()
		return fmt.Errorf("no connection succeeded: %v", res.Errors)
	}
	if err := idlePhase(ctx, c, tgt, res, base, baseM, baseLive, haveLive); err != nil {
		return err
	}
	if c.rate > 0 {
		ph := phase{rate: c.rate, warmup: c.warmup, duration: c.duration, drain: c.drain, cpuProfile: c.cpuProfile, pusher: pu, progress: true}
		if err := pushPhase(ctx, c, tgt, f, ph, res); err != nil {
			return err
		}
		h, _ := f.latency()
		s := h.snapshot()
		res.LatencyHist = &s
	}
	t := f.totals()
	res.Pongs = t.Pongs
	res.Errors, res.Disconnects = f.errors()
	if t.Unstamped > 0 {
		res.Errors["pushes without a send time"] += t.Unstamped
	}
	return nil
}

// setupRateGuess is about how many connections per second a transport
// sets up here (measured): the idle scenario's CPU profile lasts as long as
// connecting should.
func setupRateGuess(transport string) float64 {
	switch transport {
	case "quic":
		return 650
	case "webtransport":
		return 500
	}
	return 6000
}

func (r *result) setConnect(st connectStats) {
	r.ConnectS = st.dur.Seconds()
	r.ConnsOK = st.ok
	r.ConnectPerS = float64(st.ok) / max(st.dur.Seconds(), 1e-9)
	r.ConnectFails = st.fails
}

// idlePhase waits for the connections to settle and records the server's
// memory and CPU per idle connection against the baseline taken before
// connecting; with pprof it forces a GC for the live heap and saves the heap
// profile.
func idlePhase(ctx context.Context, c config, tgt *target, res *result, base serverSample, baseM scrape, baseLive float64, haveLive bool) error {
	if !sleep(ctx, c.settle/2) {
		return ctx.Err()
	}
	idle0, idleT0 := tgt.sample(), time.Now()
	if !sleep(ctx, c.settle-c.settle/2) {
		return ctx.Err()
	}
	idle, idleM := serverMemory(tgt)
	idleS := time.Since(idleT0).Seconds()
	res.ServerIdleCPUUtil = (idle.cpu - idle0.cpu).Seconds() / idleS
	n := float64(res.ConnsOK)
	res.ServerIdleRSS = idle.rss
	res.RSSPerConn = float64(idle.rss-base.rss) / n
	if len(tgt.procs) > 1 && idle.ok && idle0.ok && base.ok {
		for i, p := range tgt.procs {
			pr := res.proc(p.name)
			pr.IdleCPUUtil = (idle.procs[i].cpu - idle0.procs[i].cpu).Seconds() / idleS
			pr.IdleRSS = idle.procs[i].rss
			pr.RSSPerConn = float64(idle.procs[i].rss-base.procs[i].rss) / n
		}
	}
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
				res.HeapProfile = filepath.Base(c.heapProfile)
				logf("heap profile saved to %s", c.heapProfile)
			}
		}
	} else if c.heapProfile != "" {
		logf("heap profile: the server exposes no pprof endpoint (start it with --admin-addr; with --spawn: --server-flag=--admin-addr=127.0.0.1:0)")
	}
	return nil
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

// serverMemory reads the server's CPU and RSS (from /proc for processes
// whose pid is known, else from their metrics) and its metrics.
func serverMemory(t *target) (serverSample, scrape) {
	return t.sample(), t.metrics()
}

// serverCPU is the server's CPU time so far, summed over its processes.
func serverCPU(t *target) time.Duration { return t.sample().cpu }
