package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/localkafka"
)

// The integration tier runs quicpush as the operators do: separate api, core
// and edge processes of the real binary, a real Apache Kafka broker (KRaft,
// from the jars scripts/kafka/fetch.sh fetches) and a real redis-server. A
// process can then be killed with SIGKILL.

var (
	binOnce sync.Once
	binPath string
	binErr  error

	kafkaOnce   sync.Once
	kafkaBroker *localkafka.Broker
	kafkaErr    error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if kafkaBroker != nil {
		_ = kafkaBroker.Close()
	}
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// quicpushBin builds the binary once per test run.
func quicpushBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "quicpush-e2e-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "quicpush")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/quicpush")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
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
	cmd    *exec.Cmd
	banner string
	done   chan struct{}
	out    *lockedBuffer
}

var (
	reQUIC  = regexp.MustCompile(`quic://(\S+)`)
	reTCP   = regexp.MustCompile(`tcp://([^\s,]+)`)
	reAPI   = regexp.MustCompile(`push API on http://(\S+?),`)
	reAdmin = regexp.MustCompile(`admin on http://(\S+)`)
)

// startProc runs `quicpush args...` and waits for its banner line on stdout,
// which says where it listens.
func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(quicpushBin(t), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, name: name, cmd: cmd, done: make(chan struct{}), out: &lockedBuffer{}}
	cmd.Stderr = p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s's log:\n%s", name, p.out.tail(40))
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		first := true
		for sc.Scan() {
			if first {
				lines <- sc.Text()
				first = false
			}
		}
		close(lines)
	}()
	select {
	case l, ok := <-lines:
		if !ok {
			<-p.done
			t.Fatalf("%s exited before it was ready:\n%s", name, p.out.tail(40))
		}
		p.banner = l
	case <-time.After(60 * time.Second):
		t.Fatalf("%s printed no banner within 60s:\n%s", name, p.out.tail(40))
	}
	return p
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
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term sends SIGTERM and waits up to d.
func (p *proc) term(d time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.cmd.ProcessState.ExitCode() != 0 {
			return fmt.Errorf("%s exited with %d:\n%s", p.name, p.cmd.ProcessState.ExitCode(), p.out.tail(20))
		}
		return nil
	case <-time.After(d):
		p.kill()
		return fmt.Errorf("%s did not stop within %v", p.name, d)
	}
}

// lockedBuffer keeps a process's stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(l.b.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

var _ io.Writer = (*lockedBuffer)(nil)
