package e2e

import (
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
)

// Redis is killed and comes back empty while a room is pushed to: every push
// the API acknowledged reaches the member that stayed connected. Between
// Redis's return and the edge's republish (its next heartbeat, up to a third
// of the registry TTL later) the store says the room has no edge; core must
// hold its batches rather than deliver them to nobody and commit them.
func TestClusterRedisRestartLosesNoPush(t *testing.T) {
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	// Heartbeats every 4s: a window wide enough to see on every run.
	const ttl = 12 * time.Second
	c := startClusterTTL(t, kf.ListenAddrs(), ttl, 1, 1)
	api := c.apiClient()
	cl, in := c.client("stayer", []string{"lobby"}, c.edges[0])
	first := pushRoomCluster(t, api, "lobby", "before")
	eventually(t, 5*time.Second, "the first push", func() bool { return in.has(first) })

	var (
		mu    sync.Mutex
		acked []string
		stop  = make(chan struct{})
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			rsp, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "lobby", Text: "during"}))
			if err != nil {
				continue // not acknowledged: nothing promised
			}
			mu.Lock()
			acked = append(acked, rsp.Msg.GetMessageId())
			mu.Unlock()
		}
	}()
	time.Sleep(300 * time.Millisecond)
	if err := c.redis.Kill(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := c.redis.Restart(t.Context()); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	time.Sleep(5 * time.Second)
	close(stop)
	<-done

	mu.Lock()
	ids := append([]string(nil), acked...)
	mu.Unlock()
	if len(ids) < 100 {
		t.Fatalf("only %d pushes acknowledged", len(ids))
	}
	missing := func() int {
		n := 0
		for _, id := range ids {
			if !in.has(id) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(ttl + 10*time.Second)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := missing(); n > 0 {
		t.Fatalf("%d of %d acknowledged pushes never reached the connected member (%v after the restart)", n, len(ids), time.Since(restarted))
	}
	if n := in.connects(); n != 1 {
		t.Errorf("the member connected %d times, want once", n)
	}
	t.Logf("%d pushes, all delivered %v after the restart", len(ids), time.Since(restarted))
	_ = cl
}
