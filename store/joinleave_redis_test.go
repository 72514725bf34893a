package store

import (
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/push"
)

// A batch one edge publishes reaches every subscriber, its members intact,
// and survives a Redis restart once the subscription is made again.
func TestJoinLeaveBatches(t *testing.T) {
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	ctx := testCtx(t)
	got := make(chan push.JoinLeave, 16)
	jl := NewJoinLeave(c, "", nil)
	stop, err := jl.Subscribe(ctx, func(b push.JoinLeave) { got <- b })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	want := []push.JoinLeave{
		{Edge: "e1", Room: "chat/1", Joined: []push.PresenceConn{{Key: "e1-a", User: "a", Edge: "e1", Info: `{"n":1}`}}, Omitted: 2},
		{Edge: "e1", Room: "chat/2", Left: []push.PresenceConn{{Key: "e1-b", User: "b", Edge: "e1"}}},
	}
	if err := NewJoinLeave(c, "", nil).PublishJoinLeave(ctx, want); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		select {
		case b := <-got:
			if b.Edge != w.Edge || b.Room != w.Room || len(b.Joined) != len(w.Joined) || len(b.Left) != len(w.Left) || b.Omitted != w.Omitted ||
				(len(b.Joined) == 1 && b.Joined[0] != w.Joined[0]) || (len(b.Left) == 1 && b.Left[0] != w.Left[0]) {
				t.Fatalf("got %+v, want %+v", b, w)
			}
		case <-ctx.Done():
			t.Fatal("batch not received")
		}
	}
	restartRedis(t, srv)
	// The subscription comes back with backoff; publish until it hears.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		_ = jl.PublishJoinLeave(ctx, want[:1])
		select {
		case <-got:
			return
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("no batch after the Redis restart")
		}
	}
}
