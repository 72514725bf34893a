package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// result is one run, written as one JSON line on stdout.
type result struct {
	Time string `json:"time"`
	// Scenario is idle, goim-room, saturation, many-rooms or churn; empty
	// in results written before scenarios existed (goim-room).
	Scenario  string `json:"scenario,omitempty"`
	Label     string `json:"label,omitempty"`
	Rev       string `json:"server_rev,omitempty"`
	Transport string `json:"transport"`
	Conns     int    `json:"conns"`
	// Workers is the number of generator processes holding the
	// connections (1: the generator alone).
	Workers     int      `json:"workers,omitempty"`
	ServerFlags []string `json:"server_flags,omitempty"`
	// ConnsOK completed Auth and Join.
	ConnsOK      int     `json:"conns_ok"`
	Rate         float64 `json:"rate"`
	DurationS    float64 `json:"duration_s"`
	WarmupS      float64 `json:"warmup_s"`
	PayloadBytes int     `json:"payload_bytes"`

	// Pushes stamped inside the measurement window and accepted by the API.
	Pushes     int64 `json:"pushes"`
	PushErrors int64 `json:"push_errors"`
	// PushRate is the rate achieved; PushesBehind counts pushes that waited
	// for a free pusher (too few --pushers for the API's latency).
	PushRate     float64 `json:"push_rate"`
	PushesBehind int64   `json:"pushes_behind"`
	// Deliveries of those pushes; Expected is Pushes x ConnsOK.
	Deliveries     int64   `json:"deliveries"`
	Expected       int64   `json:"expected"`
	Lost           int64   `json:"lost"`
	DeliveriesPerS float64 `json:"deliveries_per_s"`
	// DrainS is how long after the last push the last delivery arrived.
	DrainS float64 `json:"drain_s"`

	// Latency of in-window deliveries, milliseconds: from the time the push
	// was due (the pusher writes it into the payload as "t") to the client
	// reading the frame. It includes the push API call.
	P50ms  float64 `json:"p50_ms"`
	P90ms  float64 `json:"p90_ms"`
	P99ms  float64 `json:"p99_ms"`
	P999ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
	// The PushRoom call, from the time it was due to its reply.
	PushCallP50ms float64 `json:"push_call_p50_ms"`
	PushCallP99ms float64 `json:"push_call_p99_ms"`
	// The server's own view, means over the window from its metrics: the
	// PushRoom handler (request decoded to bus accepted) and acceptance to
	// hand-off to the edge (core's merge window and queue).
	APIHandleMs    float64 `json:"server_push_handle_mean_ms"`
	AcceptToEdgeMs float64 `json:"server_accept_to_edge_mean_ms"`

	// Server CPU from the window's start until its deliveries drained, per
	// million push frames the clients received in that time.
	ServerCPUs     float64 `json:"server_cpu_s"`
	CPUsPerMillion float64 `json:"cpu_s_per_million"`
	ServerCPUUtil  float64 `json:"server_cpu_util"`
	GenCPUs        float64 `json:"gen_cpu_s"`
	GenCPUUtil     float64 `json:"gen_cpu_util"`
	// OtherCPUUtil is the CPU (in cores) used by every other process and
	// the kernel's own threads (ksoftirqd finishing loopback receives among
	// them) during the window; well above ~0.15 something else was running
	// and the figures are disturbed. StealUtil is the CPU the hypervisor
	// gave to other machines.
	OtherCPUUtil float64 `json:"other_cpu_util"`
	StealUtil    float64 `json:"steal_util"`
	// MeasuredFrames counts the push frames received while the server CPU
	// was measured: the denominator of CPUsPerMillion.
	MeasuredFrames int64 `json:"measured_frames"`
	// PushesPerRead is push frames per client read that returned data (per
	// message on WebSocket): about how many messages each server write
	// carried. Reads also return Pongs, rarely.
	PushesPerRead float64 `json:"pushes_per_read"`
	// ServerQueued is the edge's own delivery counter over the same time
	// (messages queued to connections), AvgCoreBatch the messages per batch
	// core handed to the edge.
	ServerQueued  int64   `json:"server_deliveries"`
	AvgCoreBatch  float64 `json:"avg_core_batch"`
	ServerIdleRSS int64   `json:"server_idle_rss_bytes"`
	// ServerIdleCPUUtil is the server's CPU while the connections sit idle
	// after connecting (pings only), in cores.
	ServerIdleCPUUtil float64 `json:"server_idle_cpu_util"`
	ServerEndRSS      int64   `json:"server_end_rss_bytes"`
	// Procs breaks the server's CPU and RSS down by process when it has
	// several (--server-admin, --server-pid lists): a cluster's api, cores
	// and edges, and Kafka and Redis when given. The server_* figures above
	// are their sums.
	Procs map[string]*procResult `json:"procs,omitempty"`
	// Idle cost per connection: server RSS, Go heap in use, goroutine
	// stacks and goroutines after connecting, minus the same before.
	RSSPerConn  float64 `json:"rss_per_conn_bytes"`
	HeapPerConn float64 `json:"heap_per_conn_bytes"`
	// LiveHeapPerConn is the heap per connection after a forced GC, known
	// only when the server has pprof (--admin-addr); HeapPerConn includes
	// garbage not yet collected.
	LiveHeapPerConn   float64 `json:"live_heap_per_conn_bytes,omitempty"`
	StackPerConn      float64 `json:"stack_per_conn_bytes"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`

	ConnectS     float64 `json:"connect_s"`
	ConnectPerS  float64 `json:"connect_per_s"`
	ConnectFails int64   `json:"connect_errors"`

	// Pongs counts the answers to the generator's heartbeats.
	Pongs       int64            `json:"pongs"`
	Errors      map[string]int64 `json:"errors"`
	Disconnects map[string]int64 `json:"disconnects"`
	// ServerDisconnects are the edge's own disconnect counters by code.
	ServerDisconnects map[string]float64 `json:"server_disconnects,omitempty"`
	SlowConsumers     float64            `json:"slow_consumers"`
	// UDP datagrams the kernel dropped during the window because a socket's
	// receive buffer was full (QUIC and WebTransport): on the server's
	// socket (client ACKs and pings) and on the generator's.
	ServerUDPDrops int64 `json:"server_udp_drops"`
	GenUDPDrops    int64 `json:"gen_udp_drops"`

	// LatencyHist is the latency histogram of the measured window
	// (microseconds), for plots and merging.
	LatencyHist *histSnapshot `json:"latency_hist,omitempty"`
	// Profiles saved next to the result, by file name.
	CPUProfile  string `json:"cpu_profile,omitempty"`
	HeapProfile string `json:"heap_profile,omitempty"`

	Saturation *satResult   `json:"saturation,omitempty"`
	ManyRooms  *roomsResult `json:"many_rooms,omitempty"`
	Churn      *churnResult `json:"churn,omitempty"`
	Storm      *stormResult `json:"resume_storm,omitempty"`

	// PushErrs are the push API's errors by code; they are folded into
	// Errors as "push: <code>".
	PushErrs map[string]int64 `json:"-"`

	// Disturbed marks a measurement during which other processes or the
	// hypervisor took more than 0.2 cores; Attempts counts the runs made
	// (see --retries).
	Disturbed bool `json:"disturbed"`
	Attempts  int  `json:"attempts"`

	ServerPin string `json:"server_cpus,omitempty"`
	GenPin    string `json:"gen_cpus"`
	GenProcs  int    `json:"gen_gomaxprocs"`
}

func (r *result) summary(w io.Writer) {
	switch {
	case r.Churn != nil:
		c := r.Churn
		fmt.Fprintf(w, "\n== churn on %s: %d cycles (%.0f/s), %d failed, %d at once\n", r.Transport, c.Cycles, c.CyclesPerS, c.Failures, c.Parallel)
		fmt.Fprintf(w, "   handshake    p50 %.2f ms, p99 %.2f; whole cycle p99 %.2f\n", c.HandshakeP50ms, c.HandshakeP99ms, c.CycleP99ms)
		fmt.Fprintf(w, "   server       %.0f%% of a core, %.3f ms CPU per cycle; goroutines %.0f before, %.0f after\n",
			100*r.ServerCPUUtil, c.ServerCPUmsPerCycle, c.GoroutinesBefore, c.GoroutinesAfter)
		if len(r.Errors) > 0 {
			fmt.Fprintf(w, "   errors       %v\n", r.Errors)
		}
		return
	case r.Storm != nil:
		r.stormSummary(w)
		return
	case r.Saturation != nil:
		s := r.Saturation
		fmt.Fprintf(w, "\n== saturation on %s, %d connections: %.0f pushes/s sustained, %.0f deliveries/s, %.2f CPU-s per million; peak %.0f/s; limit: %s\n",
			r.Transport, r.ConnsOK, s.MaxRate, s.MaxDeliveriesPerS, s.CPUsPerMillion, s.PeakDeliveriesPerS, s.Limit)
		fmt.Fprintf(w, "   at half      %.0f pushes/s: p50 %.2f ms, p99 %.2f, p99.9 %.2f\n", s.HalfRate, s.HalfP50ms, s.HalfP99ms, s.HalfP999ms)
	}
	fmt.Fprintf(w, "\n== %s on %s: %d/%d connections, %.0f pushes/s for %.0fs (payload %d B)\n",
		r.Scenario, r.Transport, r.ConnsOK, r.Conns, r.Rate, r.DurationS, r.PayloadBytes)
	fmt.Fprintf(w, "   connect      %.1fs, %.0f/s, %d failed\n", r.ConnectS, r.ConnectPerS, r.ConnectFails)
	if r.RSSPerConn != 0 {
		fmt.Fprintf(w, "   idle         %.1f KiB RSS, %.1f KiB heap (%.1f KiB live), %.1f KiB stack, %.2f goroutines per connection; server CPU %.0f%%\n",
			r.RSSPerConn/1024, r.HeapPerConn/1024, r.LiveHeapPerConn/1024, r.StackPerConn/1024, r.GoroutinesPerConn, 100*r.ServerIdleCPUUtil)
	}
	if m := r.ManyRooms; m != nil {
		fmt.Fprintf(w, "   rooms        %d groups of %d; %d group and %d user pushes; %d expected, %d delivered, %d lost, %d extra, %d duplicates\n",
			m.Groups, m.GroupSize, m.GroupPushes, m.UserPushes, m.Expected, m.Delivered, m.Lost, m.Extra, m.Duplicates)
		fmt.Fprintf(w, "   churn        %d reconnects, %d failed, p50 %.1f ms, p99 %.1f ms\n", m.Reconnects, m.ReconnectErrors, m.ReconnectP50ms, m.ReconnectP99ms)
	}
	if r.Rate > 0 {
		fmt.Fprintf(w, "   pushes       %d accepted, %d failed, %.1f/s achieved, %d waited for a pusher\n",
			r.Pushes, r.PushErrors, r.PushRate, r.PushesBehind)
		fmt.Fprintf(w, "   deliveries   %d of %d expected (%d lost), %.0f/s, drained %.2fs after the last push\n",
			r.Deliveries, r.Expected, r.Lost, r.DeliveriesPerS, r.DrainS)
		fmt.Fprintf(w, "   latency      p50 %.2f ms, p90 %.2f, p99 %.2f, p99.9 %.2f, max %.2f\n",
			r.P50ms, r.P90ms, r.P99ms, r.P999ms, r.MaxMs)
		fmt.Fprintf(w, "   push call    p50 %.2f ms, p99 %.2f (server: handler %.2f ms, accept to edge %.2f ms, means)\n",
			r.PushCallP50ms, r.PushCallP99ms, r.APIHandleMs, r.AcceptToEdgeMs)
		fmt.Fprintf(w, "   server CPU   %.2fs (%.0f%% of a core), %.2f CPU-s per million deliveries, core batch %.2f msgs, %.2f pushes per client read\n",
			r.ServerCPUs, 100*r.ServerCPUUtil, r.CPUsPerMillion, r.AvgCoreBatch, r.PushesPerRead)
		fmt.Fprintf(w, "   generator    %.2fs CPU (%.0f%% of its %d core(s)); other processes %.2f cores, steal %.2f\n",
			r.GenCPUs, 100*r.GenCPUUtil, r.GenProcs, r.OtherCPUUtil, r.StealUtil)
		if len(r.Procs) > 0 {
			var parts []string
			for _, name := range procNames([]result{*r}) {
				p := r.Procs[name]
				parts = append(parts, fmt.Sprintf("%s %.0f%% (%.2f CPU-s/M)", name, 100*p.CPUUtil, p.CPUsPerMillion))
			}
			fmt.Fprintf(w, "   per process  %s\n", strings.Join(parts, ", "))
		}
	}
	if r.ServerUDPDrops+r.GenUDPDrops > 0 {
		fmt.Fprintf(w, "   UDP drops    %d on the server's socket, %d on the generator's (receive buffers full)\n",
			r.ServerUDPDrops, r.GenUDPDrops)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "   errors       %v\n", r.Errors)
	}
	if len(r.Disconnects) > 0 {
		fmt.Fprintf(w, "   disconnects  %v\n", r.Disconnects)
	}
}

// printTable reads result lines from files and prints them as a Markdown
// table.
func printTable(w io.Writer, files []string) error {
	var rows []result
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" {
				continue
			}
			var r result
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				fh.Close()
				return fmt.Errorf("%s: %w", f, err)
			}
			rows = append(rows, r)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "| transport | conns | pushes/s | deliveries/s | lost | p50 ms | p99 ms | p99.9 ms | server CPU | CPU-s per M | gen CPU | others + steal | RSS/conn | live heap/conn | heap/conn | goroutines/conn | connect/s | errors |")
	fmt.Fprintln(w, "|---|"+strings.Repeat("---:|", 16)+"---|")
	for _, r := range rows {
		liveHeap := "-"
		if r.LiveHeapPerConn > 0 {
			liveHeap = fmt.Sprintf("%.1f KiB", r.LiveHeapPerConn/1024)
		}
		rate := fmt.Sprintf("%.0f", r.Rate)
		if r.PushRate < 0.98*r.Rate {
			rate += fmt.Sprintf(" (%.0f sent)", r.PushRate)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %.2f | %.2f | %.2f | %.0f%% | %.2f | %s | %.2f | %.1f KiB | %s | %.1f KiB | %.2f | %.0f | %s |\n",
			r.Transport, r.ConnsOK, rate, thousands(r.DeliveriesPerS), r.Lost, r.P50ms, r.P99ms, r.P999ms,
			100*r.ServerCPUUtil, r.CPUsPerMillion, genCell(r), r.OtherCPUUtil+r.StealUtil, r.RSSPerConn/1024, liveHeap, r.HeapPerConn/1024,
			r.GoroutinesPerConn, r.ConnectPerS, errorSummary(r))
	}
	printProcTable(w, rows)
	return nil
}

// procNames lists the server processes of the rows that have a breakdown:
// api first, then cores, edges and the rest, by name.
func procNames(rows []result) []string {
	seen := map[string]bool{}
	var names []string
	for _, r := range rows {
		for name := range r.Procs {
			if !seen[name] {
				seen[name] = true
				names = append(names, name)
			}
		}
	}
	rank := func(name string) int {
		for i, prefix := range []string{"api", "core", "edge"} {
			if strings.HasPrefix(name, prefix) {
				return i
			}
		}
		return 3
	}
	sort.Slice(names, func(i, j int) bool {
		if ri, rj := rank(names[i]), rank(names[j]); ri != rj {
			return ri < rj
		}
		return names[i] < names[j]
	})
	return names
}

// printProcTable prints, for rows whose server had several processes, the
// CPU of each over the window and the drain (in cores) and their total.
func printProcTable(w io.Writer, rows []result) {
	names := procNames(rows)
	if len(names) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| transport | conns | pushes/s | deliveries/s | lost | p50 ms | p99 ms | p99.9 ms | %s | total CPU | CPU-s per M | gen CPU | others + steal |\n",
		strings.Join(names, " | "))
	fmt.Fprintln(w, "|---|"+strings.Repeat("---:|", 11+len(names)))
	for _, r := range rows {
		if len(r.Procs) == 0 {
			continue
		}
		var cells []string
		for _, name := range names {
			if p := r.Procs[name]; p != nil {
				cells = append(cells, fmt.Sprintf("%.0f%%", 100*p.CPUUtil))
			} else {
				cells = append(cells, "-")
			}
		}
		rate := fmt.Sprintf("%.0f", r.Rate)
		if r.PushRate < 0.98*r.Rate {
			rate += fmt.Sprintf(" (%.0f sent)", r.PushRate)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %d | %.2f | %.2f | %.2f | %s | %.0f%% | %.2f | %.0f%% | %.2f |\n",
			r.Transport, r.ConnsOK, rate, thousands(r.DeliveriesPerS), r.Lost, r.P50ms, r.P99ms, r.P999ms,
			strings.Join(cells, " | "), 100*r.ServerCPUUtil, r.CPUsPerMillion, 100*r.GenCPUUtil, r.OtherCPUUtil+r.StealUtil)
	}
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func errorSummary(r result) string {
	var parts []string
	for k, v := range r.Errors {
		parts = append(parts, fmt.Sprintf("%s x%d", k, v))
	}
	for k, v := range r.Disconnects {
		parts = append(parts, fmt.Sprintf("disconnect %s x%d", k, v))
	}
	if r.PushErrors > 0 {
		parts = append(parts, fmt.Sprintf("push errors x%d", r.PushErrors))
	}
	if r.Disturbed {
		parts = append(parts, fmt.Sprintf("DISTURBED: others %.2f cores", r.OtherCPUUtil+r.StealUtil))
	}
	if len(parts) == 0 {
		return "none"
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}
