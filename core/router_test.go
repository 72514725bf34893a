package core

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/gen/quicpush/edge/v1/edgev1connect"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/store"
)

// fakeEdge is an edge's internal EdgeService on loopback: it records every
// batch it receives and acknowledges it, unless told to fail.
type fakeEdge struct {
	edgev1connect.UnimplementedEdgeServiceHandler
	url string

	mu      sync.Mutex
	batches [][]string // message ids of each batch received, in order
	streams int        // Deliver streams opened
	// failNext makes the next n batches end their stream instead of being
	// acknowledged; hang makes every batch wait without an answer.
	failNext int
	hang     bool
}

func startFakeEdge(t *testing.T) *fakeEdge {
	t.Helper()
	f := &fakeEdge{}
	mux := http.NewServeMux()
	mux.Handle(edgev1connect.NewEdgeServiceHandler(f))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: &p, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.url = "http://" + ln.Addr().String()
	return f
}

func (f *fakeEdge) Deliver(ctx context.Context, stream *connect.BidiStream[edgev1.DeliverRequest, edgev1.DeliverResponse]) error {
	f.mu.Lock()
	f.streams++
	f.mu.Unlock()
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		f.mu.Lock()
		hang := f.hang
		fail := f.failNext > 0
		if fail {
			f.failNext--
		}
		if !fail && !hang {
			ids := make([]string, 0, len(req.GetMessages()))
			for _, m := range req.GetMessages() {
				ids = append(ids, m.GetId())
			}
			f.batches = append(f.batches, ids)
		}
		f.mu.Unlock()
		switch {
		case hang:
			<-ctx.Done()
			return ctx.Err()
		case fail:
			return connect.NewError(connect.CodeUnavailable, errors.New("edge failed"))
		}
		if err := stream.Send(&edgev1.DeliverResponse{BatchId: req.GetBatchId()}); err != nil {
			return err
		}
	}
}

func (f *fakeEdge) received() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.batches)
}

func (f *fakeEdge) streamCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.streams
}

// fakeRoutes is a route store held in memory.
type fakeRoutes struct {
	mu    sync.Mutex
	live  []store.EdgeInfo
	rooms map[string][]string // room -> edge ids
	users map[string][]string // user -> edge ids
	err   error
	reads atomic.Int64
}

func (r *fakeRoutes) LiveEdges(context.Context) ([]store.EdgeInfo, error) {
	r.reads.Add(1)
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.live), r.err
}

func (r *fakeRoutes) RoomEdges(_ context.Context, rooms []string) (map[string][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]string, len(rooms))
	for _, room := range rooms {
		out[room] = r.rooms[room]
	}
	return out, r.err
}

func (r *fakeRoutes) UserEdges(_ context.Context, users []string) (map[string][]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string][]string, len(users))
	for _, u := range users {
		out[u] = r.users[u]
	}
	return out, r.err
}

func (r *fakeRoutes) setLive(edges ...store.EdgeInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.live = edges
}

func newTestRouter(t *testing.T, routes *fakeRoutes, reg prometheus.Registerer, edgeTimeout time.Duration) *Router {
	t.Helper()
	r, err := NewRouter(RouterConfig{Routes: routes, EdgeTimeout: edgeTimeout, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRouterSendsEachEdgeItsShare: a room message goes to the edges with
// members in the room, a user message to the edges holding the user, a key
// message to the edge the key names, a broadcast to every live edge, and
// nothing to an edge that is not alive; each edge gets its share as one
// batch, in the batch's order.
func TestRouterSendsEachEdgeItsShare(t *testing.T) {
	a, b, c := startFakeEdge(t), startFakeEdge(t), startFakeEdge(t)
	routes := &fakeRoutes{
		rooms: map[string][]string{"lobby": {"a", "b"}, "quiet": {"c"}, "ghost": {"gone"}},
		users: map[string][]string{"alice": {"b"}, "bob": {"b", "c"}},
	}
	routes.setLive(store.EdgeInfo{ID: "a", URL: a.url}, store.EdgeInfo{ID: "b", URL: b.url}, store.EdgeInfo{ID: "c", URL: c.url})
	r := newTestRouter(t, routes, nil, time.Second)

	msgs := []*push.Message{
		{ID: "room1", Kind: push.KindRoom, Room: "lobby"},
		{ID: "user1", Kind: push.KindUsers, Users: []string{"alice"}},
		{ID: "key1", Kind: push.KindKeys, Keys: []string{"c.1f", "nobody.2"}},
		{ID: "room2", Kind: push.KindRoom, Room: "quiet"},
		{ID: "ghost", Kind: push.KindRoom, Room: "ghost"},
		{ID: "bcast", Kind: push.KindBroadcast},
		{ID: "user2", Kind: push.KindUsers, Users: []string{"alice", "bob"}},
		{ID: "room3", Kind: push.KindRoom, Room: "lobby"},
	}
	if err := r.Route(testCtx(t), msgs); err != nil {
		t.Fatal(err)
	}
	want := map[*fakeEdge][]string{
		a: {"room1", "bcast", "room3"},
		b: {"room1", "user1", "bcast", "user2", "room3"},
		c: {"key1", "room2", "bcast", "user2"},
	}
	for e, ids := range want {
		got := e.received()
		if len(got) != 1 || !slices.Equal(got[0], ids) {
			t.Errorf("edge %s got %v, want one batch %v", e.url, got, ids)
		}
	}
}

// TestRouterOneStreamPerEdge: batches to an edge share one Deliver stream,
// in order, each acknowledged before Route returns.
func TestRouterOneStreamPerEdge(t *testing.T) {
	a := startFakeEdge(t)
	routes := &fakeRoutes{rooms: map[string][]string{"r": {"a"}}}
	routes.setLive(store.EdgeInfo{ID: "a", URL: a.url})
	r := newTestRouter(t, routes, nil, time.Second)
	ctx := testCtx(t)
	for _, id := range []string{"1", "2", "3"} {
		if err := r.Route(ctx, []*push.Message{{ID: id, Kind: push.KindRoom, Room: "r"}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := a.received(); !slices.EqualFunc(got, [][]string{{"1"}, {"2"}, {"3"}}, slices.Equal) {
		t.Errorf("batches %v", got)
	}
	if n := a.streamCount(); n != 1 {
		t.Errorf("%d streams for three batches, want 1", n)
	}
}

// TestRouterRetriesABrokenStream: a stream that ends before its
// acknowledgement is replaced and the batch sent again on the new one.
func TestRouterRetriesABrokenStream(t *testing.T) {
	a := startFakeEdge(t)
	a.failNext = 2
	routes := &fakeRoutes{rooms: map[string][]string{"r": {"a"}}}
	routes.setLive(store.EdgeInfo{ID: "a", URL: a.url})
	reg := prometheus.NewRegistry()
	r := newTestRouter(t, routes, reg, 5*time.Second)
	if err := r.Route(testCtx(t), []*push.Message{{ID: "1", Kind: push.KindRoom, Room: "r"}}); err != nil {
		t.Fatal(err)
	}
	if got := a.received(); !slices.EqualFunc(got, [][]string{{"1"}}, slices.Equal) {
		t.Errorf("batches %v, want the batch once, acknowledged", got)
	}
	if n := a.streamCount(); n != 3 {
		t.Errorf("%d streams, want 3 (two broken, one that acknowledged)", n)
	}
	if n := testutil.ToFloat64(r.metrics.edgeFailures); n != 0 {
		t.Errorf("%v edge failures counted for a batch that was delivered", n)
	}
}

// TestRouterGoesOnWithoutAStuckEdge: an edge that is registered as alive
// but never acknowledges holds a batch up for EdgeTimeout at most; the other
// edges get theirs, Route succeeds and the failure is counted.
func TestRouterGoesOnWithoutAStuckEdge(t *testing.T) {
	stuck, ok := startFakeEdge(t), startFakeEdge(t)
	stuck.hang = true
	routes := &fakeRoutes{rooms: map[string][]string{"r": {"stuck", "ok"}}}
	routes.setLive(store.EdgeInfo{ID: "stuck", URL: stuck.url}, store.EdgeInfo{ID: "ok", URL: ok.url})
	r := newTestRouter(t, routes, prometheus.NewRegistry(), 300*time.Millisecond)
	start := time.Now()
	if err := r.Route(testCtx(t), []*push.Message{{ID: "1", Kind: push.KindRoom, Room: "r"}}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Route took %v with an edge timeout of 300ms", d)
	}
	if got := ok.received(); len(got) != 1 {
		t.Errorf("the healthy edge got %v", got)
	}
	if n := testutil.ToFloat64(r.metrics.edgeFailures); n != 1 {
		t.Errorf("%v edge failures counted, want 1", n)
	}
}

// TestRouterSkipsAnEdgeThatLeft: an edge that fails and has left the
// registry meanwhile is given up at once, not after EdgeTimeout.
func TestRouterSkipsAnEdgeThatLeft(t *testing.T) {
	a := startFakeEdge(t)
	a.failNext = 1000
	routes := &fakeRoutes{rooms: map[string][]string{"r": {"a"}}}
	routes.setLive(store.EdgeInfo{ID: "a", URL: a.url})
	r := newTestRouter(t, routes, prometheus.NewRegistry(), time.Minute)
	done := make(chan error, 1)
	go func() { done <- r.Route(testCtx(t), []*push.Message{{ID: "1", Kind: push.KindRoom, Room: "r"}}) }()
	// Let the first attempts fail while the edge is still registered.
	for a.streamCount() < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	routes.setLive()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Route still retrying an edge that left the registry")
	}
}

// TestRouterFailsWhenRoutesAreUnreadable: without the route store, Route
// fails so that core retries the batch without committing it.
func TestRouterFailsWhenRoutesAreUnreadable(t *testing.T) {
	routes := &fakeRoutes{err: errors.New("redis: connection refused")}
	r := newTestRouter(t, routes, nil, time.Second)
	if err := r.Route(testCtx(t), []*push.Message{{ID: "1", Kind: push.KindBroadcast}}); err == nil {
		t.Fatal("Route succeeded without routes")
	}
}

// TestRouterPruneClosesStreamsOfDeadEdges: Prune drops the links of edges
// that left, and a link is replaced when an edge id comes back elsewhere.
func TestRouterPruneClosesStreamsOfDeadEdges(t *testing.T) {
	a, b := startFakeEdge(t), startFakeEdge(t)
	routes := &fakeRoutes{}
	routes.setLive(store.EdgeInfo{ID: "a", URL: a.url}, store.EdgeInfo{ID: "b", URL: b.url})
	r := newTestRouter(t, routes, prometheus.NewRegistry(), time.Second)
	ctx := testCtx(t)
	if err := r.Route(ctx, []*push.Message{{ID: "1", Kind: push.KindBroadcast}}); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(r.metrics.edges); n != 2 {
		t.Fatalf("%v edge streams, want 2", n)
	}
	routes.setLive(store.EdgeInfo{ID: "a", URL: a.url})
	if err := r.Prune(ctx); err != nil {
		t.Fatal(err)
	}
	r.mu.Lock()
	ids := slices.Sorted(maps.Keys(r.links))
	r.mu.Unlock()
	if !slices.Equal(ids, []string{"a"}) {
		t.Errorf("links after prune: %v", ids)
	}
	// Edge id "a" restarted at b's address: the old stream is not reused.
	routes.setLive(store.EdgeInfo{ID: "a", URL: b.url})
	if err := r.Route(ctx, []*push.Message{{ID: "2", Kind: push.KindBroadcast}}); err != nil {
		t.Fatal(err)
	}
	if got := b.received(); len(got) != 2 || !slices.Equal(got[1], []string{"2"}) {
		t.Errorf("edge a at its new address got %v", got)
	}
	if got := a.received(); len(got) != 1 {
		t.Errorf("edge a at its old address got %v after it moved", got)
	}
}

func TestEdgeOfKey(t *testing.T) {
	for key, want := range map[string]string{"e1.1f": "e1", "edge.with.dots.9": "edge.with.dots", "nodot": "", ".1": ""} {
		got, ok := EdgeOfKey(key)
		if got != want || ok != (want != "") {
			t.Errorf("EdgeOfKey(%q) = %q, %v; want %q", key, got, ok, want)
		}
	}
}

// TestEdgeLinkStartsAFreshStreamAfterATimeout: a batch whose
// acknowledgement does not come before its deadline leaves the stream, and
// the next batch goes out on a new one, numbered from 1 again.
func TestEdgeLinkStartsAFreshStreamAfterATimeout(t *testing.T) {
	a := startFakeEdge(t)
	a.hang = true
	l := newEdgeLink(store.EdgeInfo{ID: "a", URL: a.url}, h2cClient(), slog.New(slog.DiscardHandler))
	t.Cleanup(l.close)
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	err := l.deliver(ctx, []*edgev1.Message{{Id: "1"}})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deliver to a silent edge: %v", err)
	}
	a.mu.Lock()
	a.hang = false
	a.mu.Unlock()
	if err := l.deliver(testCtx(t), []*edgev1.Message{{Id: "2"}}); err != nil {
		t.Fatal(err)
	}
	if got := a.received(); !slices.EqualFunc(got, [][]string{{"2"}}, slices.Equal) {
		t.Errorf("batches %v", got)
	}
	if n := a.streamCount(); n != 2 {
		t.Errorf("%d streams, want 2", n)
	}
	if l.nextID != 1 {
		t.Errorf("the new stream's last batch id is %d, want 1", l.nextID)
	}
}
