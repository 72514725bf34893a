package e2e

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/wire"
)

// inbox collects what a Go client receives.
type inbox struct {
	mu    sync.Mutex
	msgs  []quicpush.Message
	conns []quicpush.ConnectEvent
	discs []quicpush.DisconnectEvent
}

func (b *inbox) options() []quicpush.Option {
	return []quicpush.Option{
		quicpush.WithOnMessage(func(m quicpush.Message) { b.mu.Lock(); b.msgs = append(b.msgs, m); b.mu.Unlock() }),
		quicpush.WithOnConnect(func(e quicpush.ConnectEvent) { b.mu.Lock(); b.conns = append(b.conns, e); b.mu.Unlock() }),
		quicpush.WithOnDisconnect(func(e quicpush.DisconnectEvent) { b.mu.Lock(); b.discs = append(b.discs, e); b.mu.Unlock() }),
	}
}

func (b *inbox) has(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m.ID == id {
			return true
		}
	}
	return false
}

func (b *inbox) connects() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

func goClient(t *testing.T, srv *testServer, endpoints []string, tok string, b *inbox, extra ...quicpush.Option) *quicpush.Client {
	t.Helper()
	hash := devcert.Hash(srv.cert)
	opts := append(b.options(), quicpush.WithToken(tok), quicpush.WithCertHash(hash[:]))
	opts = append(opts, extra...)
	c, err := quicpush.New(endpoints, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestGoClientEveryTransport connects clients/go to the real edge on each
// transport, with the certificate pinned by hash as `serve` prints it.
func TestGoClientEveryTransport(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	endpoints := map[string]string{
		"quic":         "quic://" + srv.quic,
		"webtransport": "https://" + srv.quic + "/wt",
		"tcp":          "tcp://" + srv.tcp,
		"tls":          "tls://" + srv.tcp,
		"ws":           "ws://" + srv.tcp + "/ws",
		"wss":          "wss://" + srv.tcp + "/ws",
	}
	for kind, ep := range endpoints {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := &inbox{}
			c := goClient(t, srv, []string{ep}, token(t, "go-"+kind, "go-*"), b)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if c.Transport() != kind {
				t.Fatalf("transport %q, want %q", c.Transport(), kind)
			}
			if err := c.Join(ctx, "go-"+kind); err != nil {
				t.Fatal(err)
			}
			id := pushRoom(t, api, "go-"+kind, "hello "+kind)
			waitFor(t, "push over "+kind, func() bool { return b.has(id) })
			kr, err := api.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: []string{c.ConnKey()}, Text: "direct"}))
			if err != nil {
				t.Fatal(err)
			}
			waitFor(t, "key push over "+kind, func() bool { return b.has(kr.Msg.MessageId) })
			var e *quicpush.Error
			if err := c.Join(ctx, "not-allowed"); !asError(err, &e) || e.Code != wire.ErrCodeForbidden {
				t.Fatalf("forbidden join: %v", err)
			}
		})
	}
}

// TestGoClientFallsBackToTCP blocks UDP (a socket that swallows every
// datagram) and checks the client is connected over TCP within about a
// second and receives.
func TestGoClientFallsBackToTCP(t *testing.T) {
	srv := startServer(t, nil)
	blackhole, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer blackhole.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := blackhole.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	b := &inbox{}
	c := goClient(t, srv, []string{"quic://" + blackhole.LocalAddr().String(), "tcp://" + srv.tcp}, token(t, "fallback", "fb"), b)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 1500*time.Millisecond || c.Transport() != "tcp" {
		t.Fatalf("connected over %q after %v, want tcp within ~1s", c.Transport(), d)
	}
	if err := c.Join(ctx, "fb"); err != nil {
		t.Fatal(err)
	}
	id := pushRoom(t, srv.apiClient(), "fb", "via fallback")
	waitFor(t, "push after fallback", func() bool { return b.has(id) })
}

// TestGoClientReconnects has the backend disconnect the client with the
// reconnect code: it comes back, rejoins its room and receives again. A
// kick (no reconnect) stops it for good.
func TestGoClientReconnects(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	b := &inbox{}
	c := goClient(t, srv, []string{"quic://" + srv.quic, "tcp://" + srv.tcp}, token(t, "comeback", "rc"), b,
		quicpush.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, "rc"); err != nil {
		t.Fatal(err)
	}
	if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{"comeback"}, Reconnect: true})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reconnect", func() bool { return b.connects() >= 2 && c.Transport() == "quic" })
	waitFor(t, "rejoin", func() bool {
		on, _ := srv.Edge.Online(ctx, []string{"rc"}, 0)
		return on.Rooms["rc"] == 1
	})
	id := pushRoom(t, api, "rc", "after reconnect")
	waitFor(t, "push after reconnect", func() bool { return b.has(id) })

	if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{"comeback"}})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "kick", func() bool { return c.Transport() == "" })
	time.Sleep(300 * time.Millisecond) // several backoff periods: no reconnect may happen
	if n := b.connects(); n != 2 {
		t.Fatalf("%d connects after a kick, want 2", n)
	}
	b.mu.Lock()
	last := b.discs[len(b.discs)-1]
	b.mu.Unlock()
	if last.Code != wire.CodeKicked || last.Reconnect {
		t.Fatalf("last disconnect %+v", last)
	}
}
