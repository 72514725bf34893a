package store

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/localredis"
)

// startRedis starts a redis-server of t's own and closes it when t ends. It
// keeps nothing on disk, so a restart comes back empty like a Redis that
// lost its data.
func startRedis(t testing.TB) *localredis.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := localredis.Start(ctx, localredis.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// redisFixture is how most tests begin: a client (newClient) of a
// redis-server of their own, and a context bounding the test (testCtx).
// Tests that stop or restart the server use startRedis.
func redisFixture(t testing.TB) (*redis.Client, context.Context) {
	t.Helper()
	return newClient(t, startRedis(t).Addr()), testCtx(t)
}

// killRedis kills the server abruptly (SIGKILL), like a crash.
func killRedis(t testing.TB, srv *localredis.Server) {
	t.Helper()
	if err := srv.Kill(); err != nil {
		t.Fatal(err)
	}
}

// restartRedis starts the server again, empty, on the same port, killing
// it first if it is running.
func restartRedis(t testing.TB, srv *localredis.Server) {
	t.Helper()
	killRedis(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
}

// newClient returns a client with short timeouts, so tests notice an outage
// quickly.
func newClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{
		Addr:         addr,
		DialTimeout:  200 * time.Millisecond,
		ReadTimeout:  time.Second,
		WriteTimeout: time.Second,
		MaxRetries:   1,
		// One dial per attempt: go-redis otherwise retries a refused dial
		// five times, 100ms apart, before reporting it.
		DialerRetries:      1,
		DialerRetryTimeout: 10 * time.Millisecond,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// checkFor polls f until it returns nil, failing t after total.
func checkFor(t testing.TB, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", total, err)
		}
		time.Sleep(every)
	}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
