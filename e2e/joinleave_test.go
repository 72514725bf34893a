package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// chatRooms opens rooms under "chat/" to join and leave notices and to
// client presence, with a short notice interval so that tests run fast.
func chatRooms(ec *edge.Config) {
	ec.Namespaces = &namespace.Set{Namespaces: []namespace.Namespace{
		{Prefix: "chat/", Options: namespace.Options{JoinLeave: true, ClientPresence: true}},
	}}
	ec.JoinLeaveInterval = 50 * time.Millisecond
}

// expectNotice reads a JoinLeave and returns it as "+user ... -user ...".
func expectNotice(t *testing.T, c rawConn, room string) string {
	t.Helper()
	_, body := expectFrame(t, c, wire.OpJoinLeave)
	var m wire.JoinLeave
	if err := m.Decode(body); err != nil || m.Room != room {
		t.Fatalf("join_leave %+v, %v; want room %s", m, err, room)
	}
	s := ""
	for _, j := range m.Joined {
		s += "+" + j.User + " "
	}
	for _, l := range m.Left {
		s += "-" + l.User + " "
	}
	return s
}

// presenceGet asks for room's presence and returns the reply: a PresenceOK
// (members as "user:key") or the Error's code.
func presenceGet(t *testing.T, c rawConn, seq uint32, room string) ([]string, *wire.PresenceOK, wire.Code) {
	t.Helper()
	if err := c.write(wire.AppendRoom(nil, wire.OpPresenceGet, seq, room)); err != nil {
		t.Fatal(err)
	}
	h, body, err := c.next()
	if err != nil {
		t.Fatalf("waiting for presence_ok: %v", err)
	}
	if h.Seq != seq {
		t.Fatalf("reply %v seq %d, want seq %d", h.Op, h.Seq, seq)
	}
	switch h.Op {
	case wire.OpError:
		var er wire.Error
		if err := er.Decode(body); err != nil {
			t.Fatal(err)
		}
		return nil, nil, er.Code
	case wire.OpPresenceOK:
		var m wire.PresenceOK
		if err := m.Decode(body); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mb := range m.Members {
			out = append(out, mb.User+":"+mb.ConnKey)
		}
		return out, &m, 0
	}
	t.Fatalf("reply %v to presence_get", h.Op)
	return nil, nil, 0
}

// TestJoinLeaveAndPresenceGet: on each transport a member of a chat room
// hears its own join, then another client's join and leave, asks who is in
// the room, gets 103 for a room it is not in and 101 where presence is
// closed to clients, and is closed with 3501 for a malformed PresenceGet.
func TestJoinLeaveAndPresenceGet(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { chatRooms(&c.Edge) })
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			room := "chat/" + kind
			c := dialRaw(t, srv, kind)
			ok := authenticate(t, c, token(t, "m-"+kind, "*"))
			join(t, c, 2, room)
			if got := expectNotice(t, c, room); got != "+m-"+kind+" " {
				t.Fatalf("own join notice %q", got)
			}
			o := dialRaw(t, srv, "tcp")
			ook := authenticate(t, o, token(t, "other", "*"))
			join(t, o, 2, room)
			if got := expectNotice(t, c, room); got != "+other " {
				t.Fatalf("notice %q, want other's join", got)
			}
			members, m, _ := presenceGet(t, c, 3, room)
			want := []string{"m-" + kind + ":" + ok.ConnKey, "other:" + ook.ConnKey}
			if !slices.Equal(members, want) || m == nil || !m.Complete || m.Conns != 2 || m.Users != 2 {
				t.Fatalf("presence %q %+v, want %q", members, m, want)
			}
			if err := o.write(wire.AppendRoom(nil, wire.OpLeave, 3, room)); err != nil {
				t.Fatal(err)
			}
			if got := expectNotice(t, c, room); got != "-other " {
				t.Fatalf("notice %q, want other's leave", got)
			}
			if _, _, code := presenceGet(t, c, 4, "chat/elsewhere"); code != wire.ErrCodeNotJoined {
				t.Fatalf("presence of a room not joined: %d, want 103", code)
			}
			join(t, c, 5, "plain-"+kind)
			if _, _, code := presenceGet(t, c, 6, "plain-"+kind); code != wire.ErrCodeForbidden {
				t.Fatalf("presence closed to clients: %d, want 101", code)
			}
			if err := c.write(wire.AppendFrame(nil, wire.OpPresenceGet, 7, []byte{9, 'x'})); err != nil {
				t.Fatal(err)
			}
			expectDisconnect(t, c, wire.CodeProtocolError)
		})
	}
}

// TestJoinLeaveCluster: two edges on redis-server. A member on edge1 hears
// a join on edge0 and its leave, and its PresenceGet lists the member on
// edge0.
func TestJoinLeaveCluster(t *testing.T) {
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	c := startClusterTTL(t, kf.ListenAddrs(), 5*time.Second, 1, 0)
	c.tuneEdge = chatRooms
	e0, e1 := c.startEdge("edge0"), c.startEdge("edge1")
	const room = "chat/x"

	b, err := dialRawTCP(e1.Edge.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	bok := authenticate(t, b, token(t, "bob", "*"))
	join(t, b, 2, room)
	if got := expectNotice(t, b, room); got != "+bob " {
		t.Fatalf("own join notice %q", got)
	}
	a, err := dialRawQUIC(t.Context(), e0.Edge.QUICAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	aok := authenticate(t, a, token(t, "alice", "*"))
	join(t, a, 2, room)
	if got := expectNotice(t, b, room); got != "+alice " {
		t.Fatalf("bob's notice %q, want alice's join from edge0", got)
	}
	if got := expectNotice(t, a, room); got != "+alice " {
		t.Fatalf("alice's notice %q, want her own join alone", got)
	}

	want := []string{"alice:" + aok.ConnKey, "bob:" + bok.ConnKey}
	seq := uint32(3)
	eventually(t, 10*time.Second, "bob's PresenceGet to list alice", func() bool {
		seq++
		members, m, _ := presenceGet(t, b, seq, room)
		if m == nil { // past the per-connection rate: wait for a token
			time.Sleep(300 * time.Millisecond)
			return false
		}
		return slices.Equal(members, want) && m.Complete && m.Conns == 2 && m.Users == 2
	})

	if err := a.write(wire.AppendRoom(nil, wire.OpLeave, 3, room)); err != nil {
		t.Fatal(err)
	}
	expectFrame(t, a, wire.OpLeaveOK)
	if got := expectNotice(t, b, room); got != "-alice " {
		t.Fatalf("bob's notice %q, want alice's leave", got)
	}
}
