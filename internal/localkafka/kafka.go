package localkafka

import (
	"bufio"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/quicpush/quicpush/internal/childproc"
)

// Version is the Apache Kafka version that scripts/kafka/pom.xml fetches;
// the default jar directory is named after it. Bump both together.
const Version = "4.1.1"

// LibsEnv names the environment variable that overrides the jar directory,
// as it does for scripts/kafka/fetch.sh.
const LibsEnv = "QUICPUSH_KAFKA_LIBS"

const (
	defaultHeapMB     = 512
	defaultPartitions = 8
	// startTimeout bounds Start and Restart when ctx has no deadline: a JVM
	// that neither serves nor dies must not hang a test until go test's own
	// ten-minute timeout.
	startTimeout = 2 * time.Minute
	// stopGrace is how long Stop lets the broker shut down cleanly before
	// killing it. A single-node KRaft broker normally needs a few seconds.
	stopGrace = 20 * time.Second
	// formatHeapMB is enough for the short-lived StorageTool JVM.
	formatHeapMB = 128

	logName      = "kafka.log"
	propsName    = "server.properties"
	dataName     = "data"
	tailLines    = 40
	modulePath   = "github.com/quicpush/quicpush"
	fetchCommand = "scripts/kafka/fetch.sh"
)

// Config describes a local broker. The zero value is a broker on free
// loopback ports with a temporary data directory.
type Config struct {
	// Libs is the directory with the Kafka jars. Empty means Libs().
	Libs string
	// Dir holds server.properties, the data (Dir/data) and the JVM's output
	// (Dir/kafka.log). Empty means a new temporary directory that Close
	// removes. A Dir kept across runs keeps its topics and offsets; storage is
	// formatted only when Dir/data has none yet.
	Dir string
	// Port is the client (PLAINTEXT) port and ControllerPort the KRaft
	// controller port, both on 127.0.0.1. Zero picks a free port once, at
	// Start; Restart keeps the ports.
	Port, ControllerPort int
	// HeapMB is the JVM's maximum heap in MiB; zero means 512.
	HeapMB int
	// Partitions is num.partitions, the default for auto-created topics and
	// the partition count of Kafka's internal offsets and transaction topics
	// (kept small: creating Kafka's default 50 each costs seconds on a
	// two-core machine). Zero means 8.
	Partitions int
	// Logger receives lifecycle events; nil discards them. The JVM's own log
	// goes to Dir/kafka.log.
	Logger *slog.Logger
}

// Broker is a running (or stopped, restartable) local Kafka broker. Its
// methods are safe for concurrent use.
type Broker struct {
	log            *slog.Logger
	java           string
	libs           string
	port           int
	controllerPort int
	heapMB         int
	partitions     int
	run            *childproc.Runner
}

// Start formats the storage if needed, starts the broker and returns once a
// Kafka client can fetch metadata from it. ctx bounds the whole start (two
// minutes if it has no deadline). On failure nothing is left running, and
// the error includes the tail of the JVM's output.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Port < 0 || cfg.ControllerPort < 0 || cfg.HeapMB < 0 || cfg.Partitions < 0 {
		return nil, errors.New("localkafka: Port, ControllerPort, HeapMB and Partitions must not be negative")
	}
	libs := cfg.Libs
	var err error
	if libs == "" {
		if libs, err = Libs(); err != nil {
			return nil, err
		}
	} else if err := checkLibs(libs); err != nil {
		return nil, err
	}
	java, err := findJava()
	if err != nil {
		return nil, err
	}

	b := &Broker{
		java:           java,
		libs:           libs,
		port:           cfg.Port,
		controllerPort: cfg.ControllerPort,
		heapMB:         cmp.Or(cfg.HeapMB, defaultHeapMB),
		partitions:     cmp.Or(cfg.Partitions, defaultPartitions),
	}
	if b.port == 0 || b.controllerPort == 0 {
		ports, err := childproc.FreeLoopbackPorts(2)
		if err != nil {
			return nil, fmt.Errorf("localkafka: %w", err)
		}
		b.port = cmp.Or(b.port, ports[0])
		b.controllerPort = cmp.Or(b.controllerPort, ports[1])
	}
	if b.port == b.controllerPort {
		return nil, fmt.Errorf("localkafka: Port and ControllerPort are both %d", b.port)
	}
	b.log = log.With("addr", b.Addr(), "controller_port", b.controllerPort)
	b.run, err = childproc.New(childproc.Config{
		Name: "kafka broker",
		Path: java,
		// The JVM runs in the broker's directory, where Prepare writes
		// server.properties.
		Args:         append(b.jvmArgs(b.heapMB), "kafka.Kafka", propsName),
		Dir:          cfg.Dir,
		TempPrefix:   "localkafka",
		LogFile:      logName,
		Ports:        []int{b.port, b.controllerPort},
		Prepare:      b.prepare,
		Ready:        b.waitReady,
		StartTimeout: startTimeout,
		StopGrace:    stopGrace,
		TailLines:    tailLines,
		Logger:       b.log,
	})
	if err != nil {
		return nil, fmt.Errorf("localkafka: %w", err)
	}
	if err := b.run.Start(ctx); err != nil {
		_ = b.run.Close()
		return nil, b.errorf(err)
	}
	return b, nil
}

// Addr is the bootstrap address for clients, "127.0.0.1:PORT". It stays the
// same across Restart.
func (b *Broker) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port))
}

// Stop shuts the broker down with SIGTERM, as Kafka's own stop script does,
// and kills it if it has not exited within 20 s or when ctx ends. The data
// directory is kept, so Restart brings the same broker back. Stopping a
// stopped broker does nothing.
func (b *Broker) Stop(ctx context.Context) error { return b.errorf(b.run.Stop(ctx)) }

// Kill kills the broker's process group with SIGKILL, as a crash would, and
// waits until it is gone. Killing a stopped broker does nothing.
func (b *Broker) Kill() error { return b.errorf(b.run.Kill()) }

// Restart starts the broker again on the same ports and data directory,
// stopping it first (as Stop does) if it is running, and returns once it
// serves metadata again. ctx bounds it as it does Start.
func (b *Broker) Restart(ctx context.Context) error { return b.errorf(b.run.Restart(ctx)) }

// Close kills the broker and removes its directory if Start created it.
// It is safe to call more than once; Restart fails after it.
func (b *Broker) Close() error { return b.errorf(b.run.Close()) }

// errorf prefixes a runner's error with the package and the address.
func (b *Broker) errorf(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("localkafka: %s: %w", b.Addr(), err)
}

// prepare writes server.properties and formats the storage if it has never
// been, before every start.
func (b *Broker) prepare(ctx context.Context) error {
	if err := b.writeProps(); err != nil {
		return err
	}
	return b.format(ctx)
}

// waitReady waits for the client port to accept connections and then for a
// metadata request through a real Kafka client to list a broker: the port
// opens before the broker has joined the KRaft quorum, and without a log4j
// configuration there is no log line worth waiting for.
func (b *Broker) waitReady(ctx context.Context, p *childproc.Process) error {
	if err := p.WaitPort(ctx, b.Addr()); err != nil {
		return err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(b.Addr()),
		kgo.DialTimeout(time.Second),
		kgo.RequestRetries(0),
	)
	if err != nil {
		return fmt.Errorf("create kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	err = p.Poll(ctx, 100*time.Millisecond, func(ctx context.Context) error {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		brokers, err := adm.ListBrokers(actx)
		if err == nil && len(brokers) == 0 {
			err = errors.New("metadata lists no broker")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("metadata request failing: %w", err)
	}
	return nil
}

// format runs Kafka's StorageTool format once per data directory. KRaft refuses
// to start on an unformatted log dir; meta.properties is what format writes.
func (b *Broker) format(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(b.dataDir(), "meta.properties")); err == nil {
		return nil
	}
	id := clusterID()
	// --ignore-formatted: a format interrupted after writing meta.properties
	// elsewhere, or a concurrent one, is not an error worth failing over.
	args := append(b.jvmArgs(formatHeapMB),
		"kafka.tools.StorageTool", "format", "--ignore-formatted", "-t", id, "-c", b.propsPath())
	b.log.Debug("formatting kafka storage", "dir", b.dataDir(), "cluster_id", id)
	p, err := childproc.Start(b.java, args, b.run.Dir(), b.run.LogPath())
	if err != nil {
		return fmt.Errorf("format storage: %w", err)
	}
	select {
	case <-p.Done():
		err = p.Err()
	case <-ctx.Done():
		_ = p.Kill()
		err = context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("format storage: %w\n--- last lines of %s ---\n%s", err, b.run.LogPath(), b.run.Tail())
	}
	return nil
}

// clusterID returns a random Kafka UUID in its string form: 16 random bytes
// in unpadded URL-safe base64, which is what `kafka-storage random-uuid`
// prints. Making it here saves starting a JVM. Kafka's CLI would read an id
// starting with '-' as an option, so such ids are redrawn.
func clusterID() string {
	for {
		var id [16]byte
		_, _ = rand.Read(id[:]) // never fails since Go 1.24
		s := base64.RawURLEncoding.EncodeToString(id[:])
		if s[0] != '-' {
			return s
		}
	}
}

// jvmArgs returns the java options and class path shared by the broker and
// the storage tool.
func (b *Broker) jvmArgs(heapMB int) []string {
	return []string{
		"-Xmx" + strconv.Itoa(heapMB) + "m",
		// Kafka's own launch script uses G1 with these; keep them so the
		// broker behaves as it does elsewhere.
		"-XX:+UseG1GC",
		"-XX:MaxGCPauseMillis=20",
		"-XX:+ExitOnOutOfMemoryError", // a dead broker fails a test; a sick one hangs it
		"-XX:-UsePerfData",            // no hsperfdata files left in /tmp
		"-Djava.awt.headless=true",
		"-Dorg.slf4j.simpleLogger.showDateTime=true",
		"-Dorg.slf4j.simpleLogger.dateTimeFormat=yyyy-MM-dd'T'HH:mm:ss.SSS",
		"-cp", filepath.Join(b.libs, "*"),
	}
}

func (b *Broker) propsPath() string { return filepath.Join(b.run.Dir(), propsName) }
func (b *Broker) dataDir() string   { return filepath.Join(b.run.Dir(), dataName) }

// writeProps writes server.properties for a combined broker+controller
// single-node KRaft cluster listening on loopback only.
func (b *Broker) writeProps() error {
	host := "127.0.0.1"
	plain := "PLAINTEXT://" + net.JoinHostPort(host, strconv.Itoa(b.port))
	ctrl := net.JoinHostPort(host, strconv.Itoa(b.controllerPort))
	parts := strconv.Itoa(b.partitions)
	props := [][2]string{
		{"process.roles", "broker,controller"},
		{"node.id", "1"},
		// A static voter set (rather than a bootstrap server and a
		// --standalone format) comes from this file at every start, so a
		// data directory survives a change of ports.
		{"controller.quorum.voters", "1@" + ctrl},
		{"listeners", plain + ",CONTROLLER://" + ctrl},
		{"advertised.listeners", plain},
		{"controller.listener.names", "CONTROLLER"},
		{"inter.broker.listener.name", "PLAINTEXT"},
		{"listener.security.protocol.map", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"},
		{"log.dirs", b.dataDir()},
		{"num.partitions", parts},
		{"default.replication.factor", "1"},
		{"min.insync.replicas", "1"},
		{"offsets.topic.replication.factor", "1"},
		{"offsets.topic.num.partitions", parts},
		{"transaction.state.log.replication.factor", "1"},
		{"transaction.state.log.min.isr", "1"},
		{"transaction.state.log.num.partitions", parts},
		{"share.coordinator.state.topic.replication.factor", "1"},
		{"share.coordinator.state.topic.min.isr", "1"},
		// Consumers join a group at once instead of after Kafka's 3 s wait
		// for more members.
		{"group.initial.rebalance.delay.ms", "0"},
		// After a Kill the controller still holds the dead incarnation's
		// registration and refuses the restarted broker's (duplicate broker
		// registration) until that session expires: 9 s by default, which
		// made Restart take 13 s instead of 3. Heartbeats stay inside one
		// JVM over loopback, so a short session cannot fence a live broker
		// short of a multi-second stall.
		{"broker.heartbeat.interval.ms", "500"},
		{"broker.session.timeout.ms", "3000"},
	}
	var sb strings.Builder
	sb.WriteString("# Written by internal/localkafka at every start; edits are lost.\n")
	for _, kv := range props {
		sb.WriteString(kv[0])
		sb.WriteByte('=')
		sb.WriteString(kv[1])
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(b.propsPath(), []byte(sb.String()), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", propsName, err)
	}
	return nil
}

// findJava prefers $JAVA_HOME/bin/java, as Kafka's scripts do, then PATH.
func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		java := filepath.Join(home, "bin", "java")
		if st, err := os.Stat(java); err == nil && !st.IsDir() {
			return java, nil
		}
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return "", fmt.Errorf("localkafka: java not found (set JAVA_HOME or put Java 17+ on PATH; Debian: apt-get install -y openjdk-17-jre-headless): %w", err)
	}
	return java, nil
}

// Libs returns the directory with the Kafka jars: $QUICPUSH_KAFKA_LIBS if set,
// else .cache/kafka-<Version>/libs in the repository found by walking up
// from the working directory to quicpush's go.mod. It fails, saying how to
// fetch them, when the jars are not there.
func Libs() (string, error) {
	if dir := os.Getenv(LibsEnv); dir != "" {
		if err := checkLibs(dir); err != nil {
			return "", err
		}
		return dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("localkafka: cannot locate the Kafka jars: %w; set %s to a directory of them (see %s)", err, LibsEnv, fetchCommand)
	}
	dir := filepath.Join(root, ".cache", "kafka-"+Version, "libs")
	if err := checkLibs(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// checkLibs reports whether dir holds a Kafka broker jar. fetch.sh moves the
// directory into place only once Maven has copied every jar, so the broker
// jar stands for a complete download.
func checkLibs(dir string) error {
	jars, err := filepath.Glob(filepath.Join(dir, "kafka_2.13-*.jar"))
	if err == nil && len(jars) == 0 {
		err = errors.New("no kafka_2.13-*.jar there")
	}
	if err != nil {
		return fmt.Errorf("localkafka: Kafka jars missing in %s (%v): run %s from the repository root "+
			"(needs java and mvn; it prints the directory), or set %s to a directory of Kafka %s jars",
			dir, err, fetchCommand, LibsEnv, Version)
	}
	return nil
}

// repoRoot walks up from the working directory to the directory whose
// go.mod declares quicpush's module (tools/ has a go.mod of its own).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("working directory: %w", err)
	}
	for dir := wd; ; {
		if mod, err := modulePathOf(filepath.Join(dir, "go.mod")); err == nil && mod == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s in %s or above", modulePath, wd)
		}
		dir = parent
	}
}

// modulePathOf returns the module path declared in a go.mod file.
func modulePathOf(gomod string) (string, error) {
	f, err := os.Open(gomod)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", errors.New("no module line")
}
