package quicpush

import (
	"testing"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// An ephemeral push in a datagram reaches OnMessage marked Ephemeral, moves
// no position and is no duplicate; a malformed datagram is counted and
// dropped, and the connection goes on: a reliable push after it arrives.
func TestEphemeralDatagrams(t *testing.T) {
	cases, hash := transportCases(t)
	for _, tc := range cases {
		if tc.name != "quic" && tc.name != "webtransport" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			leakCheck(t)
			s := newTestServer(t)
			rec := newRecorder()
			c := newClient(t, []string{tc.listen(s)}, append(rec.options(), WithToken(testToken), WithCertHash(hash))...)
			ctx := testContext(t)
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			s.next(wire.OpAuth)
			if err := c.Join(ctx, "r1"); err != nil {
				t.Fatal(err)
			}
			s.next(wire.OpJoin)
			sc := s.conn(0)
			reliable := wire.Push{Kind: wire.PushRoom, Room: "r1", ID: "m1", Offset: 7, Epoch: "e1", Data: []byte("one")}
			if err := sc.send(wire.AppendPush(nil, &reliable)); err != nil {
				t.Fatal(err)
			}
			samePush(t, recv(t, rec.msgs), &reliable)

			eph := wire.Push{Kind: wire.PushRoom, Room: "r1", ID: "e1", Data: []byte(`{"x":1}`), Flags: wire.PushEphemeral}
			if err := sc.dgram(wire.AppendPush(nil, &eph)); err != nil {
				t.Fatal(err)
			}
			m := recv(t, rec.msgs)
			samePush(t, m, &eph)
			if !m.Ephemeral {
				t.Fatal("a datagram push without the Ephemeral mark")
			}
			// Garbage, then a reliable push on the stream: the client keeps
			// the connection.
			if err := sc.dgram([]byte{0, 0, 0, 5, 9}); err != nil {
				t.Fatal(err)
			}
			next := wire.Push{Kind: wire.PushRoom, Room: "r1", ID: "m2", Offset: 8, Epoch: "e1", Data: []byte("two")}
			// The same ephemeral push on the stream too: not a duplicate.
			if err := sc.send(append(wire.AppendPush(nil, &eph), wire.AppendPush(nil, &next)...)); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, rec.msgs); !m.Ephemeral || m.ID != "e1" {
				t.Fatalf("stream push %+v, want the ephemeral e1", m)
			}
			samePush(t, recv(t, rec.msgs), &next)
			if off, ep := c.Position("r1"); off != 8 || ep != "e1" {
				t.Fatalf("position %d %q, want 8 e1", off, ep)
			}
			if c.Duplicates() != 0 {
				t.Fatalf("%d duplicates", c.Duplicates())
			}
			// Datagrams are unordered with the stream: wait for the
			// malformed one to be counted.
			deadline := testContext(t)
			for {
				got, bad := c.Datagrams()
				if got == 1 && bad == 1 {
					break
				}
				select {
				case <-deadline.Done():
					t.Fatalf("datagrams received %d, malformed %d; want 1, 1", got, bad)
				default:
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
}
