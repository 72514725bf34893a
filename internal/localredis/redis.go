package localredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/quicpush/quicpush/internal/childproc"
)

const (
	// startTimeout bounds Start and Restart when ctx has no deadline; redis
	// normally answers within a few milliseconds of starting.
	startTimeout = 30 * time.Second
	// stopGrace is how long Stop lets the server shut down cleanly (which,
	// with Persist, includes fsyncing the append-only file) before killing it.
	stopGrace = 10 * time.Second

	logName   = "redis.log"
	tailLines = 30
	// installHint tells how to get the server on the project's machines.
	installHint = "install it (Debian: apt-get update && apt-get install -y redis-server) or set Config.Bin"
)

// Config describes a local redis-server. The zero value is a server on a
// free loopback port that keeps nothing on disk, in a temporary directory.
type Config struct {
	// Bin is the redis-server binary; empty means redis-server from PATH.
	Bin string
	// Dir is the server's working directory: its data files (with Persist)
	// and its output (Dir/redis.log). Empty means a new temporary directory
	// that Close removes.
	Dir string
	// Port is the port on 127.0.0.1; zero picks a free one once, at Start.
	// Restart keeps it.
	Port int
	// Persist keeps the data set across Stop, Kill and Restart in an
	// append-only file fsynced on every write. Without it the server saves
	// nothing (--save '' --appendonly no) and every start is empty.
	Persist bool
	// Logger receives lifecycle events; nil discards them. The server's own
	// log goes to Dir/redis.log.
	Logger *slog.Logger
}

// Server is a running (or stopped, restartable) local redis-server. Its
// methods are safe for concurrent use.
type Server struct {
	log     *slog.Logger
	bin     string
	dir     string
	ownDir  bool
	port    int
	persist bool

	mu     sync.Mutex         // serializes Stop, Kill, Restart and Close
	proc   *childproc.Process // nil while stopped
	closed bool
}

// Start starts redis-server and returns once it answers PING. ctx bounds the
// start (30 s if it has no deadline). On failure nothing is left running and
// the error includes the tail of the server's output.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Port < 0 {
		return nil, errors.New("localredis: Port must not be negative")
	}
	bin := cfg.Bin
	if bin == "" {
		bin = "redis-server"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("localredis: %s not found: %s: %w", bin, installHint, err)
	}
	s := &Server{log: log, bin: path, port: cfg.Port, persist: cfg.Persist}
	if s.dir, s.ownDir, err = childproc.WorkDir(cfg.Dir, "localredis"); err != nil {
		return nil, fmt.Errorf("localredis: %w", err)
	}
	if err := s.start(ctx, true); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// Addr is the address for clients, "127.0.0.1:PORT". It stays the same
// across Restart.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// Stop shuts the server down with SIGTERM (redis's graceful shutdown, which
// saves only what Persist asks for) and kills it if it has not exited within
// 10 s or when ctx ends. Stopping a stopped server does nothing.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked(ctx)
}

func (s *Server) stopLocked(ctx context.Context) error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	start := time.Now()
	killed, err := p.Stop(ctx, stopGrace)
	if err != nil {
		return fmt.Errorf("localredis: stop server: %w", err)
	}
	if killed {
		s.log.Warn("redis-server did not exit after SIGTERM, killed it", "addr", s.Addr(), "waited", time.Since(start).Round(time.Millisecond))
	} else {
		s.log.Info("redis-server stopped", "addr", s.Addr(), "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// Kill kills the server's process group with SIGKILL, as a crash would, and
// waits until it is gone. Killing a stopped server does nothing.
func (s *Server) Kill() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.killLocked()
}

func (s *Server) killLocked() error {
	p := s.proc
	if p == nil {
		return nil
	}
	s.proc = nil
	if err := p.Kill(); err != nil {
		return fmt.Errorf("localredis: kill server: %w", err)
	}
	s.log.Info("redis-server killed", "addr", s.Addr())
	return nil
}

// Restart starts the server again on the same port and directory, stopping
// it first (as Stop does) if it is running, and returns once it answers PING.
// Without Persist the new server is empty. ctx bounds it as it does Start.
func (s *Server) Restart(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("localredis: Restart after Close")
	}
	if err := s.stopLocked(ctx); err != nil {
		return err
	}
	return s.start(ctx, false)
}

// Close kills the server and removes its directory if Start created it.
// It is safe to call more than once; Restart fails after it.
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.killLocked()
	if s.ownDir {
		if rmErr := os.RemoveAll(s.dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("localredis: remove %s: %w", s.dir, rmErr))
		}
	}
	return err
}

// start launches redis-server and waits until it answers PING; on failure
// the process is killed. first tells whether a free port may still be
// picked. The caller holds s.mu or owns s.
func (s *Server) start(ctx context.Context, first bool) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	if first && s.port == 0 {
		ports, err := childproc.FreeLoopbackPorts(1)
		if err != nil {
			return fmt.Errorf("localredis: %w", err)
		}
		s.port = ports[0]
	}
	// A port still held by someone else (say, a server leaked by an earlier
	// run with a fixed port) would make redis fail to bind, but PING could
	// meanwhile succeed against the other server.
	ln, err := net.Listen("tcp", s.Addr())
	if err != nil {
		return fmt.Errorf("localredis: port %d is not free: %w", s.port, err)
	}
	_ = ln.Close()

	s.log.Info("starting redis-server", "addr", s.Addr(), "dir", s.dir, "persist", s.persist, "log", s.logPath())
	began := time.Now()
	p, err := childproc.Start(s.bin, s.args(), s.dir, s.logPath())
	if err != nil {
		return fmt.Errorf("localredis: %w", err)
	}
	if err := s.waitReady(ctx, p); err != nil {
		_ = p.Kill()
		return fmt.Errorf("localredis: redis-server on %s did not become ready: %w\n--- last lines of %s ---\n%s",
			s.Addr(), err, s.logPath(), childproc.TailFile(s.logPath(), tailLines))
	}
	s.proc = p
	s.log.Info("redis-server ready", "addr", s.Addr(), "pid", p.Pid(), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// args are redis-server's options. Given only options, it reads no
// configuration file, so a system-wide /etc/redis/redis.conf cannot change
// the server under test.
func (s *Server) args() []string {
	args := []string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes", // loopback clients are allowed anyway
		"--dir", s.dir,
		"--daemonize", "no",
		"--logfile", "", // stdout, which goes to Dir/redis.log
		"--save", "", // no RDB snapshots, with or without Persist
	}
	if s.persist {
		// An append-only file fsynced at every write: acknowledged writes
		// survive Kill, which RDB snapshots or a once-per-second fsync would
		// not guarantee.
		return append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	return append(args, "--appendonly", "no")
}

// waitReady polls PING until the server answers PONG. A server still loading
// its append-only file answers -LOADING, which counts as not ready.
func (s *Server) waitReady(ctx context.Context, p *childproc.Process) error {
	const poll = 20 * time.Millisecond
	var lastErr error
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		reply, err := roundTrip(pctx, s.Addr(), "PING")
		cancel()
		if err == nil && reply == "PONG" {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("PING answered %q", reply)
		}
		lastErr = err
		select {
		case <-p.Done():
			return fmt.Errorf("redis-server exited early (%v)", p.Err())
		case <-ctx.Done():
			return fmt.Errorf("no PONG (last error: %v): %w", lastErr, context.Cause(ctx))
		case <-time.After(poll):
		}
	}
}

func (s *Server) logPath() string { return filepath.Join(s.dir, logName) }
