package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestNewEdgeRoutesValidates(t *testing.T) {
	c := newClient(t, "127.0.0.1:1")
	snap := func() Snapshot { return Snapshot{} }
	valid := EdgeRoutesConfig{Client: c, Edge: EdgeInfo{ID: "e1", URL: "http://x"}, Snapshot: snap}
	for _, tc := range []struct {
		name  string
		tweak func(*EdgeRoutesConfig)
		want  string
	}{
		{"no client", func(c *EdgeRoutesConfig) { c.Client = nil }, "Client"},
		{"no id", func(c *EdgeRoutesConfig) { c.Edge.ID = "" }, "empty"},
		{"colon in id", func(c *EdgeRoutesConfig) { c.Edge.ID = "a:conns" }, "':'"},
		{"long id", func(c *EdgeRoutesConfig) { c.Edge.ID = strings.Repeat("x", 65) }, "longer"},
		{"no url", func(c *EdgeRoutesConfig) { c.Edge.URL = "" }, "URL"},
		{"no snapshot", func(c *EdgeRoutesConfig) { c.Snapshot = nil }, "Snapshot"},
		{"tiny ttl", func(c *EdgeRoutesConfig) { c.TTL = time.Millisecond }, "TTL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := valid
			tc.tweak(&cfg)
			_, err := NewEdgeRoutes(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	p, err := NewEdgeRoutes(valid)
	if err != nil {
		t.Fatal(err)
	}
	if p.cfg.TTL != DefaultTTL || p.cfg.FlushInterval != DefaultFlushInterval || p.keys.prefix != DefaultPrefix {
		t.Fatalf("defaults not applied: ttl %v flush %v prefix %q", p.cfg.TTL, p.cfg.FlushInterval, p.keys.prefix)
	}
}

func TestStartRegistersEdge(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")

	h, err := c.HGetAll(ctx, "qp:edge:edgeA").Result()
	if err != nil {
		t.Fatal(err)
	}
	if h["url"] != "http://edgeA.test:7001" || h["quic"] != "127.0.0.1:4433" || h["tcp"] != "127.0.0.1:4434" {
		t.Fatalf("edge hash = %v", h)
	}
	started, err := time.Parse(time.RFC3339, h["started"])
	if err != nil || time.Since(started) > time.Minute {
		t.Fatalf("started = %q (%v)", h["started"], err)
	}
	if ttl := c.PTTL(ctx, "qp:edge:edgeA").Val(); ttl <= 0 || ttl > testTTL {
		t.Fatalf("edge hash PTTL = %v, want in (0, %v]", ttl, testTTL)
	}
	score := c.ZScore(ctx, "qp:edges", "edgeA").Val()
	if now := float64(time.Now().UnixMilli()); score <= now || score > now+float64(testTTL.Milliseconds()) {
		t.Fatalf("edges score = %v, now %v", score, now)
	}

	// Heartbeats keep it alive well past the TTL.
	time.Sleep(2 * testTTL)
	if c.Exists(ctx, "qp:edge:edgeA").Val() != 1 {
		t.Fatal("edge hash expired despite heartbeats")
	}
	if err := a.Start(ctx); err == nil {
		t.Fatal("second Start succeeded")
	}
}

func TestConnectedWritesRouteAndConns(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")

	sub := c.Subscribe(ctx, "qp:inval")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
		t.Fatal(err)
	}
	a.connect(t, "k1", "alice")
	// Sync: readable as soon as Connected returns, invalidation already sent.
	if got := c.HGet(ctx, "qp:user:alice", "k1").Val(); got != "edgeA" {
		t.Fatalf("route = %q", got)
	}
	if got := c.HGet(ctx, "qp:edge:edgeA:conns", "k1").Val(); got != "alice" {
		t.Fatalf("conns record = %q", got)
	}
	msg, err := sub.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "u:alice" {
		t.Fatalf("invalidation = %v, %v", msg, err)
	}
}

func TestDisconnectedIsOwnershipChecked(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")

	a.connect(t, "k1", "alice")
	// The same connection key now lives on edge B (a resumed session).
	b.connect(t, "k1", "alice")
	a.disconnect("k1")
	// A's own record goes, B's route stays.
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if c.HExists(ctx, "qp:edge:edgeA:conns", "k1").Val() {
			return errors.New("edge A still records k1")
		}
		return nil
	})
	if got := c.HGet(ctx, "qp:user:alice", "k1").Val(); got != "edgeB" {
		t.Fatalf("after A's late disconnect, route = %q, want edgeB", got)
	}
	if got := c.HGet(ctx, "qp:edge:edgeB:conns", "k1").Val(); got != "alice" {
		t.Fatalf("B's record = %q", got)
	}

	b.disconnect("k1")
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if n := c.Exists(ctx, "qp:user:alice", "qp:edge:edgeB:conns").Val(); n != 0 {
			return fmt.Errorf("%d keys left", n)
		}
		return nil
	})

	// A key closed for one user and reused for another, likely in one
	// batch: the disconnect must not remove the new route.
	a.connect(t, "k9", "old")
	a.disconnect("k9")
	a.connect(t, "k9", "new")
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if c.Exists(ctx, "qp:user:old").Val() != 0 {
			return errors.New("old route left")
		}
		return nil
	})
	if got := c.HGet(ctx, "qp:user:new", "k9").Val(); got != "edgeA" {
		t.Fatalf("new route = %q", got)
	}
	if got := c.HGet(ctx, "qp:edge:edgeA:conns", "k9").Val(); got != "new" {
		t.Fatalf("A's record of k9 = %q", got)
	}
}

func TestConnectedCoalesces(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")

	const n = 1000
	before := counterValue(t, a.metrics.flushes)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			if err := a.Connected(ctx, fmt.Sprintf("k%d", i), fmt.Sprintf("u%d", i%100)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	flushes := counterValue(t, a.metrics.flushes) - before
	t.Logf("%d Connected calls took %v flushes", n, flushes)
	if flushes > n/10 {
		t.Fatalf("%d Connected calls took %v flushes, want far fewer", n, flushes)
	}
	if got := c.HLen(ctx, "qp:edge:edgeA:conns").Val(); got != n {
		t.Fatalf("conns = %d, want %d", got, n)
	}
	if got := c.HLen(ctx, "qp:user:u7").Val(); got != n/100 {
		t.Fatalf("routes of u7 = %d, want %d", got, n/100)
	}
}

func TestRoomCountOpenIsSync(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	r := newRoutes(t, c)

	a.join(t, "lobby", 1)
	// No polling: the open is written when RoomCount returns.
	got, err := r.RoomEdges(ctx, []string{"lobby", "empty"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got["lobby"], []string{"edgeA"}) || len(got) != 1 {
		t.Fatalf("RoomEdges = %v", got)
	}
	if got := c.ZScore(ctx, "qp:edge:edgeA:rooms", "lobby").Val(); got != 1 {
		t.Fatalf("edge rooms score = %v", got)
	}

	// Moving counts are async and coalesced: only the latest is written.
	for n := 2; n <= 50; n++ {
		if err := a.RoomCount(ctx, "lobby", n); err != nil {
			t.Fatal(err)
		}
	}
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if got := c.HGet(ctx, "qp:room:lobby", "edgeA").Val(); got != "50" {
			return fmt.Errorf("count = %q", got)
		}
		return nil
	})

	// Closing removes the field and the zset member.
	a.join(t, "lobby", 0)
	checkFor(t, 3*time.Second, 5*time.Millisecond, func() error {
		if n := c.Exists(ctx, "qp:room:lobby", "qp:edge:edgeA:rooms").Val(); n != 0 {
			return fmt.Errorf("%d keys left", n)
		}
		got, err := r.RoomEdges(ctx, []string{"lobby"})
		if err != nil || len(got) != 0 {
			return fmt.Errorf("RoomEdges = %v, %v", got, err)
		}
		return nil
	})
}

func TestCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	a := newEdge(t, c, "edgeA")
	b := newEdge(t, c, "edgeB")
	var wg sync.WaitGroup
	for i := range 2500 { // more than two cleanup chunks
		wg.Go(func() { a.connect(t, fmt.Sprintf("a%d", i), fmt.Sprintf("user%d", i%10)) })
	}
	wg.Wait()
	b.connect(t, "b1", "user1")
	a.join(t, "shared", 3)
	a.join(t, "onlyA", 1)
	b.join(t, "shared", 2)

	sub := c.Subscribe(ctx, "qp:inval")
	defer sub.Close()
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Shutdown(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	keys, err := c.Keys(ctx, "qp:edge:edgeA*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("edge A keys left: %v, %v", keys, err)
	}
	if c.ZScore(ctx, "qp:edges", "edgeA").Err() == nil {
		t.Fatal("edge A still registered")
	}
	for i := range 10 {
		for k, v := range c.HGetAll(ctx, fmt.Sprintf("qp:user:user%d", i)).Val() {
			if v == "edgeA" {
				t.Fatalf("route %s of user%d still on edgeA", k, i)
			}
		}
	}
	if got := c.HGetAll(ctx, "qp:room:shared").Val(); len(got) != 1 || got["edgeB"] != "2" {
		t.Fatalf("room shared = %v", got)
	}
	if c.Exists(ctx, "qp:room:onlyA").Val() != 0 {
		t.Fatal("room onlyA left")
	}
	if got := c.HGet(ctx, "qp:user:user1", "b1").Val(); got != "edgeB" {
		t.Fatalf("edge B's route = %q", got)
	}
	for {
		msg, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("waiting for e:edgeA: %v", err)
		}
		if msg.Payload == "e:edgeA" {
			break
		}
	}

	if err := a.Connected(ctx, "late", "user1"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connected after Close = %v, want ErrClosed", err)
	}
	if err := a.Shutdown(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
}

func TestStartRemovesLeftoversOfSameID(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	old := newEdge(t, c, "edgeA")
	old.connect(t, "k1", "alice")
	old.join(t, "lobby", 4)
	crash(old.EdgeRoutes) // kill -9, restarted at once with the same id

	fresh := newEdge(t, c, "edgeA")
	if n := c.Exists(ctx, "qp:user:alice", "qp:room:lobby", "qp:edge:edgeA:conns", "qp:edge:edgeA:rooms").Val(); n != 0 {
		t.Fatalf("%d keys inherited from the previous run", n)
	}
	if c.Exists(ctx, "qp:edge:edgeA").Val() != 1 || c.ZScore(ctx, "qp:edges", "edgeA").Err() != nil {
		t.Fatal("fresh edge not registered")
	}
	fresh.connect(t, "k2", "bob")
	if got := c.HGet(ctx, "qp:user:bob", "k2").Val(); got != "edgeA" {
		t.Fatalf("route = %q", got)
	}
}

func TestSyncCallsFailWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	a := newEdge(t, c, "edgeA")
	killRedis(t, srv)
	closed := false
	defer func() {
		if !closed { // don't let the cleanup wait for Redis
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
			defer ccancel()
			_ = a.Shutdown(cctx)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := a.Connected(ctx, "k1", "alice")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "last redis error") {
		t.Fatalf("Connected with Redis down = %v, want the deadline and the Redis error", err)
	}
	err = a.RoomCount(ctx, "lobby", 1)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RoomCount with Redis down = %v", err)
	}
	// Close gives up on the pending writes when its ctx ends.
	cctx, ccancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer ccancel()
	closed = true
	if err := a.Shutdown(cctx); err == nil {
		t.Fatal("Close with Redis down succeeded")
	}
}

func TestBatchRequeueKeepsNewer(t *testing.T) {
	old := newBatch()
	old.conns[connRef{"k1", "u"}] = true
	old.conns[connRef{"k2", "u"}] = false
	old.rooms["r1"] = roomOp{count: 3, opened: true}
	old.rooms["r2"] = roomOp{count: 1}
	w1 := make(chan error, 1)
	old.waiters = append(old.waiters, w1)

	cur := newBatch()
	cur.conns[connRef{"k1", "u"}] = false
	cur.rooms["r1"] = roomOp{count: 0}
	w2 := make(chan error, 1)
	cur.waiters = append(cur.waiters, w2)

	cur.requeue(old)
	if cur.conns[connRef{"k1", "u"}] || cur.conns[connRef{"k2", "u"}] || len(cur.conns) != 2 {
		t.Fatalf("conns = %v", cur.conns)
	}
	if got := cur.rooms["r1"]; got != (roomOp{count: 0, opened: true}) {
		t.Fatalf("r1 = %+v: newer count, opened kept", got)
	}
	if got := cur.rooms["r2"]; got != (roomOp{count: 1}) {
		t.Fatalf("r2 = %+v", got)
	}
	cur.release(nil)
	if len(w1) != 1 || len(w2) != 1 {
		t.Fatal("waiters not all released")
	}
}
