package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/procfs"

	"github.com/quicpush/quicpush/internal/promscrape"
)

// target is the server under load: where it listens and how to reach its
// secrets and processes.
type target struct {
	api string
	// quic and tcp are the edges' addresses (one for `quicpush serve`);
	// connection i goes to edge i modulo their number.
	quic, tcp []string
	pprof     string // host:port of net/http/pprof, when the server has it
	// procs are the server's processes, read for CPU and RSS; none means
	// the push API's /metrics.
	procs     []serverProc
	apiKey    string
	jwtSecret []byte

	child  *exec.Cmd
	devDir string // removed on stop when the generator made it
	logf   *os.File
}

// secrets mirrors <dev-dir>/secrets.json as `quicpush serve` writes it.
type secrets struct {
	JWTSecret string `json:"jwt_secret"`
	APIKey    string `json:"api_key"`
}

func readSecrets(dir string) (apiKey string, jwtSecret []byte, err error) {
	b, err := os.ReadFile(filepath.Join(dir, "secrets.json"))
	if err != nil {
		return "", nil, err
	}
	var s secrets
	if err := json.Unmarshal(b, &s); err != nil {
		return "", nil, fmt.Errorf("secrets.json: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(s.JWTSecret)
	if err != nil {
		return "", nil, fmt.Errorf("secrets.json jwt_secret: %w", err)
	}
	return s.APIKey, key, nil
}

// The banner lines of `quicpush serve` that name its addresses.
var (
	bannerQUIC = regexp.MustCompile(`raw QUIC\s+quic://(\S+)`)
	bannerTCP  = regexp.MustCompile(`framed TCP\s+tcp://(\S+)`)
	bannerAPI  = regexp.MustCompile(`push API\s+http://(\S+)`)
	// Printed only with --admin-addr.
	bannerPprof = regexp.MustCompile(`pprof\s+http://(\S+)/debug/pprof/`)
)

// spawn starts `quicpush serve` on free loopback ports with a fresh dev dir,
// pinned to cpus with taskset when cpus is set, and waits for its banner.
func spawn(bin, cpus string, extra []string) (*target, error) {
	dir, err := os.MkdirTemp("", "quicpush-perf-")
	if err != nil {
		return nil, err
	}
	args := []string{bin, "serve",
		"--quic-addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0", "--api-addr", "127.0.0.1:0",
		"--dev-dir", dir,
		// A generator on a few loopback addresses is one source many times
		// over, and one API key: the abuse limits would refuse it.
		"--max-conns-per-ip=-1", "--handshakes-per-ip=-1", "--max-conns-per-user=-1",
		"--max-frames-per-sec=-1", "--max-bytes-per-sec=-1", "--api-rate-limit=-1"}
	args = append(args, extra...)
	if cpus != "" {
		ts, err := exec.LookPath("taskset")
		if err != nil {
			return nil, fmt.Errorf("--server-cpus needs taskset: %w", err)
		}
		args = append([]string{ts, "-c", cpus}, args...)
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stderr = logf
	// The server must not outlive the generator, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// taskset execs the server in place, so the pid is the server's.
	t := &target{procs: []serverProc{{name: "quicpush", pid: cmd.Process.Pid}}, child: cmd, devDir: dir, logf: logf}
	found := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if m := bannerQUIC.FindStringSubmatch(line); m != nil {
				t.quic = []string{m[1]}
			} else if m := bannerTCP.FindStringSubmatch(line); m != nil {
				t.tcp = []string{m[1]}
			} else if m := bannerAPI.FindStringSubmatch(line); m != nil {
				t.api = m[1]
			} else if m := bannerPprof.FindStringSubmatch(line); m != nil {
				t.pprof = m[1]
			}
			// The address block ends with a blank line.
			if strings.TrimSpace(line) == "" && t.quic != nil && t.tcp != nil && t.api != "" {
				found <- nil
				break
			}
		}
		// Keep draining so the server never blocks on a full stdout pipe.
		_, _ = io.Copy(io.Discard, out)
		select {
		case found <- errors.New("server exited before printing its addresses"):
		default:
		}
	}()
	select {
	case err = <-found:
	case <-time.After(20 * time.Second):
		err = errors.New("no banner from the server within 20s")
	}
	if err == nil {
		t.apiKey, t.jwtSecret, err = readSecrets(dir)
	}
	if err != nil {
		t.stop()
		return nil, fmt.Errorf("spawn %s: %w (log: %s)", bin, err, t.logTail())
	}
	return t, nil
}

// devDirOr returns the dev dir of a spawned server, else dir.
func (t *target) devDirOr(dir string) string {
	if t.devDir != "" {
		return t.devDir
	}
	return dir
}

func (t *target) logTail() string {
	if t.logf == nil {
		return ""
	}
	b, _ := os.ReadFile(t.logf.Name())
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// stop ends a spawned server: SIGTERM lets it drain, SIGKILL follows after
// 15s. It does nothing for a server the generator did not start.
func (t *target) stop() {
	if t.child == nil {
		return
	}
	_ = t.child.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = t.child.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = t.child.Process.Kill()
		<-done
	}
	if t.logf != nil {
		_ = t.logf.Close()
	}
	_ = os.RemoveAll(t.devDir)
}

// procStat is a process's CPU time and resident memory from /proc.
type procStat struct {
	cpu time.Duration // user + system
	rss int64         // bytes
	ok  bool
}

// clockTick is USER_HZ, which Linux fixes at 100 for /proc on every
// architecture Go supports (procfs counts in it too).
const clockTick = 100

// procFS is /proc, opened once.
var procFS = sync.OnceValues(procfs.NewDefaultFS)

// ticks is a time procfs gives in seconds, which it counted in clock ticks:
// rounded back to them, so that differences of readings are exact.
func ticks(s float64) time.Duration {
	return time.Duration(math.Round(s*clockTick)) * time.Second / clockTick
}

func readProc(pid int) procStat {
	if pid <= 0 {
		return procStat{}
	}
	fs, err := procFS()
	if err != nil {
		return procStat{}
	}
	p, err := fs.Proc(pid)
	if err != nil {
		return procStat{}
	}
	st, err := p.Stat()
	if err != nil {
		return procStat{}
	}
	ps := procStat{cpu: time.Duration(st.UTime+st.STime) * time.Second / clockTick, ok: true}
	if s, err := p.NewStatus(); err == nil {
		ps.rss = int64(s.VmRSS)
	}
	return ps
}

// scrape is the part of the server's /metrics the report uses. Counters
// with labels are summed over them, except disconnects, kept by code.
type scrape struct {
	heapInuse, stackInuse, goroutines, rss, cpu float64
	deliveries, slowConsumers                   float64
	batchSum, batchCount                        float64
	apiSum, apiCount                            float64 // push API handling time, seconds
	edgeSum, edgeCount                          float64 // acceptance to edge hand-off, seconds
	lastGC                                      float64
	disconnects                                 map[string]float64
	// Resumes: Join and Auth answers by "<stream> <result>" (room
	// recovered, user none, ...), messages replayed, time spent reading
	// history for them (seconds), handshakes begun and failed, connections
	// refused or asked to Retry by a limit, by limit.
	resumes                      map[string]float64
	replayed                     float64
	historyReadSum, historyReads float64
	handshakes, handshakeFails   float64
	limited                      map[string]float64
	ok                           bool
}

func scrapeMetrics(api string) scrape {
	s := newScrape()
	if api == "" {
		return s
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	families, err := promscrape.Fetch(ctx, "http://"+api+"/metrics")
	if err != nil {
		return s
	}
	for name, mf := range families {
		for _, m := range mf.GetMetric() {
			switch mf.GetType() {
			case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
				s.sample(name+"_sum", m, m.GetHistogram().GetSampleSum())
				s.sample(name+"_count", m, float64(m.GetHistogram().GetSampleCount()))
			case dto.MetricType_SUMMARY:
				s.sample(name+"_sum", m, m.GetSummary().GetSampleSum())
				s.sample(name+"_count", m, float64(m.GetSummary().GetSampleCount()))
			default:
				s.sample(name, m, m.GetCounter().GetValue()+m.GetGauge().GetValue()+m.GetUntyped().GetValue())
			}
		}
	}
	s.ok = true
	return s
}

// sample takes one sample of the server's metrics into s: v is the value of
// m, a series of the metric named name as the text format lists it (a
// histogram's sum and count under name_sum and name_count).
func (s *scrape) sample(name string, m *dto.Metric, v float64) {
	switch name {
	case "go_memstats_heap_inuse_bytes":
		s.heapInuse = v
	case "go_memstats_stack_inuse_bytes":
		s.stackInuse = v
	case "go_goroutines":
		s.goroutines = v
	case "process_resident_memory_bytes":
		s.rss = v
	case "process_cpu_seconds_total":
		s.cpu = v
	case "go_memstats_last_gc_time_seconds":
		s.lastGC = v
	case "quicpush_edge_deliveries_total":
		s.deliveries += v
	case "quicpush_edge_slow_consumers_total":
		s.slowConsumers += v
	case "quicpush_core_batch_messages_sum":
		s.batchSum = v
	case "quicpush_core_batch_messages_count":
		s.batchCount = v
	case "quicpush_pushapi_request_duration_seconds_sum":
		if method, _ := label(m, "method"); method == "PushRoom" {
			s.apiSum += v
		}
	case "quicpush_pushapi_request_duration_seconds_count":
		if method, _ := label(m, "method"); method == "PushRoom" {
			s.apiCount += v
		}
	case "quicpush_core_accept_to_edge_seconds_sum":
		s.edgeSum = v
	case "quicpush_core_accept_to_edge_seconds_count":
		s.edgeCount = v
	case "quicpush_edge_disconnects_total":
		if code, ok := label(m, "code"); ok {
			s.disconnects[code] += v
		}
	case "quicpush_edge_resumes_total":
		stream, _ := label(m, "stream")
		res, _ := label(m, "result")
		s.resumes[stream+" "+res] += v
	case "quicpush_edge_replayed_total":
		s.replayed += v
	case "quicpush_edge_history_read_seconds_sum":
		s.historyReadSum += v
	case "quicpush_edge_history_read_seconds_count":
		s.historyReads += v
	case "quicpush_edge_handshakes_total":
		s.handshakes += v
	case "quicpush_edge_handshake_failures_total":
		s.handshakeFails += v
	case "quicpush_edge_limited_total":
		if l, ok := label(m, "limit"); ok {
			s.limited[l] += v
		}
	}
}

func newScrape() scrape {
	return scrape{disconnects: map[string]float64{}, resumes: map[string]float64{}, limited: map[string]float64{}}
}

// label returns the value of m's label name.
func label(m *dto.Metric, name string) (string, bool) {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue(), true
		}
	}
	return "", false
}

// fetchProfile saves http://<pprof>/debug/pprof/<name> to file, or discards
// it when file is empty.
func (t *target) fetchProfile(ctx context.Context, name, file string) error {
	if t.pprof == "" {
		return errors.New("the server exposes no pprof endpoint (start it with --admin-addr)")
	}
	return fetchPprof(ctx, t.pprof, name, file)
}

// fetchPprof saves http://<host>/debug/pprof/<name> to file, or discards it
// when file is empty.
func fetchPprof(ctx context.Context, host, name, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+host+"/debug/pprof/"+name, nil)
	if err != nil {
		return err
	}
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer rsp.Body.Close()
	if rsp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: %s", name, rsp.Status)
	}
	if file == "" {
		_, err = io.Copy(io.Discard, rsp.Body)
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rsp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// liveHeap forces a garbage collection in the server (through pprof's
// heap?gc=1), in every process that has pprof, and returns the heap in use
// after it, summed over the processes. The heap profile, when asked for,
// is --admin's (the first host). ok is false when the server has no pprof
// endpoint.
func (t *target) liveHeap(ctx context.Context, profile string) (float64, bool) {
	hosts := t.pprofHosts()
	if len(hosts) == 0 {
		return 0, false
	}
	for i, h := range hosts {
		file := ""
		if i == 0 {
			file = profile
		}
		if fetchPprof(ctx, h, "heap?gc=1", file) != nil {
			return 0, false
		}
	}
	m := t.metrics()
	return m.heapInuse, m.ok
}

// machineBusy returns the CPU time all CPUs spent running something since
// boot, from /proc/stat: user, nice, system, irq and softirq. Idle, iowait
// and steal (time the hypervisor gave to other machines) are left out.
func machineBusy() time.Duration {
	c, ok := machineCPU()
	if !ok {
		return 0
	}
	return ticks(c.User) + ticks(c.Nice) + ticks(c.System) + ticks(c.IRQ) + ticks(c.SoftIRQ)
}

// machineCPU is the CPU time of all CPUs since boot by kind, from
// /proc/stat.
func machineCPU() (procfs.CPUStat, bool) {
	fs, err := procFS()
	if err != nil {
		return procfs.CPUStat{}, false
	}
	st, err := fs.Stat()
	if err != nil {
		return procfs.CPUStat{}, false
	}
	return st.CPUTotal, true
}

// waitQuiet waits until processes other than the generator and the server
// (whose CPU time serverCPU returns) use less than 0.15 of a core over a
// second, for at most limit. It returns the load seen last, in cores.
func waitQuiet(ctx context.Context, serverCPU func() time.Duration, limit time.Duration) float64 {
	deadline := time.Now().Add(limit)
	self := os.Getpid()
	for {
		b0, g0, s0, t0 := machineBusy(), readProc(self).cpu, serverCPU(), time.Now()
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(time.Second):
		}
		other := (machineBusy() - b0 - (readProc(self).cpu - g0) - (serverCPU() - s0)).Seconds() / time.Since(t0).Seconds()
		if other < 0.15 || time.Now().After(deadline) {
			return max(other, 0)
		}
	}
}

// machineSteal returns the CPU time the hypervisor ran other machines on
// this one's CPUs since boot.
func machineSteal() time.Duration {
	c, ok := machineCPU()
	if !ok {
		return 0
	}
	return ticks(c.Steal)
}

// udpDrops sums the drops counted by the kernel for the IPv4 UDP sockets
// bound to the given local ports (/proc/net/udp): datagrams lost because
// the socket's receive buffer was full.
func udpDrops(ports map[int]bool) int64 {
	if len(ports) == 0 {
		return 0
	}
	fs, err := procFS()
	if err != nil {
		return 0
	}
	socks, err := fs.NetUDP()
	if err != nil {
		return 0
	}
	var n int64
	for _, sk := range socks {
		if sk.Drops != nil && ports[int(sk.LocalPort)] {
			n += int64(*sk.Drops)
		}
	}
	return n
}

// port returns the port of a host:port address, 0 if it has none.
func port(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}
