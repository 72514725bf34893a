package edge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/wire"
)

// chatNamespaces turns join and leave notices and client presence on for
// rooms under "chat/"; other rooms keep the defaults (both off).
func chatNamespaces(c *Config) {
	c.PingInterval = time.Hour
	c.Namespaces = &namespace.Set{Namespaces: []namespace.Namespace{
		{Prefix: "chat/", Options: namespace.Options{JoinLeave: true, ClientPresence: true}},
	}}
}

// noticesOf decodes the JoinLeave frames ft received, in order, as
// "room +joined -left ~omitted" with members by user.
func noticesOf(t *testing.T, ft *fakeTransport) []string {
	t.Helper()
	var out []string
	for _, f := range ft.frames(t) {
		if f.op != wire.OpJoinLeave {
			continue
		}
		var m wire.JoinLeave
		if err := m.Decode(f.body); err != nil {
			t.Fatal(err)
		}
		s := m.Room
		for _, j := range m.Joined {
			s += " +" + j.User
		}
		for _, l := range m.Left {
			s += " -" + l.User
		}
		if m.Omitted > 0 {
			s += fmt.Sprintf(" ~%d", m.Omitted)
		}
		out = append(out, s)
	}
	return out
}

// connectJoin authenticates user on a fake transport and joins rooms through
// the protocol, checking each JoinOK.
func connectJoin(t *testing.T, e *Edge, user string, rooms ...string) (*session, *fakeTransport) {
	t.Helper()
	s, ft := dialFake(e)
	authenticate(t, ft, user)
	for i, r := range rooms {
		ft.send(wire.AppendJoin(nil, uint32(2+i), &wire.Join{Room: r}))
	}
	synctest.Wait()
	return s, ft
}

func sameNotices(got []string, want ...string) bool { return slices.Equal(got, want) }

// Notices are coalesced per interval, a member hears its own join but not
// its own leave, a join and leave within one interval is no news, and a
// room whose namespace has notices off gets none.
func TestJoinLeaveNotices(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, chatNamespaces)
		defer e.Close()
		tick := func() { time.Sleep(e.cfg.JoinLeaveInterval); synctest.Wait() }
		_, fa := connectJoin(t, e, "a", "chat/1", "other")
		tick()
		if got := noticesOf(t, fa); !sameNotices(got, "chat/1 +a") {
			t.Fatalf("a's notices %q, want its own join", got)
		}
		_, fb := connectJoin(t, e, "b", "chat/1", "other")
		_, fc := connectJoin(t, e, "c", "chat/1")
		fc.send(wire.AppendRoom(nil, wire.OpLeave, 3, "chat/1"))
		synctest.Wait()
		tick()
		if got := noticesOf(t, fa); !sameNotices(got, "chat/1 +a", "chat/1 +b") {
			t.Fatalf("a's notices %q: want b's join once, c's join and leave cancelled out", got)
		}
		if got := noticesOf(t, fb); !sameNotices(got, "chat/1 +b") {
			t.Fatalf("b's notices %q", got)
		}
		if got := noticesOf(t, fc); len(got) != 0 {
			t.Fatalf("c left before the notice and heard %q", got)
		}
		fb.send(wire.AppendRoom(nil, wire.OpLeave, 4, "chat/1"))
		synctest.Wait()
		tick()
		tick() // a quiet interval sends nothing
		if got := noticesOf(t, fa); !sameNotices(got, "chat/1 +a", "chat/1 +b", "chat/1 -b") {
			t.Fatalf("a's notices %q, want b's leave", got)
		}
		if got := noticesOf(t, fb); !sameNotices(got, "chat/1 +b") {
			t.Fatalf("b heard its own leave: %q", got)
		}
		// A disconnect is a leave.
		_, fd := connectJoin(t, e, "d", "chat/1")
		tick()
		close(fd.in) // the client hangs up
		synctest.Wait()
		tick()
		if got := noticesOf(t, fa); !sameNotices(got, "chat/1 +a", "chat/1 +b", "chat/1 -b", "chat/1 +d", "chat/1 -d") {
			t.Fatalf("a's notices %q, want d's join then its leave on disconnect", got)
		}
	})
}

// A notice lists at most 100 joins and 100 leaves and counts the rest.
func TestJoinLeaveNoticeLimits(t *testing.T) {
	e := unstartedEdge(t, chatNamespaces)
	defer e.Close()
	var ss []*session
	for i := range 250 {
		s, _ := attach(t, e, fmt.Sprintf("u%03d", i))
		if err := joinRoom(e, s, "chat/big"); err != nil {
			t.Fatal(err)
		}
		ss = append(ss, s)
	}
	p := e.hub.notices.take()["chat/big"]
	var m wire.JoinLeave
	buf := encodeNotice("chat/big", &p.all)
	h, body, _, ok, err := wire.Split(buf, len(buf))
	if err != nil || !ok || h.Op != wire.OpJoinLeave || m.Decode(body) != nil {
		t.Fatalf("notice does not decode: %v %v", ok, err)
	}
	if len(m.Joined) != 100 || len(m.Left) != 0 || m.Omitted != 150 || m.Joined[0].User != "u000" || m.Joined[99].User != "u099" {
		t.Fatalf("notice %d joined, %d left, %d omitted; want 100, 0, 150", len(m.Joined), len(m.Left), m.Omitted)
	}
	for _, s := range ss[:120] {
		leaveRoom(e, s, "chat/big")
	}
	p = e.hub.notices.take()["chat/big"]
	if len(p.all.left) != 120 || len(p.all.joined) != 0 {
		t.Fatalf("pending %d left %d joined, want 120 and 0", len(p.all.left), len(p.all.joined))
	}
	b := e.hub.notices.batch("chat/big", &p.all)
	if len(b.Left) != 100 || b.Omitted != 20 {
		t.Fatalf("batch %d left %d omitted, want 100 and 20", len(b.Left), b.Omitted)
	}
	// Large infos are cut to one frame every client accepts.
	ch := &changes{}
	for i := range 100 {
		ch.add(push.PresenceConn{Key: fmt.Sprint(i), User: "u", Info: `{"x":"` + string(make([]byte, 1000)) + `"}`}, true)
	}
	if buf := encodeNotice("chat/big", ch); len(buf) > noticeFrameMax {
		t.Fatalf("notice of %d bytes, more than %d", len(buf), noticeFrameMax)
	}
}

// With no namespace turning notices on the edge records nothing and runs
// no notice loop.
func TestJoinLeaveOffCostsNothing(t *testing.T) {
	e := unstartedEdge(t, func(c *Config) {
		c.Namespaces = &namespace.Set{Namespaces: []namespace.Namespace{{Prefix: "x/", Options: namespace.Options{ClientPresence: true}}}}
	})
	defer e.Close()
	if e.hub.notices != nil {
		t.Fatal("notices kept with no namespace asking for them")
	}
	s, _ := attach(t, e, "a")
	if err := joinRoom(e, s, "x/1"); err != nil {
		t.Fatal(err)
	}
	e.MergeJoinLeave(push.JoinLeave{Edge: "other", Room: "x/1", Joined: []push.PresenceConn{{Key: "k", User: "b"}}})
}

// fakeBus records what the edge publishes.
type fakeBus struct {
	mu      sync.Mutex
	batches []push.JoinLeave
}

func (b *fakeBus) PublishJoinLeave(_ context.Context, bs []push.JoinLeave) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batches = append(b.batches, bs...)
	return nil
}

// In a cluster the edge publishes its own changes, one batch per room per
// interval, and merges other edges' batches into its notices for the rooms
// it holds; its own batches coming back are ignored.
func TestJoinLeaveCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		bus := &fakeBus{}
		e := offlineEdge(t, func(c *Config) { chatNamespaces(c); c.JoinLeave = bus; c.ID = "e1" })
		defer e.Close()
		tick := func() { time.Sleep(e.cfg.JoinLeaveInterval); synctest.Wait() }
		sa, fa := connectJoin(t, e, "a", "chat/1")
		e.MergeJoinLeave(push.JoinLeave{Edge: "e2", Room: "chat/1", Joined: []push.PresenceConn{{Key: "e2-x", User: "x"}}, Omitted: 3})
		e.MergeJoinLeave(push.JoinLeave{Edge: "e2", Room: "chat/2", Joined: []push.PresenceConn{{Key: "e2-y", User: "y"}}})
		e.MergeJoinLeave(push.JoinLeave{Edge: "e1", Room: "chat/1", Joined: []push.PresenceConn{{Key: sa.key, User: "a"}}})
		tick()
		if got := noticesOf(t, fa); !sameNotices(got, "chat/1 +a +x ~3") {
			t.Fatalf("a's notices %q, want its join and x's in one notice", got)
		}
		bus.mu.Lock()
		got := bus.batches
		bus.mu.Unlock()
		if len(got) != 1 || got[0].Edge != "e1" || got[0].Room != "chat/1" || len(got[0].Joined) != 1 || got[0].Joined[0].Key != sa.key || got[0].Omitted != 0 {
			t.Fatalf("published %+v, want a's join alone", got)
		}
		tick()
		if bus.mu.Lock(); len(bus.batches) != 1 {
			t.Fatalf("a quiet interval published %d batches", len(bus.batches)-1)
		}
		bus.mu.Unlock()
	})
}
