package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// One process holds at most ~19,900 sockets (ulimit -n is 20,000 here), so a
// run with more TCP or WebSocket connections is split over worker processes:
// the coordinator (the loadgen the user started) spawns or attaches to the
// server, starts `loadgen worker` processes, each with its share of the
// connections, its own users and its own range of source addresses, and
// drives them over their stdin and stdout, one JSON object per line. The
// coordinator pushes, measures the server and merges what the workers report.

// workerCmd is a line the coordinator sends to a worker.
type workerCmd struct {
	Cmd   string `json:"cmd"` // window, stats, latency, reset, errors, close
	Start int64  `json:"start,omitempty"`
	End   int64  `json:"end,omitempty"`
}

// workerReply is a line a worker sends: first when its connections are
// open (Ready), then one per command.
type workerReply struct {
	Ready       bool             `json:"ready,omitempty"`
	OK          int              `json:"ok,omitempty"`
	Fails       int64            `json:"fails,omitempty"`
	ConnectS    float64          `json:"connect_s,omitempty"`
	Ports       []int            `json:"ports,omitempty"`
	Totals      *fleetTotals     `json:"totals,omitempty"`
	Hist        *histSnapshot    `json:"hist,omitempty"`
	Last        int64            `json:"last,omitempty"`
	Errs        map[string]int64 `json:"errs,omitempty"`
	Disconnects map[string]int64 `json:"disconnects,omitempty"`
	Err         string           `json:"err,omitempty"`
}

// runWorker is `loadgen worker`: connect c.conns connections to the server
// named by c's addresses, report, then answer the coordinator's commands
// until it says close or its stdin ends.
func runWorker(ctx context.Context, c config) error {
	if _, err := raiseFileLimit(); err != nil {
		return err
	}
	key, secret, err := readSecrets(c.devDir)
	if err != nil {
		return err
	}
	tgt := &target{api: c.api, quic: splitList(c.edgeQUIC), tcp: splitList(c.edgeTCP), apiKey: key, jwtSecret: secret}
	f, st, err := openLocal(ctx, c, tgt, c.conns, c.first, oneRoom(c.room), false)
	if err != nil {
		return err
	}
	defer f.close()
	out := json.NewEncoder(os.Stdout)
	ready := workerReply{Ready: true, OK: st.ok, Fails: st.fails, ConnectS: st.dur.Seconds()}
	for p := range f.udpPorts() {
		ready.Ports = append(ready.Ports, p)
	}
	if err := out.Encode(ready); err != nil {
		return err
	}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		var cmd workerCmd
		if err := json.Unmarshal(sc.Bytes(), &cmd); err != nil {
			return fmt.Errorf("worker: bad command %q: %w", sc.Text(), err)
		}
		var r workerReply
		switch cmd.Cmd {
		case "window":
			f.setWindow(cmd.Start, cmd.End)
		case "stats":
			t := f.totals()
			r.Totals = &t
		case "latency":
			h, last := f.latency()
			s := h.snapshot()
			r.Hist, r.Last = &s, last.UnixNano()
		case "reset":
			f.resetLatency()
		case "errors":
			r.Errs, r.Disconnects = f.errors()
		case "close":
			f.close()
			return out.Encode(r)
		default:
			r.Err = "unknown command " + cmd.Cmd
		}
		if err := out.Encode(r); err != nil {
			return err
		}
	}
	return sc.Err()
}

// workerProc is one worker process as the coordinator sees it.
type workerProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan []byte // its stdout, one line each; closed at EOF
}

// workerFleet is the connections of several worker processes.
type workerFleet struct {
	mu      sync.Mutex
	workers []*workerProc
	ports   map[int]bool
}

// split divides n connections over k workers as evenly as possible.
func split(n, k int) []int {
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// openWorkers starts k worker processes against tgt, each with its share of
// c.conns, and waits until all have connected.
func openWorkers(ctx context.Context, c config, tgt *target, k int) (*workerFleet, connectStats, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, connectStats{}, err
	}
	f := &workerFleet{ports: map[int]bool{}}
	shares := split(c.conns, k)
	logf("starting %d workers for %d %s connections (%v)", k, c.conns, c.transport, shares)
	start := time.Now()
	first := 0
	for i, n := range shares {
		args := []string{"worker",
			"--transport", c.transport, "--conns", strconv.Itoa(n), "--first", strconv.Itoa(first),
			"--sources", strconv.Itoa(c.sources), "--source-base", strconv.Itoa(c.sourceBase + i*max(c.sources, 1)),
			"--quic-sockets", strconv.Itoa(c.quicSockets), "--dial-concurrency", strconv.Itoa(max(1, c.dialPar/k)),
			"--room", c.room, "--dev-dir", tgt.devDirOr(c.devDir),
			"--api", tgt.api, "--edge-tcp", strings.Join(tgt.tcp, ","), "--edge-quic", strings.Join(tgt.quic, ","),
			"--duration", c.duration.String(), "--warmup", c.warmup.String()}
		first += n
		cmd := exec.Command(exe, args...)
		cmd.Stderr = os.Stderr
		// A worker must not outlive its coordinator.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err := cmd.StdinPipe()
		if err != nil {
			f.close()
			return nil, connectStats{}, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			f.close()
			return nil, connectStats{}, err
		}
		if err := cmd.Start(); err != nil {
			f.close()
			return nil, connectStats{}, err
		}
		w := &workerProc{cmd: cmd, in: in, lines: make(chan []byte, 1)}
		go func() {
			defer close(w.lines)
			sc := bufio.NewScanner(out)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			for sc.Scan() {
				w.lines <- append([]byte(nil), sc.Bytes()...)
			}
		}()
		f.workers = append(f.workers, w)
	}
	var st connectStats
	for i, w := range f.workers {
		r, err := w.read(ctx)
		if err != nil || !r.Ready {
			f.close()
			return nil, st, fmt.Errorf("worker %d did not get ready: %v %s", i, err, r.Err)
		}
		st.ok += r.OK
		st.fails += r.Fails
		for _, p := range r.Ports {
			f.ports[p] = true
		}
	}
	st.dur = time.Since(start)
	return f, st, nil
}

// read reads the worker's next reply.
func (w *workerProc) read(ctx context.Context) (workerReply, error) {
	var r workerReply
	select {
	case line, ok := <-w.lines:
		if !ok {
			return r, io.EOF
		}
		return r, json.Unmarshal(line, &r)
	case <-ctx.Done():
		return r, ctx.Err()
	}
}

// call sends cmd to every worker and returns their replies; a worker that
// fails to answer within 30 s is reported as an error.
func (f *workerFleet) call(cmd workerCmd) ([]workerReply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, _ := json.Marshal(cmd)
	b = append(b, '\n')
	for _, w := range f.workers {
		if _, err := w.in.Write(b); err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := make([]workerReply, len(f.workers))
	var errs []error
	for i, w := range f.workers {
		r, err := w.read(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("worker %d: %w", i, err))
		}
		out[i] = r
	}
	return out, errors.Join(errs...)
}

func (f *workerFleet) setWindow(start, end int64) {
	if _, err := f.call(workerCmd{Cmd: "window", Start: start, End: end}); err != nil {
		logf("workers: %v", err)
	}
}

func (f *workerFleet) totals() fleetTotals {
	rs, err := f.call(workerCmd{Cmd: "stats"})
	if err != nil {
		logf("workers: %v", err)
	}
	var t fleetTotals
	for _, r := range rs {
		if r.Totals != nil {
			t.Arrivals += r.Totals.Arrivals
			t.Reads += r.Totals.Reads
			t.Delivered += r.Totals.Delivered
			t.Pongs += r.Totals.Pongs
			t.Unstamped += r.Totals.Unstamped
			t.Live += r.Totals.Live
		}
	}
	return t
}

func (f *workerFleet) latency() (*histogram, time.Time) {
	rs, err := f.call(workerCmd{Cmd: "latency"})
	if err != nil {
		logf("workers: %v", err)
	}
	h := new(histogram)
	var last int64
	for _, r := range rs {
		if r.Hist != nil {
			h.add(*r.Hist)
		}
		last = max(last, r.Last)
	}
	return h, time.Unix(0, last)
}

func (f *workerFleet) resetLatency() {
	if _, err := f.call(workerCmd{Cmd: "reset"}); err != nil {
		logf("workers: %v", err)
	}
}

func (f *workerFleet) errors() (map[string]int64, map[string]int64) {
	rs, err := f.call(workerCmd{Cmd: "errors"})
	errs, disc := map[string]int64{}, map[string]int64{}
	if err != nil {
		errs["worker: "+causeOf(err)]++
	}
	for _, r := range rs {
		for k, v := range r.Errs {
			errs[k] += v
		}
		for k, v := range r.Disconnects {
			disc[k] += v
		}
	}
	return errs, disc
}

// genCPU is the CPU of the coordinator and its workers.
func (f *workerFleet) genCPU() time.Duration {
	d := readProc(os.Getpid()).cpu
	for _, w := range f.workers {
		d += readProc(w.cmd.Process.Pid).cpu
	}
	return d
}

func (f *workerFleet) udpPorts() map[int]bool { return f.ports }

// close tells the workers to close their connections and waits for them to
// exit (killing those that take over 30 s).
func (f *workerFleet) close() {
	_, _ = f.call(workerCmd{Cmd: "close"})
	for _, w := range f.workers {
		_ = w.in.Close()
		done := make(chan struct{})
		go func() { _ = w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = w.cmd.Process.Kill()
			<-done
		}
	}
}
