// Package childproc runs the servers that tests and the development cluster
// start as child processes (Kafka's JVM, redis-server): each in its own
// process group with its output in a log file, reaped as soon as it exits,
// stopped with SIGTERM then SIGKILL, and on Linux killed by the kernel when
// the Go process that started it dies.
package childproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Process is one run of a child process whose output goes to a log file.
// A goroutine reaps it as soon as it exits, so Done tells at any time whether
// it is still running and no zombie is left behind.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the child has exited and been reaped
	err  error         // cmd.Wait's result, set before done is closed
}

// Start starts name with args in its own process group, appending its
// stdout and stderr to logPath.
func Start(name string, args []string, dir, logPath string) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open process log: %w", err)
	}
	// An *os.File is handed to the child as is, so exec starts no copying
	// goroutine, and our copy of the descriptor can be closed right away.
	defer logf.Close()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err waits for the child to exit and returns how it ended (cmd.Wait's result).
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// Exited reports whether the child has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the child's process group, unless it already exited.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	// The group id is the child's pid (Setpgid with Pgid 0). The child is not
	// reaped before done is closed, so the id cannot have been reused yet.
	if err := syscall.Kill(-p.Pid(), sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, p.Pid(), err)
	}
	return nil
}

// Kill sends SIGKILL to the process group and waits until the child is gone.
func (p *Process) Kill() error {
	err := p.Signal(syscall.SIGKILL)
	<-p.done
	return err
}

// Stop sends SIGTERM and waits up to grace (or until ctx ends, if sooner) for
// the child to exit, then kills it. It reports whether it had to kill.
func (p *Process) Stop(ctx context.Context, grace time.Duration) (killed bool, err error) {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return false, err
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
		return false, nil
	case <-timer.C:
	case <-ctx.Done():
	}
	return true, p.Kill()
}

// WorkDir returns the absolute path of dir, created if missing, or of a new
// temporary directory named after prefix when dir is empty; owned reports
// the latter, which the caller removes when done.
func WorkDir(dir, prefix string) (path string, owned bool, err error) {
	if dir == "" {
		d, err := os.MkdirTemp("", prefix+"-")
		if err != nil {
			return "", false, fmt.Errorf("create temporary directory: %w", err)
		}
		return d, true, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", false, fmt.Errorf("resolve directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", false, fmt.Errorf("create directory: %w", err)
	}
	return abs, false, nil
}

// TailFile returns about the last maxLines lines of path (at most 8 KiB),
// for error messages; a missing or unreadable file gives a note instead.
func TailFile(path string, maxLines int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no output: %v)", err)
	}
	defer f.Close()
	const maxBytes = 8 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxBytes {
		if _, err := f.Seek(st.Size()-maxBytes, io.SeekStart); err != nil {
			return fmt.Sprintf("(unreadable output: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(unreadable output: %v)", err)
	}
	b = bytes.TrimRight(b, "\n")
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 0 || (len(lines) == 1 && len(lines[0]) == 0) {
		return "(no output)"
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// FreeLoopbackPorts returns n distinct TCP ports that were free on 127.0.0.1
// a moment ago. All listeners stay open until every port is chosen, so the
// kernel cannot hand out the same one twice; another process may still grab
// one before the server binds it, which then fails with a clear error.
func FreeLoopbackPorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	lns := make([]net.Listener, 0, n)
	defer func() {
		for _, ln := range lns {
			_ = ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("pick a free loopback port: %w", err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
