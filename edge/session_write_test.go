package edge

import (
	"bytes"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/quicpush/quicpush/wire"
)

// pong is a small frame whose seq tells frames apart; pad makes it bigger.
func pong(seq uint32, pad int) []byte {
	return wire.AppendFrame(nil, wire.OpPong, seq, make([]byte, pad))
}

func TestSessionEnqueueKeepsOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, ft := attach(t, e, "u")
		for i := range uint32(50) {
			if !s.enqueue(pong(i, 0)) {
				t.Fatalf("frame %d refused", i)
			}
		}
		synctest.Wait()
		fs := ft.frames(t)
		if len(fs) != 50 {
			t.Fatalf("%d frames written, want 50", len(fs))
		}
		for i, f := range fs {
			if f.seq != uint32(i) {
				t.Fatalf("frame %d has seq %d: out of order", i, f.seq)
			}
		}
	})
}

// Everything queued while a write is under way goes out in the next single
// writeBatch.
func TestSessionFlushBatchesWhatIsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, ft := attach(t, e, "u")
		ft.block = make(chan struct{})
		s.enqueue(pong(0, 0))
		synctest.Wait() // the flusher is in its first write
		for i := uint32(1); i <= 5; i++ {
			s.enqueue(pong(i, 0))
		}
		close(ft.block)
		synctest.Wait()
		got := ft.written()
		want := [][]byte{pong(0, 0), bytes.Join([][]byte{pong(1, 0), pong(2, 0), pong(3, 0), pong(4, 0), pong(5, 0)}, nil)}
		if len(got) != len(want) || !bytes.Equal(got[0], want[0]) || !bytes.Equal(got[1], want[1]) {
			t.Fatalf("batches %q, want %q", got, want)
		}
	})
}

// A session over its queue budget is cut with 3003: what it had queued is
// dropped, the Disconnect goes out alone and the write is bounded.
func TestSessionQueueBudgetCuts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) { c.MaxQueueBytes = 100 })
		defer e.Close()
		s, ft := attach(t, e, "u")
		ft.block = make(chan struct{})
		s.enqueue(pong(0, 10))
		synctest.Wait() // taken by the flusher: the budget is free again
		if !s.enqueue(pong(1, 30)) || !s.enqueue(pong(2, 30)) {
			t.Fatal("frames within the budget refused")
		}
		if s.enqueue(pong(3, 30)) {
			t.Fatal("frame over the budget accepted")
		}
		if !s.closing() {
			t.Fatal("session over its budget still open")
		}
		ft.mu.Lock()
		bounded := !ft.writeBy.IsZero()
		ft.mu.Unlock()
		if !bounded {
			t.Fatal("cut set no write deadline")
		}
		close(ft.block)
		synctest.Wait()
		if ops := ft.ops(t); len(ops) != 2 || ops[0] != wire.OpPong || ops[1] != wire.OpDisconnect {
			t.Fatalf("frames %v, want the first pong then Disconnect", ops)
		}
		if d := ft.lastDisconnect(t); d.Code != wire.CodeSlowConsumer || d.Reason != "write queue full" {
			t.Fatalf("disconnect %d %q", d.Code, d.Reason)
		}
		if !ft.halfClose {
			t.Fatal("no closeWrite after the Disconnect")
		}
	})
}

// close sends what is queued first, then the Disconnect as the last frame;
// nothing is queued after it, and a second close changes nothing.
func TestSessionCloseQueuesDisconnectLast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, ft := attach(t, e, "u")
		ft.block = make(chan struct{})
		s.enqueue(pong(0, 0))
		synctest.Wait()
		s.enqueue(pong(1, 0))
		s.enqueue(pong(2, 0))
		s.close(disconnect{wire.CodeServerDisconnect, "bye"})
		s.close(disconnect{wire.CodeKicked, "again"})
		s.cut(disconnectSlowConsumer)
		if s.enqueue(pong(3, 0)) {
			t.Fatal("frame accepted after close")
		}
		close(ft.block)
		synctest.Wait()
		fs := ft.frames(t)
		if len(fs) != 4 || fs[0].seq != 0 || fs[1].seq != 1 || fs[2].seq != 2 {
			t.Fatalf("frames %v, want pongs 0, 1, 2 then Disconnect", ft.ops(t))
		}
		if d := ft.lastDisconnect(t); d.Code != wire.CodeServerDisconnect || d.Reason != "bye" {
			t.Fatalf("disconnect %d %q, want the first close's", d.Code, d.Reason)
		}
		if len(ft.written()) != 2 {
			t.Fatalf("%d batches, want 2 (the Disconnect batched with what was queued)", len(ft.written()))
		}
		if !ft.halfClose || ft.isClosed() {
			t.Fatalf("half-closed %v, closed %v: close must leave the hang-up to the client", ft.halfClose, ft.isClosed())
		}
	})
}

// A failed write closes the transport with 3001.
func TestSessionWriteErrorCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, ft := attach(t, e, "u")
		ft.writeErr = errors.New("connection reset")
		s.enqueue(pong(0, 0))
		synctest.Wait()
		if !ft.isClosed() || ft.closeCode != wire.CodeServerError {
			t.Fatalf("closed %v with %d, want closed with 3001", ft.isClosed(), ft.closeCode)
		}
		if s.enqueue(pong(1, 0)) {
			t.Fatal("frame accepted after a failed write")
		}
	})
}
