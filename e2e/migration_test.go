package e2e

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	quicpush "github.com/quicpush/quicpush/clients/go"
	"github.com/quicpush/quicpush/internal/netlab"
	"github.com/quicpush/quicpush/server"
)

// migrationPushes is how many room pushes each migration test streams: the
// moves happen in the middle of the stream, with pushes in flight.
const migrationPushes = 1000

// mobileLink is the lab path of the migration tests: a few milliseconds each
// way, so that pushes are in flight on the old path when the client moves.
var mobileLink = netlab.Path{Up: netlab.Link{Delay: 5 * time.Millisecond}, Down: netlab.Link{Delay: 5 * time.Millisecond}}

// recoveries collects a client's recovery events.
type recoveries struct {
	mu  sync.Mutex
	evs []quicpush.RecoveryEvent
}

func (r *recoveries) option() quicpush.Option {
	return quicpush.WithOnRecovery(func(e quicpush.RecoveryEvent) { r.mu.Lock(); r.evs = append(r.evs, e); r.mu.Unlock() })
}

func (r *recoveries) all() []quicpush.RecoveryEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]quicpush.RecoveryEvent(nil), r.evs...)
}

// streamRoom pushes migrationPushes messages to room one after another,
// calling move(i) before push i, and returns their ids in push order.
func streamRoom(t *testing.T, srv *testServer, room string, move func(i int)) []string {
	t.Helper()
	api := srv.apiClient()
	ids := make([]string, 0, migrationPushes)
	for i := range migrationPushes {
		move(i)
		ids = append(ids, pushRoom(t, api, room, "m"))
	}
	return ids
}

// checkExactlyOnce waits for b to hold every id, then checks it holds each
// exactly once and in order.
func checkExactlyOnce(t *testing.T, b *inbox, ids []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b.mu.Lock()
		n := len(b.msgs)
		b.mu.Unlock()
		if n >= len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("received %d of %d pushes", n, len(ids))
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.msgs) != len(ids) {
		t.Fatalf("received %d messages, pushed %d", len(b.msgs), len(ids))
	}
	for i, m := range b.msgs {
		if m.ID != ids[i] {
			t.Fatalf("message %d is %s, want %s: a push was lost, repeated or reordered", i, m.ID, ids[i])
		}
	}
}

// migrationClient connects a Go client to room through relay's first path.
func migrationClient(t *testing.T, srv *testServer, relay *netlab.UDPRelay, room string, b *inbox, rec *recoveries, extra ...quicpush.Option) *quicpush.Client {
	t.Helper()
	opts := append([]quicpush.Option{rec.option()}, extra...)
	c := goClient(t, srv, []string{"quic://" + relay.Addr().String()}, token(t, "mobile-"+room, room), b, opts...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, room); err != nil {
		t.Fatal(err)
	}
	return c
}

// newRelay starts a lab relay in front of the server's QUIC port.
func newRelay(t *testing.T, srv *testServer) *netlab.UDPRelay {
	t.Helper()
	relay, err := netlab.NewUDPRelay(netlab.UDPConfig{Target: srv.quic, Path: mobileLink, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })
	return relay
}

// rebindEvery is how many pushes apart the NAT rebinding test moves the
// client: eight moves in the stream. A client with connection IDs of its own
// goes deaf at the third (quic-go leaks one of its spare IDs per move the
// edge follows; see frameconn.SoloTransport), so eight moves show that the
// client's connections survive any number of them.
const (
	rebindEvery = 125
	rebinds     = migrationPushes / rebindEvery
)

// TestQUICNATRebindingKeepsSession rebinds the client's source port eight times
// in the middle of a 1,000-push stream, as a NAT does: the edge migrates the
// connection, and the client gets every push exactly once, in order, without
// reconnecting or resuming. The edge asks every new connection for a Retry
// and allows one connection per IP, to show that neither defeats migration
// (both apply to new connections only).
//
// A rebinding NAT drops what the edge sends to the old port, and the edge
// learns the new one only from the client's next packet, which a client that
// only receives sends with its next heartbeat (25 s by default: the longest a
// push waits after a NAT rebinding, docs/mobile.md) or its next QUIC
// keep-alive. Both are tried: the edge asking for a heartbeat every 200 ms,
// and a client with a 200 ms keep-alive under the default heartbeat.
func TestQUICNATRebindingKeepsSession(t *testing.T) {
	t.Run("heartbeat", func(t *testing.T) {
		testNATRebinding(t, func(c *server.SingleConfig) { c.Edge.PingInterval = 200 * time.Millisecond })
	})
	t.Run("keepalive", func(t *testing.T) {
		testNATRebinding(t, nil, quicpush.WithQUICKeepAlive(200*time.Millisecond))
	})
}

func testNATRebinding(t *testing.T, tune func(*server.SingleConfig), opts ...quicpush.Option) {
	srv := startServer(t, func(c *server.SingleConfig) {
		c.Edge.RetryAbove = 0.001
		c.Edge.MaxConnsPerIP = 1
		if tune != nil {
			tune(c)
		}
	})
	relay := newRelay(t, srv)
	// A first connection takes the edge's one handshake without a Retry;
	// it is closed before the client connects, within the per-IP limit.
	first := goClient(t, srv, []string{"quic://" + srv.quic}, token(t, "mobile-first"), &inbox{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := first.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	_ = first.Close()
	waitFor(t, "the first connection to end", func() bool { return metricValue(t, srv, "quicpush_edge_connections") == 0 })
	b, rec := &inbox{}, &recoveries{}
	c := migrationClient(t, srv, relay, "rebind", b, rec, opts...)
	if n := labelledValue(t, srv, "quicpush_edge_limited_total", map[string]string{"limit": "quic_retry"}); n < 1 {
		t.Fatalf("quicpush_edge_limited_total = %v: the client's handshake was not asked for a Retry", n)
	}
	clients := relay.Clients()
	if len(clients) != 1 {
		t.Fatalf("the relay sees %v, want one client", clients)
	}
	seen := map[netip.AddrPort]bool{}
	if up, ok := relay.Upstream(clients[0]); ok {
		seen[up] = true
	}
	ids := streamRoom(t, srv, "rebind", func(i int) {
		if i%rebindEvery == rebindEvery/2 {
			// Nothing in flight when the NAT rebinds, as after a quiet
			// spell: the client has every push so far (so the edge
			// followed the last move) and has acknowledged them, so
			// nothing it sends unasked tells the edge of the new port
			// before its next heartbeat or keep-alive.
			waitFor(t, "the pushes so far", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.msgs) == i })
			time.Sleep(4 * mobileLink.Down.Delay)
			up, err := relay.Rebind(clients[0])
			if err != nil {
				t.Fatal(err)
			}
			seen[up] = true
		}
	})
	checkExactlyOnce(t, b, ids)
	// The edge counts a move at the first frame it reads or writes on the
	// connection after following it: one more push, now that every push
	// has arrived, so after the edge followed the last move.
	ids = append(ids, pushRoom(t, srv.apiClient(), "rebind", "last"))
	checkExactlyOnce(t, b, ids)
	if n := b.connects(); n != 1 {
		t.Errorf("%d connects, want 1: the client reconnected", n)
	}
	if len(b.discs) != 0 || len(rec.all()) != 0 {
		t.Errorf("disconnects %v, recoveries %v: want none", b.discs, rec.all())
	}
	if len(seen) != rebinds+1 {
		t.Fatalf("the edge saw the client from %d addresses, want %d", len(seen), rebinds+1)
	}
	if n := labelledValue(t, srv, "quicpush_edge_migrations_total", map[string]string{"transport": "quic"}); n != rebinds {
		t.Errorf("quicpush_edge_migrations_total = %v, want %d", n, rebinds)
	}
	if n := metricValue(t, srv, "quicpush_edge_resumes_total"); n != 3 {
		t.Errorf("quicpush_edge_resumes_total = %v, want 3 (the two Auths and the Join, all without a position)", n)
	}
	if c.Duplicates() != 0 {
		t.Errorf("%d duplicates", c.Duplicates())
	}
}

// onInterface returns a WithPathConn function opening sockets on ip, as a
// phone opens them on its cellular interface: with a lab path for ip
// (UDPRelay.AddSourcePath), they reach the edge at the same address through
// another network.
func onInterface(ip string) quicpush.Option {
	return quicpush.WithPathConn(func(context.Context) (net.PacketConn, error) {
		return net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	})
}

// TestGoClientMigratesToSecondPath switches a client's connection to a
// second lab path with other characteristics (Wi-Fi to cellular) with
// Client.Migrate in the middle of a 1,000-push stream: the session stays on
// the same connection, and every push arrives exactly once, in order.
func TestGoClientMigratesToSecondPath(t *testing.T) {
	srv := startServer(t, nil)
	relay := newRelay(t, srv)
	cellular := netlab.Path{Up: netlab.Link{Delay: 20 * time.Millisecond}, Down: netlab.Link{Delay: 20 * time.Millisecond}}
	if err := relay.AddSourcePath(netip.MustParseAddr("127.0.0.2"), cellular); err != nil {
		t.Fatal(err)
	}
	b, rec := &inbox{}, &recoveries{}
	c := migrationClient(t, srv, relay, "switch", b, rec, onInterface("127.0.0.2"))
	migrated := make(chan error, 1)
	ids := streamRoom(t, srv, "switch", func(i int) {
		if i == 400 {
			// Pushes go on while the new path is probed.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				migrated <- c.Migrate(ctx)
			}()
		}
	})
	if err := <-migrated; err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	checkExactlyOnce(t, b, ids)
	if n := b.connects(); n != 1 {
		t.Errorf("%d connects, want 1: the client reconnected", n)
	}
	if len(rec.all()) != 0 {
		t.Errorf("recoveries %v: want none", rec.all())
	}
	if c.Migrations() != 1 {
		t.Errorf("Migrations() = %d, want 1", c.Migrations())
	}
	// The relay now sees the client on both paths, and the edge saw it move.
	var onCellular bool
	for _, a := range relay.Clients() {
		onCellular = onCellular || a.Addr() == netip.MustParseAddr("127.0.0.2")
	}
	if !onCellular {
		t.Errorf("the relay sees the client at %v, none on the second path", relay.Clients())
	}
	if n := metricValue(t, srv, "quicpush_edge_migrations_total"); n < 1 {
		t.Errorf("quicpush_edge_migrations_total = %v, want at least 1", n)
	}

	// The app's network callback: NetworkChanged migrates in the
	// background, here to another socket on the same interface.
	c.NetworkChanged()
	waitFor(t, "the second migration", func() bool { return c.Migrations() == 2 })
	id := pushRoom(t, srv.apiClient(), "switch", "after")
	waitFor(t, "a push after the second migration", func() bool { return b.has(id) })
	if n := b.connects(); n != 1 {
		t.Errorf("%d connects after NetworkChanged, want 1", n)
	}

	// Each path keeps a socket while the connection lives: past eight, a
	// move is a reconnect, which starts over with one.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for c.Migrations() < 8 {
		if err := c.Migrate(ctx); err != nil {
			t.Fatalf("migration %d: %v", c.Migrations()+1, err)
		}
	}
	if err := c.Migrate(ctx); !errors.Is(err, quicpush.ErrNotMigrated) {
		t.Fatalf("ninth migration of one connection = %v, want ErrNotMigrated", err)
	}
	waitFor(t, "the reconnect", func() bool { return b.connects() == 2 })
	if err := c.Migrate(ctx); err != nil {
		t.Fatalf("a migration of the new connection: %v", err)
	}
}

// TestGoClientMigrateFallsBackToResume migrates to a path that drops every
// datagram: the probe is never answered, Migrate reports ErrNotMigrated, and
// the client reconnects and resumes the room with nothing lost. A TCP client,
// which cannot migrate, does the same.
func TestGoClientMigrateFallsBackToResume(t *testing.T) {
	srv := startServer(t, nil)
	for _, kind := range []string{"quic", "tcp"} {
		t.Run(kind, func(t *testing.T) {
			room := "fallback-" + kind
			b, rec := &inbox{}, &recoveries{}
			opts := []quicpush.Option{rec.option(), quicpush.WithMigrateTimeout(500 * time.Millisecond), quicpush.WithBackoff(10*time.Millisecond, time.Second)}
			endpoint := "tcp://" + srv.tcp
			if kind == "quic" {
				relay := newRelay(t, srv)
				endpoint = "quic://" + relay.Addr().String()
				// The new network lets no UDP through.
				if err := relay.AddSourcePath(netip.MustParseAddr("127.0.0.3"), netlab.Path{Up: netlab.Link{Loss: 1}, Down: netlab.Link{Loss: 1}}); err != nil {
					t.Fatal(err)
				}
				opts = append(opts, onInterface("127.0.0.3"))
			}
			c := goClient(t, srv, []string{endpoint}, token(t, "mobile-"+room, room), b, opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if err := c.Join(ctx, room); err != nil {
				t.Fatal(err)
			}
			migrated := make(chan error, 1)
			ids := streamRoom(t, srv, room, func(i int) {
				if i == 400 {
					go func() { migrated <- c.Migrate(ctx) }()
				}
			})
			if err := <-migrated; !errors.Is(err, quicpush.ErrNotMigrated) {
				t.Fatalf("Migrate = %v, want ErrNotMigrated", err)
			}
			checkExactlyOnce(t, b, ids)
			if n := b.connects(); n != 2 {
				t.Errorf("%d connects, want 2: the fallback is one reconnect", n)
			}
			evs := rec.all()
			if len(evs) == 0 {
				t.Fatal("no recovery event: the reconnect did not resume")
			}
			for _, e := range evs {
				if !e.Recovered {
					t.Errorf("recovery %+v: not recovered", e)
				}
			}
			if c.Migrations() != 0 {
				t.Errorf("Migrations() = %d, want 0", c.Migrations())
			}
		})
	}
}
