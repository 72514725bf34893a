package main

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The server under load may be one process (`quicpush serve`) or several
// (a cluster: api, core, edges, and the Kafka broker and redis-server they
// use). Each process is read either from /proc (--server-pid) or from its
// admin listener's /metrics (--server-admin: process_cpu_seconds_total and
// process_resident_memory_bytes); the run reports their sum as the server's
// CPU and RSS, and a breakdown per process when there are several.

// serverProc is one process of the server.
type serverProc struct {
	name  string
	admin string // host:port of its admin listener (/metrics, pprof), or ""
	pid   int    // its pid for /proc, or 0
}

// parseServerProcs reads the comma lists of --server-admin (host:port or
// name=host:port) and --server-pid (pid or name=pid). Entries of both lists
// with the same name are one process: its CPU and RSS come from /proc, the
// rest of its metrics from its admin listener.
func parseServerProcs(admins, pids string) ([]serverProc, error) {
	var procs []serverProc
	// named returns the process called name, appended on first use.
	named := func(name string) *serverProc {
		for i := range procs {
			if procs[i].name == name {
				return &procs[i]
			}
		}
		procs = append(procs, serverProc{name: name})
		return &procs[len(procs)-1]
	}
	for _, e := range splitList(admins) {
		name, addr, ok := strings.Cut(e, "=")
		if !ok {
			name, addr = e, e
		}
		if _, _, err := net.SplitHostPort(addr); err != nil || name == "" {
			return nil, fmt.Errorf("--server-admin %q: want host:port or name=host:port", e)
		}
		p := named(name)
		if p.admin != "" {
			return nil, fmt.Errorf("--server-admin: %q given twice", name)
		}
		p.admin = addr
	}
	for _, e := range splitList(pids) {
		name, v, ok := strings.Cut(e, "=")
		if !ok {
			name, v = "pid"+e, e
		}
		pid, err := strconv.Atoi(v)
		if err != nil || pid <= 0 || name == "" {
			return nil, fmt.Errorf("--server-pid %q: want a pid or name=pid", e)
		}
		p := named(name)
		if p.pid != 0 {
			return nil, fmt.Errorf("--server-pid: %q given twice", name)
		}
		p.pid = pid
	}
	return procs, nil
}

// splitList splits a comma list, dropping empty entries and spaces.
func splitList(s string) []string {
	var out []string
	for e := range strings.SplitSeq(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

// edgeFor returns the address connection i (of a process whose users start
// at first) dials: edge first+i modulo the number of edges.
func edgeFor(addrs []string, first, i int) string {
	return addrs[(first+i)%len(addrs)]
}

// serverSample is the server's CPU and RSS at one moment: the sum over its
// processes (ok only if every one was read) and each process's own, in the
// order of target.procs.
type serverSample struct {
	procStat
	procs []procStat
}

// sample reads every process of the server. Without processes (a server
// given by its push API address alone) it reads the API's /metrics.
func (t *target) sample() serverSample {
	if len(t.procs) == 0 {
		m := scrapeMetrics(t.api)
		return serverSample{procStat: procStat{cpu: seconds(m.cpu), rss: int64(m.rss), ok: m.ok}}
	}
	s := serverSample{procStat: procStat{ok: true}, procs: make([]procStat, len(t.procs))}
	for i, p := range t.procs {
		var ps procStat
		if p.pid > 0 {
			ps = readProc(p.pid)
		} else {
			m := scrapeMetrics(p.admin)
			ps = procStat{cpu: seconds(m.cpu), rss: int64(m.rss), ok: m.ok}
		}
		s.procs[i] = ps
		s.cpu += ps.cpu
		s.rss += ps.rss
		s.ok = s.ok && ps.ok
	}
	return s
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// metrics scrapes the server's /metrics: every admin listener summed when
// the processes have them, else the push API's.
func (t *target) metrics() scrape {
	var admins []string
	for _, p := range t.procs {
		if p.admin != "" {
			admins = append(admins, p.admin)
		}
	}
	if len(admins) == 0 {
		return scrapeMetrics(t.api)
	}
	sum := newScrape()
	sum.ok = true
	for _, a := range admins {
		sum.add(scrapeMetrics(a))
	}
	return sum
}

// add sums o into s (lastGC: the latest); s stays ok only if o is.
func (s *scrape) add(o scrape) {
	s.heapInuse += o.heapInuse
	s.stackInuse += o.stackInuse
	s.goroutines += o.goroutines
	s.rss += o.rss
	s.cpu += o.cpu
	s.deliveries += o.deliveries
	s.slowConsumers += o.slowConsumers
	s.batchSum += o.batchSum
	s.batchCount += o.batchCount
	s.apiSum += o.apiSum
	s.apiCount += o.apiCount
	s.edgeSum += o.edgeSum
	s.edgeCount += o.edgeCount
	s.lastGC = max(s.lastGC, o.lastGC)
	for k, v := range o.disconnects {
		s.disconnects[k] += v
	}
	for k, v := range o.resumes {
		s.resumes[k] += v
	}
	for k, v := range o.limited {
		s.limited[k] += v
	}
	s.replayed += o.replayed
	s.historyReadSum += o.historyReadSum
	s.historyReads += o.historyReads
	s.handshakes += o.handshakes
	s.handshakeFails += o.handshakeFails
	s.ok = s.ok && o.ok
}

// gone reports whether a process of the server could not be read: it
// exited (or its admin listener stopped answering).
func (s serverSample) gone() bool {
	return slices.ContainsFunc(s.procs, func(p procStat) bool { return !p.ok })
}

// pprofHosts are the admin listeners that serve pprof: --admin (or the
// spawned server's) first, then every process's admin listener.
func (t *target) pprofHosts() []string {
	var hosts []string
	if t.pprof != "" {
		hosts = append(hosts, t.pprof)
	}
	for _, p := range t.procs {
		if p.admin != "" && !slices.Contains(hosts, p.admin) {
			hosts = append(hosts, p.admin)
		}
	}
	return hosts
}

// procResult is one server process's share of a run, in result.Procs.
type procResult struct {
	// CPUs is its CPU over the window and the drain (as server_cpu_s),
	// CPUUtil the same in cores.
	CPUs    float64 `json:"cpu_s"`
	CPUUtil float64 `json:"cpu_util"`
	// CPUsPerMillion is CPUs per million push frames the clients received.
	CPUsPerMillion float64 `json:"cpu_s_per_million"`
	// IdleCPUUtil is its CPU (in cores) while the connections sit idle,
	// before the pushes start: its baseline.
	IdleCPUUtil float64 `json:"idle_cpu_util"`
	// IdleRSS is its RSS once the connections are idle, RSSPerConn that
	// minus its RSS before connecting, per connection.
	IdleRSS    int64   `json:"idle_rss_bytes,omitempty"`
	RSSPerConn float64 `json:"rss_per_conn_bytes,omitempty"`
	EndRSS     int64   `json:"end_rss_bytes,omitempty"`
}

// proc returns the result of the server process named name, made on first
// use.
func (r *result) proc(name string) *procResult {
	if r.Procs == nil {
		r.Procs = map[string]*procResult{}
	}
	p := r.Procs[name]
	if p == nil {
		p = new(procResult)
		r.Procs[name] = p
	}
	return p
}
