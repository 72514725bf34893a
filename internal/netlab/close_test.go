package netlab

import (
	"net"
	"runtime"
	"testing"
	"time"
)

// TestCloseLeavesNoGoroutine runs both relays with clients, rebinds, a
// second path and open TCP connections with data in their delay lines, then
// closes them and counts goroutines.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	before := runtime.NumGoroutine()
	// The sinks, echo servers and clients of this test close in Cleanup;
	// cleanups run last registered first, so this one runs after them.
	t.Cleanup(func() {
		eventually(t, 2*time.Second, "the goroutines to end", func() bool {
			return runtime.NumGoroutine() <= before
		})
	})
	func() {
		s := newSink(t, true)
		link := Link{Delay: 50 * time.Millisecond, Loss: 0.1, Bandwidth: 1 << 20}
		u, err := NewUDPRelay(UDPConfig{Target: s.addr(), Path: Path{Up: link, Down: link}})
		if err != nil {
			t.Fatal(err)
		}
		second, err := u.AddPath(Path{Up: link})
		if err != nil {
			t.Fatal(err)
		}
		for _, addr := range []*net.UDPAddr{u.Addr(), second} {
			c := dialUDP(t, addr)
			for i := range 20 {
				_, _ = c.Write(datagram(uint32(i), 100))
			}
		}
		eventually(t, time.Second, "two clients", func() bool { return len(u.Clients()) == 2 })
		if _, err := u.Rebind(u.Clients()[0]); err != nil {
			t.Fatal(err)
		}

		e := newEchoTCP(t)
		tr, err := NewTCPRelay(TCPConfig{Target: e.ln.Addr().String(), Path: Path{Up: link, Down: link}})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			c, err := net.Dial("tcp4", tr.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, _ = c.Write(make([]byte, 10_000))
		}
		time.Sleep(20 * time.Millisecond) // data in flight in both relays

		start := time.Now()
		_ = u.Close()
		_ = tr.Close()
		if d := time.Since(start); d > time.Second {
			t.Errorf("Close took %v", d)
		}
		if _, err := u.AddPath(Path{}); err == nil {
			t.Error("AddPath after Close succeeded")
		}
	}()
}
