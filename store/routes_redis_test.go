package store

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestUserEdgesCachedMissInvalidated(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")
	// A TTL far beyond the test: only invalidations can refresh entries.
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.CacheTTL = time.Hour })
	waitSubscribed(t, r)

	got, err := r.UserEdges(ctx, []string{"alice"})
	if err != nil || len(got) != 0 {
		t.Fatalf("UserEdges before any connect = %v, %v", got, err)
	}
	// The empty answer is cached: the next lookup is a hit.
	r.cache.c.Wait()
	hits := counterValue(t, r.metrics.cacheHits)
	if _, err := r.UserEdges(ctx, []string{"alice"}); err != nil {
		t.Fatal(err)
	}
	if counterValue(t, r.metrics.cacheHits) != hits+1 {
		t.Fatal("second lookup did not hit the cache")
	}

	b.connect(t, "kb", "alice")
	checkFor(t, 2*time.Second, 2*time.Millisecond, func() error {
		got, err := r.UserEdges(ctx, []string{"alice"})
		if err != nil || !slices.Equal(got["alice"], []string{"edgeB"}) {
			return fmt.Errorf("UserEdges = %v, %v", got, err)
		}
		return nil
	})
	a.connect(t, "ka1", "alice")
	a.connect(t, "ka2", "alice") // two connections on A: listed once
	checkFor(t, 2*time.Second, 2*time.Millisecond, func() error {
		got, err := r.UserEdges(ctx, []string{"alice", "alice", "nobody"})
		if err != nil || !slices.Equal(got["alice"], []string{"edgeA", "edgeB"}) || len(got) != 1 {
			return fmt.Errorf("UserEdges = %v, %v", got, err)
		}
		return nil
	})
	b.disconnect("kb")
	checkFor(t, 2*time.Second, 2*time.Millisecond, func() error {
		got, err := r.UserEdges(ctx, []string{"alice"})
		if err != nil || !slices.Equal(got["alice"], []string{"edgeA"}) {
			return fmt.Errorf("UserEdges = %v, %v", got, err)
		}
		return nil
	})
}

func TestRoomEdgesOnlyLiveEdges(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")
	r := newRoutes(t, c) // default 1s cache, no janitor
	waitSubscribed(t, r)

	a.join(t, "lobby", 2)
	b.join(t, "lobby", 1)
	b.connect(t, "kb", "bob")
	checkFor(t, 2*time.Second, 2*time.Millisecond, func() error {
		got, err := r.RoomEdges(ctx, []string{"lobby"})
		if err != nil || !slices.Equal(got["lobby"], []string{"edgeA", "edgeB"}) {
			return fmt.Errorf("RoomEdges = %v, %v", got, err)
		}
		return nil
	})
	// B dies without Close: once its registration expires it is no longer
	// routed to, even with nobody cleaning it up yet.
	crash(b.EdgeRoutes)
	checkFor(t, 3*time.Second, 10*time.Millisecond, func() error {
		rooms, err := r.RoomEdges(ctx, []string{"lobby"})
		if err != nil || !slices.Equal(rooms["lobby"], []string{"edgeA"}) {
			return fmt.Errorf("RoomEdges = %v, %v", rooms, err)
		}
		users, err := r.UserEdges(ctx, []string{"bob"})
		if err != nil || len(users) != 0 {
			return fmt.Errorf("UserEdges = %v, %v", users, err)
		}
		return nil
	})
}

func TestLiveEdges(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.CacheTTL = time.Hour })
	waitSubscribed(t, r)
	if got, err := r.LiveEdges(ctx); err != nil || len(got) != 0 {
		t.Fatalf("LiveEdges = %v, %v", got, err)
	}
	started := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	newEdge(t, c, "edgeB", func(cfg *EdgeRoutesConfig) { cfg.Edge.Started = started })
	a := newEdge(t, c, "edgeA")
	// The cached empty registry is voided by the edges' "e:" messages.
	checkFor(t, 2*time.Second, 2*time.Millisecond, func() error {
		got, err := r.LiveEdges(ctx)
		if err != nil || len(got) != 2 {
			return fmt.Errorf("LiveEdges = %v, %v", got, err)
		}
		if got[0].ID != "edgeA" || got[1].ID != "edgeB" {
			return fmt.Errorf("LiveEdges order = %v", got)
		}
		want := EdgeInfo{ID: "edgeB", URL: "http://edgeB.test:7001", QUICAddr: "127.0.0.1:4433",
			TCPAddr: "127.0.0.1:4434", Started: started}
		if !got[1].Started.Equal(started) || got[1].URL != want.URL || got[1].QUICAddr != want.QUICAddr || got[1].TCPAddr != want.TCPAddr {
			return fmt.Errorf("edgeB = %+v, want %+v", got[1], want)
		}
		return nil
	})
	if err := a.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	checkFor(t, 2*time.Second, 2*time.Millisecond, func() error {
		got, err := r.LiveEdges(ctx)
		if err != nil || len(got) != 1 || got[0].ID != "edgeB" {
			return fmt.Errorf("LiveEdges = %v, %v", got, err)
		}
		return nil
	})
}

func TestRoutesWithoutCache(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.CacheTTL = -1 })
	for i := range 3 {
		a.connect(t, fmt.Sprintf("k%d", i), "alice")
		got, err := r.UserEdges(ctx, []string{"alice"})
		if err != nil || !slices.Equal(got["alice"], []string{"edgeA"}) {
			t.Fatalf("UserEdges = %v, %v", got, err)
		}
	}
	if h := counterValue(t, r.metrics.cacheHits); h != 0 {
		t.Fatalf("cache hits = %v with the cache disabled", h)
	}
}

func TestRouteCacheSkipsRacingInvalidation(t *testing.T) {
	rc, err := newRouteCache(time.Hour, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.close()
	rc.setHealthy(true)

	// A lookup read Redis, then an invalidation of its key arrived before it
	// stored what it read: the stale answer must not be kept.
	tok := rc.begin()
	rc.invalidate("u:alice")
	rc.set(tok, "u:alice", nil)
	rc.c.Wait()
	if _, ok := rc.get("u:alice"); ok {
		t.Fatal("stale entry cached across an invalidation")
	}

	// Without a racing invalidation it is kept.
	tok = rc.begin()
	rc.set(tok, "u:alice", []string{"edgeA"})
	rc.c.Wait()
	if ids, ok := rc.get("u:alice"); !ok || !slices.Equal(ids, []string{"edgeA"}) {
		t.Fatalf("get = %v, %v", ids, ok)
	}
	// A reset (edge joined, subscription lost) voids it.
	rc.reset()
	if _, ok := rc.get("u:alice"); ok {
		t.Fatal("entry survived a reset")
	}
	// Nothing is cached while invalidations may be missed.
	rc.setHealthy(false)
	tok = rc.begin()
	rc.set(tok, "u:bob", []string{"edgeA"})
	rc.c.Wait()
	rc.setHealthy(true)
	if _, ok := rc.get("u:bob"); ok {
		t.Fatal("entry cached while unsubscribed")
	}
}
