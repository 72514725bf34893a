package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/bus"
	quicpush "github.com/quicpush/quicpush/clients/go"
	"github.com/quicpush/quicpush/core"
	"github.com/quicpush/quicpush/edge"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/localredis"
	"github.com/quicpush/quicpush/server"
)

// testCluster is a cluster in this process: api, cores and edges on real
// loopback ports, a Kafka (kfake, or a real broker) and a real redis-server.
type testCluster struct {
	t       *testing.T
	brokers []string
	redis   *localredis.Server
	prefix  string
	cert    tls.Certificate
	ttl     time.Duration // the edges' registry TTL, known to the cores
	// tuneEdge, when set, adjusts the edge configuration of startEdge.
	tuneEdge func(*edge.Config)
	// tracer, when set, records the spans of every process.
	tracer trace.TracerProvider
	api    *server.API
	cores  []*server.Core
	edges  []*server.Edge
}

// startCluster starts nCores cores and nEdges edges on kfake and a fresh
// redis-server.
func startCluster(t *testing.T, nCores, nEdges int) *testCluster {
	t.Helper()
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	return startClusterOn(t, kf.ListenAddrs(), nCores, nEdges)
}

func startClusterOn(t *testing.T, brokers []string, nCores, nEdges int) *testCluster {
	t.Helper()
	return startClusterTTL(t, brokers, 3*time.Second, nCores, nEdges)
}

// startClusterTTL is startClusterOn with the edges' registry TTL (their
// heartbeats every third of it).
func startClusterTTL(t *testing.T, brokers []string, ttl time.Duration, nCores, nEdges int) *testCluster {
	t.Helper()
	return startClusterWith(t, brokers, ttl, nCores, nEdges, nil)
}

// startClusterWith is startClusterTTL with tune applied to the cluster
// before any process starts.
func startClusterWith(t *testing.T, brokers []string, ttl time.Duration, nCores, nEdges int, tune func(*testCluster)) *testCluster {
	t.Helper()
	rs, err := localredis.Start(t.Context(), localredis.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	cert, err := devcert.Generate(devcert.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCluster{t: t, brokers: brokers, redis: rs, prefix: "qp:", cert: cert, ttl: ttl}
	if tune != nil {
		tune(c)
	}
	c.startAPI()
	for range nCores {
		c.startCore()
	}
	for range nEdges {
		c.startEdge("")
	}
	return c
}

func (c *testCluster) redisConfig() server.RedisConfig {
	return server.RedisConfig{Addr: c.redis.Addr(), Prefix: c.prefix}
}

func (c *testCluster) kafkaConfig() bus.KafkaConfig {
	return bus.KafkaConfig{Brokers: c.brokers, Topic: "quicpush.test", Partitions: 4}
}

func (c *testCluster) startAPI() {
	c.t.Helper()
	api, err := server.StartAPI(server.APIConfig{
		Addr:           "127.0.0.1:0",
		Kafka:          c.kafkaConfig(),
		Redis:          c.redisConfig(),
		APIKeys:        []string{testAPIKey},
		PublishTimeout: 2 * time.Second,
		StartTimeout:   20 * time.Second,
		Tracer:         c.tracer,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = api.Close() })
	c.api = api
}

func (c *testCluster) startCore() *server.Core {
	c.t.Helper()
	cs, err := server.StartCore(server.CoreConfig{
		Kafka: bus.KafkaSourceConfig{
			KafkaConfig:    c.kafkaConfig(),
			CommitInterval: 200 * time.Millisecond,
		},
		Redis:        c.redisConfig(),
		RegistryTTL:  c.ttl,
		Core:         core.Config{MergeWindow: time.Millisecond, Tracer: c.tracer},
		Router:       core.RouterConfig{EdgeTimeout: 2 * time.Second},
		StartTimeout: 20 * time.Second,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = cs.Close() })
	c.cores = append(c.cores, cs)
	return cs
}

func (c *testCluster) startEdge(id string) *server.Edge {
	c.t.Helper()
	ec := edge.Config{
		QUICAddr:         "127.0.0.1:0",
		TCPAddr:          "127.0.0.1:0",
		HandshakeTimeout: 2 * time.Second,
		CloseTimeout:     time.Second,
		MaxConnsPerIP:    -1,
		HandshakesPerIP:  -1,
		ID:               id,
		Tracer:           c.tracer,
	}
	if c.tuneEdge != nil {
		c.tuneEdge(&ec)
	}
	es, err := server.StartEdge(server.EdgeConfig{
		Edge:        ec,
		Redis:       c.redisConfig(),
		RegistryTTL: c.ttl,
		Certificate: c.cert,
		Auth:        auth.VerifierConfig{HMACSecret: testSecret},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = es.Close() })
	c.edges = append(c.edges, es)
	return es
}

func (c *testCluster) apiClient(opts ...connect.ClientOption) pushv1connect.PushServiceClient {
	hc := &http.Client{Transport: h2cTransport()}
	opts = append(opts, connect.WithInterceptors(bearer(testAPIKey)))
	return pushv1connect.NewPushServiceClient(hc, "http://"+c.api.Addr().String(), opts...)
}

// client connects a Go client to the given edges (each QUIC first, then
// TCP) and waits until it is connected and in rooms.
func (c *testCluster) client(user string, rooms []string, edges ...*server.Edge) (*quicpush.Client, *inbox) {
	c.t.Helper()
	var eps []string
	for _, e := range edges {
		eps = append(eps, "quic://"+e.Edge.QUICAddr().String()+" tcp://"+e.Edge.TCPAddr().String())
	}
	return edgeClient(c.t, c.cert, eps, user, rooms, 10*time.Second)
}

// edgeClient connects a Go client to eps (one element per edge: its URLs in
// order of preference) with a token for user and the extra options, and
// waits up to wait until it is connected and in rooms.
func edgeClient(t *testing.T, cert tls.Certificate, eps []string, user string, rooms []string, wait time.Duration, extra ...quicpush.Option) (*quicpush.Client, *inbox) {
	t.Helper()
	b := &inbox{}
	hash := devcert.Hash(cert)
	opts := append(b.options(), quicpush.WithToken(token(t, user, "*")), quicpush.WithCertHash(hash[:]),
		quicpush.WithBackoff(50*time.Millisecond, 500*time.Millisecond))
	opts = append(opts, extra...)
	cl, err := quicpush.New(eps, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	for _, r := range rooms {
		if err := cl.Join(ctx, r); err != nil {
			t.Fatalf("%s joins %s: %v", user, r, err)
		}
	}
	return cl, b
}

// counter reads a counter or gauge from a registry; labels are name=value
// pairs that must all match.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return total
}

// eventually polls cond every 20 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterRoutesOnlyWhereNeeded runs api, core and two edges on kfake and
// redis-server: a room push reaches members on both edges; a room with
// members on one edge, a user and a connection key reach only the edge that
// holds them (checked on the other edge's metrics); a broadcast reaches
// everyone; the push reply names the Kafka partition and offset; Online sums
// both edges.
func TestClusterRoutesOnlyWhereNeeded(t *testing.T) {
	c := startCluster(t, 1, 2)
	e1, e2 := c.edges[0], c.edges[1]
	api := c.apiClient()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	alice, aIn := c.client("alice", []string{"lobby", "only-on-1"}, e1)
	_, bIn := c.client("bob", []string{"lobby"}, e2)
	_, cIn := c.client("carol", nil, e2)

	// A room with members on both edges.
	rsp, err := api.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "lobby", Text: "to both"}))
	if err != nil {
		t.Fatal(err)
	}
	id := rsp.Msg.GetMessageId()
	if recs := rsp.Msg.GetBusRecords(); len(recs) != 1 || recs[0].GetPartition() < 0 || recs[0].GetPartition() >= 4 || recs[0].GetOffset() < 0 {
		t.Fatalf("PushRoom bus records %v, want one record on partitions 0..3", recs)
	}
	eventually(t, 10*time.Second, "lobby push on both edges", func() bool { return aIn.has(id) && bIn.has(id) })
	if n := counter(t, e2.Registry, "quicpush_edge_messages_total", "kind", "room"); n != 1 {
		t.Fatalf("edge 2 got %v room messages, want 1", n)
	}

	// Rooms, users and keys go only where they are held.
	rsp2, err := api.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "only-on-1", Text: "one"}))
	if err != nil {
		t.Fatal(err)
	}
	urs, err := api.PushUsers(ctx, connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{"carol"}, Text: "to carol"}))
	if err != nil {
		t.Fatal(err)
	}
	krs, err := api.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: []string{alice.ConnKey()}, Text: "to alice's key"}))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "room, user and key pushes", func() bool {
		return aIn.has(rsp2.Msg.GetMessageId()) && cIn.has(urs.Msg.GetMessageId()) && aIn.has(krs.Msg.GetMessageId())
	})
	if n := counter(t, e2.Registry, "quicpush_edge_messages_total", "kind", "room"); n != 1 {
		t.Errorf("edge 2 (no member of only-on-1) got %v room messages, want 1", n)
	}
	if n := counter(t, e1.Registry, "quicpush_edge_messages_total", "kind", "users"); n != 0 {
		t.Errorf("edge 1 (carol is on edge 2) got %v user messages, want 0", n)
	}
	if n := counter(t, e2.Registry, "quicpush_edge_messages_total", "kind", "keys"); n != 0 {
		t.Errorf("edge 2 got %v key messages for a key of edge 1, want 0", n)
	}
	if bIn.has(rsp2.Msg.GetMessageId()) || cIn.has(krs.Msg.GetMessageId()) || bIn.has(urs.Msg.GetMessageId()) {
		t.Error("a message reached a client it was not addressed to")
	}

	// Broadcast: everyone.
	brs, err := api.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Text: "all"}))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "broadcast", func() bool {
		return aIn.has(brs.Msg.GetMessageId()) && bIn.has(brs.Msg.GetMessageId()) && cIn.has(brs.Msg.GetMessageId())
	})

	// Online sums the edges.
	eventually(t, 5*time.Second, "online counts", func() bool {
		on, err := api.Online(ctx, connect.NewRequest(&pushv1.OnlineRequest{Rooms: []string{"lobby", "only-on-1", "none"}, Top: 5}))
		if err != nil {
			t.Fatal(err)
		}
		m := on.Msg
		return m.GetTotal() == 3 && m.GetRooms()["lobby"] == 2 && m.GetRooms()["only-on-1"] == 1 && m.GetRooms()["none"] == 0 &&
			len(m.GetTop()) == 2 && m.GetTop()[0].GetRoom() == "lobby"
	})
}

// TestClusterUsersSpreadOverPartitions pushes to many users in one call: the
// message is split into one record per partition, every user gets it once.
func TestClusterUsersSpreadOverPartitions(t *testing.T) {
	c := startCluster(t, 1, 2)
	api := c.apiClient()
	var users []string
	var inboxes []*inbox
	for i := range 8 {
		u := fmt.Sprintf("user-%d", i)
		users = append(users, u)
		_, in := c.client(u, nil, c.edges[i%2])
		inboxes = append(inboxes, in)
	}
	rsp, err := api.PushUsers(t.Context(), connect.NewRequest(&pushv1.PushUsersRequest{Users: users, Text: "hi all"}))
	if err != nil {
		t.Fatal(err)
	}
	parts := map[int32]bool{}
	for _, r := range rsp.Msg.GetBusRecords() {
		if parts[r.GetPartition()] {
			t.Fatalf("two records on partition %d: %v", r.GetPartition(), rsp.Msg.GetBusRecords())
		}
		parts[r.GetPartition()] = true
	}
	if len(parts) < 2 {
		t.Fatalf("8 users landed on %d partition(s) of 4: %v", len(parts), rsp.Msg.GetBusRecords())
	}
	id := rsp.Msg.GetMessageId()
	eventually(t, 10*time.Second, "every user got the push", func() bool {
		return !slices.ContainsFunc(inboxes, func(b *inbox) bool { return !b.has(id) })
	})
	time.Sleep(200 * time.Millisecond)
	for i, b := range inboxes {
		b.mu.Lock()
		n := 0
		for _, m := range b.msgs {
			if m.ID == id {
				n++
			}
		}
		b.mu.Unlock()
		if n != 1 {
			t.Errorf("user-%d got the push %d times", i, n)
		}
	}
}

// TestClusterEdgeDrain: SIGTERM-style drain of an edge tells its clients to
// reconnect elsewhere (3000); they move to the other edge and receive later
// pushes; the drained edge leaves the registry.
func TestClusterEdgeDrain(t *testing.T) {
	c := startCluster(t, 1, 2)
	e1, e2 := c.edges[0], c.edges[1]
	api := c.apiClient()
	cl, in := c.client("dave", []string{"news"}, e1, e2)
	if !strings.HasPrefix(cl.ConnKey(), e1.Info.ID+".") {
		t.Fatalf("connected to %s, want edge 1 (%s) first", cl.ConnKey(), e1.Info.ID)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := e1.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "client on edge 2", func() bool { return strings.HasPrefix(cl.ConnKey(), e2.Info.ID+".") })
	t.Logf("moved to edge 2 in %v", time.Since(start))
	eventually(t, 5*time.Second, "a push to the room after the move", func() bool {
		// Pushed until one arrives: the room is rejoined asynchronously.
		id := pushRoomCluster(t, api, "news", "after drain")
		deadline := time.Now().Add(500 * time.Millisecond)
		for time.Now().Before(deadline) {
			if in.has(id) {
				return true
			}
			time.Sleep(10 * time.Millisecond)
		}
		return false
	})
	in.mu.Lock()
	codes := []int{}
	for _, d := range in.discs {
		codes = append(codes, int(d.Code))
	}
	in.mu.Unlock()
	if !slices.Contains(codes, 3000) {
		t.Errorf("disconnect codes %v, want 3000 (reconnect elsewhere)", codes)
	}
}

func pushRoomCluster(t *testing.T, api pushv1connect.PushServiceClient, room, text string) string {
	t.Helper()
	rsp, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: text}))
	if err != nil {
		t.Fatalf("PushRoom: %v", err)
	}
	return rsp.Msg.GetMessageId()
}
