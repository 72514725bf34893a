package quicpush

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/quicpush/quicpush/wire"
)

// Modes of FuzzClientRead: how the fake edge carries the fuzzed bytes.
const (
	fuzzWS        = 1 << 0 // WebSocket instead of framed TCP
	fuzzWSRaw     = 1 << 1 // WebSocket: the bytes are raw WebSocket frames, not the payload of binary messages
	fuzzAuthOK    = 1 << 2 // a valid AuthOK comes before the bytes
	fuzzRoom      = 1 << 3 // the client has a room to join (Join seq 2) when it connects
	fuzzSmallMax  = 1 << 4 // the client accepts frames of at most 256 bytes
	fuzzFragments = 1 << 5 // WebSocket messages: each in two fragments, with a ping between
	fuzzHoldOpen  = 1 << 7 // the edge keeps the connection open after the bytes
)

// fuzzBound is how long the client may take to report a connection the edge
// closed, and to close.
const fuzzBound = 5 * time.Second

// FuzzClientRead has a fake edge answer the Go client's Auth with arbitrary
// bytes, over framed TCP or WebSocket, with the client's reader in every
// state the bytes lead to: before AuthOK, after it, with a Join pending. The
// client must not panic; when the edge closes, the client must report the
// disconnect within a bound; Close must return within a bound and leave no
// goroutine behind; every message it delivers must be one of the pushes in
// the bytes, in order; and a Join waiting for the connection must return.
func FuzzClientRead(f *testing.F) {
	authOK := wire.AppendAuthOK(nil, 1, &wire.AuthOK{ConnKey: "k", User: "u", PingIntervalMs: 20, MaxFrame: wire.DefaultMaxFrame, Revision: wire.Revision})
	recovered := wire.AppendAuthOK(nil, 1, &wire.AuthOK{ConnKey: "k", User: "u", Recovery: wire.RecoveryRecovered, Offset: 3, Epoch: "e"})
	push := func(kind wire.PushKind, room string, off uint64) []byte {
		return wire.AppendPush(nil, &wire.Push{Kind: kind, Room: room, ID: fmt.Sprint("m", off), Offset: off, Epoch: "e", Data: []byte("x")})
	}
	join := wire.AppendJoinOK(nil, 2, &wire.JoinOK{Room: "r", Recovery: wire.RecoveryNotRecovered, Offset: 5, Epoch: "e"})
	session := bytes.Join([][]byte{
		join, push(wire.PushRoom, "r", 6), push(wire.PushRoom, "r", 6), push(wire.PushRoom, "other", 1),
		push(wire.PushDirect, "", 2), push(wire.PushBroadcast, "", 0),
		wire.AppendFrame(nil, wire.OpPing, 9, nil), wire.AppendFrame(nil, wire.OpPong, 3, nil),
		wire.AppendError(nil, 77, &wire.Error{Code: wire.ErrCodeInternal, Message: "late"}),
		wire.AppendFrame(nil, 0x7f, 1, []byte("later revision")),
		// Revision 5: a server-side room, its pushes and its end, a
		// notice, and an answer to no request.
		wire.AppendSubscribed(nil, &wire.Subscribed{Room: "s", Offset: 4, Epoch: "e"}),
		push(wire.PushRoom, "s", 4), push(wire.PushRoom, "s", 5),
		wire.AppendSubscribed(nil, &wire.Subscribed{Room: "r"}),
		wire.AppendJoinLeave(nil, &wire.JoinLeave{Room: "r", Joined: []wire.Member{{User: "a", ConnKey: "k1", Info: []byte(`{"n":1}`)}}, Left: []wire.Member{{User: "b", ConnKey: "k2"}}, Omitted: 3}),
		wire.AppendPresenceOK(nil, 88, &wire.PresenceOK{Room: "r", Conns: 1, Users: 1, Complete: true, Members: []wire.Member{{User: "u", ConnKey: "k"}}}),
		wire.AppendRoom(nil, wire.OpUnsubscribed, 0, "s"),
		wire.AppendRoom(nil, wire.OpUnsubscribed, 0, "r"),
		wire.AppendDisconnect(nil, &wire.Disconnect{Code: wire.CodeShutdown, Reason: "bye"}),
	}, nil)
	for _, s := range []struct {
		mode       uint8
		data, cuts []byte
	}{
		{fuzzAuthOK | fuzzRoom, session, nil},
		{fuzzRoom, append(bytes.Clone(recovered), session...), nil},
		{fuzzWS | fuzzAuthOK | fuzzRoom, session, []byte{30, 5}},
		{fuzzWS | fuzzAuthOK | fuzzRoom | fuzzFragments, session, []byte{200}},
		{fuzzWS | fuzzWSRaw | fuzzAuthOK, []byte{0x82, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, nil},
		{fuzzWS | fuzzWSRaw | fuzzAuthOK, []byte{0x89, 0x7e, 0x10, 0}, nil},
		{fuzzWS | fuzzWSRaw | fuzzAuthOK, []byte{0x88, 0x02, 0x0d, 0xac}, nil},
		{fuzzAuthOK | fuzzSmallMax, wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "r", Data: make([]byte, 300)}), nil},
		{fuzzAuthOK | fuzzHoldOpen, session[:len(session)-3], nil},
		{fuzzHoldOpen, authOK[:10], nil},
		{0, wire.AppendDisconnect(nil, &wire.Disconnect{Code: wire.CodeInvalidToken, Reason: "no"}), nil},
		{0, wire.AppendError(nil, 1, &wire.Error{Code: wire.ErrCodeForbidden}), nil},
		{0, wire.AppendFrame(nil, wire.OpPush, 0, nil), nil},
		{0, []byte{0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 1}, nil},
		{fuzzAuthOK, wire.AppendAuthOK(nil, 1, &wire.AuthOK{ConnKey: "k2"}), nil},
		{fuzzAuthOK | fuzzRoom, wire.AppendFrame(nil, wire.OpJoinOK, 2, []byte{1, 'r', 7, 0, 0}), nil},
		{fuzzAuthOK, wire.AppendFrame(nil, wire.OpSubscribed, 0, []byte{1, 'r', 0}), nil},
		{fuzzAuthOK, wire.AppendFrame(nil, wire.OpJoinLeave, 0, []byte{1, 'r', 9}), nil},
		{fuzzAuthOK | fuzzHoldOpen, wire.AppendFrame(nil, wire.OpUnsubscribed, 0, []byte{1, 'r'}), nil},
	} {
		f.Add(s.mode, s.data, s.cuts)
	}
	f.Fuzz(func(t *testing.T, mode uint8, data, cuts []byte) {
		goroutines := runtime.NumGoroutine()
		stream := data
		if mode&fuzzAuthOK != 0 {
			stream = append(bytes.Clone(authOK), data...)
		}
		peer := startFuzzPeer(t, mode, stream, cuts, len(stream)-len(data))

		var mu sync.Mutex
		var msgs []Message
		disconnected := make(chan DisconnectEvent, 16)
		opts := []Option{
			WithToken("t"),
			WithBackoff(time.Hour, time.Hour),       // no reconnect within an input
			WithDialTimeout(300 * time.Millisecond), // bounds the wait for AuthOK
			WithRequestTimeout(fuzzBound / 2),
			WithOnMessage(func(m Message) {
				mu.Lock()
				msgs = append(msgs, m)
				mu.Unlock()
			}),
			WithOnDisconnect(func(e DisconnectEvent) { disconnected <- e }),
			WithOnRecovery(func(RecoveryEvent) {}),
		}
		if mode&fuzzSmallMax != 0 {
			opts = append(opts, WithMaxFrame(256))
		}
		c, err := New([]string{peer.url}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		joined := make(chan error, 1)
		if mode&fuzzRoom != 0 {
			go func() { joined <- c.Join(context.Background(), "r") }()
			// Connect sends the Join of every room known by then.
			for !c.knowsRoom("r") {
				runtime.Gosched()
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), fuzzBound)
		err = c.Connect(ctx)
		cancel()
		if err == nil && mode&fuzzHoldOpen == 0 {
			// The edge closes after the bytes: the client must notice.
			select {
			case <-disconnected:
			case <-time.After(fuzzBound):
				t.Fatalf("the edge closed the connection, the client reported no disconnect within %v\n%s", fuzzBound, allStacks())
			}
		}
		closed := make(chan struct{})
		go func() {
			_ = c.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(fuzzBound):
			t.Fatalf("Close did not return within %v\n%s", fuzzBound, allStacks())
		}
		if mode&fuzzRoom != 0 {
			select {
			case err := <-joined:
				_ = err // any outcome will do, as long as Join returns
			case <-time.After(fuzzBound):
				t.Fatalf("Join did not return within %v of Close\n%s", fuzzBound, allStacks())
			}
		}
		peer.close()

		// Every message delivered is one of the pushes sent, in order.
		if mode&(fuzzWS|fuzzWSRaw) != fuzzWS|fuzzWSRaw {
			pushes := framedPushes(stream)
			mu.Lock()
			for _, m := range msgs {
				for len(pushes) > 0 && !samePushMessage(m, &pushes[0]) {
					pushes = pushes[1:]
				}
				if len(pushes) == 0 {
					t.Fatalf("delivered %+v, which is not among the pushes sent (in order)", m)
				}
				pushes = pushes[1:]
			}
			mu.Unlock()
		}

		// Close waited for the client's goroutines; the peer's are gone.
		deadline := time.Now().Add(fuzzBound)
		for runtime.NumGoroutine() > goroutines {
			if time.Now().After(deadline) {
				t.Fatalf("%d goroutines left after Close\n%s", runtime.NumGoroutine()-goroutines, allStacks())
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// knowsRoom reports whether Join has recorded room.
func (c *Client) knowsRoom(room string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rooms[room] != nil
}

func allStacks() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

// framedPushes returns the pushes that decode from the start of a frame
// stream, up to the first frame that does not split.
func framedPushes(b []byte) []wire.Push {
	var out []wire.Push
	for {
		h, body, rest, ok, err := wire.Split(b, wire.DefaultMaxFrame)
		if err != nil || !ok {
			return out
		}
		var p wire.Push
		if h.Op == wire.OpPush && p.Decode(body) == nil {
			out = append(out, p)
		}
		b = rest
	}
}

func samePushMessage(m Message, p *wire.Push) bool {
	return m.Kind == p.Kind && m.Room == p.Room && m.ID == p.ID && m.Offset == p.Offset && m.Epoch == p.Epoch && bytes.Equal(m.Data, p.Data)
}

// fuzzPeer is a fake edge for one input: it accepts one connection, reads the
// client's Auth, writes the input and, unless told to hold it open, closes.
type fuzzPeer struct {
	url  string
	ln   net.Listener
	done chan struct{}
	mu   sync.Mutex
	conn net.Conn
}

// With WebSocket frames in the input (fuzzWSRaw), the first prefix bytes of
// stream (the AuthOK) go in a binary message of their own.
func startFuzzPeer(t *testing.T, mode uint8, stream, cuts []byte, prefix int) *fuzzPeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &fuzzPeer{url: "tcp://" + ln.Addr().String(), ln: ln, done: make(chan struct{})}
	if mode&fuzzWS != 0 {
		p.url = "ws://" + ln.Addr().String() + "/ws"
	}
	go func() {
		defer close(p.done)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.conn = conn
		p.mu.Unlock()
		_ = conn.SetDeadline(time.Now().Add(2 * fuzzBound))
		if mode&fuzzWS == 0 {
			fr := wire.NewFrameReader(bufio.NewReader(conn), 0)
			if h, _, err := fr.ReadFrame(); err != nil || h.Op != wire.OpAuth {
				_ = conn.Close()
				return
			}
			_, _ = conn.Write(stream)
		} else {
			u := ws.Upgrader{Protocol: func(b []byte) bool { return string(b) == wire.WebSocketProtocol }}
			if _, err := u.Upgrade(conn); err != nil {
				_ = conn.Close()
				return
			}
			if _, _, err := wsutil.ReadClientData(conn); err != nil {
				_ = conn.Close()
				return
			}
			if mode&fuzzWSRaw != 0 {
				var b bytes.Buffer
				if prefix > 0 {
					_ = ws.WriteFrame(&b, ws.NewFrame(ws.OpBinary, true, stream[:prefix]))
				}
				b.Write(stream[prefix:])
				_, _ = conn.Write(b.Bytes())
			} else {
				_, _ = conn.Write(serverMessages(stream, cuts, mode&fuzzFragments != 0))
			}
		}
		if mode&fuzzHoldOpen == 0 {
			_ = conn.Close()
			return
		}
		// Held open: drain what the client sends until it closes.
		_, _ = io.Copy(io.Discard, conn)
		_ = conn.Close()
	}()
	return p
}

func (p *fuzzPeer) close() {
	_ = p.ln.Close()
	p.mu.Lock()
	if p.conn != nil {
		_ = p.conn.Close()
	}
	p.mu.Unlock()
	<-p.done
}

// serverMessages cuts b into binary messages of 1 to 256 bytes (cuts,
// cycling; none: one message), each in two fragments with a ping between
// them when fragments is set, as an edge's WebSocket frames.
func serverMessages(b, cuts []byte, fragments bool) []byte {
	var out bytes.Buffer
	frame := func(op ws.OpCode, fin bool, p []byte) {
		_ = ws.WriteFrame(&out, ws.NewFrame(op, fin, p))
	}
	for i := 0; len(b) > 0; i++ {
		n := len(b)
		if len(cuts) > 0 {
			n = min(n, int(cuts[i%len(cuts)])+1)
		}
		m := b[:n]
		b = b[n:]
		if fragments {
			frame(ws.OpBinary, false, m[:n/2])
			frame(ws.OpPing, true, []byte("p"))
			frame(ws.OpContinuation, true, m[n/2:])
		} else {
			frame(ws.OpBinary, true, m)
		}
	}
	return out.Bytes()
}
