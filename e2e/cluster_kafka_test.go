package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/localkafka"
	"github.com/quicpush/quicpush/internal/localredis"
	"github.com/quicpush/quicpush/internal/promscrape"
)

// procCluster is a cluster of quicpush processes on a real broker and a real
// redis-server.
type procCluster struct {
	t      *testing.T
	kafka  *localkafka.Broker
	redis  *localredis.Server
	topic  string
	devDir string
	cert   tls.Certificate
	api    *proc
	cores  []*proc
	edges  []*proc
	extra  []string // flags every process gets
	config string   // the configuration file every process reads
}

var clusterSeq atomic.Int64

func startProcCluster(t *testing.T, nCores, nEdges int, extra ...string) *procCluster {
	t.Helper()
	kb := realKafka(t)
	rs, err := localredis.Start(t.Context(), localredis.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	n := clusterSeq.Add(1)
	c := &procCluster{t: t, kafka: kb, redis: rs, topic: fmt.Sprintf("it-%d-%d", time.Now().UnixNano(), n), devDir: t.TempDir(), extra: extra}
	// One configuration file for every process, as an operator would
	// write it; each process takes the keys of its own flags.
	c.config = filepath.Join(c.devDir, "cluster.yaml")
	conf := fmt.Sprintf(`# the test cluster's shared settings
redis-addr: %q
log-level: warn
kafka-brokers: [%q]
kafka-topic: %q
kafka-partitions: 4
kafka-group: %q
dev-dir: %q
jwt-secret: %q
api-key: [%q]
publish-timeout: 2s
commit-interval: 200ms
registry-ttl: 3s
ping-interval: 500ms
max-conns-per-ip: -1
handshakes-per-ip: -1
`, rs.Addr(), kb.Addr(), c.topic, c.topic, c.devDir, testSecret, testAPIKey)
	if err := os.WriteFile(c.config, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	// Edges first: they create the development certificate.
	for range nEdges {
		c.startEdge()
	}
	if c.cert, err = devcert.LoadOrCreate(c.devDir); err != nil {
		t.Fatal(err)
	}
	for range nCores {
		c.startCore()
	}
	c.api = startProc(t, "api", append([]string{"api", "--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0"}, c.common()...)...)
	return c
}

// common are the flags of every process: the shared configuration file and
// the test's extra flags.
func (c *procCluster) common() []string {
	return append([]string{"--config", c.config}, c.extra...)
}

func (c *procCluster) startCore() *proc {
	p := startProc(c.t, fmt.Sprintf("core%d", len(c.cores)+1), append([]string{"core", "--admin-addr", "127.0.0.1:0"}, c.common()...)...)
	c.cores = append(c.cores, p)
	return p
}

func (c *procCluster) startEdge() *proc {
	p := startProc(c.t, fmt.Sprintf("edge%d", len(c.edges)+1), append([]string{"edge", "--quic-addr", "127.0.0.1:0", "--tcp-addr", "127.0.0.1:0",
		"--admin-addr", "127.0.0.1:0"}, c.common()...)...)
	c.edges = append(c.edges, p)
	return p
}

func (c *procCluster) apiClient() pushv1connect.PushServiceClient {
	hc := &http.Client{Transport: h2cTransport()}
	return pushv1connect.NewPushServiceClient(hc, "http://"+c.api.match(reAPI), connect.WithInterceptors(bearer(testAPIKey)))
}

// client connects a Go client to the given edges, grouped per edge.
func (c *procCluster) client(user string, rooms []string, edges ...*proc) (*quicpush.Client, *inbox) {
	c.t.Helper()
	var eps []string
	for _, e := range edges {
		eps = append(eps, "quic://"+e.match(reQUIC)+" tcp://"+e.match(reTCP))
	}
	return edgeClient(c.t, c.cert, eps, user, rooms, 15*time.Second)
}

// scrape sums the samples of a metric on a process's admin /metrics whose
// labels include every given name and value.
func scrape(t *testing.T, p *proc, metric string, labels map[string]string) float64 {
	t.Helper()
	m, err := promscrape.Fetch(t.Context(), "http://"+p.match(reAdmin)+"/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", p.name, err)
	}
	return m.Sum(metric, labels)
}

// TestKafkaCluster is the integration tier: one api, two cores and two edges
// as separate processes on a real Kafka broker and a real redis-server, with
// faults injected one after the other.
func TestKafkaCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("the integration tier needs a real Kafka broker: run without -short")
	}
	c := startProcCluster(t, 2, 2)
	e1, e2 := c.edges[0], c.edges[1]
	api := c.apiClient()

	// Clients on both edges, each able to move to the other.
	const rooms = 6
	var roomNames []string
	for i := range rooms {
		roomNames = append(roomNames, fmt.Sprintf("room-%d", i))
	}
	type member struct {
		cl *quicpush.Client
		in *inbox
	}
	var members []member
	for i := range 6 {
		edges := []*proc{e1, e2}
		if i%2 == 1 {
			edges = []*proc{e2, e1}
		}
		cl, in := c.client(fmt.Sprintf("m%d", i), roomNames, edges...)
		members = append(members, member{cl, in})
	}
	_, solo := c.client("solo", []string{"only-1"}, e1)

	t.Run("routing", func(t *testing.T) {
		id := pushRoomCluster(t, api, "room-0", "both edges")
		eventually(t, 10*time.Second, "room push on both edges", func() bool {
			for _, m := range members {
				if !m.in.has(id) {
					return false
				}
			}
			return true
		})
		before2 := scrape(t, e2, "quicpush_edge_messages_total", map[string]string{"kind": "room"})
		before2u := scrape(t, e2, "quicpush_edge_messages_total", map[string]string{"kind": "users"})
		rid := pushRoomCluster(t, api, "only-1", "edge 1 only")
		urs, err := api.PushUsers(t.Context(), connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{"solo"}, Text: "to solo"}))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "room and user push to solo", func() bool {
			return solo.has(rid) && solo.has(urs.Msg.GetMessageId())
		})
		if d := scrape(t, e2, "quicpush_edge_messages_total", map[string]string{"kind": "room"}) - before2; d != 0 {
			t.Errorf("edge 2 got %v messages for a room with no member there", d)
		}
		if d := scrape(t, e2, "quicpush_edge_messages_total", map[string]string{"kind": "users"}) - before2u; d != 0 {
			t.Errorf("edge 2 got %v messages for a user connected to edge 1 only", d)
		}
	})

	t.Run("kill -9 a core while pushing 10000", func(t *testing.T) {
		const total = 10000
		var (
			mu    sync.Mutex
			acked []string
		)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		var sent atomic.Int64
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < total; i += 16 {
					rsp, err := api.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{
						Room: roomNames[i%rooms], Text: strconv.Itoa(i)}))
					if err != nil {
						continue // not acknowledged: not promised
					}
					mu.Lock()
					acked = append(acked, rsp.Msg.GetMessageId())
					mu.Unlock()
					sent.Add(1)
				}
			})
		}
		for sent.Load() < total/3 {
			time.Sleep(10 * time.Millisecond)
		}
		c.cores[0].kill()
		t.Logf("killed core1 after %d acknowledged pushes", sent.Load())
		wg.Wait()
		if len(acked) < total*9/10 {
			t.Fatalf("only %d of %d pushes acknowledged", len(acked), total)
		}
		// Every acknowledged message reaches every member, duplicates
		// allowed (counted).
		eventually(t, 90*time.Second, "every acknowledged message at every member", func() bool {
			for _, m := range members {
				if missing(m.in, acked) > 0 {
					return false
				}
			}
			return true
		})
		dups := 0
		for _, m := range members {
			dups += duplicates(m.in)
		}
		t.Logf("%d acknowledged messages reached all %d members; %d duplicates (at-least-once after the kill)", len(acked), len(members), dups)
		c.startCore() // back to two cores
	})

	t.Run("kill -9 an edge", func(t *testing.T) {
		start := time.Now()
		e1.kill()
		eventually(t, 2*time.Second, "every member on edge 2", func() bool {
			for _, m := range members {
				if !strings.HasPrefix(m.cl.Endpoint(), "quic://"+e2.match(reQUIC)) && !strings.HasPrefix(m.cl.Endpoint(), "tcp://"+e2.match(reTCP)) {
					return false
				}
			}
			return true
		})
		t.Logf("all members on edge 2 after %v", time.Since(start))
		eventually(t, 10*time.Second, "a later push at every member", func() bool {
			id := pushRoomCluster(t, api, "room-1", "after the edge died")
			time.Sleep(300 * time.Millisecond)
			for _, m := range members {
				if !m.in.has(id) {
					return false
				}
			}
			return true
		})
	})

	t.Run("restart redis", func(t *testing.T) {
		if err := c.redis.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := c.redis.Restart(t.Context()); err != nil {
			t.Fatal(err)
		}
		// Redis came back empty: the edge republishes within a heartbeat.
		eventually(t, 10*time.Second, "online counts back", func() bool {
			on, err := api.Online(t.Context(), connect.NewRequest(&pushv1.OnlineRequest{Rooms: []string{"room-2"}}))
			return err == nil && on.Msg.GetTotal() == int64(len(members)) && on.Msg.GetRooms()["room-2"] == int64(len(members))
		})
		eventually(t, 10*time.Second, "room push routed again", func() bool {
			id := pushRoomCluster(t, api, "room-2", "after redis restart")
			time.Sleep(300 * time.Millisecond)
			for _, m := range members {
				if !m.in.has(id) {
					return false
				}
			}
			return true
		})
		urs, err := api.PushUsers(t.Context(), connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{"m3"}, Text: "user route back"}))
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "user push routed again", func() bool { return members[3].in.has(urs.Msg.GetMessageId()) })
	})

	t.Run("broker down then back", func(t *testing.T) {
		if err := c.kafka.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "room-3", Text: "broker down"}))
		if connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("push with the broker down: %v, want Unavailable", err)
		}
		if d := time.Since(start); d > 4*time.Second {
			t.Errorf("push failed after %v, want within the 2s publish timeout", d)
		}
		if err := c.kafka.Restart(t.Context()); err != nil {
			t.Fatal(err)
		}
		var id string
		eventually(t, 60*time.Second, "pushes accepted again", func() bool {
			rsp, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "room-3", Text: "broker back"}))
			if err != nil {
				return false
			}
			id = rsp.Msg.GetMessageId()
			return true
		})
		t.Logf("pushes accepted again %v after the restart began", time.Since(start))
		eventually(t, 60*time.Second, "the push after the restart delivered", func() bool {
			for _, m := range members {
				if !m.in.has(id) {
					return false
				}
			}
			return true
		})
	})

	// Graceful stops exit cleanly.
	for _, p := range append(append([]*proc{c.api}, c.cores...), e2) {
		select {
		case <-p.done:
			continue // killed above
		default:
		}
		if err := p.term(20 * time.Second); err != nil {
			t.Error(err)
		}
	}
}

// missing counts the ids b has not received.
func missing(b *inbox, ids []string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	got := make(map[string]bool, len(b.msgs))
	for _, m := range b.msgs {
		got[m.ID] = true
	}
	n := 0
	for _, id := range ids {
		if !got[id] {
			n++
		}
	}
	return n
}

// duplicates counts messages b received more than once.
func duplicates(b *inbox) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	seen := make(map[string]bool, len(b.msgs))
	n := 0
	for _, m := range b.msgs {
		if seen[m.ID] {
			n++
		}
		seen[m.ID] = true
	}
	return n
}
