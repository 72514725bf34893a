package main

import (
	"time"

	"github.com/alecthomas/kong"
)

// runFlags are the flags of `loadgen run`, and of `loadgen worker`, which
// reads the connection and server ones from the same set (the coordinator
// starts it with them). config turns them into the run's config.
type runFlags struct {
	Scenario    string        `default:"goim-room" help:"idle, goim-room, saturation, many-rooms, churn or resume-storm"`
	Transport   string        `default:"tcp" help:"tcp, ws, quic or webtransport"`
	Conns       int           `default:"1000" help:"connections"`
	Workers     int           `default:"0" help:"idle and goim-room: spread the connections over this many worker processes (0: one process up to 19,000 TCP/WebSocket connections, as many as needed beyond)"`
	Rate        float64       `default:"40" help:"pushes per second (goim-room: to the room; many-rooms: to random rooms; saturation: the first step)"`
	Duration    time.Duration `default:"10s" help:"measured push phase (churn: how long to churn; resume-storm: the steady state measured before the cut)"`
	Warmup      time.Duration `default:"3s" help:"pushing before the measurement starts"`
	Payload     int           `default:"0" help:"payload size in bytes: {\"test\":1,\"t\":<unix nanos>} padded; 0 means unpadded (34 bytes)"`
	Room        string        `default:"bench" help:"room name (idle, goim-room, saturation)"`
	Sources     int           `default:"4" help:"spread connections over source addresses 127.0.0.2 .. 127.0.0.(K+1); 0 lets the kernel choose"`
	SourceBase  int           `name:"source-base" default:"0" help:"start the source addresses K past 127.0.0.2 (workers get disjoint ranges)"`
	First       int           `default:"0" help:"number of the first user (u<first>); workers get disjoint ranges"`
	QUICSockets int           `name:"quic-sockets" default:"8" help:"UDP sockets shared by the QUIC and WebTransport connections"`
	Pushers     int           `default:"128" help:"concurrent push calls at most (one HTTP/2 connection)"`
	DialPar     int           `name:"dial-concurrency" default:"64" help:"connections handshaking at once"`
	Settle      time.Duration `default:"3s" help:"wait after connecting before measuring idle memory"`
	Drain       time.Duration `default:"10s" help:"longest wait for deliveries after the last push"`
	Label       string        `help:"free text copied into the result"`
	QuietWait   time.Duration `name:"quiet-wait" default:"0s" help:"before starting, wait up to this long for other processes to leave the CPUs idle"`
	Retries     int           `default:"0" help:"run again (against a fresh server) up to this many times when other processes or the hypervisor took more than 0.2 cores during the measurement"`
	ServerRev   string        `name:"server-rev" help:"the server's source revision, copied into the result (bench.sh passes git describe)"`
	CPUProfile  string        `name:"cpu-profile" help:"save the server's CPU profile over the measured window here (needs pprof: serve --admin-addr)"`
	HeapProfile string        `name:"heap-profile" help:"save the server's heap profile (after a GC) here: once connected and idle, or after churning (needs pprof: serve --admin-addr)"`

	SatFactor   float64       `name:"sat-factor" default:"2" help:"saturation: rate multiplier from one step to the next"`
	SatStep     time.Duration `name:"sat-step" default:"3s" help:"saturation: measured time of each step (after 1 s of warmup)"`
	SatMaxSteps int           `name:"sat-max-steps" default:"12" help:"saturation: most steps before the two final ones"`
	SatGain     float64       `name:"sat-gain" default:"1.1" help:"saturation: a step must raise deliveries/s by this factor over the best so far to count as rising"`
	SatP99Limit time.Duration `name:"sat-p99-limit" default:"1s" help:"saturation: a step whose p99 latency exceeds this has blown up"`
	SatRefine   int           `name:"sat-refine" default:"1" help:"saturation: bisection steps between the last good rate and the first bad one"`

	GroupSize   int           `name:"group-size" default:"10" help:"many-rooms: members of each group room"`
	GroupShare  float64       `name:"group-share" default:"0.5" help:"many-rooms: share of pushes that go to a group room (the rest go to one user)"`
	ChurnPerMin float64       `name:"churn-per-min" default:"0.10" help:"many-rooms: share of the connections closed and reopened per minute"`
	Grace       time.Duration `default:"2s" help:"many-rooms: a connection closed less than this after a push was sent is not expected to receive it"`

	Parallel int `default:"32" help:"churn: connections cycling at once"`

	Gap              time.Duration `default:"2s" help:"resume-storm: how long every connection stays cut while the pushes go on"`
	StormConcurrency int           `name:"storm-concurrency" default:"0" help:"resume-storm: reconnects in flight at once (0: every client at once)"`
	StormTimeout     time.Duration `name:"storm-timeout" default:"1m" help:"resume-storm: longest wait, from the start of the reconnects, for every client to catch up"`
	StormTail        time.Duration `name:"storm-tail" default:"1s" help:"resume-storm: pushing on after the last client caught up, before the drain"`

	Spawn       bool     `help:"start 'quicpush serve' on free loopback ports with a fresh dev dir"`
	ServerBin   string   `name:"server-bin" help:"quicpush binary for --spawn (default: quicpush next to loadgen, then $$PATH)"`
	ServerCPUs  string   `name:"server-cpus" help:"with --spawn, pin the server to these CPUs (taskset -c), e.g. 0"`
	ServerFlags flagList `name:"server-flag" help:"with --spawn, an extra flag for 'quicpush serve' (repeatable), e.g. --server-flag=--merge-window=5ms"`
	GenCPUs     string   `name:"gen-cpus" aliases:"gen-cpu" help:"pin the generator to these CPUs (re-exec under taskset -c), e.g. 1"`
	API         string   `name:"api" help:"push API host:port (without --spawn)"`
	EdgeQUIC    string   `name:"edge-quic" help:"edge UDP host:port for quic and webtransport, or a comma list of edges: connection i goes to edge i mod n (without --spawn)"`
	Admin       string   `help:"the server's --admin-addr host:port, for pprof (without --spawn; optional)"`
	EdgeTCP     string   `name:"edge-tcp" help:"edge TCP host:port for tcp and ws, or a comma list of edges (without --spawn)"`
	DevDir      string   `name:"dev-dir" default:".quicpush-dev" help:"the server's dev dir, to read secrets.json (without --spawn)"`
	ServerPID   string   `name:"server-pid" help:"server process id for CPU and RSS from /proc, or a comma list of [name=]pid: the server's CPU and RSS are their sum (without --spawn; default: from /metrics)"`
	ServerAdmin string   `name:"server-admin" help:"comma list of [name=]host:port: admin listeners of the server's processes (a cluster's api, cores, edges), read for CPU and RSS (process_* metrics) and summed for the rest; an entry of --server-pid with the same name is read from /proc instead (without --spawn)"`
}

// config is the run the flags describe. The idle scenario pushes nothing,
// whatever --rate says.
func (f *runFlags) config() config {
	c := config{
		scenario: f.Scenario, transport: f.Transport, conns: f.Conns, workers: f.Workers,
		rate: f.Rate, duration: f.Duration, warmup: f.Warmup, payload: f.Payload, room: f.Room,
		sources: f.Sources, sourceBase: f.SourceBase, first: f.First, quicSockets: f.QUICSockets,
		pushers: f.Pushers, dialPar: f.DialPar, settle: f.Settle, drain: f.Drain, label: f.Label,
		serverRev: f.ServerRev, cpuProfile: f.CPUProfile, heapProfile: f.HeapProfile,
		quietWait: f.QuietWait, retries: f.Retries,

		sat: satConfig{
			factor: f.SatFactor, step: f.SatStep, maxSteps: f.SatMaxSteps, gain: f.SatGain,
			p99Limit: f.SatP99Limit, refine: f.SatRefine,
		},
		rooms: roomsConfig{groupSize: f.GroupSize, groupShare: f.GroupShare, churnPerMin: f.ChurnPerMin, grace: f.Grace},
		churn: churnConfig{parallel: f.Parallel},
		storm: stormConfig{gap: f.Gap, concurrency: f.StormConcurrency, timeout: f.StormTimeout, tail: f.StormTail},

		spawn: f.Spawn, serverBin: f.ServerBin, serverCPUs: f.ServerCPUs, serverFlags: f.ServerFlags, genCPUs: f.GenCPUs,
		api: f.API, edgeQUIC: f.EdgeQUIC, edgeTCP: f.EdgeTCP, devDir: f.DevDir, admin: f.Admin,
		serverAdmin: f.ServerAdmin, serverPID: f.ServerPID,
	}
	if c.scenario == "idle" {
		c.rate = 0
	}
	return c
}

// flagList is a repeatable flag whose every value is one item, commas and
// leading dashes included: --server-flag --history-size=-1 passes that flag
// on as it is.
type flagList []string

func (l *flagList) Decode(ctx *kong.DecodeContext) error {
	t, err := ctx.Scan.PopValue("flag")
	if err != nil {
		return err
	}
	*l = append(*l, t.String())
	return nil
}
