package quicpush

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// connectRev5 connects a client with rec's handlers to s, a revision-5 edge
// on TCP, and returns it once the edge has seen its Auth.
func connectRev5(t *testing.T, s *testServer, rec *recorder) *Client {
	t.Helper()
	s.revision = wire.Revision
	c := newClient(t, []string{s.listenTCP(nil)}, append(rec.options(),
		WithToken(testToken), WithBackoff(5*time.Millisecond, 20*time.Millisecond))...)
	if err := c.Connect(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, rec.connects); ev.Revision != wire.Revision {
		t.Fatalf("connect event %+v, want revision %d", ev, wire.Revision)
	}
	if a := s.next(wire.OpAuth); a.joins != 0 {
		t.Fatalf("first Auth announces %d joins, want 0", a.joins)
	}
	return c
}

func mustSend(t *testing.T, sc *serverConn, frames ...[]byte) {
	t.Helper()
	for _, f := range frames {
		if err := sc.send(f); err != nil {
			t.Fatal(err)
		}
	}
}

func subscribedFrame(room string, offset uint64, epoch string) []byte {
	return wire.AppendSubscribed(nil, &wire.Subscribed{Room: room, Offset: offset, Epoch: epoch})
}

// TestServerSideRooms: a room the backend puts the client in is held like a
// joined one (position, dedup, Rooms, rejoined with its position and counted
// in Auth's joins) until Unsubscribed drops it.
func TestServerSideRooms(t *testing.T) {
	leakCheck(t)
	s := newTestServer(t)
	rec := newRecorder()
	c := connectRev5(t, s, rec)
	ctx := testContext(t)
	if c.Revision() != wire.Revision {
		t.Fatalf("Revision() = %d", c.Revision())
	}
	if err := c.Join(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	s.next(wire.OpJoin)

	sc := s.conn(0)
	mustSend(t, sc, subscribedFrame("srv", 10, "e"))
	if ev := recv(t, rec.subs); ev != (SubscriptionEvent{Room: "srv", Subscribed: true, Offset: 10, Epoch: "e"}) {
		t.Fatalf("subscription event %+v", ev)
	}
	// The subscription's position marks its start: a push at it is a repeat.
	p10 := wire.Push{Kind: wire.PushRoom, Room: "srv", ID: "a", Offset: 10, Epoch: "e", Data: []byte("old")}
	p11 := wire.Push{Kind: wire.PushRoom, Room: "srv", ID: "b", Offset: 11, Epoch: "e", Data: []byte("new")}
	mustSend(t, sc, wire.AppendPush(nil, &p10), wire.AppendPush(nil, &p11))
	samePush(t, recv(t, rec.msgs), &p11)
	if n := c.Duplicates(); n != 1 {
		t.Fatalf("Duplicates() = %d, want 1", n)
	}
	// A Subscribed for a room the client holds as server-side says nothing
	// and keeps the position; one for a room it joined makes it server-side.
	mustSend(t, sc, subscribedFrame("srv", 0, ""), subscribedFrame("mine", 0, ""))
	if ev := recv(t, rec.subs); ev != (SubscriptionEvent{Room: "mine", Subscribed: true}) {
		t.Fatalf("subscription event %+v, want mine only", ev)
	}
	want := []Room{{Name: "mine", ServerSide: true, Joined: true}, {Name: "srv", ServerSide: true, Joined: true, Offset: 11, Epoch: "e"}}
	if got := c.Rooms(); !slices.Equal(got, want) {
		t.Fatalf("Rooms() = %+v, want %+v", got, want)
	}

	// A reconnect rejoins both with their positions, counted in Auth.
	sc.disconnect(wire.CodeShutdown, "draining")
	recv(t, rec.disconnects)
	recv(t, rec.connects)
	if a := s.next(wire.OpAuth); a.joins != 2 {
		t.Fatalf("reconnect's Auth announces %d joins, want 2", a.joins)
	}
	joins := map[string]serverEvent{}
	for range 2 {
		j := s.next(wire.OpJoin)
		joins[j.join.Room] = j
	}
	if joins["srv"].join != (wire.Join{Room: "srv", Offset: 11, Epoch: "e"}) || joins["mine"].join != (wire.Join{Room: "mine"}) {
		t.Fatalf("rejoins %+v", joins)
	}
	if seqs := []uint32{joins["srv"].seq, joins["mine"].seq}; slices.Min(seqs) != 2 || slices.Max(seqs) != 3 {
		t.Fatalf("rejoin seqs %v, want 2 and 3 (right behind Auth)", seqs)
	}
	waitFor(t, 5*time.Second, "the rooms rejoined", func() bool {
		rooms := c.Rooms()
		return len(rooms) == 2 && rooms[0].Joined && rooms[1].Joined
	})

	// Unsubscribed drops the room and its position; one for a room the
	// client is not in changes nothing.
	mustSend(t, s.conn(1), wire.AppendRoom(nil, wire.OpUnsubscribed, 0, "srv"), wire.AppendRoom(nil, wire.OpUnsubscribed, 0, "nowhere"))
	if ev := recv(t, rec.subs); ev != (SubscriptionEvent{Room: "srv"}) {
		t.Fatalf("subscription event %+v", ev)
	}
	if off, ep := c.Position("srv"); off != 0 || ep != "" {
		t.Fatalf("Position(srv) = %d %q after Unsubscribed", off, ep)
	}
	s.conn(1).disconnect(wire.CodeShutdown, "draining")
	recv(t, rec.connects)
	if a := s.next(wire.OpAuth); a.joins != 1 {
		t.Fatalf("Auth announces %d joins, want 1", a.joins)
	}
	if j := s.next(wire.OpJoin); j.join.Room != "mine" {
		t.Fatalf("rejoin of %q", j.join.Room)
	}
	s.none(100*time.Millisecond, wire.OpJoin)
	if len(rec.subs) != 0 {
		t.Fatalf("unexpected subscription event %+v", <-rec.subs)
	}
}

// TestServerSideRoomRefusedOnRejoin: when the backend took the user out of a
// server-side room while the client was away, the rejoin is refused and the
// client drops the room with an Unsubscribed event, not an error; a joined
// room refused the same way raises no such event.
func TestServerSideRoomRefusedOnRejoin(t *testing.T) {
	leakCheck(t)
	s := newTestServer(t)
	rec := newRecorder()
	c := connectRev5(t, s, rec)
	ctx := testContext(t)
	if err := c.Join(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	s.next(wire.OpJoin)
	mustSend(t, s.conn(0), subscribedFrame("srv", 0, ""))
	recv(t, rec.subs)

	s.forbid("srv")
	s.forbid("mine")
	s.conn(0).disconnect(wire.CodeShutdown, "draining")
	recv(t, rec.connects)
	if a := s.next(wire.OpAuth); a.joins != 2 {
		t.Fatalf("Auth announces %d joins, want 2", a.joins)
	}
	if ev := recv(t, rec.subs); ev != (SubscriptionEvent{Room: "srv"}) {
		t.Fatalf("subscription event %+v", ev)
	}
	waitFor(t, 5*time.Second, "both rooms dropped", func() bool { return len(c.Rooms()) == 0 })
	if len(rec.subs) != 0 {
		t.Fatalf("unexpected subscription event %+v", <-rec.subs)
	}
	if c.ConnKey() != "key-2" {
		t.Fatalf("ConnKey() = %q: the refusals must not end the connection", c.ConnKey())
	}
}

func TestPresence(t *testing.T) {
	leakCheck(t)
	s := newTestServer(t)
	want := Presence{Room: "lobby", Conns: 3, Users: 2, Complete: true, Members: []Member{
		{User: "alice", ConnKey: "key-1", Info: json.RawMessage(`{"name":"Alice"}`)},
		{User: "bob", ConnKey: "b-1"},
		{User: "bob", ConnKey: "b-2"},
	}}
	wm := make([]wire.Member, len(want.Members))
	for i, m := range want.Members {
		wm[i] = wire.Member{User: m.User, ConnKey: m.ConnKey, Info: m.Info}
	}
	s.presence = map[string]*wire.PresenceOK{"lobby": {Room: "lobby", Conns: 3, Users: 2, Complete: true, Members: wm}}
	rec := newRecorder()
	c := connectRev5(t, s, rec)
	ctx := testContext(t)

	got, err := c.Presence(ctx, "lobby")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Presence = %+v, want %+v", got, want)
	}
	if ev := s.next(wire.OpPresenceGet); ev.room != "lobby" || ev.seq == 0 {
		t.Fatalf("presence_get %+v", ev)
	}
	var e *Error
	if _, err := c.Presence(ctx, "elsewhere"); !errors.As(err, &e) || e.Code != wire.ErrCodeNotJoined {
		t.Fatalf("Presence(elsewhere) = %v, want *Error 103", err)
	}
	if _, err := c.Presence(ctx, ""); !errors.As(err, &e) || e.Code != wire.ErrCodeBadRequest {
		t.Fatalf("Presence(\"\") = %v, want bad request", err)
	}
}

// TestPresenceAcrossReconnect: a Presence whose connection is lost before
// the answer is asked again on the next connection.
func TestPresenceAcrossReconnect(t *testing.T) {
	leakCheck(t)
	s := newTestServer(t)
	s.silent = map[string]bool{"lobby": true}
	rec := newRecorder()
	c := connectRev5(t, s, rec)
	done := make(chan error, 1)
	go func() {
		p, err := c.Presence(testContext(t), "lobby")
		if err == nil && p.Conns != 1 {
			err = errors.New("wrong answer")
		}
		done <- err
	}()
	if ev := s.next(wire.OpPresenceGet); ev.conn != s.conn(0) {
		t.Fatal("presence_get on another connection")
	}
	s.mu.Lock()
	delete(s.silent, "lobby")
	s.presence = map[string]*wire.PresenceOK{"lobby": {Room: "lobby", Conns: 1, Users: 1}}
	s.mu.Unlock()
	s.conn(0).disconnect(wire.CodeShutdown, "draining")
	if ev := s.next(wire.OpPresenceGet); ev.conn != s.conn(1) {
		t.Fatal("presence_get not sent again on the new connection")
	}
	if err := recv(t, done); err != nil {
		t.Fatalf("Presence = %v", err)
	}
}

// TestPresenceOldEdge: an edge that announced no revision would close the
// connection for a PresenceGet, so none is sent.
func TestPresenceOldEdge(t *testing.T) {
	leakCheck(t)
	s := newTestServer(t)
	rec := newRecorder()
	c := newClient(t, []string{s.listenTCP(nil)}, append(rec.options(), WithToken(testToken))...)
	ctx := testContext(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := recv(t, rec.connects); ev.Revision != 0 || c.Revision() != 0 {
		t.Fatalf("revision %d, %d, want 0", ev.Revision, c.Revision())
	}
	_, err := c.Presence(ctx, "lobby")
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Presence = %v, want ErrUnsupported", err)
	}
	if err := c.Join(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	s.next(wire.OpJoin)
	s.none(50*time.Millisecond, wire.OpPresenceGet)
}

func TestJoinLeave(t *testing.T) {
	leakCheck(t)
	s := newTestServer(t)
	rec := newRecorder()
	connectRev5(t, s, rec)
	jl := wire.JoinLeave{
		Room:    "lobby",
		Joined:  []wire.Member{{User: "bob", ConnKey: "b-1", Info: []byte(`{"name":"Bob"}`)}, {User: "carol", ConnKey: "c-1"}},
		Left:    []wire.Member{{User: "dave", ConnKey: "d-1", Info: []byte(`{}`)}},
		Omitted: 7,
	}
	want := JoinLeaveEvent{
		Room:    "lobby",
		Joined:  []Member{{User: "bob", ConnKey: "b-1", Info: json.RawMessage(`{"name":"Bob"}`)}, {User: "carol", ConnKey: "c-1"}},
		Left:    []Member{{User: "dave", ConnKey: "d-1", Info: json.RawMessage(`{}`)}},
		Omitted: 7,
	}
	// The second notice, read into the same buffer, must not change the
	// first one's members.
	other := wire.JoinLeave{Room: "lobby", Joined: []wire.Member{{User: "xxx", ConnKey: "xxx", Info: []byte(`{"name":"XXX"}`)}}}
	mustSend(t, s.conn(0), wire.AppendJoinLeave(nil, &jl), wire.AppendJoinLeave(nil, &other))
	first := recv(t, rec.joinLeaves)
	recv(t, rec.joinLeaves)
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("join/leave event %+v, want %+v", first, want)
	}
}

// TestMalformedRevision5Frames: a malformed frame of a revision-5 op from the
// edge is a protocol error, as any malformed frame: the client drops the
// connection (and reconnects).
func TestMalformedRevision5Frames(t *testing.T) {
	cases := []struct {
		name string
		// send scripts the frame; it may start a request whose answer it
		// forges, and returns a check of that request's outcome.
		send func(t *testing.T, s *testServer, c *Client) func()
	}{
		{"subscribed bad recovery", rawFrame(wire.OpSubscribed, 0, []byte{1, 'r', 3, 0, 0})},
		{"subscribed cut group", rawFrame(wire.OpSubscribed, 0, []byte{1, 'r', 0})},
		{"unsubscribed cut room", rawFrame(wire.OpUnsubscribed, 0, []byte{5, 'r'})},
		{"join_leave member count", rawFrame(wire.OpJoinLeave, 0, []byte{1, 'r', 9})},
		{"join_leave cut", rawFrame(wire.OpJoinLeave, 0, []byte{1, 'r', 0})},
		{"presence_ok bad complete", func(t *testing.T, s *testServer, c *Client) func() {
			done := make(chan error, 1)
			go func() {
				_, err := c.Presence(testContext(t), "quiet")
				done <- err
			}()
			ev := s.next(wire.OpPresenceGet)
			mustSend(t, ev.conn, wire.AppendFrame(nil, wire.OpPresenceOK, ev.seq, []byte{5, 'q', 'u', 'i', 'e', 't', 1, 1, 2, 0}))
			return func() {
				if err := recv(t, done); !errors.Is(err, wire.ErrMalformed) {
					t.Errorf("Presence = %v, want a malformed answer", err)
				}
			}
		}},
		{"join_ok bad recovery", func(t *testing.T, s *testServer, c *Client) func() {
			go func() { _ = c.Join(testContext(t), "quiet") }() // ends with Close
			ev := s.next(wire.OpJoin)
			mustSend(t, ev.conn, wire.AppendFrame(nil, wire.OpJoinOK, ev.seq, []byte{5, 'q', 'u', 'i', 'e', 't', 7, 0, 0}))
			return func() {}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			s := newTestServer(t)
			s.silent = map[string]bool{"quiet": true}
			rec := newRecorder()
			c := connectRev5(t, s, rec)
			check := tc.send(t, s, c)
			d := recv(t, rec.disconnects)
			if d.Code != 0 || !strings.Contains(d.Reason, "protocol error") || !d.Reconnect {
				t.Fatalf("disconnect %+v, want a protocol error and a reconnect", d)
			}
			check()
			recv(t, rec.connects)
			if len(rec.subs)+len(rec.joinLeaves) != 0 {
				t.Fatal("a malformed frame raised an event")
			}
		})
	}
}

// rawFrame returns a script that sends one frame of op with body.
func rawFrame(op wire.Op, seq uint32, body []byte) func(*testing.T, *testServer, *Client) func() {
	return func(t *testing.T, s *testServer, _ *Client) func() {
		mustSend(t, s.conn(0), wire.AppendFrame(nil, op, seq, body))
		return func() {}
	}
}
