package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/childproc"
	"github.com/quicpush/quicpush/internal/localkafka"
)

// The integration tier runs quicpush as the operators do: separate api, core
// and edge processes of the real binary, a real Apache Kafka broker (KRaft,
// from the jars scripts/kafka/fetch.sh fetches) and a real redis-server. A
// process can then be killed with SIGKILL.

var (
	// The binaries the tests run, built once per run.
	quicpushBinary = &childproc.GoBinary{Name: "quicpush", Dir: "..", Args: []string{"./cmd/quicpush"}}
	grpcurlBinary  = &childproc.GoBinary{Name: "grpcurl", Dir: "..",
		Args: []string{"-modfile=tools/go.mod", "github.com/fullstorydev/grpcurl/cmd/grpcurl"}}

	kafkaOnce   sync.Once
	kafkaBroker *localkafka.Broker
	kafkaErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if kafkaBroker != nil {
		_ = kafkaBroker.Close()
	}
	quicpushBinary.Remove()
	grpcurlBinary.Remove()
	os.Exit(code)
}

// quicpushBin builds the binary once per test run.
func quicpushBin(t *testing.T) string {
	t.Helper()
	path, err := quicpushBinary.Path()
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// realKafka starts one real broker for the whole run; tests use topics and
// groups of their own. Missing jars fail the test with the command that
// fetches them: a skipped tier would look like a passing one.
func realKafka(t *testing.T) *localkafka.Broker {
	t.Helper()
	kafkaOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		kafkaBroker, kafkaErr = localkafka.Start(ctx, localkafka.Config{Partitions: 4})
	})
	if kafkaErr != nil {
		t.Fatalf("real Kafka broker: %v", kafkaErr)
	}
	return kafkaBroker
}

// proc is one quicpush process.
type proc struct {
	t      *testing.T
	name   string
	run    *childproc.Runner
	banner string
	done   <-chan struct{} // closed once the process has exited
}

var (
	reQUIC  = regexp.MustCompile(`quic://(\S+)`)
	reTCP   = regexp.MustCompile(`tcp://([^\s,]+)`)
	reAPI   = regexp.MustCompile(`push API on http://(\S+?),`)
	reAdmin = regexp.MustCompile(`admin on http://(\S+)`)
)

// startProc runs `quicpush args...` and waits for its banner, the first line
// on stdout, which says where it listens. Its log (stderr) is quoted when it
// fails to start and, if the test fails, when the test ends.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	banner := &firstLine{line: make(chan string, 1)}
	run, err := childproc.New(childproc.Config{
		Name:   name,
		Path:   quicpushBin(t),
		Args:   args,
		Dir:    t.TempDir(),
		Stdout: banner,
		Ready: func(ctx context.Context, p *childproc.Process) error {
			select {
			case <-banner.line:
				return nil
			case <-p.Done():
				// Everything written to stdout has arrived once it exited.
				if banner.get() != "" {
					return nil
				}
				return fmt.Errorf("%s exited before it was ready (%v)", name, p.Err())
			case <-ctx.Done():
				return fmt.Errorf("%s printed no banner: %w", name, context.Cause(ctx))
			}
		},
		StartTimeout: 60 * time.Second,
		// term bounds each graceful stop itself.
		StopGrace: time.Hour,
		TailLines: 40,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = run.Close()
		if t.Failed() {
			t.Logf("--- %s's log:\n%s", name, run.Tail())
		}
	})
	if err := run.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return &proc{t: t, name: name, run: run, banner: banner.get(), done: run.Process().Done()}
}

func (p *proc) match(re *regexp.Regexp) string {
	m := re.FindStringSubmatch(p.banner)
	if m == nil {
		p.t.Fatalf("%s banner %q: no %v", p.name, p.banner, re)
	}
	return m[1]
}

// kill sends SIGKILL and waits.
func (p *proc) kill() {
	_ = p.run.Kill()
}

// term sends SIGTERM and waits up to d for a clean exit.
func (p *proc) term(d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := p.run.Stop(ctx); err != nil {
		return err
	}
	switch code := p.run.Process().ExitCode(); code {
	case 0:
		return nil
	case -1: // a signal: SIGKILL when the deadline passed
		return fmt.Errorf("%s did not stop within %v", p.name, d)
	default:
		return fmt.Errorf("%s exited with %d:\n%s", p.name, code, p.run.Tail())
	}
}

// firstLine keeps the first line written to it and hands it over once.
type firstLine struct {
	line chan string // receives the first line, then is never written again

	mu   sync.Mutex
	buf  []byte
	done bool
}

func (f *firstLine) Write(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.done {
		return len(b), nil
	}
	f.buf = append(f.buf, b...)
	if i := bytes.IndexByte(f.buf, '\n'); i >= 0 {
		f.buf = f.buf[:i]
		f.done = true
		f.line <- string(f.buf)
	}
	return len(b), nil
}

// get returns the first line, or "" until it is complete.
func (f *firstLine) get() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.done {
		return ""
	}
	return string(f.buf)
}
