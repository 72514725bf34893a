package e2e

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	quicpush "github.com/quicpush/quicpush/clients/go"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/netlab"
	"github.com/quicpush/quicpush/wire"
)

func pushEphemeral(t *testing.T, c pushv1connect.PushServiceClient, room, text string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rsp, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: text, Ephemeral: true}))
	if err != nil {
		t.Fatalf("PushRoom (ephemeral): %v", err)
	}
	if rsp.Msg.GetPosition() != nil {
		t.Fatalf("an ephemeral push got position %v", rsp.Msg.GetPosition())
	}
	return rsp.Msg.MessageId
}

func (b *inbox) get(id string) (quicpush.Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msgs {
		if m.ID == id {
			return m, true
		}
	}
	return quicpush.Message{}, false
}

// An ephemeral room push reaches raw QUIC and WebTransport clients in a
// datagram and a TCP client on its stream, is kept out of history, and one too large for a
// datagram reaches the QUIC client on its stream.
func TestEphemeralRoomPush(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var qb, wb, tb inbox
	qc := goClient(t, srv, []string{"quic://" + srv.quic}, token(t, "q", "eph"), &qb)
	wc := goClient(t, srv, []string{"https://" + srv.quic + "/wt"}, token(t, "w", "eph"), &wb)
	tc := goClient(t, srv, []string{"tcp://" + srv.tcp}, token(t, "t", "eph"), &tb)
	for _, c := range []*quicpush.Client{qc, wc, tc} {
		if err := c.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.Join(ctx, "eph"); err != nil {
			t.Fatal(err)
		}
	}

	r1 := pushRoom(t, api, "eph", "reliable")
	e1 := pushEphemeral(t, api, "eph", `{"x":1}`)
	big := pushEphemeral(t, api, "eph", strings.Repeat("b", 4000))
	for _, b := range []*inbox{&qb, &wb, &tb} {
		waitFor(t, "every push", func() bool { return b.has(r1) && b.has(e1) && b.has(big) })
		for _, id := range []string{e1, big} {
			if m, _ := b.get(id); !m.Ephemeral || m.Offset != 0 || m.Epoch != "" {
				t.Fatalf("ephemeral push %+v", m)
			}
		}
		if m, _ := b.get(r1); m.Ephemeral || m.Offset == 0 {
			t.Fatalf("reliable push %+v", m)
		}
	}
	for name, c := range map[string]*quicpush.Client{"QUIC": qc, "WebTransport": wc} {
		if got, bad := c.Datagrams(); got != 1 || bad != 0 {
			t.Fatalf("%s client: %d pushes by datagram, %d malformed; want 1 (the small one), 0", name, got, bad)
		}
	}
	if got, _ := tc.Datagrams(); got != 0 {
		t.Fatalf("TCP client: %d pushes by datagram", got)
	}
	// Counted once SendDatagram returned, which may be just after the
	// client read it.
	waitFor(t, "2 datagrams sent", func() bool { return metricValue(t, srv, "quicpush_edge_datagrams_sent_total") == 2 })
	if v := metricValue(t, srv, "quicpush_edge_datagrams_too_large_total"); v != 2 {
		t.Fatalf("datagrams too large %v, want 2", v)
	}
	// The ephemeral pushes may have come before r1 (a datagram overtakes
	// the stream): either way the position is r1's.
	m1, _ := qb.get(r1)
	if off, _ := qc.Position("eph"); off != m1.Offset {
		t.Fatalf("position %d, want r1's %d: an ephemeral push moved it", off, m1.Offset)
	}

	h, err := api.History(ctx, connect.NewRequest(&pushv1.HistoryRequest{Stream: &pushv1.HistoryRequest_Room{Room: "eph"}}))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range h.Msg.GetMessages() {
		ids = append(ids, m.GetMessageId())
	}
	if !slices.Equal(ids, []string{r1}) {
		t.Fatalf("history holds %v, want only the reliable %s", ids, r1)
	}

	// A client resuming from just before r1 gets r1 replayed, then live
	// pushes: never the ephemeral ones.
	rc := dialRaw(t, srv, "tcp")
	authenticate(t, rc, token(t, "r", "eph"))
	if ok := joinAt(t, rc, 2, "eph", m1.Offset-1, m1.Epoch); ok.Recovery != wire.RecoveryRecovered {
		t.Fatalf("resume: %+v, want recovered", ok)
	}
	if p := expectPush(t, rc); p.ID != r1 {
		t.Fatalf("replayed %s, want only %s", p.ID, r1)
	}
	r2 := pushRoom(t, api, "eph", "after")
	if p := expectPush(t, rc); p.ID != r2 {
		t.Fatalf("after the replay got %s, want the live %s", p.ID, r2)
	}
}

// Head of line: through a lossy downlink (10% of datagrams lost, seeded),
// reliable and ephemeral pushes interleaved. A reliable push behind a lost
// packet waits for its retransmission, and everything after it on the stream
// waits too; ephemeral pushes come in datagrams that wait for nothing. So
// some ephemeral push overtakes the reliable one pushed before it, and every
// reliable push still arrives exactly once and in order.
func TestEphemeralHeadOfLine(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	relay, err := netlab.NewUDPRelay(netlab.UDPConfig{
		Target: srv.quic,
		Seed:   7,
		Path: netlab.Path{
			Up:   netlab.Link{Delay: 10 * time.Millisecond},
			Down: netlab.Link{Delay: 10 * time.Millisecond, Loss: 0.10},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = relay.Close() })

	var (
		mu      sync.Mutex
		arrived = map[string]time.Time{}
		order   []string // reliable ids in arrival order, repeats included
	)
	onMsg := quicpush.WithOnMessage(func(m quicpush.Message) {
		mu.Lock()
		defer mu.Unlock()
		if _, seen := arrived[m.ID]; !seen {
			arrived[m.ID] = time.Now()
		}
		if !m.Ephemeral {
			order = append(order, m.ID)
		}
	})
	var b inbox
	c := goClient(t, srv, []string{"quic://" + relay.Addr().String()}, token(t, "hol", "hol"), &b, onMsg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Join(ctx, "hol"); err != nil {
		t.Fatal(err)
	}

	const n = 120
	type pair struct {
		reliable, ephemeral string
		rSent, eSent        time.Time
	}
	pairs := make([]pair, n)
	payload := strings.Repeat("p", 600) // a few pushes per packet at most
	for i := range pairs {
		p := &pairs[i]
		p.rSent = time.Now()
		p.reliable = pushRoom(t, api, "hol", payload)
		p.eSent = time.Now()
		p.ephemeral = pushEphemeral(t, api, "hol", `{"seq":`+strings.Repeat("9", 3)+`}`)
		time.Sleep(5 * time.Millisecond) // paced like position updates, not a burst
	}
	waitFor(t, "every reliable push", func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, p := range pairs {
			if _, ok := arrived[p.reliable]; !ok {
				return false
			}
		}
		return true
	})

	mu.Lock()
	defer mu.Unlock()
	want := make([]string, n)
	for i, p := range pairs {
		want[i] = p.reliable
	}
	if !slices.Equal(order, want) {
		t.Fatalf("reliable pushes arrived as %d ids (not each once, in order): %v", len(order), order)
	}
	var relLat, ephLat []time.Duration
	overtook := 0
	for _, p := range pairs {
		rAt := arrived[p.reliable]
		relLat = append(relLat, rAt.Sub(p.rSent))
		if eAt, ok := arrived[p.ephemeral]; ok {
			ephLat = append(ephLat, eAt.Sub(p.eSent))
			if eAt.Before(rAt) {
				overtook++
			}
		}
	}
	slices.Sort(relLat)
	slices.Sort(ephLat)
	got, _ := c.Datagrams()
	st := relay.Stats()
	t.Logf("relay: %+v", st)
	t.Logf("reliable: %d, latency p50 %v p95 %v max %v", len(relLat), relLat[len(relLat)/2], relLat[len(relLat)*95/100], relLat[len(relLat)-1])
	if len(ephLat) > 0 {
		t.Logf("ephemeral: %d of %d arrived (%d by datagram), latency p50 %v p95 %v max %v; %d overtook the reliable push sent before them",
			len(ephLat), n, got, ephLat[len(ephLat)/2], ephLat[len(ephLat)*95/100], ephLat[len(ephLat)-1], overtook)
	}
	if overtook == 0 {
		t.Fatal("no ephemeral push overtook the reliable push before it: ephemeral pushes waited behind the stream")
	}
	if got == 0 || len(ephLat) < n/2 {
		t.Fatalf("%d ephemeral pushes arrived, %d by datagram: want most of %d, by datagram", len(ephLat), got, n)
	}
}
