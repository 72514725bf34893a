package childproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is the child the other tests run: this test binary
// started with `-test.run=TestHelperProcess -- MODE [PORT]`. Run normally it
// does nothing.
func TestHelperProcess(t *testing.T) {
	args := os.Args
	for len(args) > 0 && args[0] != "--" {
		args = args[1:]
	}
	if len(args) < 2 {
		return
	}
	switch args[1] {
	case "serve": // listen on PORT until killed
		ln, err := net.Listen("tcp", "127.0.0.1:"+args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Println("serving on", ln.Addr())
		fmt.Fprintln(os.Stderr, "a log line")
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(2)
			}
			_ = c.Close()
		}
	case "stubborn": // ignore SIGTERM
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ignoring SIGTERM")
		select {}
	case "fail":
		fmt.Fprintln(os.Stderr, "boom: cannot start")
		os.Exit(3)
	}
	os.Exit(0)
}

func helper(t *testing.T, cfg Config, mode string, args ...string) *Runner {
	t.Helper()
	cfg.Name = "helper"
	cfg.Path = os.Args[0]
	cfg.Args = append([]string{"-test.run=^TestHelperProcess$", "--", mode}, args...)
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func freePort(t *testing.T) int {
	t.Helper()
	ports, err := FreeLoopbackPorts(1)
	if err != nil {
		t.Fatal(err)
	}
	return ports[0]
}

// TestRunnerLifecycle runs a child through what failover tests do with it:
// start on a port, crash it, bring it back on the same port, stop it, close.
func TestRunnerLifecycle(t *testing.T) {
	port := freePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r := helper(t, Config{Ports: []int{port}}, "serve", strconv.Itoa(port))
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	dial(t, addr, true)
	if err := r.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Start while running: %v", err)
	}
	pid := r.Process().Pid()

	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("child %d alive after Kill", pid)
	}
	dial(t, addr, false)
	if err := r.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r.Process().Pid() == pid {
		t.Fatal("Restart kept the old process")
	}
	pid = r.Process().Pid()
	dial(t, addr, true)

	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("child %d alive after Stop", pid)
	}
	if code := r.Process().ExitCode(); code != -1 {
		t.Fatalf("exit code after SIGTERM = %d, want -1 (a signal)", code)
	}
	if err := r.Start(t.Context()); err != nil {
		t.Fatalf("Start after Stop: %v", err)
	}
	pid = r.Process().Pid()

	dir := r.Dir()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("child %d alive after Close", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left its temporary directory %s: %v", dir, err)
	}
	if err := r.Restart(t.Context()); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

// TestRunnerStartFailureQuotesLog checks that a child that dies fails Start
// at once, with its own words.
func TestRunnerStartFailureQuotesLog(t *testing.T) {
	r := helper(t, Config{Ports: []int{freePort(t)}}, "fail")
	began := time.Now()
	err := r.Start(t.Context())
	if err == nil {
		t.Fatal("Start of a failing child succeeded")
	}
	for _, want := range []string{"helper exited early", "exit status 3", "--- last lines of", "boom: cannot start"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	if d := time.Since(began); d > 10*time.Second {
		t.Errorf("Start took %v to notice the child died", d)
	}
}

func TestRunnerRefusesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	r := helper(t, Config{Ports: []int{port}}, "serve", strconv.Itoa(port))
	if err := r.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "not free") {
		t.Fatalf("Start on a busy port: %v", err)
	}
	if r.Process() != nil {
		t.Fatal("a child was started on a busy port")
	}
}

// TestRunnerStdout checks that a Stdout writer gets the standard output and
// the log keeps the standard error.
func TestRunnerStdout(t *testing.T) {
	port := freePort(t)
	var out syncBuffer
	r := helper(t, Config{Ports: []int{port}, Dir: t.TempDir(), LogFile: "child.log", Stdout: &out}, "serve", strconv.Itoa(port))
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := r.Kill(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !strings.HasPrefix(got, "serving on 127.0.0.1:") {
		t.Errorf("stdout = %q", got)
	}
	if got := r.Tail(); got != "a log line" {
		t.Errorf("log = %q", got)
	}
	if _, err := os.Stat(r.Dir()); err != nil {
		t.Errorf("the caller's Dir is gone: %v", err)
	}
}

// TestRunnerStopKillsAfterGrace checks that a child ignoring SIGTERM is
// killed once StopGrace has passed.
func TestRunnerStopKillsAfterGrace(t *testing.T) {
	var out syncBuffer
	cfg := Config{
		StopGrace: 200 * time.Millisecond,
		Stdout:    &out,
		Ready: func(ctx context.Context, p *Process) error {
			return p.Poll(ctx, 10*time.Millisecond, func(context.Context) error {
				if !strings.Contains(out.String(), "ignoring SIGTERM") {
					return errors.New("SIGTERM not ignored yet")
				}
				return nil
			})
		},
	}
	r := helper(t, cfg, "stubborn")
	if err := r.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	pid := r.Process().Pid()
	began := time.Now()
	if err := r.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 200*time.Millisecond {
		t.Errorf("Stop killed after %v, before the grace", d)
	}
	if alive(pid) {
		t.Fatalf("child %d alive after Stop", pid)
	}
	if code := r.Process().ExitCode(); code != -1 {
		t.Fatalf("exit code = %d, want -1 (killed)", code)
	}
}

func dial(t *testing.T, addr string, wantOpen bool) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		_ = c.Close()
	}
	if open := err == nil; open != wantOpen {
		t.Fatalf("dial %s: %v, want open=%v", addr, err, wantOpen)
	}
}

// alive reports whether a process with this pid exists. Kill, Stop and Close
// return only after reaping the child, so a dead one leaves no zombie.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
