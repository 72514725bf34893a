package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/wire"
)

// fakeServerRooms is a user's server-side rooms as a store would list them.
type fakeServerRooms struct {
	mu    sync.Mutex
	rooms map[string][]string
	err   error
	reads int
}

func (f *fakeServerRooms) Rooms(_ context.Context, user string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return slices.Clone(f.rooms[user]), f.err
}

// said summarizes what the edge wrote: "AuthOK", "JoinOK r@3 recovered",
// "Subscribed r@3", "Subscribed r" (no position), "Unsubscribed r",
// "Push r/id", "Error 101", "Pong".
func said(t *testing.T, ft *fakeTransport) []string {
	t.Helper()
	var out []string
	for _, f := range ft.frames(t) {
		switch f.op {
		case wire.OpJoinOK, wire.OpSubscribed:
			var ok wire.JoinOK
			if err := ok.Decode(f.body); err != nil {
				t.Fatal(err)
			}
			s := "JoinOK " + ok.Room
			if f.op == wire.OpSubscribed {
				s = "Subscribed " + ok.Room
			}
			if ok.Epoch != "" {
				s += fmt.Sprintf("@%d", ok.Offset)
			}
			if f.op == wire.OpJoinOK && ok.Recovery == wire.RecoveryRecovered {
				s += " recovered"
			}
			out = append(out, s)
		case wire.OpUnsubscribed:
			var r wire.RoomReply
			if err := r.Decode(f.body); err != nil {
				t.Fatal(err)
			}
			out = append(out, "Unsubscribed "+r.Room)
		case wire.OpPush:
			var p wire.Push
			if err := p.Decode(f.body); err != nil {
				t.Fatal(err)
			}
			out = append(out, "Push "+p.Room+"/"+p.ID)
		case wire.OpError:
			var er wire.Error
			if err := er.Decode(f.body); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("Error %d", er.Code))
		case wire.OpAuthOK:
			out = append(out, "AuthOK")
		case wire.OpLeaveOK:
			out = append(out, "LeaveOK")
		case wire.OpPong:
			out = append(out, "Pong")
		default:
			out = append(out, f.op.String())
		}
	}
	return out
}

func wantSaid(t *testing.T, ft *fakeTransport, want ...string) {
	t.Helper()
	if got := said(t, ft); !slices.Equal(got, want) {
		t.Fatalf("edge wrote\n  %s\nwant\n  %s", strings.Join(got, ", "), strings.Join(want, ", "))
	}
}

func order0(kind push.Kind, room string, users ...string) *push.Message {
	return &push.Message{ID: "o-" + room, Kind: kind, Room: room, Users: users}
}

func roomPush(mem *history.Memory, room, id string, offset uint64) *push.Message {
	m := &push.Message{ID: id, Kind: push.KindRoom, Room: room, Data: []byte(id), Offset: offset}
	if mem != nil {
		epochs, err := mem.Append(context.Background(), []history.Item{{Stream: history.RoomStream(room),
			Entry: history.Entry{Offset: offset, ID: id, Data: m.Data, Accepted: time.Now()}}})
		if err != nil {
			panic(err)
		}
		m.Epoch = epochs[history.RoomStream(room)]
	}
	return m
}

// TestJoinRules: each namespace's join rule decides client Joins, and a
// server-side room of the connection may be joined whatever the rule.
func TestJoinRules(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ns := &namespace.Set{}
		ns.Add(namespace.Namespace{Prefix: "pub/", Options: namespace.Options{Join: namespace.JoinPublic}})
		ns.Add(namespace.Namespace{Prefix: "srv/", Options: namespace.Options{Join: namespace.JoinServer}})
		e := offlineEdge(t, func(c *Config) { c.Auth = roomsAuth{"u:tok": {User: "u", Rooms: []string{"tok"}}}; c.Namespaces = ns })
		defer e.Close()
		_, ft := dialFake(e)
		ft.send(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u:tok"}))
		for i, room := range []string{"pub/a", "srv/a", "tok", "other"} {
			ft.send(wire.AppendJoin(nil, uint32(2+i), &wire.Join{Room: room}))
		}
		synctest.Wait()
		wantSaid(t, ft, "AuthOK", "JoinOK pub/a", "Error 101", "JoinOK tok", "Error 101")

		// The backend gives the user srv/b and other; the client leaves
		// them and may join them again.
		e.Deliver([]*push.Message{order0(push.KindSubscribe, "srv/b", "u"), order0(push.KindSubscribe, "other", "u")})
		synctest.Wait()
		ft.send(wire.AppendRoom(nil, wire.OpLeave, 6, "srv/b"))
		ft.send(wire.AppendJoin(nil, 7, &wire.Join{Room: "srv/b"}))
		ft.send(wire.AppendJoin(nil, 8, &wire.Join{Room: "srv/a"}))
		synctest.Wait()
		wantSaid(t, ft, "AuthOK", "JoinOK pub/a", "Error 101", "JoinOK tok", "Error 101",
			"Subscribed srv/b", "Subscribed other", "LeaveOK", "JoinOK srv/b", "Error 101")
		// Unsubscribed: no longer open.
		e.Deliver([]*push.Message{order0(push.KindUnsubscribe, "srv/b", "u")})
		synctest.Wait()
		ft.send(wire.AppendJoin(nil, 9, &wire.Join{Room: "srv/b"}))
		synctest.Wait()
		if got := said(t, ft); !slices.Equal(got[len(got)-2:], []string{"Unsubscribed srv/b", "Error 101"}) {
			t.Fatalf("after Unsubscribe: %v", got)
		}
	})
}

// TestJoinProxyNeedsProxy: a namespace whose joins the join hook decides
// cannot be served by an edge without hooks.
func TestJoinProxyNeedsProxy(t *testing.T) {
	ns := &namespace.Set{}
	ns.Add(namespace.Namespace{Prefix: "hooked/", Options: namespace.Options{Join: namespace.JoinProxy}})
	_, err := newEdge(Config{Auth: testAuth{}, TLS: &tls.Config{}, Namespaces: ns})
	if err == nil || !strings.Contains(err.Error(), "join=proxy") {
		t.Fatalf("newEdge: %v, want the join hook missing", err)
	}
}

// TestServerRoomsAfterAnnouncedJoins: at Auth the user's server-side rooms
// are read; a room the client rejoins with its position among the Joins it
// announced is resumed from there, and the others arrive with Subscribed
// once those Joins are handled.
func TestServerRoomsAfterAnnouncedJoins(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := history.NewMemory(history.Policies{})
		defer mem.Close()
		epoch := bigRoom(t, mem, "a", 3, 1)
		bigRoom(t, mem, "b", 2, 1)
		store := &fakeServerRooms{rooms: map[string][]string{"u": {"a", "b", "c"}}}
		ns := &namespace.Set{}
		ns.Add(namespace.Namespace{Options: namespace.Options{Join: namespace.JoinServer}})
		e := offlineEdge(t, func(c *Config) { c.History = mem; c.ServerRooms = store; c.Namespaces = ns })
		defer e.Close()

		// Two announced Joins: a resumed from 1, then one the rule refuses.
		_, ft := dialFake(e)
		ft.send(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u", Joins: 2}))
		ft.send(wire.AppendJoin(nil, 2, &wire.Join{Room: "a", Offset: 1, Epoch: epoch}))
		synctest.Wait()
		wantSaid(t, ft, "AuthOK", "JoinOK a@3 recovered", "Push a/m2", "Push a/m3")
		ft.send(wire.AppendJoin(nil, 3, &wire.Join{Room: "x"}))
		synctest.Wait()
		wantSaid(t, ft, "AuthOK", "JoinOK a@3 recovered", "Push a/m2", "Push a/m3", "Error 101", "Subscribed b@2", "Subscribed c@0")
		var ok wire.AuthOK
		if err := ok.Decode(ft.frames(t)[0].body); err != nil || ok.Revision != wire.Revision {
			t.Fatalf("AuthOK revision %d (%v), want %d", ok.Revision, err, wire.Revision)
		}

		// No Joins announced: the rooms follow AuthOK.
		_, ft = dialFake(e)
		ft.send(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u"}))
		synctest.Wait()
		wantSaid(t, ft, "AuthOK", "Subscribed a@3", "Subscribed b@2", "Subscribed c@0")

		// Joins announced but another frame first: the rooms come before
		// its answer.
		_, ft = dialFake(e)
		ft.send(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u", Joins: 5}))
		ft.send(wire.AppendFrame(nil, wire.OpPing, 2, nil))
		synctest.Wait()
		wantSaid(t, ft, "AuthOK", "Subscribed a@3", "Subscribed b@2", "Subscribed c@0", "Pong")

		// The store failing: the connection goes on without its rooms.
		store.mu.Lock()
		store.err = errors.New("down")
		store.mu.Unlock()
		_, ft = dialFake(e)
		ft.send(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u"}))
		synctest.Wait()
		wantSaid(t, ft, "AuthOK")
		if n := testutil.ToFloat64(e.metrics.serverRoomsErrors); n != 1 {
			t.Fatalf("server_rooms_errors_total %v, want 1", n)
		}
	})
}

// TestSubscribeOrders: a Subscribe puts every connection of the user in the
// room with its position, then the room's pushes follow; a second one only
// says so; Unsubscribe takes them out and the pushes stop. Past MaxRooms a
// subscription is skipped and counted.
func TestSubscribeOrders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := history.NewMemory(history.Policies{})
		defer mem.Close()
		bigRoom(t, mem, "r", 2, 1)
		e := offlineEdge(t, func(c *Config) { c.History = mem; c.MaxRooms = 2 })
		defer e.Close()
		_, ft1 := dialFake(e)
		authenticate(t, ft1, "u")
		_, ft2 := dialFake(e)
		authenticate(t, ft2, "u")
		s3, ft3 := dialFake(e)
		authenticate(t, ft3, "v")

		e.Deliver([]*push.Message{order0(push.KindSubscribe, "r", "u")})
		synctest.Wait()
		e.Deliver([]*push.Message{roomPush(mem, "r", "p3", 3), order0(push.KindSubscribe, "r", "u")})
		synctest.Wait()
		for _, ft := range []*fakeTransport{ft1, ft2} {
			wantSaid(t, ft, "AuthOK", "Subscribed r@2", "Push r/p3", "Subscribed r")
		}
		wantSaid(t, ft3, "AuthOK")

		// One connection by key.
		e.Deliver([]*push.Message{{ID: "k", Kind: push.KindSubscribe, Room: "r", Keys: []string{s3.key}}})
		synctest.Wait()
		wantSaid(t, ft3, "AuthOK", "Subscribed r@3")

		e.Deliver([]*push.Message{order0(push.KindUnsubscribe, "r", "u")})
		synctest.Wait()
		e.Deliver([]*push.Message{roomPush(mem, "r", "p4", 4)})
		synctest.Wait()
		for _, ft := range []*fakeTransport{ft1, ft2} {
			wantSaid(t, ft, "AuthOK", "Subscribed r@2", "Push r/p3", "Subscribed r", "Unsubscribed r")
		}
		wantSaid(t, ft3, "AuthOK", "Subscribed r@3", "Push r/p4")

		// MaxRooms 2: the third room is skipped.
		e.Deliver([]*push.Message{order0(push.KindSubscribe, "x", "v"), order0(push.KindSubscribe, "y", "v")})
		synctest.Wait()
		wantSaid(t, ft3, "AuthOK", "Subscribed r@3", "Push r/p4", "Subscribed x@0")
		if n := testutil.ToFloat64(e.metrics.subscriptionsSkipped.WithLabelValues("max_rooms")); n != 1 {
			t.Fatalf("subscriptions_skipped_total{max_rooms} %v, want 1", n)
		}
	})
}

// TestSubscribeDuringResume: a Subscribe arriving while the reader's Join
// replays a room (the client not reading) waits for that Join: the replay
// is whole and in order, Subscribed follows it, and every push to either
// room arrives once.
func TestSubscribeDuringResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const msgs, size = 200, 8 << 10
		mem := history.NewMemory(history.Policies{Rooms: history.Policy{Size: msgs + 10}})
		defer mem.Close()
		epoch := bigRoom(t, mem, "big", msgs, size)
		e := offlineEdge(t, func(c *Config) { c.History = mem; c.MaxQueueBytes = 256 << 10 })
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "u")
		block := make(chan struct{})
		ft.block = block
		ft.send(wire.AppendJoin(nil, 2, &wire.Join{Room: "big", Epoch: epoch}))
		synctest.Wait() // the replay waits on the client
		e.Deliver([]*push.Message{order0(push.KindSubscribe, "s", "u"), roomPush(mem, "big", "live", msgs+1)})
		synctest.Wait()
		e.Deliver([]*push.Message{roomPush(mem, "s", "s1", 1)})
		close(block)
		synctest.Wait()
		e.Deliver([]*push.Message{roomPush(mem, "s", "s2", 2)})
		synctest.Wait()
		got := said(t, ft)
		want := []string{"AuthOK", "JoinOK big@200 recovered"}
		for i := 1; i <= msgs; i++ {
			want = append(want, fmt.Sprintf("Push big/m%d", i))
		}
		// s1 was pushed before the subscription took effect: it is in
		// the room's history, below the position Subscribed names.
		want = append(want, "Push big/live", "Subscribed s@1", "Push s/s2")
		if !slices.Equal(got, want) {
			t.Fatalf("edge wrote %d frames\n  %v\nwant %d\n  %v", len(got), got[max(0, len(got)-5):], len(want), want[len(want)-5:])
		}
	})
}

// TestUnsubscribeDuringResume: an Unsubscribe of the room a Join is
// replaying waits for the Join: the replay ends whole, then Unsubscribed
// comes and the room's pushes stop.
func TestUnsubscribeDuringResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const msgs, size = 100, 8 << 10
		mem := history.NewMemory(history.Policies{Rooms: history.Policy{Size: msgs + 10}})
		defer mem.Close()
		epoch := bigRoom(t, mem, "big", msgs, size)
		e := offlineEdge(t, func(c *Config) { c.History = mem; c.MaxQueueBytes = 128 << 10 })
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "u")
		block := make(chan struct{})
		ft.block = block
		ft.send(wire.AppendJoin(nil, 2, &wire.Join{Room: "big", Epoch: epoch}))
		synctest.Wait()
		e.Deliver([]*push.Message{order0(push.KindUnsubscribe, "big", "u")})
		close(block)
		synctest.Wait()
		e.Deliver([]*push.Message{roomPush(mem, "big", "late", msgs+1)})
		synctest.Wait()
		want := []string{"AuthOK", "JoinOK big@100 recovered"}
		for i := 1; i <= msgs; i++ {
			want = append(want, fmt.Sprintf("Push big/m%d", i))
		}
		want = append(want, "Unsubscribed big")
		if got := said(t, ft); !slices.Equal(got, want) {
			t.Fatalf("edge wrote %d frames, ending %v; want %d ending %v", len(got), got[max(0, len(got)-3):], len(want), want[len(want)-3:])
		}
	})
}

// TestOrdersWaitingAreBounded: while the membership lock is held (a Join
// replaying to a slow client), a session's waiting orders keep the last one
// of each room, so Subscribe and Unsubscribe in a loop cost one entry; past
// the bound of rooms the connection is closed with 3001, and its client
// reconnects to read its rooms afresh.
func TestOrdersWaitingAreBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, ft := dialFake(e)
		authenticate(t, ft, "u")
		synctest.Wait()
		s.member.Lock()
		for i := range 1000 {
			kind := push.KindSubscribe
			if i%2 == 1 {
				kind = push.KindUnsubscribe
			}
			e.Deliver([]*push.Message{order0(kind, "loop", "u")})
		}
		s.ordersMu.Lock()
		waiting := slices.Clone(s.orders)
		s.ordersMu.Unlock()
		if len(waiting) != 1 || waiting[0] != (order{room: "loop", sub: false}) {
			t.Fatalf("waiting orders %v, want the last one of the room only", waiting)
		}
		for i := range maxPendingOrders(e.cfg.MaxRooms) {
			e.Deliver([]*push.Message{order0(push.KindSubscribe, "r"+strconv.Itoa(i), "u")})
		}
		s.member.Unlock()
		synctest.Wait()
		if d := ft.lastDisconnect(t); d.Code != wire.CodeServerError {
			t.Fatalf("disconnect %d, want 3001 past the bound", d.Code)
		}
	})
}
