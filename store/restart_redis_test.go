package store

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// Redis is killed and comes back empty: edges republish within a heartbeat,
// pending changes are written, and Routes subscribes again.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	ctx := testCtx(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.CacheTTL = time.Hour })
	p := NewOnlineCounts(c, "")
	waitSubscribed(t, r)

	a.connect(t, "a1", "alice")
	a.connect(t, "a2", "bob")
	b.connect(t, "b1", "alice")
	a.join(t, "lobby", 2)
	b.join(t, "lobby", 1)
	const many = 1200 // republished in several chunks
	var wg sync.WaitGroup
	for i := range many {
		wg.Go(func() { b.connect(t, fmt.Sprintf("m%d", i), fmt.Sprintf("many%d", i)) })
	}
	wg.Wait()
	// Cache what the cluster looks like now.
	if got, err := r.UserEdges(ctx, []string{"alice", "bob"}); err != nil || len(got) != 2 {
		t.Fatalf("UserEdges = %v, %v", got, err)
	}

	killRedis(t, srv)
	// Changes while Redis is away are kept and written when it returns.
	a.disconnect("a2")
	a.join(t, "lobby", 5) // async: 2 -> 5
	restartRedis(t, srv)  // empty: no persistence

	start := time.Now()
	// Within a few heartbeats (TTL/3 = 200ms) and subscription retries.
	checkFor(t, 3*time.Second, 20*time.Millisecond, func() error {
		users, err := r.UserEdges(ctx, []string{"alice", "bob"})
		if err != nil {
			return err
		}
		if !slices.Equal(users["alice"], []string{"edgeA", "edgeB"}) || len(users) != 1 {
			return fmt.Errorf("UserEdges = %v", users)
		}
		rooms, err := r.RoomEdges(ctx, []string{"lobby"})
		if err != nil || !slices.Equal(rooms["lobby"], []string{"edgeA", "edgeB"}) {
			return fmt.Errorf("RoomEdges = %v, %v", rooms, err)
		}
		online, err := p.Online(ctx, []string{"lobby"}, 1)
		if err != nil {
			return err
		}
		if online.Total != 2+many || online.Rooms["lobby"] != 6 {
			return fmt.Errorf("Online = %+v", online)
		}
		return nil
	})
	t.Logf("state back %v after the restart", time.Since(start))
	for _, e := range []*fakeEdge{a, b} {
		if n := counterValue(t, e.metrics.republishes); n < 1 {
			t.Fatalf("%s republishes = %v", e.cfg.Edge.ID, n)
		}
	}

	// Routes subscribed again: with an hour-long TTL, only an invalidation
	// can turn this cached miss into a hit.
	waitSubscribed(t, r)
	if got, err := r.UserEdges(ctx, []string{"carol"}); err != nil || len(got) != 0 {
		t.Fatalf("UserEdges(carol) = %v, %v", got, err)
	}
	r.cache.c.Wait()
	b.connect(t, "b2", "carol")
	checkFor(t, 2*time.Second, 5*time.Millisecond, func() error {
		got, err := r.UserEdges(ctx, []string{"carol"})
		if err != nil || !slices.Equal(got["carol"], []string{"edgeB"}) {
			return fmt.Errorf("UserEdges(carol) = %v, %v", got, err)
		}
		return nil
	})
}

// Redis comes back empty and the edges have yet to republish (their next
// heartbeat): Routes must not answer "no edge" for a room an edge still
// serves, nor an empty registry, since core would take that answer as
// "nobody to deliver to" and commit the batch. Until the edges had their
// chance to republish, lookups fail, and core retries the batch.
func TestRedisRestartRoutesWaitForRepublish(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	ctx := testCtx(t)
	const ttl = 3 * time.Second // heartbeats every second: a wide window
	a := newEdge(t, c, "edgeA", func(cfg *EdgeRoutesConfig) { cfg.TTL = ttl })
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.EdgeTTL = ttl })
	waitSubscribed(t, r)
	a.connect(t, "a1", "alice")
	a.join(t, "lobby", 1)
	if got, err := r.RoomEdges(ctx, []string{"lobby"}); err != nil || !slices.Equal(got["lobby"], []string{"edgeA"}) {
		t.Fatalf("RoomEdges = %v, %v", got, err)
	}

	restartRedis(t, srv) // empty: no persistence
	start := time.Now()
	var held int
	checkFor(t, 3*ttl, 10*time.Millisecond, func() error {
		live, err := r.LiveEdges(ctx)
		if err != nil {
			held++
			return err
		}
		if len(live) != 1 || live[0].ID != "edgeA" {
			t.Fatalf("LiveEdges = %v %v after the restart, before the edge republished", live, time.Since(start))
		}
		rooms, err := r.RoomEdges(ctx, []string{"lobby"})
		if err != nil {
			held++
			return err
		}
		if !slices.Equal(rooms["lobby"], []string{"edgeA"}) {
			t.Fatalf("RoomEdges = %v %v after the restart, before the edge republished", rooms, time.Since(start))
		}
		users, err := r.UserEdges(ctx, []string{"alice"})
		if err != nil {
			held++
			return err
		}
		if !slices.Equal(users["alice"], []string{"edgeA"}) {
			t.Fatalf("UserEdges = %v %v after the restart, before the edge republished", users, time.Since(start))
		}
		return nil
	})
	t.Logf("routes back %v after the restart, %d lookups held", time.Since(start), held)
	if n := counterValue(t, a.metrics.republishes); n < 1 {
		t.Fatalf("republishes = %v", n)
	}
}
