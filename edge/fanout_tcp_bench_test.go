package edge

import (
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// countingReader drains a client socket and counts bytes, standing in for
// a client that keeps up.
type countingReader struct{ n atomic.Int64 }

func (c *countingReader) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// dialTCPMembers connects n real TCP clients, authenticates them and joins
// them to room; each drains its socket in its own goroutine.
func dialTCPMembers(tb testing.TB, e *Edge, n int, room string) []*countingReader {
	tb.Helper()
	tok, err := auth.IssueHS256(testEdgeSecret, "bench", []string{"*"}, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	counters := make([]*countingReader, n)
	for i := range n {
		c, err := net.Dial("tcp", e.TCPAddr().String())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		fr := wire.NewFrameReader(c, 0)
		out := wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})
		out = wire.AppendJoin(out, 2, &wire.Join{Room: room})
		if _, err := c.Write(out); err != nil {
			tb.Fatal(err)
		}
		for _, want := range []wire.Op{wire.OpAuthOK, wire.OpJoinOK} {
			if h, _, err := fr.ReadFrame(); err != nil || h.Op != want {
				tb.Fatalf("client %d: %v %v", i, h.Op, err)
			}
		}
		counters[i] = &countingReader{}
		go func() { _, _ = io.Copy(counters[i], c) }()
	}
	return counters
}

// BenchmarkRoomFanoutTCP delivers room messages to real loopback TCP
// clients: the edge's whole write path, syscalls included (the clients'
// reads run in the same process and are part of the CPU cost).
func BenchmarkRoomFanoutTCP(b *testing.B) {
	for _, members := range []int{1000} {
		b.Run(strconv.Itoa(members), func(b *testing.B) {
			e := testEdge(b, func(c *Config) { c.MaxQueueBytes = 64 << 20 })
			counters := dialTCPMembers(b, e, members, "bench")
			msg := []*push.Message{{ID: "01M88G7NY3BW9TD07GFJCR51KR", Kind: push.KindRoom, Room: "bench", Data: []byte(`{"test":1,"t":1764045000000000000}`)}}
			size := int64(len(encode(msg, wire.PushRoom)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				e.Deliver(msg)
				// Pace like a steady push stream: one message per pass.
				for _, c := range counters[:1] {
					for c.n.Load() < int64(i+1)*size {
						time.Sleep(20 * time.Microsecond)
					}
				}
			}
			for _, c := range counters {
				for c.n.Load() < int64(b.N)*size {
					time.Sleep(100 * time.Microsecond)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
		})
	}
}
