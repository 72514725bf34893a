package localredis

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// requireRedis fails (never skips) without redis-server: a tier that
// silently skips looks green while testing nothing.
func requireRedis(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("the Redis tier needs redis-server on PATH: apt-get update && apt-get install -y redis-server (%v)", err)
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestServerLifecycle runs a real server through what failover tests do with
// it: write, crash it, see the port refuse, bring it back on the same address
// and find it answering and empty.
func TestServerLifecycle(t *testing.T) {
	requireRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Config{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	pid, dir := s.run.Process().Pid(), s.run.Dir()

	mustDo(ctx, t, s, "OK", "SET", "greeting", "hello")
	mustDo(ctx, t, s, "hello", "GET", "greeting")

	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("redis-server %d still alive after Kill", pid)
	}
	conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err == nil {
		_ = conn.Close()
		t.Fatal("port still accepts connections after Kill")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after Kill: %v, want connection refused", err)
	}

	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	pid = s.run.Process().Pid()
	mustDo(ctx, t, s, "PONG", "PING")
	if v, err := client(t, s).Get(ctx, "greeting").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after Restart without Persist = %q, %v; want a nil reply", v, err)
	}

	// A clean stop saves nothing either.
	mustDo(ctx, t, s, "OK", "SET", "greeting", "again")
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("redis-server %d still alive after Stop", pid)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	pid = s.run.Process().Pid()
	if v, err := client(t, s).Get(ctx, "greeting").Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after Stop and Restart without Persist = %q, %v; want a nil reply", v, err)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("redis-server %d still alive after Close", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left its temporary directory %s: %v", dir, err)
	}
	if err := s.Restart(ctx); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

// TestPersistSurvivesKill checks the Persist promise: an acknowledged write
// survives SIGKILL, and a Dir the caller owns outlives Close.
func TestPersistSurvivesKill(t *testing.T) {
	requireRedis(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	s, err := Start(ctx, Config{Dir: dir, Persist: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	mustDo(ctx, t, s, "OK", "SET", "durable", "yes")
	if err := s.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	mustDo(ctx, t, s, "yes", "GET", "durable")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, logName)); err != nil {
		t.Fatalf("Close removed a Dir it did not create: %v", err)
	}
}

// TestStartFailureShowsOutput checks that a server that cannot start fails
// Start at once with redis's own words.
func TestStartFailureShowsOutput(t *testing.T) {
	requireRedis(t)
	dir := t.TempDir()
	// A file where redis wants its append-only directory makes it exit.
	if err := os.WriteFile(filepath.Join(dir, "appendonlydir"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	began := time.Now()
	s, err := Start(ctx, Config{Dir: dir, Persist: true})
	if err == nil {
		_ = s.Close()
		t.Fatal("Start succeeded with an unusable append-only directory")
	}
	t.Logf("failed after %v: %v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{"exited early", "--- last lines of", "appendonlydir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
}

func TestStartRefusesBusyPort(t *testing.T) {
	requireRedis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	s, err := Start(t.Context(), Config{Port: port})
	if err == nil {
		_ = s.Close()
		t.Fatal("Start succeeded on a busy port")
	}
	if !strings.Contains(err.Error(), "not free") {
		t.Fatalf("error does not name the busy port: %v", err)
	}
}

func TestMissingBinarySaysHowToInstall(t *testing.T) {
	_, err := Start(t.Context(), Config{Bin: filepath.Join(t.TempDir(), "redis-server")})
	if err == nil || !strings.Contains(err.Error(), "apt-get install -y redis-server") {
		t.Fatalf("Start with a missing binary: %v", err)
	}
}

// client is a client of s for one command: a new one each time, so no
// connection outlives a Kill.
func client(t *testing.T, s *Server) *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// mustDo runs one command and checks its reply.
func mustDo(ctx context.Context, t *testing.T, s *Server, want string, args ...any) {
	t.Helper()
	got, err := client(t, s).Do(ctx, args...).Text()
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	if got != want {
		t.Fatalf("%v = %q, want %q", args, got, want)
	}
}

// alive reports whether a process with this pid exists. Kill, Stop and Close
// return only after reaping the child, so a dead server leaves no zombie.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
