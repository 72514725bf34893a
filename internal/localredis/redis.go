package localredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

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
	port int
	run  *childproc.Runner
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
	s := &Server{port: cfg.Port}
	if s.port == 0 {
		ports, err := childproc.FreeLoopbackPorts(1)
		if err != nil {
			return nil, fmt.Errorf("localredis: %w", err)
		}
		s.port = ports[0]
	}
	s.run, err = childproc.New(childproc.Config{
		Name:         "redis-server",
		Path:         path,
		Args:         args(s.port, cfg.Persist),
		Dir:          cfg.Dir,
		TempPrefix:   "localredis",
		LogFile:      logName,
		Ports:        []int{s.port},
		Ready:        s.waitReady,
		StartTimeout: startTimeout,
		StopGrace:    stopGrace,
		TailLines:    tailLines,
		Logger:       log.With("addr", s.Addr(), "persist", cfg.Persist),
	})
	if err != nil {
		return nil, fmt.Errorf("localredis: %w", err)
	}
	if err := s.run.Start(ctx); err != nil {
		_ = s.run.Close()
		return nil, s.errorf(err)
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
func (s *Server) Stop(ctx context.Context) error { return s.errorf(s.run.Stop(ctx)) }

// Kill kills the server's process group with SIGKILL, as a crash would, and
// waits until it is gone. Killing a stopped server does nothing.
func (s *Server) Kill() error { return s.errorf(s.run.Kill()) }

// Restart starts the server again on the same port and directory, stopping
// it first (as Stop does) if it is running, and returns once it answers PING.
// Without Persist the new server is empty. ctx bounds it as it does Start.
func (s *Server) Restart(ctx context.Context) error { return s.errorf(s.run.Restart(ctx)) }

// Close kills the server and removes its directory if Start created it.
// It is safe to call more than once; Restart fails after it.
func (s *Server) Close() error { return s.errorf(s.run.Close()) }

// errorf prefixes a runner's error with the package and the address.
func (s *Server) errorf(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("localredis: %s: %w", s.Addr(), err)
}

// args are redis-server's options. Given only options, it reads no
// configuration file, so a system-wide /etc/redis/redis.conf cannot change
// the server under test. The server runs in its directory, so "--dir ."
// keeps its files there.
func args(port int, persist bool) []string {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes", // loopback clients are allowed anyway
		"--dir", ".",
		"--daemonize", "no",
		"--logfile", "", // stdout, which goes to Dir/redis.log
		"--save", "", // no RDB snapshots, with or without Persist
	}
	if persist {
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
	rdb := redis.NewClient(&redis.Options{
		Addr:        s.Addr(),
		DialTimeout: time.Second,
		ReadTimeout: time.Second,
		MaxRetries:  -1, // Poll retries
		PoolSize:    1,
	})
	defer rdb.Close()
	return p.Poll(ctx, 20*time.Millisecond, func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		return rdb.Ping(pctx).Err()
	})
}
