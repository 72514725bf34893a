package e2e

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/redis/go-redis/v9"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/devcert"
)

// appClient is a Go client and what its application saw.
type appClient struct {
	cl   *quicpush.Client
	room string

	mu        sync.Mutex
	ids       map[string]int // id -> times the application saw it
	offsets   []uint64       // in the order seen
	epochs    []string
	recovered int
	lost      int // NotRecovered events
}

func (a *appClient) seen(ids []string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, id := range ids {
		if a.ids[id] > 0 {
			n++
		}
	}
	return n
}

// check reports, as errors of client i, a message its application saw more
// than once, positions of a stream out of order, and NotRecovered events.
func (a *appClient) check(t *testing.T, i int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, n := range a.ids {
		if n != 1 {
			t.Errorf("client %d: message %s seen %d times by the application", i, id, n)
		}
	}
	for j := 1; j < len(a.offsets); j++ {
		if a.epochs[j] == a.epochs[j-1] && a.offsets[j] <= a.offsets[j-1] {
			t.Errorf("client %d: offset %d after %d: out of order", i, a.offsets[j], a.offsets[j-1])
			break
		}
	}
	if a.lost != 0 {
		t.Errorf("client %d: %d NotRecovered events", i, a.lost)
	}
}

// firstMissing lists up to n of ids the application has not seen; a.mu is held.
func (a *appClient) firstMissing(ids []string, n int) []string {
	var out []string
	for _, id := range ids {
		if a.ids[id] == 0 && len(out) < n {
			out = append(out, id)
		}
	}
	return out
}

// TestKafkaClusterResume is the cluster tier of history and resume: 200
// clients in 5 rooms, 20,000 pushes; an edge and a core are killed with
// SIGKILL midway. Every client ends with every acknowledged message of its
// room, in order, each once as its application sees it, without a single
// NotRecovered. Then Redis is flushed: clients that come back with their old
// positions are told NotRecovered, and receive what follows.
func TestKafkaClusterResume(t *testing.T) {
	if testing.Short() {
		t.Skip("the integration tier needs a real Kafka broker: run without -short")
	}
	// History holds every message of the run (4,000 per room): what is
	// checked here is that kills lose and repeat nothing, however long a
	// client takes to come back on a loaded machine. Running out of history
	// is answered NotRecovered, which TestResumePastTheLimit and the flush
	// below cover.
	c := startProcCluster(t, 2, 2, "--history-size", "5000", "--recovery-limit", "5000")
	e1, e2 := c.edges[0], c.edges[1]
	api := c.apiClient()
	const (
		nClients = 200
		nRooms   = 5
		total    = 20000
	)
	hash := devcert.Hash(c.cert)
	edgeEps := func(e *proc, quic bool) string {
		if quic {
			return "quic://" + e.match(reQUIC) + " tcp://" + e.match(reTCP)
		}
		return "tcp://" + e.match(reTCP)
	}
	clients := make([]*appClient, nClients)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range clients {
		a := &appClient{room: "storm-" + strconv.Itoa(i%nRooms), ids: make(map[string]int)}
		clients[i] = a
		quic := i%4 == 0 // a quarter over QUIC, the rest over TCP: CPU is scarce
		first, second := e1, e2
		if i%2 == 1 {
			first, second = e2, e1
		}
		cl, err := quicpush.New([]string{edgeEps(first, quic), edgeEps(second, quic)},
			quicpush.WithToken(token(t, "storm-"+strconv.Itoa(i), "storm-*")),
			quicpush.WithCertHash(hash[:]),
			quicpush.WithBackoff(50*time.Millisecond, 500*time.Millisecond),
			quicpush.WithOnMessage(func(m quicpush.Message) {
				a.mu.Lock()
				a.ids[m.ID]++
				a.offsets = append(a.offsets, m.Offset)
				a.epochs = append(a.epochs, m.Epoch)
				a.mu.Unlock()
			}),
			quicpush.WithOnRecovery(func(e quicpush.RecoveryEvent) {
				if e.Room == "" {
					return
				}
				a.mu.Lock()
				if e.Recovered {
					a.recovered++
				} else {
					a.lost++
				}
				a.mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		a.cl = cl
		t.Cleanup(func() { cl.Close() })
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := cl.Connect(ctx); err != nil {
				t.Errorf("connect: %v", err)
				return
			}
			if err := cl.Join(ctx, a.room); err != nil {
				t.Errorf("join %s: %v", a.room, err)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The push stream, with the kills midway.
	var (
		mu    sync.Mutex
		acked = make(map[string][]string) // room -> ids
		sent  atomic.Int64
		fails atomic.Int64
	)
	start := time.Now()
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < total; i += 16 {
				room := "storm-" + strconv.Itoa(i%nRooms)
				rsp, err := api.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: strconv.Itoa(i)}))
				if err != nil {
					fails.Add(1)
					continue
				}
				mu.Lock()
				acked[room] = append(acked[room], rsp.Msg.GetMessageId())
				mu.Unlock()
				sent.Add(1)
			}
		})
	}
	for sent.Load() < total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	e1.kill()
	t.Logf("killed edge1 after %d acknowledged pushes", sent.Load())
	for sent.Load() < 2*total/3 {
		time.Sleep(5 * time.Millisecond)
	}
	c.cores[0].kill()
	t.Logf("killed core1 after %d acknowledged pushes", sent.Load())
	wg.Wait()
	t.Logf("%d pushes acknowledged, %d failed, in %v", sent.Load(), fails.Load(), time.Since(start).Round(time.Millisecond))

	deadline := time.Now().Add(2 * time.Minute)
	for {
		done := 0
		for _, a := range clients {
			if a.seen(acked[a.room]) == len(acked[a.room]) {
				done++
			}
		}
		if done == nClients {
			break
		}
		if time.Now().After(deadline) {
			for i, a := range clients {
				if missing := len(acked[a.room]) - a.seen(acked[a.room]); missing > 0 {
					off, ep := a.cl.Position(a.room)
					a.mu.Lock()
					t.Logf("client %d (%s, room %s, via %s %s): %d of %d missing; recovered %d, not recovered %d; position %d/%s; first missing %v",
						i, a.cl.ConnKey(), a.room, a.cl.Transport(), a.cl.Endpoint(), missing, len(acked[a.room]),
						a.recovered, a.lost, off, ep, a.firstMissing(acked[a.room], 5))
					a.mu.Unlock()
				}
			}
			t.Fatalf("after 2 min, %d of %d clients have every acknowledged message of their room", done, nClients)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The checker.
	var dupsDropped int64
	recovered, delivered := 0, 0
	for i, a := range clients {
		a.check(t, i)
		a.mu.Lock()
		recovered += a.recovered
		delivered += len(a.offsets)
		a.mu.Unlock()
		dupsDropped += a.cl.Duplicates()
	}
	for r := range nRooms {
		room := "storm-" + strconv.Itoa(r)
		t.Logf("checker: %s: %d acknowledged, every one of its %d clients has all of them exactly once, in order", room, len(acked[room]), nClients/nRooms)
	}
	t.Logf("checker: %d messages seen by applications; %d repeats dropped by the clients; %d rooms resumed (Recovered), 0 NotRecovered",
		delivered, dupsDropped, recovered)
	if recovered == 0 {
		t.Error("no client resumed a room: the kill of edge1 should have made half of them")
	}

	t.Run("redis flushed: NotRecovered, then live", func(t *testing.T) {
		rdb := redis.NewClient(&redis.Options{Addr: c.redis.Addr()})
		defer rdb.Close()
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		// Edges republish their routes within a heartbeat.
		eventually(t, 10*time.Second, "routes republished", func() bool {
			on, err := api.Online(ctx, connect.NewRequest(&pushv1.OnlineRequest{}))
			return err == nil && on.Msg.GetTotal() == nClients
		})
		// The clients of one room come back with their old positions.
		var users []string
		var ours []*appClient
		for i, a := range clients {
			if a.room == "storm-0" {
				users = append(users, "storm-"+strconv.Itoa(i))
				ours = append(ours, a)
			}
		}
		if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: users, Reconnect: true})); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, "one NotRecovered per client of storm-0", func() bool {
			for _, a := range ours {
				a.mu.Lock()
				lost := a.lost
				a.mu.Unlock()
				if lost < 1 {
					return false
				}
			}
			return true
		})
		id := pushRoomCluster(t, api, "storm-0", "after the flush")
		eventually(t, 30*time.Second, "a push after the flush", func() bool {
			for _, a := range ours {
				if a.seen([]string{id}) != 1 {
					return false
				}
			}
			return true
		})
		for i, a := range ours {
			a.mu.Lock()
			if a.lost != 1 {
				t.Errorf("client %d of storm-0: %d NotRecovered events, want 1", i, a.lost)
			}
			a.mu.Unlock()
		}
	})
}
