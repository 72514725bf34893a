package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
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
// architecture Go supports.
const clockTick = 100

func readProc(pid int) procStat {
	if pid <= 0 {
		return procStat{}
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}
	}
	// Fields after the command name, which may hold spaces, start after ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return procStat{}
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	ps := procStat{cpu: time.Duration(ut+st) * time.Second / clockTick, ok: true}
	if s, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status"); err == nil {
		for line := range strings.Lines(string(s)) {
			if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				ps.rss = kb << 10
			}
		}
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
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+api+"/metrics", nil)
	rsp, err := http.DefaultClient.Do(req)
	if err != nil {
		return s
	}
	defer rsp.Body.Close()
	sc := bufio.NewScanner(rsp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:sp], "{")
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
			if strings.Contains(labels, "PushRoom") {
				s.apiSum += v
			}
		case "quicpush_pushapi_request_duration_seconds_count":
			if strings.Contains(labels, "PushRoom") {
				s.apiCount += v
			}
		case "quicpush_core_accept_to_edge_seconds_sum":
			s.edgeSum = v
		case "quicpush_core_accept_to_edge_seconds_count":
			s.edgeCount = v
		case "quicpush_edge_disconnects_total":
			if code, ok := label(labels, "code"); ok {
				s.disconnects[code] += v
			}
		case "quicpush_edge_resumes_total":
			stream, _ := label(labels, "stream")
			res, _ := label(labels, "result")
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
			if l, ok := label(labels, "limit"); ok {
				s.limited[l] += v
			}
		}
	}
	s.ok = sc.Err() == nil
	return s
}

func newScrape() scrape {
	return scrape{disconnects: map[string]float64{}, resumes: map[string]float64{}, limited: map[string]float64{}}
}

// label returns the value of label name in a metric's label list
// (`a="x",b="y"}`).
func label(labels, name string) (string, bool) {
	for {
		i := strings.Index(labels, name+`="`)
		if i < 0 {
			return "", false
		}
		if i == 0 || labels[i-1] == ',' || labels[i-1] == '{' {
			v, _, _ := strings.Cut(labels[i+len(name)+2:], `"`)
			return v, true
		}
		labels = labels[i+len(name):]
	}
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
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	// user nice system idle iowait irq softirq steal
	for i, v := range f[1:8] {
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTick
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
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	n, _ := strconv.ParseInt(f[8], 10, 64)
	return time.Duration(n) * time.Second / clockTick
}

// udpDrops sums the drops counted by the kernel for the IPv4 UDP sockets
// bound to the given local ports (/proc/net/udp): datagrams lost because
// the socket's receive buffer was full.
func udpDrops(ports map[int]bool) int64 {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil || len(ports) == 0 {
		return 0
	}
	var n int64
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 13 || f[0] == "sl" {
			continue
		}
		_, port, ok := strings.Cut(f[1], ":")
		if !ok {
			continue
		}
		p, err := strconv.ParseInt(port, 16, 32)
		if err != nil || !ports[int(p)] {
			continue
		}
		d, _ := strconv.ParseInt(f[len(f)-1], 10, 64)
		n += d
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
