package childproc

import (
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
	name string // for errors: the Runner's Name, or the program's base name
	cmd  *exec.Cmd
	done chan struct{} // closed once the child has exited and been reaped
	err  error         // cmd.Wait's result, set before done is closed
}

// Start starts name with args in its own process group, appending its
// stdout and stderr to logPath. It suits one-shot children (a setup tool);
// a server is better run by a [Runner].
func Start(name string, args []string, dir, logPath string) (*Process, error) {
	return start(filepath.Base(name), name, args, dir, logPath, nil)
}

// start is Start with a name for errors and, if stdout is not nil, the
// child's standard output sent there instead of logPath.
func start(name, path string, args []string, dir, logPath string, stdout io.Writer) (*Process, error) {
	logf, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", name, err)
	}
	// An *os.File is handed to the child as is, so exec starts no copying
	// goroutine, and our copy of the descriptor can be closed right away.
	defer logf.Close()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Stdout = logf
	if stdout != nil {
		cmd.Stdout = stdout
	}
	cmd.Stderr = logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited and been reaped. With a Stdout
// writer other than a file, everything the child wrote has reached it by
// then.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err waits for the child to exit and returns how it ended (cmd.Wait's result).
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// ExitCode waits for the child to exit and returns its exit status, or -1 if
// a signal ended it.
func (p *Process) ExitCode() int {
	<-p.done
	return p.cmd.ProcessState.ExitCode()
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

// Poll calls check every interval until it returns nil. It fails as soon as
// the child exits (its exit status in the error, which says "exited early")
// or ctx ends (with check's last error). check bounds its own attempts.
func (p *Process) Poll(ctx context.Context, every time.Duration, check func(context.Context) error) error {
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%s exited early (%v)", p.name, p.Err())
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", context.Cause(ctx), err)
		case <-time.After(every):
		}
	}
}

// WaitPort waits until addr accepts TCP connections, failing as Poll does.
func (p *Process) WaitPort(ctx context.Context, addr string) error {
	var dialer net.Dialer
	err := p.Poll(ctx, 50*time.Millisecond, func(ctx context.Context) error {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		conn, err := dialer.DialContext(dctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	})
	if err != nil {
		return fmt.Errorf("%s not open: %w", addr, err)
	}
	return nil
}
