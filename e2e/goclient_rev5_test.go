package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/twmb/franz-go/pkg/kfake"

	quicpush "github.com/quicpush/quicpush/clients/go"
	"github.com/quicpush/quicpush/edge"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/netlab"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// The Go client against a real edge on protocol revision 5 (docs/protocol.md
// 6.8-6.10): server-side rooms, join and leave notices, presence for
// clients. Each test runs once per transport of the Go client, on its own
// endpoint, so that both raw QUIC and framed TCP carry every new frame.

// goTransports are the Go client's transports, each with the endpoint URL of
// a test server.
var goTransports = []struct {
	name string
	url  func(*testServer) string
}{
	{"quic", func(s *testServer) string { return "quic://" + s.quic }},
	{"tcp", func(s *testServer) string { return "tcp://" + s.tcp }},
}

// rev5Server is a quicpush whose "team/" rooms only the backend fills and
// whose "chat/" rooms have join and leave notices (every 50 ms) and presence
// for clients, as `serve --namespace` would configure them. Other rooms have
// the defaults: notices and client presence off.
func rev5Server(t *testing.T) *testServer {
	t.Helper()
	set := namespaces(t, "team/:join=server", "chat/:join-leave=on,client-presence=on")
	return startServer(t, func(c *server.SingleConfig) {
		c.Edge.Namespaces = set
		c.Edge.JoinLeaveInterval = 50 * time.Millisecond
	})
}

// events records, beside an inbox, the revision-5 events of a Go client.
type events struct {
	inbox
	emu     sync.Mutex
	subs    []quicpush.SubscriptionEvent
	notices []quicpush.JoinLeaveEvent
	recs    []quicpush.RecoveryEvent
}

// rev5Options are the handlers of the revision-5 events; the inbox's are
// set by goClient.
func (e *events) rev5Options() []quicpush.Option {
	return append([]quicpush.Option{},
		quicpush.WithOnSubscription(func(s quicpush.SubscriptionEvent) { e.emu.Lock(); e.subs = append(e.subs, s); e.emu.Unlock() }),
		quicpush.WithOnJoinLeave(func(n quicpush.JoinLeaveEvent) { e.emu.Lock(); e.notices = append(e.notices, n); e.emu.Unlock() }),
		quicpush.WithOnRecovery(func(r quicpush.RecoveryEvent) { e.emu.Lock(); e.recs = append(e.recs, r); e.emu.Unlock() }),
	)
}

// subscriptions returns the subscription events so far.
func (e *events) subscriptions() []quicpush.SubscriptionEvent {
	e.emu.Lock()
	defer e.emu.Unlock()
	return slices.Clone(e.subs)
}

// recoveries returns the recovery events so far.
func (e *events) recoveries() []quicpush.RecoveryEvent {
	e.emu.Lock()
	defer e.emu.Unlock()
	return slices.Clone(e.recs)
}

// noticesOf returns the notices of room so far, each as "+user/key/info"
// for a join and "-user/key/info" for a leave, one string per notice.
func (e *events) noticesOf(room string) []string {
	e.emu.Lock()
	defer e.emu.Unlock()
	var out []string
	for _, n := range e.notices {
		if n.Room != room {
			continue
		}
		var s []string
		for _, m := range n.Joined {
			s = append(s, "+"+member(m))
		}
		for _, m := range n.Left {
			s = append(s, "-"+member(m))
		}
		if n.Omitted != 0 {
			s = append(s, fmt.Sprintf("omitted %d", n.Omitted))
		}
		out = append(out, strings.Join(s, " "))
	}
	return out
}

func member(m quicpush.Member) string { return m.User + "/" + m.ConnKey + "/" + string(m.Info) }

// roomIDs returns the ids of the messages of room received so far, in order.
func (e *events) roomIDs(room string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var ids []string
	for _, m := range e.msgs {
		if m.Room == room {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// rev5Client connects a Go client to url with tok and waits until it is
// connected to an edge of revision 5.
func rev5Client(t *testing.T, srv *testServer, url, tok string, e *events, extra ...quicpush.Option) *quicpush.Client {
	t.Helper()
	opts := append(e.rev5Options(), quicpush.WithBackoff(10*time.Millisecond, 100*time.Millisecond))
	c := goClient(t, srv, []string{url}, tok, &e.inbox, append(opts, extra...)...)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if r := c.Revision(); r != wire.Revision {
		t.Fatalf("edge announced revision %d, want %d", r, wire.Revision)
	}
	return c
}

// infoToken is a token for user that allows every room and carries info as
// its info claim.
func infoToken(t *testing.T, user, info string) string {
	t.Helper()
	claims := auth.NewClaims(user, []string{"*"}, time.Hour)
	claims.Info = json.RawMessage(info)
	tok, err := auth.Sign(testSecret, "", claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// requestCode is the code of the *quicpush.Error err carries, or 0.
func requestCode(err error) wire.Code {
	var e *quicpush.Error
	if asError(err, &e) {
		return e.Code
	}
	return 0
}

// TestGoClientServerRooms, per transport: a client in no room cannot Join a
// room of a join=server namespace (101), even with a token that allows every
// room; the backend's Subscribe puts it in: the client raises its subscribed
// event with the room's position, lists the room as server-side and gets its
// pushes. Unsubscribe raises unsubscribed, drops the room, and the pushes
// stop (a push to the user after one to the room arrives alone).
func TestGoClientServerRooms(t *testing.T) {
	srv := rev5Server(t)
	api := srv.apiClient()
	for _, tr := range goTransports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			user, room := "gsr-"+tr.name, "team/gsr-"+tr.name
			e := &events{}
			c := rev5Client(t, srv, tr.url(srv), token(t, user, "*"), e)
			if rooms := c.Rooms(); len(rooms) != 0 {
				t.Fatalf("rooms %+v before any subscription", rooms)
			}
			if err := c.Join(t.Context(), room); requestCode(err) != wire.ErrCodeForbidden {
				t.Fatalf("Join of a join=server room: %v, want error 101", err)
			}

			subscribe(t, api, room, user)
			waitFor(t, "the subscribed event", func() bool { return len(e.subscriptions()) > 0 })
			if s := e.subscriptions()[0]; s.Room != room || !s.Subscribed || s.Epoch == "" {
				t.Fatalf("subscription event %+v, want %s with a position", s, room)
			}
			if rooms := c.Rooms(); len(rooms) != 1 || rooms[0].Name != room || !rooms[0].ServerSide || !rooms[0].Joined {
				t.Fatalf("rooms %+v, want %s server-side and joined", rooms, room)
			}
			first := pushRoom(t, api, room, "one")
			waitFor(t, "the room's push", func() bool { return e.has(first) })

			unsubscribe(t, api, room, user)
			waitFor(t, "the unsubscribed event", func() bool { return len(e.subscriptions()) > 1 })
			if s := e.subscriptions()[1]; s.Room != room || s.Subscribed {
				t.Fatalf("subscription event %+v, want %s unsubscribed", s, room)
			}
			if rooms := c.Rooms(); len(rooms) != 0 {
				t.Fatalf("rooms %+v after Unsubscribe", rooms)
			}
			// The edge queues in order: the user's push comes after the
			// room's, so once it is in, the room's would have been too.
			pushRoom(t, api, room, "not for them")
			marker := pushUser(t, api, user, "marker")
			waitFor(t, "the marker", func() bool { return e.has(marker) })
			if ids := e.roomIDs(room); !slices.Equal(ids, []string{first}) {
				t.Fatalf("room pushes %q, want only %s: pushes after Unsubscribe arrived", ids, first)
			}
			if n := len(e.subscriptions()); n != 2 {
				t.Fatalf("%d subscription events, want 2", n)
			}
		})
	}
}

// gatedToken hands out tok on the client's first connect and holds every
// later one until open is called: the test knows the client is away, and
// for how long, without timing it.
type gatedToken struct {
	tok     string
	calls   atomic.Int32
	waiting chan struct{} // closed when a reconnect asks for the token
	gate    chan struct{} // closed by open
}

func newGatedToken(tok string) *gatedToken {
	return &gatedToken{tok: tok, waiting: make(chan struct{}), gate: make(chan struct{})}
}

func (g *gatedToken) token(ctx context.Context) (string, error) {
	if g.calls.Add(1) == 1 {
		return g.tok, nil
	}
	select {
	case <-g.waiting:
	default:
		close(g.waiting)
	}
	select {
	case <-g.gate:
		return g.tok, nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (g *gatedToken) open() { close(g.gate) }

// TestGoClientServerRoomsReconnect, per transport: a client subscribed to a
// join=server room loses its connection and is held away: the backend
// disconnects it (3006, reconnect allowed) on both transports, and on framed
// TCP a relay also cuts it (a network failure, no code). Two pushes to the
// room and a Subscribe to a second room happen meanwhile. Back, it has
// rejoined the room among the Joins it announced in Auth (allowed although
// the namespace refuses client Joins, since the room is the user's), resumed
// from its position: a recovery event, exactly the two missed pushes in
// order, then live ones; and a subscribed event for the second room.
func TestGoClientServerRoomsReconnect(t *testing.T) {
	srv := rev5Server(t)
	api := srv.apiClient()
	// disconnect has the backend end the user's connections.
	disconnect := func(t *testing.T, user string) {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{user}, Reconnect: true})); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		// dial returns the client's endpoint and the way to cut it.
		dial func(t *testing.T, user string) (url string, cut func())
		code wire.Code // the disconnect event's
	}{
		{"quic", func(t *testing.T, user string) (string, func()) {
			return "quic://" + srv.quic, func() { disconnect(t, user) }
		}, wire.CodeServerDisconnect},
		{"tcp", func(t *testing.T, user string) (string, func()) {
			return "tcp://" + srv.tcp, func() { disconnect(t, user) }
		}, wire.CodeServerDisconnect},
		{"tcp-relay-cut", func(t *testing.T, _ string) (string, func()) {
			relay, err := netlab.NewTCPRelay(netlab.TCPConfig{Target: srv.tcp})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = relay.Close() })
			return "tcp://" + relay.Addr().String(), relay.Cut
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			user, room, later := "gsrr-"+tc.name, "team/gsrr-"+tc.name, "team/gsrr-"+tc.name+"/later"
			url, cut := tc.dial(t, user)
			gt := newGatedToken(token(t, user)) // the token opens no room
			e := &events{}
			c := rev5Client(t, srv, url, "", e, quicpush.WithTokenFunc(gt.token))

			subscribe(t, api, room, user)
			// The Subscribe's order and the pushes travel apart: a push sent
			// before the edge put the client in the room would miss it.
			waitFor(t, "the subscribed event", func() bool { return len(e.subscriptions()) > 0 })
			first := pushRoom(t, api, room, "one")
			waitFor(t, "the room's first push", func() bool { return e.has(first) })

			cut()
			select {
			case <-gt.waiting:
			case <-time.After(5 * time.Second):
				t.Fatal("the client did not try to reconnect")
			}
			e.mu.Lock()
			disc := e.discs[len(e.discs)-1]
			e.mu.Unlock()
			if disc.Code != tc.code || !disc.Reconnect {
				t.Fatalf("disconnect %+v, want code %d and a reconnect", disc, tc.code)
			}
			missed := []string{pushRoom(t, api, room, "two"), pushRoom(t, api, room, "three")}
			subscribe(t, api, later, user)
			gt.open()

			waitFor(t, "the reconnect", func() bool { return e.connects() >= 2 })
			waitFor(t, "the missed pushes", func() bool { return len(e.roomIDs(room)) >= 3 })
			live := pushRoom(t, api, room, "four")
			waitFor(t, "the live push", func() bool { return e.has(live) })
			if ids, want := e.roomIDs(room), append([]string{first}, append(missed, live)...); !slices.Equal(ids, want) {
				t.Fatalf("room pushes %q, want %q", ids, want)
			}
			// The user's stream has a recovery event of its own (Room "").
			var recs []quicpush.RecoveryEvent
			for _, r := range e.recoveries() {
				if r.Room != "" {
					recs = append(recs, r)
				}
			}
			if len(recs) != 1 || recs[0].Room != room || !recs[0].Recovered {
				t.Fatalf("room recovery events %+v, want %s recovered", recs, room)
			}
			waitFor(t, "the subscribed event of the room subscribed while away", func() bool {
				return len(e.subscriptions()) >= 2
			})
			// Once each: the rejoined room was the client's already, and a
			// second Subscribed for the new room (the backend's order reaching
			// the edge after the connection read its rooms at Auth) adds nothing.
			subs := e.subscriptions()
			if len(subs) != 2 || subs[0].Room != room || subs[1].Room != later || !subs[1].Subscribed {
				t.Fatalf("subscription events %+v, want %s then %s", subs, room, later)
			}
			rooms := c.Rooms()
			if len(rooms) != 2 || !rooms[0].ServerSide || !rooms[1].ServerSide {
				t.Fatalf("rooms %+v, want both server-side", rooms)
			}
			inLater := pushRoom(t, api, later, "later")
			waitFor(t, "a push to the room subscribed while away", func() bool { return e.has(inLater) })
		})
	}
}

// TestGoClientJoinLeave, per transport: in a chat room (join-leave=on) the
// first client hears its own join, then the second client's join and leave,
// each with the user, connection key and the token's info claim. Both are
// also in a room with notices off: by the time the leave notice came (at
// least one notice interval after their joins of that room) it has had none.
func TestGoClientJoinLeave(t *testing.T) {
	srv := rev5Server(t)
	for _, tr := range goTransports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			chat, quiet := "chat/jl-"+tr.name, "quiet/jl-"+tr.name
			aInfo, bInfo := `{"name":"Ann"}`, `{"name":"Bo","seat":2}`
			ea, eb := &events{}, &events{}
			a := rev5Client(t, srv, tr.url(srv), infoToken(t, "ann-"+tr.name, aInfo), ea)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			for _, r := range []string{quiet, chat} {
				if err := a.Join(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			self := "+ann-" + tr.name + "/" + a.ConnKey() + "/" + aInfo
			waitFor(t, "the own join's notice", func() bool { return len(ea.noticesOf(chat)) > 0 })

			b := rev5Client(t, srv, tr.url(srv), infoToken(t, "bo-"+tr.name, bInfo), eb)
			for _, r := range []string{quiet, chat} {
				if err := b.Join(ctx, r); err != nil {
					t.Fatal(err)
				}
			}
			other := "bo-" + tr.name + "/" + b.ConnKey() + "/" + bInfo
			waitFor(t, "the other's join notice", func() bool { return len(ea.noticesOf(chat)) > 1 })
			if err := b.Leave(ctx, chat); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the other's leave notice", func() bool { return len(ea.noticesOf(chat)) > 2 })

			if got, want := ea.noticesOf(chat), []string{self, "+" + other, "-" + other}; !slices.Equal(got, want) {
				t.Fatalf("notices of %s:\n%q\nwant\n%q", chat, got, want)
			}
			if got := ea.noticesOf(quiet); len(got) != 0 {
				t.Fatalf("notices of %s, whose namespace has them off: %q", quiet, got)
			}
			if got := eb.noticesOf(quiet); len(got) != 0 {
				t.Fatalf("the second client's notices of %s: %q", quiet, got)
			}
		})
	}
}

// TestGoClientPresence, per transport: in a chat room (client-presence=on)
// Presence lists both members, with their keys and info, and counts them;
// in a room whose namespace keeps presence from clients it fails with 101;
// for a room the client is not in, with 103.
func TestGoClientPresence(t *testing.T) {
	srv := rev5Server(t)
	for _, tr := range goTransports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			chat, quiet := "chat/pr-"+tr.name, "quiet/pr-"+tr.name
			aInfo := `{"name":"Ann"}`
			a := rev5Client(t, srv, tr.url(srv), infoToken(t, "ann-"+tr.name, aInfo), &events{})
			b := rev5Client(t, srv, tr.url(srv), token(t, "bo-"+tr.name, "*"), &events{})
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			for _, c := range []*quicpush.Client{a, b} {
				for _, r := range []string{chat, quiet} {
					if err := c.Join(ctx, r); err != nil {
						t.Fatal(err)
					}
				}
			}

			p, err := a.Presence(ctx, chat)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range p.Members {
				got = append(got, member(m))
			}
			slices.Sort(got)
			want := []string{"ann-" + tr.name + "/" + a.ConnKey() + "/" + aInfo, "bo-" + tr.name + "/" + b.ConnKey() + "/"}
			slices.Sort(want)
			if p.Room != chat || p.Conns != 2 || p.Users != 2 || !p.Complete || !slices.Equal(got, want) {
				t.Fatalf("presence %+v, members %q; want 2 connections, 2 users, complete, %q", p, got, want)
			}
			if _, err := a.Presence(ctx, quiet); requestCode(err) != wire.ErrCodeForbidden {
				t.Fatalf("presence of a room without client presence: %v, want error 101", err)
			}
			if _, err := b.Presence(ctx, "chat/elsewhere"); requestCode(err) != wire.ErrCodeNotJoined {
				t.Fatalf("presence of a room not joined: %v, want error 103", err)
			}
			// Still connected: the refusals are errors, not disconnects.
			if a.Transport() != tr.name || b.Transport() != tr.name {
				t.Fatalf("transports %q and %q after the refusals, want %q", a.Transport(), b.Transport(), tr.name)
			}
		})
	}
}

// TestGoClientRev5Cluster: two edges on kfake and redis-server, Go clients
// on raw QUIC to edge0 and framed TCP to edge1. One Subscribe reaches a
// user's clients on both edges, then the room's pushes; a join and a leave
// on edge1 reach a member on edge0 as notices; Presence on edge0 lists the
// member on edge1.
func TestGoClientRev5Cluster(t *testing.T) {
	kf, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kf.Close)
	c := startClusterTTL(t, kf.ListenAddrs(), 5*time.Second, 1, 0)
	set := namespaces(t, "team/:join=server", "chat/:join-leave=on,client-presence=on")
	c.tuneEdge = func(ec *edge.Config) {
		ec.Namespaces = set
		ec.JoinLeaveInterval = 50 * time.Millisecond
	}
	e0, e1 := c.startEdge("edge0"), c.startEdge("edge1")
	api := c.apiClient()
	on0, on1 := "quic://"+e0.Edge.QUICAddr().String(), "tcp://"+e1.Edge.TCPAddr().String()
	client := func(url, user string, e *events) *quicpush.Client {
		opts := append(e.rev5Options(), e.inbox.options()...)
		cl, _ := edgeClient(t, c.cert, []string{url}, user, nil, 10*time.Second, opts...)
		return cl
	}

	const user, room, chat = "cl5", "team/cl5", "chat/cl5"
	ea, ea1 := &events{}, &events{}
	a := client(on0, user, ea)
	client(on1, user, ea1)
	subscribe(t, api, room, user)
	for _, e := range []*events{ea, ea1} {
		waitFor(t, "the subscribed event on both edges", func() bool {
			s := e.subscriptions()
			return len(s) == 1 && s[0].Room == room && s[0].Subscribed
		})
	}
	id := pushRoomCluster(t, api, room, "both edges")
	for _, e := range []*events{ea, ea1} {
		waitFor(t, "the room's push on both edges", func() bool { return e.has(id) })
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := a.Join(ctx, chat); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the own join's notice", func() bool { return len(ea.noticesOf(chat)) > 0 })
	eb := &events{}
	b := client(on1, "cl5-other", eb)
	if err := b.Join(ctx, chat); err != nil {
		t.Fatal(err)
	}
	other := "cl5-other/" + b.ConnKey() + "/"
	waitFor(t, "the join on edge1 heard on edge0", func() bool { return len(ea.noticesOf(chat)) > 1 })

	self := "+" + user + "/" + a.ConnKey() + "/"
	want := []string{self[1:], other}
	slices.Sort(want)
	eventually(t, 10*time.Second, "Presence on edge0 to list the member on edge1", func() bool {
		p, err := a.Presence(ctx, chat)
		if requestCode(err) == wire.ErrCodeInternal { // past the per-connection rate: wait for a token
			time.Sleep(300 * time.Millisecond)
			return false
		}
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range p.Members {
			got = append(got, member(m))
		}
		slices.Sort(got)
		return slices.Equal(got, want) && p.Complete && p.Conns == 2 && p.Users == 2
	})

	if err := b.Leave(ctx, chat); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the leave on edge1 heard on edge0", func() bool { return len(ea.noticesOf(chat)) > 2 })
	if got, want := ea.noticesOf(chat), []string{self, "+" + other, "-" + other}; !slices.Equal(got, want) {
		t.Fatalf("notices of %s on edge0:\n%q\nwant\n%q", chat, got, want)
	}
}
