package edge

import (
	"bytes"
	"context"
	"crypto/tls"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// dgramSink is a sink whose connection carries datagrams: sends wait on
// gate (when set) and land in sent; those over limit bytes fail as too large.
type dgramSink struct {
	sinkTransport
	entered chan struct{} // told of each send before it waits on gate
	gate    chan struct{}
	sent    chan []byte
	limit   int
}

func (t *dgramSink) datagrams() bool { return true }

func (t *dgramSink) sendDatagram(b []byte) error {
	if len(b) > t.limit {
		return &quic.DatagramTooLargeError{MaxDatagramPayloadSize: int64(t.limit)}
	}
	if t.entered != nil {
		t.entered <- struct{}{}
	}
	if t.gate != nil {
		<-t.gate
	}
	t.sent <- bytes.Clone(b)
	return nil
}

// The fan-out never waits on a datagram: with the session's sender stuck in
// SendDatagram (quic-go's queue full), Deliver returns, the session's queue
// keeps the newest frames and counts the oldest as dropped, and a frame too
// large for a datagram goes on the stream.
func TestEphemeralDatagramsNeverBlockFanOut(t *testing.T) {
	e := testEdge(t, nil)
	sink := &dgramSink{entered: make(chan struct{}, 100), gate: make(chan struct{}), sent: make(chan []byte, 100), limit: 1000}
	s := newSession(e, sink, time.Time{})
	s.ident = auth.Identity{User: "u", Rooms: []string{"*"}}
	s.key = e.newKey()
	if e.hub.register(s).code != 0 {
		t.Fatal("register refused")
	}
	s.rooms = map[string]struct{}{"pos": {}}
	if err := e.hub.join(s, "pos"); err != nil {
		t.Fatal(err)
	}
	const n = 1 + maxQueuedDatagrams + 4 // one taken by the stuck sender
	msg := func(i int) []*push.Message {
		return []*push.Message{{ID: "m" + string(rune('a'+i)), Kind: push.KindRoom, Room: "pos", Data: []byte("x"), Ephemeral: true}}
	}
	e.Deliver(msg(0))
	<-sink.entered // the sender holds the first frame, stuck
	done := make(chan struct{})
	go func() {
		for i := 1; i < n; i++ {
			e.Deliver(msg(i))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Deliver blocked behind a stuck datagram sender")
	}
	if got := testutil.ToFloat64(e.metrics.datagramsDropped); got != 4 {
		t.Fatalf("dropped %v, want 4 (the oldest queued)", got)
	}
	close(sink.gate)
	var ids []string
	for range 1 + maxQueuedDatagrams {
		var p wire.Push
		if err := wire.DecodeDatagram(<-sink.sent, 0, &p); err != nil {
			t.Fatal(err)
		}
		if p.Room != "pos" || p.Offset != 0 || p.Epoch != "" {
			t.Fatalf("datagram push %+v", p)
		}
		ids = append(ids, p.ID)
	}
	if ids[0] != "ma" || ids[1] != "m"+string(rune('a'+5)) || ids[len(ids)-1] != "m"+string(rune('a'+n-1)) {
		t.Fatalf("sent %v: want the first, then the newest %d", ids, maxQueuedDatagrams)
	}

	big := &push.Message{ID: "big", Kind: push.KindRoom, Room: "pos", Data: make([]byte, 2000), Ephemeral: true}
	e.Deliver([]*push.Message{big})
	deadline := time.Now().Add(5 * time.Second)
	for sink.bytes.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if sink.bytes.Load() < 2000 {
		t.Fatalf("stream got %d bytes, want the oversize push", sink.bytes.Load())
	}
	if got := testutil.ToFloat64(e.metrics.datagramsTooLarge); got != 1 {
		t.Fatalf("too large %v, want 1", got)
	}
	if got := testutil.ToFloat64(e.metrics.datagramsSent); got != 1+maxQueuedDatagrams {
		t.Fatalf("sent %v, want %d", got, 1+maxQueuedDatagrams)
	}
}

// Over raw QUIC an ephemeral push reaches a client that enabled datagrams
// in a datagram, and one that did not on its stream, flagged either way.
func TestEphemeralOverQUIC(t *testing.T) {
	e := testEdge(t, nil)
	tok := testEdgeToken(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	join := func(enable bool) (*quic.Conn, *wire.FrameReader) {
		tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{wire.ALPN}}
		c, err := quic.DialAddr(ctx, e.QUICAddr().String(), tlsConf, &quic.Config{EnableDatagrams: enable})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.CloseWithError(0, "") })
		str, err := c.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		b := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})
		b = wire.AppendJoin(b, 2, &wire.Join{Room: "pos"})
		if _, err := str.Write(b); err != nil {
			t.Fatal(err)
		}
		_ = str.SetReadDeadline(time.Now().Add(10 * time.Second))
		fr := wire.NewFrameReader(str, 0)
		for _, want := range []wire.Op{wire.OpAuthOK, wire.OpJoinOK} {
			if h, _, err := fr.ReadFrame(); err != nil || h.Op != want {
				t.Fatalf("read %v, %v; want %v", h.Op, err, want)
			}
		}
		return c, fr
	}
	withDG, _ := join(true)
	_, stream := join(false)

	e.Deliver([]*push.Message{{ID: "e1", Kind: push.KindRoom, Room: "pos", Data: []byte(`{"x":1}`), Ephemeral: true}})
	b, err := withDG.ReceiveDatagram(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var p wire.Push
	if err := wire.DecodeDatagram(b, 0, &p); err != nil || p.ID != "e1" {
		t.Fatalf("datagram %x: %+v, %v", b, p, err)
	}
	h, body, err := stream.ReadFrame()
	if err != nil || h.Op != wire.OpPush {
		t.Fatalf("stream: %v, %v", h.Op, err)
	}
	p = wire.Push{}
	if err := p.Decode(body); err != nil || p.ID != "e1" || !p.Ephemeral() {
		t.Fatalf("stream push %+v, %v", p, err)
	}
}
