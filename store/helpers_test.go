package store

import (
	"context"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"
)

// testTTL keeps heartbeats (TTL/3) and expiry short in tests.
const testTTL = 600 * time.Millisecond

// fakeEdge is the state an edge would hold: what Snapshot returns.
type fakeEdge struct {
	*EdgeRoutes
	mu    sync.Mutex
	conns map[string]string
	rooms map[string]int
}

// newEdge starts an EdgeRoutes for id; it is closed when t ends.
func newEdge(t *testing.T, c redis.UniversalClient, id string, tweak ...func(*EdgeRoutesConfig)) *fakeEdge {
	t.Helper()
	f := &fakeEdge{conns: make(map[string]string), rooms: make(map[string]int)}
	cfg := EdgeRoutesConfig{
		Client:   c,
		Edge:     EdgeInfo{ID: id, URL: "http://" + id + ".test:7001", QUICAddr: "127.0.0.1:4433", TCPAddr: "127.0.0.1:4434"},
		TTL:      testTTL,
		Snapshot: f.snapshot,
	}
	for _, fn := range tweak {
		fn(&cfg)
	}
	p, err := NewEdgeRoutes(cfg)
	if err != nil {
		t.Fatalf("NewEdgeRoutes: %v", err)
	}
	f.EdgeRoutes = p
	if err := p.Start(testCtx(t)); err != nil {
		t.Fatalf("Start %s: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.Shutdown(ctx)
	})
	return f
}

func (f *fakeEdge) snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Snapshot{Conns: maps.Clone(f.conns), Rooms: maps.Clone(f.rooms)}
}

// connect adds a connection to the edge's state and reports it. Safe to
// call from several goroutines.
func (f *fakeEdge) connect(t *testing.T, key, user string) {
	t.Helper()
	f.mu.Lock()
	f.conns[key] = user
	f.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := f.Connected(ctx, key, user); err != nil {
		t.Errorf("Connected(%q, %q) on %s: %v", key, user, f.cfg.Edge.ID, err)
	}
}

func (f *fakeEdge) disconnect(key string) {
	f.mu.Lock()
	user := f.conns[key]
	delete(f.conns, key)
	f.mu.Unlock()
	f.Disconnected(key, user)
}

// join sets the room's member count on the edge and reports it.
func (f *fakeEdge) join(t *testing.T, room string, members int) {
	t.Helper()
	f.mu.Lock()
	if members > 0 {
		f.rooms[room] = members
	} else {
		delete(f.rooms, room)
	}
	f.mu.Unlock()
	if err := f.RoomCount(testCtx(t), room, members); err != nil {
		t.Fatalf("RoomCount(%q, %d) on %s: %v", room, members, f.cfg.Edge.ID, err)
	}
}

// crash stops the edge's heartbeats and writes without deregistering, like
// kill -9.
func crash(p *EdgeRoutes) { p.stop() }

// resume starts the heartbeats and writes of a crashed edge again, like a
// process coming back from a long pause.
func resume(p *EdgeRoutes) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.run(ctx)
}

// newRoutes starts Routes; they are closed when t ends.
func newRoutes(t *testing.T, c redis.UniversalClient, tweak ...func(*RoutesConfig)) *Routes {
	t.Helper()
	cfg := RoutesConfig{Client: c, JanitorInterval: -1, EdgeTTL: testTTL}
	for _, fn := range tweak {
		fn(&cfg)
	}
	r, err := NewRoutes(cfg)
	if err != nil {
		t.Fatalf("NewRoutes: %v", err)
	}
	if err := r.Start(testCtx(t)); err != nil {
		t.Fatalf("Routes.Start: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// waitSubscribed waits until r receives invalidations (its cache is in use).
func waitSubscribed(t *testing.T, r *Routes) {
	t.Helper()
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if !r.cache.healthy.Load() {
			return errNotYet
		}
		return nil
	})
}

type notYet struct{}

func (notYet) Error() string { return "not yet" }

var errNotYet error = notYet{}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 16)
	c.Collect(ch)
	close(ch)
	var sum float64
	for m := range ch {
		var d dto.Metric
		if err := m.Write(&d); err != nil {
			t.Fatalf("read metric: %v", err)
		}
		if d.Counter != nil {
			sum += d.Counter.GetValue()
		}
	}
	return sum
}
