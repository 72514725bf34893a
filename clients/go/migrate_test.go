package quicpush

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// TestMigrateNeedsAConnection: Migrate before Connect has nothing to move,
// and after Close it is refused like every other method.
func TestMigrateNeedsAConnection(t *testing.T) {
	c, err := New([]string{"tcp://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Migrate(context.Background()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Migrate before Connect = %v, want ErrNotConnected", err)
	}
	c.NetworkChanged() // nothing to do, and must not block or panic
	_ = c.Close()
	if err := c.Migrate(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Migrate after Close = %v, want ErrClosed", err)
	}
}

// notUDP is a PacketConn that is not a *net.UDPConn.
type notUDP struct{ net.PacketConn }

// TestMigrateFallsBack: on TCP, which cannot change paths, and on QUIC with
// a path socket that is not a UDP socket (quic-go cannot send on it), Migrate
// reports ErrNotMigrated and the client reconnects.
func TestMigrateFallsBack(t *testing.T) {
	cert, hash := newTestCert(t)
	for _, tc := range []struct {
		name   string
		listen func(*testServer) string
		opens  bool // whether Migrate gets as far as opening a path socket
	}{
		{name: "tcp", listen: func(s *testServer) string { return s.listenTCP(nil) }},
		{name: "quic", listen: func(s *testServer) string { return s.listenQUIC(cert) }, opens: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestServer(t)
			opened := make(chan struct{}, 1)
			c := newClient(t, []string{tc.listen(s)}, WithToken(testToken), WithCertHash(hash), WithBackoff(10*time.Millisecond, time.Second),
				WithPathConn(func(context.Context) (net.PacketConn, error) {
					opened <- struct{}{}
					pc, err := net.ListenPacket("udp", "127.0.0.1:0")
					return notUDP{pc}, err
				}))
			ctx := testContext(t)
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			s.next(wire.OpAuth)
			if err := c.Migrate(ctx); !errors.Is(err, ErrNotMigrated) {
				t.Fatalf("Migrate = %v, want ErrNotMigrated", err)
			}
			select {
			case <-opened:
				if !tc.opens {
					t.Error("a path socket was opened for a connection that cannot change paths")
				}
			default:
				if tc.opens {
					t.Error("no path socket was opened")
				}
			}
			s.next(wire.OpAuth) // the reconnect
			if c.Migrations() != 0 {
				t.Errorf("Migrations() = %d", c.Migrations())
			}
		})
	}
}
