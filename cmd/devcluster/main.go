// Command devcluster runs a whole quicpush cluster on loopback for trying the
// cluster mode (`make cluster`): a real Apache Kafka broker (KRaft, one node,
// jars from scripts/kafka/fetch.sh), redis-server, one `quicpush api`, two
// `quicpush core` and two `quicpush edge` processes. It prints where
// everything listens and stops it all on Ctrl-C.
//
//	go run ./cmd/devcluster --bin bin/quicpush
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/quicpush/quicpush/internal/childproc"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/localkafka"
	"github.com/quicpush/quicpush/internal/localredis"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devcluster:", err)
		os.Exit(1)
	}
}

type options struct {
	bin       string
	dir       string
	devDir    string
	cores     int
	edges     int
	apiPort   int
	edgePort  int
	kafkaPort int
	redisPort int
	adminPort int
}

func run() error {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/quicpush", "the quicpush binary")
	flag.StringVar(&o.dir, "dir", ".quicpush-cluster", "data and logs of Kafka, Redis and the processes")
	flag.StringVar(&o.devDir, "dev-dir", ".quicpush-dev", "development certificate and secrets, shared by every process")
	flag.IntVar(&o.cores, "cores", 2, "core processes")
	flag.IntVar(&o.edges, "edges", 2, "edge processes")
	flag.IntVar(&o.apiPort, "api-port", 8080, "push API port")
	flag.IntVar(&o.edgePort, "edge-port", 4433, "first edge's UDP port (QUIC, WebTransport); its TCP port is one more; each further edge adds 10")
	flag.IntVar(&o.kafkaPort, "kafka-port", 9092, "Kafka client port (the controller takes the next one)")
	flag.IntVar(&o.redisPort, "redis-port", 6390, "redis-server port")
	flag.IntVar(&o.adminPort, "admin-port", 9101, "first admin port (/metrics, /healthz, /readyz, pprof); one per process")
	flag.Parse()

	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("%s: %w (build it with `make build`)", o.bin, err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	logs, err := filepath.Abs(filepath.Join(o.dir, "logs"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(logs, 0o755); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Println("starting redis-server and Kafka (first start formats the broker's storage; ~10-20 s)...")
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rs, err := localredis.Start(startCtx, localredis.Config{Dir: filepath.Join(o.dir, "redis"), Port: o.redisPort, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rs.Stop(stopCtx)
		_ = rs.Close()
	}()
	kb, err := localkafka.Start(startCtx, localkafka.Config{
		Dir: filepath.Join(o.dir, "kafka"), Port: o.kafkaPort, ControllerPort: o.kafkaPort + 1, Logger: log,
	})
	if err != nil {
		return err
	}
	// A clean stop keeps the next start quick (no log recovery).
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = kb.Stop(stopCtx)
		_ = kb.Close()
	}()

	// One configuration file for every process (docs/configuration.md):
	// each takes the keys of its own flags and ignores the others.
	config := filepath.Join(o.dir, "cluster.yaml")
	conf := fmt.Sprintf("# written by make cluster: the settings every process shares\n"+
		"kafka-brokers: [%q]\nredis-addr: %q\ndev-dir: %q\n"+
		"# every client of a local cluster comes from loopback: the per-IP limits would count them all as one source\n"+
		"max-conns-per-ip: -1\nhandshakes-per-ip: -1\n", kb.Addr(), rs.Addr(), o.devDir)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		return err
	}
	common := []string{"--config", config}
	procs := procGroup{exited: make(chan string, 16)}
	defer procs.stopAll()
	admin := o.adminPort
	start := func(name string, args ...string) error {
		return procs.start(ctx, childproc.Config{
			Name: name,
			Path: bin,
			Args: args,
			// Relative flags (--dev-dir) are read from where devcluster runs.
			Dir:       ".",
			LogFile:   filepath.Join(logs, name+".log"),
			StopGrace: 15 * time.Second,
			Logger:    log,
		})
	}
	// Edges first: they create the shared development certificate and
	// secrets (under a lock) that the API also reads.
	var edges []edgeAddr
	for i := range o.edges {
		udp := o.edgePort + 10*i
		e := edgeAddr{quic: "127.0.0.1:" + strconv.Itoa(udp), tcp: "127.0.0.1:" + strconv.Itoa(udp+1), admin: "127.0.0.1:" + strconv.Itoa(admin)}
		args := append([]string{"edge", "--edge-id", "edge" + strconv.Itoa(i+1),
			"--quic-addr", e.quic, "--tcp-addr", e.tcp, "--admin-addr", e.admin}, common...)
		if err := start("edge"+strconv.Itoa(i+1), args...); err != nil {
			return err
		}
		edges = append(edges, e)
		admin++
	}
	var coreAdmins []string
	for i := range o.cores {
		a := "127.0.0.1:" + strconv.Itoa(admin)
		if err := start("core"+strconv.Itoa(i+1), append([]string{"core", "--admin-addr", a}, common...)...); err != nil {
			return err
		}
		coreAdmins = append(coreAdmins, a)
		admin++
	}
	apiAdmin := "127.0.0.1:" + strconv.Itoa(admin)
	apiAddr := "127.0.0.1:" + strconv.Itoa(o.apiPort)
	// The admin page of the cluster, on the api process, with a token made
	// for this run (a development cluster: it is printed below).
	adminToken := "dev-admin-" + rand.Text()
	if err := start("api", append([]string{"api", "--api-addr", apiAddr, "--admin-addr", apiAdmin,
		"--admin-ui", "--admin-token", adminToken}, common...)...); err != nil {
		return err
	}

	// Ready when every process says so.
	admins := append(append([]string{apiAdmin}, coreAdmins...), func() []string {
		var a []string
		for _, e := range edges {
			a = append(a, e.admin)
		}
		return a
	}()...)
	if err := waitReady(startCtx, admins, &procs); err != nil {
		return err
	}
	cert, err := devcert.LoadOrCreate(o.devDir)
	if err != nil {
		return err
	}
	hash := devcert.Hash(cert)
	printBanner(o, hex.EncodeToString(hash[:]), kb.Addr(), rs.Addr(), apiAddr, apiAdmin, adminToken, coreAdmins, edges)

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping: edges drain (clients are told to reconnect), cores commit, then Kafka and Redis stop")
	case name := <-procs.exited:
		fmt.Printf("\n%s exited; stopping the cluster (see %s)\n", name, filepath.Join(logs, name+".log"))
	}
	return nil
}

// edgeAddr is where an edge listens.
type edgeAddr struct{ quic, tcp, admin string }

func printBanner(o options, certHash, kafka, redis, api, apiAdmin, adminToken string, coreAdmins []string, edges []edgeAddr) {
	var b strings.Builder
	fmt.Fprintf(&b, "\nquicpush cluster is running on loopback (logs in %s/logs, shared settings in %s/cluster.yaml)\n\n", o.dir, o.dir)
	fmt.Fprintf(&b, "  Kafka          %s (topic quicpush.push)\n", kafka)
	fmt.Fprintf(&b, "  Redis          %s\n", redis)
	fmt.Fprintf(&b, "  push API       http://%s          admin http://%s/metrics\n", api, apiAdmin)
	fmt.Fprintf(&b, "  admin page     http://%s/admin/#token=%s\n", apiAdmin, adminToken)
	for i, a := range coreAdmins {
		fmt.Fprintf(&b, "  core%d                                          admin http://%s/metrics\n", i+1, a)
	}
	var eps []string
	for i, e := range edges {
		fmt.Fprintf(&b, "  edge%d          quic://%s tcp://%s   admin http://%s/metrics\n", i+1, e.quic, e.tcp, e.admin)
		eps = append(eps, fmt.Sprintf("--endpoint 'quic://%s tcp://%s'", e.quic, e.tcp))
	}
	fmt.Fprintf(&b, "\nTry it (in another terminal):\n")
	fmt.Fprintf(&b, "  TOKEN=$(bin/quicpush token --dev-dir %s --user alice --rooms lobby)\n", o.devDir)
	fmt.Fprintf(&b, "  bin/quicpush listen --token \"$TOKEN\" --room lobby --cert-hash %s \\\n    %s\n", certHash, strings.Join(eps, " "))
	fmt.Fprintf(&b, "  KEY=$(sed -n 's/.*\"api_key\": \"\\(.*\\)\".*/\\1/p' %s/secrets.json)\n", o.devDir)
	fmt.Fprintf(&b, "  curl -H \"Authorization: Bearer $KEY\" -H 'Content-Type: application/json' \\\n")
	fmt.Fprintf(&b, "    -d '{\"room\":\"lobby\",\"text\":\"hello cluster\"}' http://%s/quicpush.push.v1.PushService/PushRoom\n", api)
	fmt.Fprintf(&b, "\nCtrl-C stops everything.\n")
	fmt.Print(b.String())
}

// waitReady polls every admin /readyz until all answer 200.
func waitReady(ctx context.Context, admins []string, procs *procGroup) error {
	for _, a := range admins {
		for !ready(a) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s did not become ready: %w", a, ctx.Err())
			case name := <-procs.exited:
				return fmt.Errorf("%s exited during start", name)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// procGroup runs the quicpush processes and tells which one exits first.
type procGroup struct {
	mu     sync.Mutex
	runs   []*childproc.Runner
	exited chan string // names of processes that exited (the first 16)
}

// start starts one process. It dies with devcluster (childproc), so an
// interrupted devcluster leaves nothing behind.
func (g *procGroup) start(ctx context.Context, cfg childproc.Config) error {
	r, err := childproc.New(cfg)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.runs = append(g.runs, r)
	g.mu.Unlock()
	if err := r.Start(ctx); err != nil {
		return err
	}
	go func() {
		<-r.Process().Done()
		select {
		case g.exited <- cfg.Name:
		default:
		}
	}()
	return nil
}

// stopAll stops every process, in reverse start order (api first, edges
// last, so that nothing is pushed into a stopping cluster): SIGTERM, and
// SIGKILL for what is left after 15 s.
func (g *procGroup) stopAll() {
	g.mu.Lock()
	runs := g.runs
	g.mu.Unlock()
	for i := len(runs) - 1; i >= 0; i-- {
		_ = runs[i].Stop(context.Background())
		_ = runs[i].Close()
	}
}

// ready reports whether an admin listener answers /readyz with 200.
func ready(admin string) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + admin + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}
