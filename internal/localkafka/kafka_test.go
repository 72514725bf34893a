package localkafka

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrokerLifecycle runs a real broker through what failover tests do with
// it: produce and consume, crash it, see clients fail, bring it back on the
// same address and see the same client work again with the data intact.
//
// It fails rather than skips without the jars: a tier that silently skips
// looks green while testing nothing.
func TestBrokerLifecycle(t *testing.T) {
	libs, err := Libs()
	if err != nil {
		t.Fatalf("the Kafka tier needs the broker jars: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))

	began := time.Now()
	b, err := Start(ctx, Config{Libs: libs, HeapMB: 256, Partitions: 1, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	t.Logf("started in %v", time.Since(began).Round(time.Millisecond))
	pid, dir := b.run.Process().Pid(), b.run.Dir()

	// One producer client for the whole test: after Restart it must find the
	// broker again at the same address by itself.
	//
	// AllowIdempotentProduceCancellation: by default an idempotent kgo
	// producer does not fail a batch it may have written to a connection
	// until it learns the outcome, whatever the context says, so a produce
	// on a connection whose broker was just killed blocks until the broker
	// is back. Here the context must win.
	//
	// Short metadata age and retry backoff: kgo looks at a record's context
	// only when it retries, after refreshing metadata; with its defaults (5 s
	// minimum metadata age, backoff growing to 2.5 s) a produce with a 2 s
	// context against the dead broker took over 6 s to fail, with these
	// about 2.3 s. They also make the client find the restarted broker sooner.
	prod, err := kgo.NewClient(
		kgo.SeedBrokers(b.Addr()),
		kgo.DialTimeout(time.Second),
		kgo.AllowIdempotentProduceCancellation(),
		kgo.MetadataMinAge(250*time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 200 * time.Millisecond }),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	const topic = "lifecycle"
	resp, err := kadm.NewClient(prod).CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic: %v", err)
	}

	produce(ctx, t, prod, topic, "before-kill")
	if got := consume(ctx, t, b.Addr(), topic, 1); !slices.Equal(got, []string{"before-kill"}) {
		t.Fatalf("consumed %q, want [before-kill]", got)
	}

	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("JVM %d still alive after Kill", pid)
	}
	began = time.Now()
	err = produceWithin(ctx, t, prod, topic, "while-dead", 2*time.Second)
	if err == nil {
		t.Fatal("produce to a killed broker succeeded")
	}
	t.Logf("produce while killed failed after %v as expected: %v", time.Since(began).Round(time.Millisecond), err)

	began = time.Now()
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("restarted in %v", time.Since(began).Round(time.Millisecond))
	if b.run.Process().Pid() == pid {
		t.Fatal("Restart kept the old process")
	}
	pid = b.run.Process().Pid()

	produce(ctx, t, prod, topic, "after-restart")
	if got := consume(ctx, t, b.Addr(), topic, 2); !slices.Equal(got, []string{"before-kill", "after-restart"}) {
		t.Fatalf("consumed %q, want [before-kill after-restart]", got)
	}

	// A clean stop and start keeps the data as well.
	if err := b.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("JVM %d still alive after Stop", pid)
	}
	if err := b.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	pid = b.run.Process().Pid()
	produce(ctx, t, prod, topic, "after-stop")
	want := []string{"before-kill", "after-restart", "after-stop"}
	if got := consume(ctx, t, b.Addr(), topic, 3); !slices.Equal(got, want) {
		t.Fatalf("consumed %q, want %q", got, want)
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatalf("JVM %d still alive after Close", pid)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Close left its temporary directory %s: %v", dir, err)
	}
	if err := b.Restart(ctx); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

func produce(ctx context.Context, t *testing.T, cl *kgo.Client, topic, value string) {
	t.Helper()
	if err := produceWithin(ctx, t, cl, topic, value, 30*time.Second); err != nil {
		t.Fatalf("produce %q: %v", value, err)
	}
}

// produceWithin produces one record with a context of timeout d. kgo checks
// the context only between retries, and without
// AllowIdempotentProduceCancellation not at all once a batch may be on the
// wire, so the test gives up on its own
// rather than hang until go test's timeout; the abandoned call ends when
// the client is closed.
func produceWithin(ctx context.Context, t *testing.T, cl *kgo.Client, topic, value string, d time.Duration) error {
	t.Helper()
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	res := make(chan error, 1)
	go func() {
		res <- cl.ProduceSync(pctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr()
	}()
	select {
	case err := <-res:
		return err
	case <-time.After(d + 30*time.Second):
		t.Fatalf("produce %q ignored its %v context", value, d)
		return nil
	}
}

// consume reads the first n records of topic with a fresh client.
func consume(ctx context.Context, t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(addr),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		fs := cl.PollFetches(cctx)
		if err := cctx.Err(); err != nil {
			t.Fatalf("consume %s: got %q before %v", topic, got, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch %s/%d: %v", topic, p, err)
		})
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// alive reports whether a process with this pid exists. Kill and Close
// return only after reaping the child, so a dead broker leaves no zombie.
func alive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// TestStartFailureShowsJVMOutput checks that a broker that cannot start
// fails Start at once (not at the timeout) with the JVM's own words, and
// leaves neither a process nor its temporary directory behind.
func TestStartFailureShowsJVMOutput(t *testing.T) {
	libs, err := Libs()
	if err != nil {
		t.Fatalf("the Kafka tier needs the broker jars: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	tmpGlob := filepath.Join(os.TempDir(), "localkafka-*")
	before, _ := filepath.Glob(tmpGlob)
	began := time.Now()
	// Storage formats with its own heap; the broker JVM then refuses a 1 MiB one.
	b, err := Start(ctx, Config{Libs: libs, HeapMB: 1})
	if err == nil {
		_ = b.Close()
		t.Fatal("Start with a 1 MiB heap succeeded")
	}
	t.Logf("failed after %v: %v", time.Since(began).Round(time.Millisecond), err)
	for _, want := range []string{"exited early", "--- last lines of", "heap"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
	if time.Since(began) > 30*time.Second {
		t.Errorf("Start took %v to notice the JVM died", time.Since(began))
	}
	after, _ := filepath.Glob(tmpGlob)
	for _, dir := range after {
		if !slices.Contains(before, dir) {
			t.Errorf("failed Start left %s", dir)
		}
	}
}

func TestLibsMissingSaysHowToFetch(t *testing.T) {
	t.Setenv(LibsEnv, t.TempDir())
	_, err := Libs()
	if err == nil {
		t.Fatal("Libs accepted a directory without jars")
	}
	if !strings.Contains(err.Error(), "scripts/kafka/fetch.sh") {
		t.Fatalf("error does not say how to fetch the jars: %v", err)
	}
	if _, err := Start(t.Context(), Config{}); err == nil || !strings.Contains(err.Error(), "scripts/kafka/fetch.sh") {
		t.Fatalf("Start without jars: %v", err)
	}
}
