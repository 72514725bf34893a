package childproc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

const (
	defaultStartTimeout = 30 * time.Second
	defaultStopGrace    = 10 * time.Second
	defaultTailLines    = 30
)

// Config describes the child a [Runner] runs. Name and Path are required;
// every other field's zero value means its documented default.
type Config struct {
	// Name names the child in errors and log events ("redis-server").
	Name string
	// Path is the program to run and Args its arguments. The child runs in
	// Dir, so relative paths in Args are relative to it.
	Path string
	Args []string
	// Dir is the child's working directory, created if missing. Empty means
	// a new temporary directory, which Close removes.
	Dir string
	// TempPrefix begins the name of the temporary Dir; empty means Name.
	TempPrefix string
	// LogFile receives the child's standard output and error, appended to
	// across restarts; a relative path is relative to Dir. Empty means
	// Name + ".log".
	LogFile string
	// Stdout, if not nil, receives the child's standard output instead of
	// LogFile, which then gets only its standard error: for children whose
	// output is read (a banner naming their addresses).
	Stdout io.Writer
	// Ports are the loopback TCP ports the child listens on. Every start
	// fails at once while one is taken: a server leaked by an earlier run
	// could otherwise pass the readiness check in the new child's place.
	Ports []int
	// Prepare, if set, runs before every start (writing configuration files,
	// say); its error aborts the start.
	Prepare func(ctx context.Context) error
	// Ready returns once the child serves; a start fails with its error, and
	// Process.Poll makes a child that dies meanwhile fail it at once. Nil
	// means until the first of Ports accepts connections, or not at all
	// without Ports.
	Ready func(ctx context.Context, p *Process) error
	// StartTimeout bounds Start and Restart when their ctx has no deadline;
	// zero means 30 s.
	StartTimeout time.Duration
	// StopGrace is how long Stop waits after SIGTERM before it kills; zero
	// means 10 s.
	StopGrace time.Duration
	// TailLines is how many of the log's last lines a failed start quotes;
	// zero means 30.
	TailLines int
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
}

// Runner runs one child at a time from a [Config]: started, stopped, killed
// and restarted as often as a test needs, always in the same directory with
// the same log. Its methods are safe for concurrent use.
type Runner struct {
	cfg     Config
	log     *slog.Logger
	dir     string
	ownDir  bool
	logPath string

	mu     sync.Mutex // serializes Start, Stop, Kill, Restart and Close
	proc   *Process   // the running child; nil while stopped
	last   *Process   // the latest child, running or not
	closed bool
}

// New checks cfg and prepares the working directory; it starts nothing.
func New(cfg Config) (*Runner, error) {
	if cfg.Name == "" || cfg.Path == "" {
		return nil, errors.New("childproc: Config needs a Name and a Path")
	}
	if cfg.StartTimeout < 0 || cfg.StopGrace < 0 || cfg.TailLines < 0 {
		return nil, fmt.Errorf("childproc: %s: StartTimeout, StopGrace and TailLines must not be negative", cfg.Name)
	}
	cfg.StartTimeout = cmp.Or(cfg.StartTimeout, defaultStartTimeout)
	cfg.StopGrace = cmp.Or(cfg.StopGrace, defaultStopGrace)
	cfg.TailLines = cmp.Or(cfg.TailLines, defaultTailLines)
	r := &Runner{cfg: cfg, log: cfg.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if r.dir, r.ownDir, err = WorkDir(cfg.Dir, cmp.Or(cfg.TempPrefix, cfg.Name)); err != nil {
		return nil, fmt.Errorf("childproc: %s: %w", cfg.Name, err)
	}
	r.logPath = cmp.Or(cfg.LogFile, cfg.Name+".log")
	if !filepath.IsAbs(r.logPath) {
		r.logPath = filepath.Join(r.dir, r.logPath)
	}
	return r, nil
}

// Dir is the child's working directory, as an absolute path.
func (r *Runner) Dir() string { return r.dir }

// LogPath is the file the child's output goes to.
func (r *Runner) LogPath() string { return r.logPath }

// Tail returns the last lines of the child's log, as a failed start quotes
// them.
func (r *Runner) Tail() string { return TailFile(r.logPath, r.cfg.TailLines) }

// Process is the latest child, running or exited; nil before the first
// start.
func (r *Runner) Process() *Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

// Start starts the child and returns once it is ready (Config.Ready). ctx
// bounds the start (Config.StartTimeout if it has no deadline). On failure
// the child is killed and the error ends with the tail of its log. Start
// fails while a child it started is still running.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("%s: start after Close", r.cfg.Name)
	}
	if r.proc != nil && !r.proc.Exited() {
		return fmt.Errorf("%s is already running (pid %d)", r.cfg.Name, r.proc.Pid())
	}
	return r.startLocked(ctx)
}

// Stop sends SIGTERM and waits for the child to exit, killing it after
// Config.StopGrace or when ctx ends, whichever is first. Stopping a stopped
// child does nothing.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stopLocked(ctx)
}

// Kill kills the child's process group with SIGKILL, as a crash would, and
// waits until it is gone. Killing a stopped child does nothing.
func (r *Runner) Kill() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.killLocked()
}

// Restart stops the child as Stop does, if it is running, and starts it
// again as Start does.
func (r *Runner) Restart(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return fmt.Errorf("%s: restart after Close", r.cfg.Name)
	}
	if err := r.stopLocked(ctx); err != nil {
		return err
	}
	return r.startLocked(ctx)
}

// Close kills the child and removes Dir if New created it. It is safe to
// call more than once; Start and Restart fail after it.
func (r *Runner) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	err := r.killLocked()
	if r.ownDir {
		if rmErr := os.RemoveAll(r.dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", r.dir, rmErr))
		}
	}
	return err
}

func (r *Runner) startLocked(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.StartTimeout)
		defer cancel()
	}
	for _, port := range r.cfg.Ports {
		if err := checkPortFree(port); err != nil {
			return fmt.Errorf("%s: %w", r.cfg.Name, err)
		}
	}
	if r.cfg.Prepare != nil {
		if err := r.cfg.Prepare(ctx); err != nil {
			return err
		}
	}
	r.log.Info("starting "+r.cfg.Name, "dir", r.dir, "log", r.logPath)
	began := time.Now()
	p, err := start(r.cfg.Name, r.cfg.Path, r.cfg.Args, r.dir, r.logPath, r.cfg.Stdout)
	if err != nil {
		return err
	}
	r.last = p
	if err := r.ready(ctx, p); err != nil {
		_ = p.Kill()
		return fmt.Errorf("%s did not become ready: %w\n--- last lines of %s ---\n%s",
			r.cfg.Name, err, r.logPath, r.Tail())
	}
	r.proc = p
	r.log.Info(r.cfg.Name+" ready", "pid", p.Pid(), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

func (r *Runner) ready(ctx context.Context, p *Process) error {
	switch {
	case r.cfg.Ready != nil:
		return r.cfg.Ready(ctx, p)
	case len(r.cfg.Ports) > 0:
		return p.WaitPort(ctx, net.JoinHostPort("127.0.0.1", strconv.Itoa(r.cfg.Ports[0])))
	default:
		return nil
	}
}

func (r *Runner) stopLocked(ctx context.Context) error {
	p := r.proc
	if p == nil {
		return nil
	}
	r.proc = nil
	began := time.Now()
	killed, err := p.Stop(ctx, r.cfg.StopGrace)
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.cfg.Name, err)
	}
	if killed {
		r.log.Warn(r.cfg.Name+" did not exit after SIGTERM, killed it", "waited", time.Since(began).Round(time.Millisecond))
	} else {
		r.log.Info(r.cfg.Name+" stopped", "took", time.Since(began).Round(time.Millisecond))
	}
	return nil
}

func (r *Runner) killLocked() error {
	p := r.proc
	if p == nil {
		return nil
	}
	r.proc = nil
	if err := p.Kill(); err != nil {
		return fmt.Errorf("kill %s: %w", r.cfg.Name, err)
	}
	r.log.Info(r.cfg.Name + " killed")
	return nil
}
