package edge

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"testing"
	"testing/synctest"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// lastReply decodes the last frame ft received: a PresenceOK or an Error.
func lastReply(t *testing.T, ft *fakeTransport) (wire.Op, *wire.PresenceOK, wire.Code) {
	t.Helper()
	fs := ft.frames(t)
	f := fs[len(fs)-1]
	switch f.op {
	case wire.OpPresenceOK:
		var m wire.PresenceOK
		if err := m.Decode(f.body); err != nil {
			t.Fatal(err)
		}
		return f.op, &m, 0
	case wire.OpError:
		var er wire.Error
		if err := er.Decode(f.body); err != nil {
			t.Fatal(err)
		}
		return f.op, nil, er.Code
	}
	return f.op, nil, 0
}

// PresenceGet answers members of rooms open to client presence, 103 to a
// non-member, 101 where the namespace keeps presence to backends, 104 past
// the per-connection rate.
func TestPresenceGet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, chatNamespaces)
		defer e.Close()
		sa, fa := connectJoin(t, e, "a", "chat/1", "other")
		sa.ident.Info = `{"n":1}`
		connectJoin(t, e, "b", "chat/1")
		ask := func(seq uint32, room string) (wire.Op, *wire.PresenceOK, wire.Code) {
			fa.send(wire.AppendRoom(nil, wire.OpPresenceGet, seq, room))
			synctest.Wait()
			return lastReply(t, fa)
		}
		op, m, _ := ask(10, "chat/1")
		if op != wire.OpPresenceOK || m.Room != "chat/1" || m.Conns != 2 || m.Users != 2 || !m.Complete || len(m.Members) != 2 ||
			m.Members[0].User != "a" || string(m.Members[0].Info) != `{"n":1}` || m.Members[0].ConnKey != sa.key || m.Members[1].User != "b" {
			t.Fatalf("PresenceOK %+v", m)
		}
		if _, _, code := ask(11, "chat/2"); code != wire.ErrCodeNotJoined {
			t.Fatalf("not a member: code %d, want 103", code)
		}
		if _, _, code := ask(12, "other"); code != wire.ErrCodeForbidden {
			t.Fatalf("presence off: code %d, want 101", code)
		}
		for i := range presenceGetsBurst - 1 {
			if op, _, _ := ask(uint32(20+i), "chat/1"); op != wire.OpPresenceOK {
				t.Fatalf("request %d within the burst: %v", i+2, op)
			}
		}
		if _, _, code := ask(30, "chat/1"); code != wire.ErrCodeInternal {
			t.Fatalf("past the rate: code %d, want 104", code)
		}
	})
}

// failingPresence is a cluster store that cannot be read.
type failingPresence struct{}

func (failingPresence) Presence(context.Context, string, string, int) (push.Presence, error) {
	return push.Presence{}, errors.New("redis down")
}

// A failed store read is 104; a malformed PresenceGet closes with 3501.
func TestPresenceGetFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) { chatNamespaces(c); c.Presence = failingPresence{} })
		defer e.Close()
		_, ft := connectJoin(t, e, "a", "chat/1")
		ft.send(wire.AppendRoom(nil, wire.OpPresenceGet, 5, "chat/1"))
		synctest.Wait()
		if _, _, code := lastReply(t, ft); code != wire.ErrCodeInternal {
			t.Fatalf("store failure: code %d, want 104", code)
		}
		ft.send(wire.AppendFrame(nil, wire.OpPresenceGet, 6, []byte{9, 'x'}))
		synctest.Wait()
		if d := ft.lastDisconnect(t); d.Code != wire.CodeProtocolError {
			t.Fatalf("malformed PresenceGet: disconnect %d, want 3501", d.Code)
		}
	})
}

// The answer lists members within the list limit and one frame, and says
// Complete only when it lists the whole room.
func TestPresenceOKBounds(t *testing.T) {
	var conns []push.PresenceConn
	for i := range 50 {
		conns = append(conns, push.PresenceConn{Key: string(rune('A' + i)), User: string(rune('a' + i)), Info: `{"x":"` + string(make([]byte, 1000)) + `"}`})
	}
	users, more := push.PagePresence(conns, "", 1000)
	p := &push.Presence{Listed: true, Users: users, More: more, Stats: push.PresenceStats{Conns: 50, Users: 50}}
	if m := presenceOK("r", p, 1000); len(m.Members) != 50 || !m.Complete {
		t.Fatalf("%d members complete %v, want 50 and complete", len(m.Members), m.Complete)
	}
	if m := presenceOK("r", p, 10); len(m.Members) != 10 || m.Complete || m.Conns != 50 {
		t.Fatalf("list limit: %d members complete %v", len(m.Members), m.Complete)
	}
	for i := range 50 {
		conns = append(conns, push.PresenceConn{Key: "k" + string(rune('A'+i)), User: "z" + string(rune('a'+i)), Info: conns[0].Info})
	}
	users, more = push.PagePresence(conns, "", 1000)
	p = &push.Presence{Listed: true, Users: users, More: more, Stats: push.PresenceStats{Conns: 100, Users: 100}}
	m := presenceOK("r", p, 1000)
	if buf := wire.AppendPresenceOK(nil, 1, m); len(buf) > noticeFrameMax || m.Complete || len(m.Members) == 0 {
		t.Fatalf("frame of %d bytes with %d members, complete %v", len(buf), len(m.Members), m.Complete)
	}
	if m := presenceOK("r", &push.Presence{Listed: false, Stats: push.PresenceStats{Conns: 5000}}, 1000); m.Complete || len(m.Members) != 0 {
		t.Fatal("a counts-only room is not complete")
	}
}

// PresenceGet reads the connection's rooms while Subscribe and Unsubscribe
// orders change them on the session's order goroutine: with nothing to
// order them in between, the race detector sees any access to the rooms
// outside the membership lock.
func TestPresenceGetDuringOrders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) {
			chatNamespaces(c)
			c.MaxFramesPerSec, c.MaxBytesPerSec = -1, -1
		})
		defer e.Close()
		sa, fa := connectJoin(t, e, "a", "chat/1")
		go func() {
			for i := range 200 {
				fa.send(wire.AppendRoom(nil, wire.OpPresenceGet, uint32(100+i), "chat/1"))
			}
		}()
		for round := range 4 {
			kind := push.KindSubscribe
			if round%2 == 1 {
				kind = push.KindUnsubscribe
			}
			for i := range 50 {
				e.Deliver([]*push.Message{order0(kind, "chat/x"+strconv.Itoa(i), "a")})
			}
			runtime.Gosched()
		}
		synctest.Wait()
		if sa.closing() {
			t.Fatal("the connection closed")
		}
	})
}
