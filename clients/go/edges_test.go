package quicpush

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// testEdge is a test server standing for one edge of a cluster, serving raw
// QUIC and framed TCP; spec is its element of the list given to New.
type testEdge struct {
	*testServer
	quic, tcp string
	spec      string
}

// newTestEdge starts an edge whose connection keys start with id; tune, if
// not nil, sets the server up before it listens.
func newTestEdge(t *testing.T, id string, tune func(*testServer)) *testEdge {
	t.Helper()
	cert, _ := newTestCert(t)
	s := newTestServer(t)
	s.id = id
	if tune != nil {
		tune(s)
	}
	e := &testEdge{testServer: s, quic: s.listenQUIC(cert), tcp: s.listenTCP(nil)}
	e.spec = e.quic + " " + e.tcp
	return e
}

// insecure accepts the test edges' self-signed certificates, which differ
// per edge.
func insecure() Option {
	return WithTLSConfig(&tls.Config{InsecureSkipVerify: true})
}

// waitFor polls cond every 10 ms until it holds, failing the test after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// onEdge reports whether c is connected to e, by its connection key's prefix.
func onEdge(c *Client, e *testEdge) bool {
	return strings.HasPrefix(c.ConnKey(), e.id+"-")
}

// closedTCPPort returns a loopback TCP address nobody listens on.
func closedTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestEdgeFailover connects a client to two edges, QUIC then TCP each, and
// loses edge 1 by a drain (Disconnect 3000) or by a kill (connections closed
// without a code): either way the client moves to edge 2 at once (default
// backoff), rejoins its room there and receives edge 2's pushes.
//
// The dial timeout is long so that trying the lost edge first would show: a
// QUIC dial to its closed UDP port gets no answer and alone would last longer
// than the 2 s the move is given.
func TestEdgeFailover(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose func(*testEdge)
		code wire.Code
	}{
		{name: "drain", lose: (*testEdge).shutdown, code: wire.CodeShutdown},
		{name: "kill", lose: (*testEdge).close, code: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			e1, e2 := newTestEdge(t, "edge1", nil), newTestEdge(t, "edge2", nil)
			rec := newRecorder()
			c := newClient(t, []string{e1.spec, e2.spec},
				append(rec.options(), WithToken(testToken), insecure(), WithDialTimeout(5*time.Second))...)
			ctx := testContext(t)
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if ev := recv(t, rec.connects); ev.Endpoint != e1.quic || ev.ConnKey != "edge1-1" {
				t.Fatalf("connect event %+v, want edge 1 over %s", ev, e1.quic)
			}
			if !onEdge(c, e1) || c.Endpoint() != e1.quic || c.Transport() != "quic" {
				t.Fatalf("on %q via %q over %q, want edge 1 via %s", c.ConnKey(), c.Endpoint(), c.Transport(), e1.quic)
			}
			if err := c.Join(ctx, "news"); err != nil {
				t.Fatal(err)
			}
			e1.next(wire.OpJoin)

			start := time.Now()
			tc.lose(e1)
			waitFor(t, 2*time.Second, "connection to edge 2", func() bool { return onEdge(c, e2) })
			t.Logf("on edge 2 after %v", time.Since(start))
			if d := recv(t, rec.disconnects); d.Code != tc.code || !d.Reconnect {
				t.Fatalf("disconnect %+v, want code %d and a reconnect", d, tc.code)
			}
			if ev := recv(t, rec.connects); ev.Endpoint != e2.quic || ev.ConnKey != "edge2-1" {
				t.Fatalf("reconnect event %+v, want edge 2 over %s", ev, e2.quic)
			}
			if c.Endpoint() != e2.quic {
				t.Fatalf("endpoint %q, want %s", c.Endpoint(), e2.quic)
			}
			j := e2.next(wire.OpJoin)
			if j.join.Room != "news" {
				t.Fatalf("rejoin %+v", j.join)
			}
			if err := c.Join(ctx, "news"); err != nil { // confirmed on edge 2
				t.Fatal(err)
			}
			p := wire.Push{Kind: wire.PushRoom, Room: "news", ID: "after-move", Data: []byte("hi")}
			if err := j.conn.send(wire.AppendPush(nil, &p)); err != nil {
				t.Fatal(err)
			}
			samePush(t, recv(t, rec.msgs), &p)
		})
	}
}

// TestEdgeKeptOnOtherCodes has edge 1 disconnect the client with codes of the
// reconnect range that concern the session, not the edge (its heartbeat
// timeout, a backend's disconnect): the client comes back to edge 1.
func TestEdgeKeptOnOtherCodes(t *testing.T) {
	leakCheck(t)
	e1, e2 := newTestEdge(t, "edge1", nil), newTestEdge(t, "edge2", nil)
	rec := newRecorder()
	c := newClient(t, []string{e1.spec, e2.spec},
		append(rec.options(), WithToken(testToken), insecure(), WithBackoff(5*time.Millisecond, 20*time.Millisecond))...)
	ctx := testContext(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, rec.connects)
	if err := c.Join(ctx, "news"); err != nil {
		t.Fatal(err)
	}
	e1.next(wire.OpJoin)
	for i, code := range []wire.Code{wire.CodeServerDisconnect, wire.CodeHeartbeatTimeout} {
		e1.conn(i).disconnect(code, "again")
		if d := recv(t, rec.disconnects); d.Code != code || !d.Reconnect {
			t.Fatalf("disconnect %+v, want %d", d, code)
		}
		ev := recv(t, rec.connects)
		if want := "edge1-" + string(rune('2'+i)); ev.ConnKey != want || ev.Endpoint != e1.quic {
			t.Fatalf("after %d: reconnect event %+v, want %s over %s", code, ev, want, e1.quic)
		}
		if j := e1.next(wire.OpJoin); j.join.Room != "news" {
			t.Fatalf("rejoin %+v", j.join)
		}
	}
	if n := e2.authCount(); n != 0 {
		t.Fatalf("edge 2 saw %d auths, want none", n)
	}
}

// TestEdgeRotation checks the order of the edges across reconnects: a drain
// starts the next attempt with the next edge, an unreachable edge gives way
// to the one after it within the same attempt, and the list wraps around.
func TestEdgeRotation(t *testing.T) {
	leakCheck(t)
	e1, e3 := newTestEdge(t, "edge1", nil), newTestEdge(t, "edge3", nil)
	dead := "tcp://" + closedTCPPort(t) + " ws://" + closedTCPPort(t) + "/ws"
	rec := newRecorder()
	c := newClient(t, []string{e1.spec, dead, e3.spec}, append(rec.options(), WithToken(testToken), insecure())...)
	ctx := testContext(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	recv(t, rec.connects)
	// Edge 1 tells this client to move but keeps serving.
	e1.conn(0).disconnect(wire.CodeShutdown, "move")
	if ev := recv(t, rec.connects); ev.ConnKey != "edge3-1" {
		t.Fatalf("after edge 1's 3000: %+v, want edge 3 (edge 2 is down)", ev)
	}
	e3.conn(0).disconnect(wire.CodeShutdown, "move")
	if ev := recv(t, rec.connects); ev.ConnKey != "edge1-2" || ev.Endpoint != e1.quic {
		t.Fatalf("after edge 3's 3000: %+v, want edge 1 again", ev)
	}
}

// TestEdgeRefusalSkipsEdge has edge 1 refuse every Auth with a code that
// allows a retry: the client does not try edge 1's other transports, which
// would hear the same, and connects to edge 2.
func TestEdgeRefusalSkipsEdge(t *testing.T) {
	leakCheck(t)
	e1 := newTestEdge(t, "edge1", func(s *testServer) { s.refuse = wire.CodeShutdown })
	e2 := newTestEdge(t, "edge2", nil)
	c := newClient(t, []string{e1.spec, e2.spec}, WithToken(testToken), insecure())
	if err := c.Connect(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if !onEdge(c, e2) || c.Endpoint() != e2.quic {
		t.Fatalf("on %q via %q, want edge 2 via %s", c.ConnKey(), c.Endpoint(), e2.quic)
	}
	if n := e1.authCount(); n != 1 {
		t.Fatalf("edge 1 saw %d auths, want 1 (its TCP endpoint skipped)", n)
	}
}

func TestNewEdges(t *testing.T) {
	c, err := New([]string{"quic://a:1 tcp://a:2", " ws://b:3/ws\n", "tls://c:4\twss://c/ws  https://c/wt"})
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, edge := range c.edges {
		var urls []string
		for _, ep := range edge {
			urls = append(urls, ep.url)
		}
		got = append(got, urls)
	}
	want := "[[quic://a:1 tcp://a:2] [ws://b:3/ws] [tls://c:4 wss://c/ws https://c/wt]]"
	if s := fmt.Sprint(got); s != want {
		t.Fatalf("edges %s, want %s", s, want)
	}
	_ = c.Close()

	for _, tc := range []struct {
		name      string
		endpoints []string
		want      string // in the error, naming the element
	}{
		{name: "empty", endpoints: []string{"tcp://a:1", ""}, want: `endpoints[1] ""`},
		{name: "blank", endpoints: []string{" \t "}, want: `endpoints[0] " \t "`},
		{name: "bad URL in a group", endpoints: []string{"tcp://a:1", "quic://b:1 %zz"}, want: `endpoints[1] "quic://b:1 %zz": endpoint "%zz"`},
		{name: "no port in a group", endpoints: []string{"quic://b:1 tcp://b"}, want: `endpoints[0] "quic://b:1 tcp://b": endpoint "tcp://b": no port`},
		{name: "comma in a group", endpoints: []string{"quic://b:1,tcp://b:2"}, want: `endpoints[0]: endpoint "quic://b:1,tcp://b:2"`},
		{name: "single", endpoints: []string{"tcp://a:1", "udp://b:1"}, want: `endpoints[1]: endpoint "udp://b:1": unknown scheme`},
	} {
		_, err := New(tc.endpoints)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: New = %v, want an error with %s", tc.name, err, tc.want)
		}
	}
}
