package store

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestJanitorCleansDeadEdge(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")
	a.connect(t, "a1", "alice")
	a.connect(t, "a2", "bob")
	b.connect(t, "b1", "alice")
	a.join(t, "lobby", 2)
	b.join(t, "lobby", 1)
	a.join(t, "onlyA", 1)
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.JanitorInterval = 50 * time.Millisecond })

	crash(a.EdgeRoutes)
	// TTL (600ms) for the registration to expire, then one sweep.
	checkFor(t, 3*time.Second, 20*time.Millisecond, func() error {
		if n := c.Exists(ctx, "qp:edge:edgeA", "qp:edge:edgeA:conns", "qp:edge:edgeA:rooms", "qp:user:bob", "qp:room:onlyA").Val(); n != 0 {
			return fmt.Errorf("%d keys of edge A left", n)
		}
		if err := c.ZScore(ctx, "qp:edges", "edgeA").Err(); !errors.Is(err, redis.Nil) {
			return fmt.Errorf("edge A still registered (%v)", err)
		}
		return nil
	})
	if got := c.HGetAll(ctx, "qp:user:alice").Val(); len(got) != 1 || got["b1"] != "edgeB" {
		t.Fatalf("alice's routes = %v, want only B's", got)
	}
	if got := c.HGetAll(ctx, "qp:room:lobby").Val(); len(got) != 1 || got["edgeB"] != "1" {
		t.Fatalf("lobby = %v, want only B's count", got)
	}
	if n := counterValue(t, r.metrics.deadCleaned); n != 1 {
		t.Fatalf("dead edges cleaned = %v, want 1", n)
	}
}

func TestJanitorSparesLiveEdges(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	a.connect(t, "a1", "alice")
	a.join(t, "lobby", 2)
	r := newRoutes(t, c) // janitor driven by hand below
	crash(a.EdgeRoutes)
	intact := func() {
		t.Helper()
		if got := c.HGet(ctx, "qp:user:alice", "a1").Val(); got != "edgeA" {
			t.Fatalf("route wiped: %q", got)
		}
		if got := c.HGet(ctx, "qp:room:lobby", "edgeA").Val(); got != "2" {
			t.Fatalf("room count wiped: %q", got)
		}
	}

	// Its score is past but its info hash exists (it republished, or clocks
	// disagree): alive.
	c.ZAdd(ctx, "qp:edges", redis.Z{Score: 1, Member: "edgeA"})
	r.sweep(ctx)
	intact()
	if c.ZScore(ctx, "qp:edges", "edgeA").Err() != nil {
		t.Fatal("live edge dropped from the registry")
	}

	// Its info hash is gone but it heartbeated again (score in the future):
	// alive, even in the middle of a cleanup.
	c.Del(ctx, "qp:edge:edgeA")
	c.ZAdd(ctx, "qp:edges", redis.Z{Score: float64(time.Now().Add(time.Hour).UnixMilli()), Member: "edgeA"})
	if res, err := cleanupEdge(ctx, c, r.keys, "edgeA", time.Now()); err != nil || res != cleanupAlive {
		t.Fatalf("cleanupEdge = %v, %v, want cleanupAlive", res, err)
	}
	intact()

	// Both gone: dead, cleaned; sweeping again is harmless.
	c.ZAdd(ctx, "qp:edges", redis.Z{Score: 1, Member: "edgeA"})
	r.sweep(ctx)
	r.sweep(ctx)
	if n := c.Exists(ctx, "qp:user:alice", "qp:room:lobby", "qp:edge:edgeA:conns").Val(); n != 0 {
		t.Fatalf("%d keys left", n)
	}
}

func TestEdgeTakenForDeadRepublishes(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	a.connect(t, "a1", "alice")
	a.join(t, "lobby", 2)
	r := newRoutes(t, c, func(cfg *RoutesConfig) { cfg.JanitorInterval = 50 * time.Millisecond })

	// A long pause: the edge misses its TTL and the janitor cleans it.
	crash(a.EdgeRoutes)
	checkFor(t, 3*time.Second, 20*time.Millisecond, func() error {
		if c.Exists(ctx, "qp:user:alice").Val() != 0 {
			return errors.New("not cleaned yet")
		}
		return nil
	})
	// It wakes up: the next heartbeat finds its info hash gone and writes
	// everything again.
	resume(a.EdgeRoutes)
	checkFor(t, 3*time.Second, 10*time.Millisecond, func() error {
		users, err := r.UserEdges(ctx, []string{"alice"})
		if err != nil || !slices.Equal(users["alice"], []string{"edgeA"}) {
			return fmt.Errorf("UserEdges = %v, %v", users, err)
		}
		rooms, err := r.RoomEdges(ctx, []string{"lobby"})
		if err != nil || !slices.Equal(rooms["lobby"], []string{"edgeA"}) {
			return fmt.Errorf("RoomEdges = %v, %v", rooms, err)
		}
		return nil
	})
	if n := counterValue(t, a.metrics.republishes); n < 1 {
		t.Fatalf("republishes = %v", n)
	}
}
