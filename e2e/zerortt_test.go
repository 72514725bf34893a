package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/quic-go/quic-go"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/internal/netlab"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// recorder collects what a Go client receives and its connect events.
type recorder struct {
	mu    sync.Mutex
	ids   []string
	conns []quicpush.ConnectEvent
}

func (r *recorder) options() []quicpush.Option {
	return []quicpush.Option{
		quicpush.WithOnMessage(func(m quicpush.Message) { r.mu.Lock(); r.ids = append(r.ids, m.ID); r.mu.Unlock() }),
		quicpush.WithOnConnect(func(e quicpush.ConnectEvent) { r.mu.Lock(); r.conns = append(r.conns, e); r.mu.Unlock() }),
		quicpush.WithBackoff(10*time.Millisecond, 50*time.Millisecond),
	}
}

func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}

func (r *recorder) connects() []quicpush.ConnectEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.conns)
}

// reconnectMissing connects cl, joins room, gets a first batch of pushes,
// has the edge drop the connection (asking for a reconnect) and pushes a
// second batch while the client is away; it checks both batches arrive in
// order and once, and returns the two connect events.
func reconnectMissing(t *testing.T, srv *testServer, cl *quicpush.Client, r *recorder, room string) (first, second quicpush.ConnectEvent) {
	t.Helper()
	api := srv.apiClient()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.Join(ctx, room); err != nil {
		t.Fatal(err)
	}
	want := pushN(t, api, room, 5)
	waitFor(t, "the first pushes", func() bool { return len(r.received()) == 5 })
	key := cl.ConnKey()
	if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Keys: []string{key}, Reconnect: true})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the disconnect", func() bool { return cl.ConnKey() != key })
	want = append(want, pushN(t, api, room, 5)...)
	waitFor(t, "the missed pushes", func() bool { return len(r.received()) >= 10 })
	if got := r.received(); !slices.Equal(got, want) {
		t.Fatalf("received %v, want %v: each push once, in order", got, want)
	}
	waitFor(t, "the reconnect event", func() bool { return len(r.connects()) == 2 })
	ev := r.connects()
	return ev[0], ev[1]
}

// A reconnect over raw QUIC resumes the TLS session and sends Auth and the
// rejoin as 0-RTT data, which the edge accepts and counts; the pushes missed
// meanwhile arrive once, in order.
func TestGoClientReconnectsWith0RTT(t *testing.T) {
	srv := startServer(t, nil)
	r := &recorder{}
	cl := goClient(t, srv, []string{"quic://" + srv.quic}, token(t, "zr", "zr-feed"), &inbox{}, r.options()...)
	first, second := reconnectMissing(t, srv, cl, r, "zr-feed")
	if first.Resumed || first.ZeroRTT {
		t.Errorf("first connect %+v: want a full handshake", first)
	}
	if !second.Resumed || !second.ZeroRTT {
		t.Errorf("reconnect %+v: want a resumed session with 0-RTT", second)
	}
	if n := metricValue(t, srv, "quicpush_edge_zero_rtt_total"); n != 1 {
		t.Errorf("quicpush_edge_zero_rtt_total = %v, want 1", n)
	}
}

// With 0-RTT off on the edge, the reconnect resumes the session but sends
// Auth after the handshake.
func TestGoClientReconnectWithout0RTT(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.Disable0RTT = true })
	r := &recorder{}
	cl := goClient(t, srv, []string{"quic://" + srv.quic}, token(t, "zr", "zr-feed"), &inbox{}, r.options()...)
	_, second := reconnectMissing(t, srv, cl, r, "zr-feed")
	if !second.Resumed || second.ZeroRTT {
		t.Errorf("reconnect %+v: want a resumed session without 0-RTT", second)
	}
	if n := metricValue(t, srv, "quicpush_edge_zero_rtt_total"); n != 0 {
		t.Errorf("quicpush_edge_zero_rtt_total = %v, want 0", n)
	}
}

// Tickets saved by one client (one launch of an app) and loaded into the
// cache of the next resume the session and carry its first connect in 0-RTT.
func TestGoClientPersistsTickets(t *testing.T) {
	srv := startServer(t, nil)
	saved := map[string][]byte{}
	var mu sync.Mutex
	save := func(key string, ticket []byte) { mu.Lock(); saved[key] = ticket; mu.Unlock() }
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	launch := func() quicpush.ConnectEvent {
		cache := quicpush.NewPersistentSessionCache(save)
		mu.Lock()
		for k, v := range saved {
			if err := cache.Load(k, v); err != nil {
				t.Fatal(err)
			}
		}
		mu.Unlock()
		r := &recorder{}
		cl := goClient(t, srv, []string{"quic://" + srv.quic}, token(t, "zr", "zr-feed"), &inbox{},
			append(r.options(), quicpush.WithSessionCache(cache))...)
		defer cl.Close()
		if err := cl.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := cl.Join(ctx, "zr-feed"); err != nil { // a round trip: the ticket has come
			t.Fatal(err)
		}
		return r.connects()[0]
	}
	if ev := launch(); ev.Resumed {
		t.Fatalf("first launch %+v: want a full handshake", ev)
	}
	mu.Lock()
	n := len(saved)
	mu.Unlock()
	if n == 0 {
		t.Fatal("no ticket saved")
	}
	if ev := launch(); !ev.Resumed || !ev.ZeroRTT {
		t.Fatalf("second launch %+v: want a resumed session with 0-RTT", ev)
	}
}

// TLS and wss reconnects resume the TLS session from the ticket of the
// first connection.
func TestGoClientResumesTLS(t *testing.T) {
	srv := startServer(t, nil)
	for _, ep := range []string{"tls://" + srv.tcp, "wss://" + srv.tcp + "/ws"} {
		t.Run(ep[:3], func(t *testing.T) {
			r := &recorder{}
			room := "zr-" + ep[:3]
			cl := goClient(t, srv, []string{ep}, token(t, "zr", room), &inbox{}, r.options()...)
			first, second := reconnectMissing(t, srv, cl, r, room)
			if first.Resumed || !second.Resumed || second.ZeroRTT {
				t.Errorf("connects %+v then %+v: want a full handshake, then a resumed one", first, second)
			}
		})
	}
}

// A WebTransport reconnect, whose QUIC connection may resume with a ticket
// of its own and carry its CONNECT request as 0-RTT data, gets the missed
// pushes like any other.
func TestGoClientReconnectsWebTransport(t *testing.T) {
	srv := startServer(t, nil)
	r := &recorder{}
	cl := goClient(t, srv, []string{"https://" + srv.quic + "/wt"}, token(t, "zr", "zr-wt"), &inbox{}, r.options()...)
	reconnectMissing(t, srv, cl, r, "zr-wt")
	t.Logf("sessions opened by 0-RTT data: %v", metricValue(t, srv, "quicpush_edge_zero_rtt_total"))
}

// A ticket of another edge process (one restarted, or a second edge) is
// refused with its 0-RTT data: the dial reports quic.Err0RTTRejected, and
// Retry0RTT carries on with a full handshake on which Auth is sent again.
func TestZeroRTTRejectedByAnotherEdge(t *testing.T) {
	if raceDetector {
		t.Skip("built with the race detector, QUIC dials wait for the handshake and see no 0-RTT rejection (internal/frameconn); make test-0rtt runs this without it")
	}
	a, b := startServer(t, nil), startServer(t, nil)
	tok := token(t, "zr")
	cache := tls.NewLRUClientSessionCache(0)
	o := rawOptions()
	o.TLS.ClientSessionCache, o.Early = cache, true
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	hello := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})
	// A full handshake with a, which leaves its ticket in the cache (both
	// edges are 127.0.0.1 to crypto/tls).
	c, err := frameconn.DialQUIC(ctx, a.quic, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFrame(hello); err != nil {
		t.Fatal(err)
	}
	if h, _, err := c.ReadFrame(); err != nil || h.Op != wire.OpAuthOK {
		t.Fatalf("auth on a: %v %v", h.Op, err)
	}
	_ = c.Close(0, "")

	c, err = frameconn.DialQUIC(ctx, b.quic, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(0, "")
	_ = c.WriteFrame(hello) // as 0-RTT data, lost with it
	_, _, err = c.ReadFrame()
	if !errors.Is(err, quic.Err0RTTRejected) {
		t.Fatalf("read after 0-RTT to another edge: %v, want quic.Err0RTTRejected", err)
	}
	if err := c.Retry0RTT(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFrame(hello); err != nil {
		t.Fatal(err)
	}
	if h, _, err := c.ReadFrame(); err != nil || h.Op != wire.OpAuthOK {
		t.Fatalf("auth on b after the retry: %v %v", h.Op, err)
	}
	if c.Used0RTT() {
		t.Error("Used0RTT after a rejection")
	}
}

// A client moving from one edge to another, whose ticket the second edge
// cannot read, falls back to a full handshake: it sends Auth and its rejoin
// again and receives on the new edge.
func TestGoClient0RTTRejectedFallsBack(t *testing.T) {
	a, b := startServer(t, nil), startServer(t, nil)
	r := &recorder{}
	hb := devcert.Hash(b.cert)
	cl := goClient(t, a, []string{"quic://" + a.quic, "quic://" + b.quic}, token(t, "zr", "zr-move"), &inbox{},
		append(r.options(), quicpush.WithCertHash(hb[:]))...)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.Join(ctx, "zr-move"); err != nil {
		t.Fatal(err)
	}
	// a drains: its clients move to the next edge.
	if err := a.Edge.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the connect to b", func() bool { return cl.Endpoint() == "quic://"+b.quic })
	if err := cl.Join(ctx, "zr-move"); err != nil { // rejoined already: returns at once
		t.Fatal(err)
	}
	id := pushRoom(t, b.apiClient(), "zr-move", "on b")
	waitFor(t, "the push on b", func() bool { return slices.Contains(r.received(), id) })
	ev := r.connects()
	if last := ev[len(ev)-1]; last.ZeroRTT || last.Resumed {
		t.Errorf("connect to b %+v: want a full handshake", last)
	}
}

// The cost of a reconnect through a 100 ms round-trip path, from the dial to
// the first missed push: a full QUIC handshake, then 0-RTT with the ticket
// of an earlier connection. It logs the times (a test asserts no speed) and
// checks the 0-RTT dials were 0-RTT and got the missed push first.
func TestReconnectCostThroughTheLab(t *testing.T) {
	if testing.Short() {
		t.Skip("a few seconds of 100 ms round trips")
	}
	srv := startServer(t, nil)
	const oneWay = 50 * time.Millisecond
	relay, err := netlab.NewUDPRelay(netlab.UDPConfig{Target: srv.quic, Path: netlab.Path{
		Up: netlab.Link{Delay: oneWay}, Down: netlab.Link{Delay: oneWay}}})
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	api := srv.apiClient()
	tok := token(t, "zr", "zr-lab")
	pushN(t, api, "zr-lab", 1)
	from := pushedTop(t, api, "zr-lab")
	pushN(t, api, "zr-lab", 1) // the one a reconnect at from misses

	cache := tls.NewLRUClientSessionCache(0)
	const n = 3
	var full, early []time.Duration
	for i := range 2 * n {
		zero := i%2 == 1
		o := rawOptions()
		o.Early = true
		if zero {
			o.TLS.ClientSessionCache = cache
		} else {
			// No ticket: a full handshake, which leaves one for the next.
			o.TLS.ClientSessionCache = onePut{cache}
		}
		d, used := firstMissedPush(t, relay.Addr().String(), o, tok, "zr-lab", from)
		if used != zero {
			t.Fatalf("dial %d: Used0RTT %v, want %v", i, used, zero)
		}
		if zero {
			early = append(early, d)
		} else {
			full = append(full, d)
		}
	}
	rtt := 2 * oneWay
	t.Logf("dial to first missed push at %v RTT: full handshake median %v (%.1f RTT), 0-RTT median %v (%.1f RTT)",
		rtt, median(full), float64(median(full))/float64(rtt), median(early), float64(median(early))/float64(rtt))
}

// pushedTop returns the position of room's last message.
func pushedTop(t *testing.T, api interface {
	History(context.Context, *connect.Request[pushv1.HistoryRequest]) (*connect.Response[pushv1.HistoryResponse], error)
}, room string) wire.Join {
	t.Helper()
	h, err := api.History(t.Context(), connect.NewRequest(&pushv1.HistoryRequest{Stream: &pushv1.HistoryRequest_Room{Room: room}, Limit: 1}))
	if err != nil {
		t.Fatal(err)
	}
	return wire.Join{Room: room, Offset: h.Msg.GetTop().GetOffset(), Epoch: h.Msg.GetTop().GetEpoch()}
}

// firstMissedPush dials addr early, sends Auth and a Join of room at from in
// one write, and returns the time from the dial to the first push (which
// must be the one after from), and whether the dial used 0-RTT.
func firstMissedPush(t *testing.T, addr string, o frameconn.Options, tok, room string, from wire.Join) (time.Duration, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	c, err := frameconn.DialQUIC(ctx, addr, o)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(0, "")
	hello := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})
	hello = wire.AppendJoin(hello, 2, &from)
	if err := c.WriteFrame(hello); err != nil {
		t.Fatal(err)
	}
	for {
		h, body, err := c.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if h.Op != wire.OpPush {
			continue
		}
		d := time.Since(start)
		var p wire.Push
		if err := p.Decode(body); err != nil {
			t.Fatal(err)
		}
		if p.Room != room || p.Offset != from.Offset+1 {
			t.Fatalf("first push %s at %d, want %s at %d", p.Room, p.Offset, room, from.Offset+1)
		}
		return d, c.Used0RTT()
	}
}

// onePut is a session cache that stores tickets but never offers one.
type onePut struct{ tls.ClientSessionCache }

func (onePut) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
