package e2e

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// joinAt sends Join with a position and returns the JoinOK.
func joinAt(t *testing.T, c rawConn, seq uint32, room string, offset uint64, epoch string) wire.JoinOK {
	t.Helper()
	if err := c.write(wire.AppendJoin(nil, seq, &wire.Join{Room: room, Offset: offset, Epoch: epoch})); err != nil {
		t.Fatal(err)
	}
	h, body := expectFrame(t, c, wire.OpJoinOK)
	var ok wire.JoinOK
	if err := ok.Decode(body); err != nil || ok.Room != room || h.Seq != seq {
		t.Fatalf("join_ok %+v seq %d err %v", ok, h.Seq, err)
	}
	return ok
}

// authAt sends Auth with a user-stream position and returns the AuthOK.
func authAt(t *testing.T, c rawConn, tok string, offset uint64, epoch string) wire.AuthOK {
	t.Helper()
	return authWith(t, c, wire.Auth{Token: tok, Offset: offset, Epoch: epoch})
}

// pushN pushes n messages to room and returns their ids in order, once
// history holds them all: a client that joins after pushN returned has
// missed them, rather than getting the last ones live, core being still
// busy with them.
func pushN(t *testing.T, api pushv1connect.PushServiceClient, room string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	var last uint64
	for i := range ids {
		rsp, err := api.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: fmt.Sprintf(`{"i":%d}`, i)}))
		if err != nil {
			t.Fatalf("PushRoom: %v", err)
		}
		ids[i], last = rsp.Msg.GetMessageId(), rsp.Msg.GetPosition().GetOffset()
	}
	if last == 0 {
		t.Fatalf("PushRoom to %s: no position in the reply", room)
	}
	eventually(t, 5*time.Second, "history to hold the pushes", func() bool {
		h, err := api.History(t.Context(), connect.NewRequest(&pushv1.HistoryRequest{Stream: &pushv1.HistoryRequest_Room{Room: room}, Limit: 1}))
		return err == nil && h.Msg.GetTop().GetOffset() >= last
	})
	return ids
}

// readPushes reads pushes until it has seen ids, in order, each with a
// position greater than the last, and returns the last position. Pushes at
// or below the position are dropped as repeats, as docs/protocol.md asks of
// clients: around a resume a message stored just before the edge read the
// stream can also arrive live.
func readPushes(t *testing.T, c rawConn, ids []string, after history.Position) history.Position {
	t.Helper()
	pos := after
	for i, id := range ids {
		p := expectPush(t, c)
		for p.Epoch != "" && p.Epoch == pos.Epoch && p.Offset <= pos.Offset {
			p = expectPush(t, c)
		}
		if p.ID != id {
			t.Fatalf("push %d: id %s (%d/%q), want %s, after %d/%q", i, p.ID, p.Offset, p.Epoch, id, after.Offset, after.Epoch)
		}
		if p.Epoch == "" || (p.Epoch == pos.Epoch && p.Offset <= pos.Offset) {
			t.Fatalf("push %d: position %d/%q after %d/%q", i, p.Offset, p.Epoch, pos.Offset, pos.Epoch)
		}
		pos = history.Position{Offset: p.Offset, Epoch: p.Epoch}
	}
	return pos
}

// TestResumePerTransport cuts a client off after 100 messages (by closing
// its connection, or by the server's Disconnect), pushes 100 more, and checks
// that rejoining with the last position replays exactly those 100, in order,
// then live ones; for the user's stream the same through Auth.
func TestResumePerTransport(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	for _, kind := range transports {
		for _, cut := range []string{"client", "server"} {
			t.Run(kind+"/"+cut+" cut", func(t *testing.T) {
				room := "resume-" + kind + "-" + cut
				user := "u-" + kind + "-" + cut
				tok := token(t, user, room)
				c := dialRaw(t, srv, kind)
				ok := authenticate(t, c, tok)
				jok := joinAt(t, c, 2, room, 0, "")
				if jok.Recovery != wire.RecoveryNone || jok.Epoch == "" {
					t.Fatalf("fresh join: %+v, want a position and no recovery", jok)
				}
				first := pushN(t, api, room, 100)
				pos := readPushes(t, c, first, history.Position{Offset: jok.Offset, Epoch: jok.Epoch})
				// A direct push to the user, for the user's stream.
				u1, err := api.PushUsers(t.Context(), connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{user}, Text: "u1"}))
				if err != nil {
					t.Fatal(err)
				}
				up := expectPush(t, c)
				if up.ID != u1.Msg.GetMessageId() || up.Kind != wire.PushDirect || up.Epoch == "" {
					t.Fatalf("user push %+v", up)
				}
				if ps := u1.Msg.GetPositions(); len(ps) != 1 || ps[0].GetPosition().GetOffset() != up.Offset || ps[0].GetPosition().GetEpoch() != up.Epoch {
					t.Fatalf("PushUsers reply positions %v, the client got %d/%q", ps, up.Offset, up.Epoch)
				}

				switch cut {
				case "client":
					c.close()
				case "server":
					if _, err := api.Disconnect(t.Context(), connect.NewRequest(&pushv1.DisconnectRequest{Keys: []string{ok.ConnKey}, Reconnect: true})); err != nil {
						t.Fatal(err)
					}
					expectDisconnect(t, c, wire.CodeServerDisconnect)
				}
				// While it is away.
				missed := pushN(t, api, room, 100)
				u2, err := api.PushUsers(t.Context(), connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{user}, Text: "u2"}))
				if err != nil {
					t.Fatal(err)
				}

				c2 := dialRaw(t, srv, kind)
				aok := authAt(t, c2, tok, up.Offset, up.Epoch)
				if aok.Recovery != wire.RecoveryRecovered {
					t.Fatalf("auth resume: %+v, want recovered", aok)
				}
				if p := expectPush(t, c2); p.ID != u2.Msg.GetMessageId() || p.Kind != wire.PushDirect {
					t.Fatalf("replayed user push %+v, want %s", p, u2.Msg.GetMessageId())
				}
				jok2 := joinAt(t, c2, 2, room, pos.Offset, pos.Epoch)
				if jok2.Recovery != wire.RecoveryRecovered || jok2.Epoch != pos.Epoch {
					t.Fatalf("room resume: %+v, want recovered in epoch %s", jok2, pos.Epoch)
				}
				last := readPushes(t, c2, missed, pos)
				if last.Offset != jok2.Offset {
					t.Fatalf("replay ended at %d, JoinOK named %d", last.Offset, jok2.Offset)
				}
				live := pushN(t, api, room, 1)
				readPushes(t, c2, live, last)
			})
		}
	}
}

// TestResumePastTheLimit checks that a client that missed more than a room
// keeps is told NotRecovered once and gets live messages, no replay.
func TestResumePastTheLimit(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) {
		c.History.Namespaces = []history.Namespace{{Prefix: "small/", Policy: history.Policy{Size: 50}}}
		c.Edge.RecoveryLimit = 30
	})
	api := srv.apiClient()
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			for _, tc := range []struct {
				room   string
				missed int
			}{
				{"small/trimmed-" + kind, 100}, // 100 missed, 50 kept
				{"limit-" + kind, 40},          // all kept, but over the recovery limit
			} {
				tok := token(t, "u", tc.room)
				c := dialRaw(t, srv, kind)
				authenticate(t, c, tok)
				jok := joinAt(t, c, 2, tc.room, 0, "")
				pos := readPushes(t, c, pushN(t, api, tc.room, 10), history.Position{Offset: jok.Offset, Epoch: jok.Epoch})
				c.close()
				pushN(t, api, tc.room, tc.missed)

				c2 := dialRaw(t, srv, kind)
				authenticate(t, c2, tok)
				jok2 := joinAt(t, c2, 2, tc.room, pos.Offset, pos.Epoch)
				if jok2.Recovery != wire.RecoveryNotRecovered {
					t.Fatalf("%s: %+v, want not recovered", tc.room, jok2)
				}
				// No replay: the next push is the live one.
				live := pushN(t, api, tc.room, 1)
				readPushes(t, c2, live, history.Position{Offset: jok2.Offset, Epoch: jok2.Epoch})
			}
		})
	}
}

// TestResumeBadPositions sends positions no server gave out: each is
// answered NotRecovered, the connection stays open and receives.
func TestResumeBadPositions(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	tok := token(t, "u", "bad")
	c := dialRaw(t, srv, "tcp")
	ok := authAt(t, c, tok, 1<<62, "no-such-epoch")
	if ok.Recovery != wire.RecoveryNotRecovered {
		t.Fatalf("auth with a made-up position: %+v", ok)
	}
	jok := joinAt(t, c, 2, "bad", 0, "")
	readPushes(t, c, pushN(t, api, "bad", 3), history.Position{Offset: jok.Offset, Epoch: jok.Epoch})
	if _, err := api.Disconnect(t.Context(), connect.NewRequest(&pushv1.DisconnectRequest{Keys: []string{ok.ConnKey}, Reconnect: true})); err != nil {
		t.Fatal(err)
	}
	expectDisconnect(t, c, wire.CodeServerDisconnect)
	for i, from := range []history.Position{
		{Offset: ^uint64(0), Epoch: jok.Epoch},         // beyond the end
		{Offset: jok.Offset, Epoch: "nope"},            // unknown epoch
		{Offset: 5, Epoch: "\x01\x02\xff\xfe garbage"}, // garbage
		{Offset: 7}, // no epoch
	} {
		c := dialRaw(t, srv, "tcp")
		authenticate(t, c, tok)
		r := joinAt(t, c, 2, "bad", from.Offset, from.Epoch)
		if r.Recovery != wire.RecoveryNotRecovered || r.Epoch != jok.Epoch {
			t.Fatalf("position %d: %+v, want not recovered in %s", i, r, jok.Epoch)
		}
		readPushes(t, c, pushN(t, api, "bad", 1), history.Position{Offset: r.Offset, Epoch: r.Epoch})
		c.close()
	}
}

// TestGoClientResumes checks that clients/go resumes by itself: after the
// server disconnects it (reconnect allowed) while pushes go on, the
// application sees every message exactly once, in order, and one Recovered
// event for the room.
func TestGoClientResumes(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	var (
		mu     sync.Mutex
		got    []string
		events []quicpush.RecoveryEvent
	)
	b := &inbox{}
	cl := goClient(t, srv, []string{"quic://" + srv.quic + " tcp://" + srv.tcp}, token(t, "gc", "feed"), b,
		quicpush.WithBackoff(100*time.Millisecond, 300*time.Millisecond),
		quicpush.WithOnMessage(func(m quicpush.Message) { mu.Lock(); got = append(got, m.ID); mu.Unlock() }),
		quicpush.WithOnRecovery(func(e quicpush.RecoveryEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.Join(ctx, "feed"); err != nil {
		t.Fatal(err)
	}
	want := pushN(t, api, "feed", 100)
	waitFor(t, "the first 100", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 100 })

	// Disconnected by the server, reconnecting while 100 more are pushed.
	if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Keys: []string{cl.ConnKey()}, Reconnect: true})); err != nil {
		t.Fatal(err)
	}
	want = append(want, pushN(t, api, "feed", 100)...)
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 200 {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("got %d of 200; events %+v; dups %d; b.discs %+v", len(got), events, cl.Duplicates(), b.discs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	if !slices.Equal(got, want) {
		t.Fatalf("the application saw %d messages, want the 200 pushed, in order, once", len(got))
	}
	rooms := 0
	for _, e := range events {
		if e.Room == "feed" {
			rooms++
			if !e.Recovered {
				t.Errorf("room event %+v, want recovered", e)
			}
		}
	}
	mu.Unlock()
	if rooms != 1 {
		t.Fatalf("%d recovery events for the room, want 1: %+v", rooms, events)
	}
}
