package edge

import (
	"context"
	"net"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// Close ends every goroutine the edge started: the janitor, the flushers
// (parked and busy), a paced broadcast, the sessions' readers. synctest
// fails the test if any is left in the bubble when it ends.
func TestCloseStopsEveryGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) { c.MaxFlushers = 2 })
		var sinks []*fakeTransport
		for range 4 {
			_, ft := dialFake(e)
			authenticate(t, ft, "u")
			sinks = append(sinks, ft)
		}
		sinks[0].block = make(chan struct{})
		e.Deliver([]*push.Message{{ID: "1", Kind: push.KindBroadcast, Data: []byte("x")}})
		e.Deliver([]*push.Message{{ID: "2", Kind: push.KindBroadcast, Data: []byte("y"), Rate: 1}})
		synctest.Wait()
		if e.flushers.running() == 0 {
			t.Fatal("no flusher running before Close")
		}
		close(sinks[0].block)
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		if n := e.flushers.running(); n != 0 {
			t.Fatalf("%d flushers after Close", n)
		}
		for i, ft := range sinks {
			if !ft.isClosed() || ft.closeCode != wire.CodeShutdown {
				t.Fatalf("session %d: closed %v with %d after Close, want 3000", i, ft.isClosed(), ft.closeCode)
			}
		}
	})
}

// Close is idempotent and returns nil, also after Shutdown.
func TestCloseIsIdempotent(t *testing.T) {
	e := testEdge(t, nil)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := e.Close(); err != nil {
			t.Fatalf("Close after Shutdown: %v", err)
		}
	}
	e = testEdge(t, nil)
	for range 2 {
		if err := e.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

// On real sockets too, nothing of the edge runs once Close returned and the
// connections it closed are gone.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	e := testEdge(t, nil)
	tok := testEdgeToken(t)
	c, err := net.Dial("tcp", e.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})); err != nil {
		t.Fatal(err)
	}
	if h, _, err := wire.NewFrameReader(c, 0).ReadFrame(); err != nil || h.Op != wire.OpAuthOK {
		t.Fatalf("%v %v, want AuthOK", h.Op, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := edgeGoroutines()
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("edge goroutines left after Close:\n%s", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// edgeGoroutines returns the stacks of goroutines running the edge's code,
// other than tests.
func edgeGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "quicpush/edge.") && !strings.Contains(g, "quicpush/edge.Test") && !strings.Contains(g, "edge.edgeGoroutines") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
