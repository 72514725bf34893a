package edge

import (
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/devcert"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// sinkTransport is a transport that discards what is written and counts it,
// so the benchmarks measure the edge's own fan-out and queueing.
type sinkTransport struct {
	bytes   atomic.Int64
	batches atomic.Int64
	block   chan struct{} // when set, writes wait on it
}

func (t *sinkTransport) readFrame() (wire.Header, []byte, error) { select {} }
func (t *sinkTransport) writeBatch(bufs [][]byte) error {
	if t.block != nil {
		<-t.block
	}
	n := 0
	for _, b := range bufs {
		n += len(b)
	}
	t.bytes.Add(int64(n))
	t.batches.Add(1)
	return nil
}
func (t *sinkTransport) setReadDeadline(time.Time) error  { return nil }
func (t *sinkTransport) setWriteDeadline(time.Time) error { return nil }
func (t *sinkTransport) closeWrite(wire.Code, string)     {}
func (t *sinkTransport) close(wire.Code, string)          {}
func (t *sinkTransport) releaseRead()                     {}
func (t *sinkTransport) setMaxFrame(int)                  {}
func (t *sinkTransport) rawReader() io.Reader             { return strings.NewReader("") }
func (t *sinkTransport) kind() string                     { return "sink" }
func (t *sinkTransport) remoteAddr() net.Addr             { return &net.TCPAddr{} }

var (
	testCertOnce sync.Once
	testCert     tls.Certificate
)

// testEdgeSecret is the HMAC secret of testEdge's token verifier.
var testEdgeSecret = []byte(strings.Repeat("s", 32))

// testEdgeToken returns a token testEdge accepts, of user u for every room.
func testEdgeToken(tb testing.TB) string {
	tb.Helper()
	tok, err := auth.IssueHS256(testEdgeSecret, "u", []string{"*"}, time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func testEdge(tb testing.TB, tune func(*Config)) *Edge {
	tb.Helper()
	testCertOnce.Do(func() {
		var err error
		if testCert, err = devcert.Generate(devcert.Hosts); err != nil {
			panic(err)
		}
	})
	v, err := auth.NewVerifier(auth.VerifierConfig{HMACSecret: testEdgeSecret})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := Config{
		QUICAddr: "127.0.0.1:0",
		TCPAddr:  "127.0.0.1:0",
		TLS:      &tls.Config{Certificates: []tls.Certificate{testCert}},
		Auth:     v,
		// The benchmarks' clients are one user on one address, dialing as
		// fast as they can: the abuse limits are not what they measure.
		MaxConnsPerIP:   -1,
		MaxConnsPerUser: -1,
		HandshakesPerIP: -1,
	}
	if tune != nil {
		tune(&cfg)
	}
	e, err := Listen(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// addSessions registers n authenticated sessions on sink transports, all in room.
func addSessions(tb testing.TB, e *Edge, n int, room string) []*sinkTransport {
	sinks := make([]*sinkTransport, n)
	for i := range n {
		sinks[i] = &sinkTransport{}
		s := newSession(e, sinks[i], time.Time{})
		s.ident = auth.Identity{User: "u" + strconv.Itoa(i), Rooms: []string{"*"}}
		s.key = e.newKey()
		if e.hub.register(s).code != 0 {
			tb.Fatal("register refused")
		}
		s.rooms = map[string]struct{}{room: {}}
		if err := e.hub.join(s, room); err != nil {
			tb.Fatal(err)
		}
	}
	return sinks
}

func waitBytes(tb testing.TB, sinks []*sinkTransport, want int64) {
	deadline := time.Now().Add(10 * time.Second)
	for _, s := range sinks {
		for s.bytes.Load() < want {
			if time.Now().After(deadline) {
				tb.Fatalf("sink has %d bytes, want %d", s.bytes.Load(), want)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
}

// BenchmarkRoomFanout delivers one room message to every member: one
// encoding, one queue entry per member, flushers on every core. It reports
// per-delivery cost; allocations per op are per message, not per member.
// The write policy is off: this is the cost of the fan-out itself, every
// message written (the policy would hold messages once the benchmark makes
// the process busy).
func BenchmarkRoomFanout(b *testing.B) {
	for _, members := range []int{100, 1000, 10000} {
		b.Run(strconv.Itoa(members), func(b *testing.B) {
			e := testEdge(b, func(c *Config) { c.MaxQueueBytes = 1 << 30; c.WriteBudget = -1 })
			sinks := addSessions(b, e, members, "bench")
			msg := []*push.Message{{ID: "01M88G7NY3BW9TD07GFJCR51KR", Kind: push.KindRoom, Room: "bench", Data: []byte(`{"test":1}`)}}
			size := int64(len(encode(msg, wire.PushRoom)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				e.Deliver(msg)
			}
			waitBytes(b, sinks, size*int64(b.N))
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*members), "ns/delivery")
		})
	}
}

// TestFanoutAllocatesNothingPerDelivery checks that, in steady state (each
// message flushed before the next), a room delivery's allocations do not grow
// with the number of members: members share one encoding and queues and
// flushers are reused.
func TestFanoutAllocatesNothingPerDelivery(t *testing.T) {
	e := testEdge(t, func(c *Config) { c.MaxQueueBytes = 1 << 30; c.WriteBudget = -1 })
	const members = 2000
	sinks := addSessions(t, e, members, "alloc")
	msg := []*push.Message{{ID: "x", Kind: push.KindRoom, Room: "alloc", Data: []byte("hi")}}
	size := int64(len(encode(msg, wire.PushRoom)))
	// Warm up queues and goroutine free lists.
	const warm = 50
	for range warm {
		e.Deliver(msg)
		time.Sleep(time.Millisecond)
	}
	waitBytes(t, sinks, warm*size)
	const runs = 20
	delivered := int64(warm)
	allocs := testing.AllocsPerRun(runs, func() {
		e.Deliver(msg)
		delivered++
		waitBytes(t, sinks, delivered*size)
	})
	t.Logf("%.1f allocations per room delivery to %d members", allocs, members)
	// One message costs a few allocations (its encoding); members add none.
	if per := allocs / members; per > 0.01 {
		t.Fatalf("%.1f allocations per room delivery to %d members (%.3f per member)", allocs, members, per)
	}
}
