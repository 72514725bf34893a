package edge

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// bigRoom fills room's stream in mem with n messages of size bytes each,
// offsets 1 to n, and returns the stream's epoch.
func bigRoom(t *testing.T, mem *history.Memory, room string, n, size int) string {
	t.Helper()
	items := make([]history.Item, n)
	data := make([]byte, size)
	for i := range items {
		items[i] = history.Item{Stream: history.RoomStream(room), Entry: history.Entry{
			Offset: uint64(i + 1), ID: fmt.Sprintf("m%d", i+1), Data: data, Accepted: time.Now()}}
	}
	epochs, err := mem.Append(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	return epochs[history.RoomStream(room)]
}

// pushesAfterJoin decodes what the edge wrote after the JoinOK of room:
// the ids of the pushes, in order, and whether anything else came.
func pushesAfterJoin(t *testing.T, ft *fakeTransport, room string) []string {
	t.Helper()
	var ids []string
	joined := false
	for _, f := range ft.frames(t) {
		switch f.op {
		case wire.OpAuthOK:
		case wire.OpJoinOK:
			var ok wire.JoinOK
			if err := ok.Decode(f.body); err != nil || ok.Room != room || ok.Recovery != wire.RecoveryRecovered {
				t.Fatalf("JoinOK %+v (%v), want room %s recovered", ok, err, room)
			}
			joined = true
		case wire.OpPush:
			var p wire.Push
			if err := p.Decode(f.body); err != nil {
				t.Fatal(err)
			}
			if !joined {
				t.Fatalf("push %s before JoinOK", p.ID)
			}
			ids = append(ids, p.ID)
		default:
			t.Fatalf("unexpected %v", f.op)
		}
	}
	return ids
}

// TestReplayWithinQueueBudget: clients resuming a room with a large history
// from its start never have more queued (or held) than the connection's
// budget, even when they do not read, and each then gets every message
// exactly once, in order, followed by live pushes.
func TestReplayWithinQueueBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const (
			clients = 10
			msgs    = 1000
			size    = 8 << 10 // 8 MB of history, 8 times the budget
			budget  = 1 << 20
		)
		mem := history.NewMemory(history.Policies{Rooms: history.Policy{Size: msgs}})
		defer mem.Close()
		epoch := bigRoom(t, mem, "big", msgs, size)
		e := offlineEdge(t, func(c *Config) { c.History = mem; c.MaxQueueBytes = budget })
		defer e.Close()

		type client struct {
			s     *session
			ft    *fakeTransport
			block chan struct{}
		}
		cs := make([]client, clients)
		for i := range cs {
			s, ft := dialFake(e)
			authenticate(t, ft, fmt.Sprintf("u%d", i))
			c := client{s: s, ft: ft, block: make(chan struct{})}
			ft.block = c.block // the client stops reading
			ft.send(wire.AppendJoin(nil, 2, &wire.Join{Room: "big", Offset: 0, Epoch: epoch}))
			cs[i] = c
		}
		synctest.Wait()
		for i, c := range cs {
			c.s.mu.Lock()
			n := c.s.queued + c.s.heldBytes
			c.s.mu.Unlock()
			if n > budget {
				t.Errorf("client %d: %d bytes queued for a client that does not read, budget %d", i, n, budget)
			}
		}
		// A live push while the replays are under way comes after them.
		live := &push.Message{ID: "live", Kind: push.KindRoom, Room: "big", Data: []byte("x"), Offset: msgs + 1, Epoch: epoch}
		if _, err := mem.Append(context.Background(), []history.Item{{Stream: history.RoomStream("big"),
			Entry: history.Entry{Offset: live.Offset, ID: live.ID, Data: live.Data, Accepted: time.Now()}}}); err != nil {
			t.Fatal(err)
		}
		e.Deliver([]*push.Message{live})
		for _, c := range cs {
			close(c.block)
		}
		synctest.Wait()
		for i, c := range cs {
			ids := pushesAfterJoin(t, c.ft, "big")
			if len(ids) != msgs+1 {
				t.Fatalf("client %d got %d pushes, want %d", i, len(ids), msgs+1)
			}
			for j, id := range ids[:msgs] {
				if want := fmt.Sprintf("m%d", j+1); id != want {
					t.Fatalf("client %d push %d is %s, want %s", i, j, id, want)
				}
			}
			if ids[msgs] != "live" {
				t.Fatalf("client %d: last push %s, want the live one", i, ids[msgs])
			}
			// What a batch holds was queued at once: in memory on the edge.
			for _, b := range c.ft.written() {
				if len(b) > budget {
					t.Fatalf("client %d: a batch of %d bytes, budget %d", i, len(b), budget)
				}
			}
			if c.ft.isClosed() {
				t.Fatalf("client %d closed", i)
			}
		}
	})
}

// TestResumesPerConnectionLimited: Joins with a position past the
// connection's budget of resumes are answered with Error 104 and counted,
// and the room is not joined; Joins without a position are not limited.
func TestResumesPerConnectionLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := history.NewMemory(history.Policies{})
		defer mem.Close()
		epoch := bigRoom(t, mem, "r", 3, 10)
		reg := prometheus.NewRegistry()
		e := offlineEdge(t, func(c *Config) {
			c.History = mem
			c.MaxRooms = 4
			c.ResumesPerSec = 1
			c.MaxFramesPerSec = -1
			c.Registerer = reg
		})
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "u") // no position: not a resume
		// Burst: MaxRooms+1 resumes. Leave and re-join from the start until refused.
		seq := uint32(2)
		refused := 0
		for range 20 {
			ft.send(wire.AppendJoin(nil, seq, &wire.Join{Room: "r", Epoch: epoch}))
			seq++
			synctest.Wait()
			fs := ft.frames(t)
			last := fs[len(fs)-1]
			if last.op == wire.OpError {
				var er wire.Error
				if err := er.Decode(last.body); err != nil || er.Code != wire.ErrCodeInternal {
					t.Fatalf("error %+v (%v), want 104", er, err)
				}
				refused++
				continue
			}
			ft.send(wire.AppendRoom(nil, wire.OpLeave, seq, "r"))
			seq++
			synctest.Wait()
		}
		if refused != 20-(4+1) {
			t.Fatalf("%d resumes refused, want %d", refused, 20-5)
		}
		if n := testutil.ToFloat64(e.metrics.limited.WithLabelValues("resumes_per_conn", "fake")); n != float64(refused) {
			t.Fatalf("limited_total{resumes_per_conn} %v, want %d", n, refused)
		}
		// Without a position a Join is not a resume.
		ft.send(wire.AppendJoin(nil, seq, &wire.Join{Room: "plain"}))
		synctest.Wait()
		if fs := ft.frames(t); fs[len(fs)-1].op != wire.OpJoinOK {
			t.Fatalf("Join without a position answered %v", fs[len(fs)-1].op)
		}
		// A second later the budget has one more.
		time.Sleep(time.Second)
		ft.send(wire.AppendJoin(nil, seq+1, &wire.Join{Room: "r", Epoch: epoch}))
		synctest.Wait()
		if fs := ft.frames(t); fs[len(fs)-1].op != wire.OpPush {
			t.Fatalf("resume a second later answered %v, want the replay", fs[len(fs)-1].op)
		}
	})
}

// TestReplayTrimmedUnderSlowReader: when a slow reader's stream loses
// messages it has yet to get, the replay ends with 3003 instead of a gap.
func TestReplayTrimmedUnderSlowReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const msgs, size = 100, 8 << 10
		mem := history.NewMemory(history.Policies{Rooms: history.Policy{Size: msgs}})
		defer mem.Close()
		epoch := bigRoom(t, mem, "big", msgs, size)
		e := offlineEdge(t, func(c *Config) { c.History = mem; c.MaxQueueBytes = 64 << 10 })
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "u")
		block := make(chan struct{})
		ft.block = block
		ft.send(wire.AppendJoin(nil, 2, &wire.Join{Room: "big", Epoch: epoch}))
		synctest.Wait()
		// Newer traffic trims the half the client has not read.
		var items []history.Item
		for off := msgs + 1; off <= msgs+msgs/2; off++ {
			items = append(items, history.Item{Stream: history.RoomStream("big"), Entry: history.Entry{
				Offset: uint64(off), ID: fmt.Sprintf("m%d", off), Data: []byte("x"), Accepted: time.Now()}})
		}
		if _, err := mem.Append(context.Background(), items); err != nil {
			t.Fatal(err)
		}
		close(block)
		synctest.Wait()
		var ids []string
		for _, f := range ft.frames(t) {
			if f.op == wire.OpPush {
				var p wire.Push
				if err := p.Decode(f.body); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, p.ID)
			}
		}
		if len(ids) >= msgs/2 {
			t.Fatalf("%d pushes replayed, want fewer than the %d not trimmed", len(ids), msgs/2)
		}
		for j, id := range ids {
			if want := fmt.Sprintf("m%d", j+1); id != want {
				t.Fatalf("push %d is %s, want %s: a gap", j, id, want)
			}
		}
		if d := ft.lastDisconnect(t); d.Code != wire.CodeSlowConsumer {
			t.Fatalf("disconnect %d %q, want 3003", d.Code, d.Reason)
		}
	})
}
