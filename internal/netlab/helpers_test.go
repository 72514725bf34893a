package netlab

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// sink is a UDP server that records what it receives: the sequence number
// at the head of each datagram, its size and source, and the time.
type sink struct {
	conn *net.UDPConn
	echo bool

	mu    sync.Mutex
	seqs  []uint32
	bytes int
	srcs  []netip.AddrPort
	times []time.Time
	done  chan struct{}
}

func newSink(t *testing.T, echo bool) *sink {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	s := &sink{conn: conn, echo: echo, done: make(chan struct{})}
	go s.run()
	t.Cleanup(func() {
		_ = conn.Close()
		<-s.done
	})
	return s
}

func (s *sink) run() {
	defer close(s.done)
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now()
		s.mu.Lock()
		if n >= 4 {
			s.seqs = append(s.seqs, binary.BigEndian.Uint32(buf))
		}
		s.bytes += n
		s.srcs = append(s.srcs, from)
		s.times = append(s.times, now)
		s.mu.Unlock()
		if s.echo {
			_, _ = s.conn.WriteToUDPAddrPort(buf[:n], from)
		}
	}
}

func (s *sink) addr() string { return s.conn.LocalAddr().String() }

func (s *sink) snapshot() (seqs []uint32, bytes int, srcs []netip.AddrPort) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]uint32(nil), s.seqs...), s.bytes, append([]netip.AddrPort(nil), s.srcs...)
}

// dialUDP returns a client socket connected to the relay's address.
func dialUDP(t *testing.T, addr *net.UDPAddr) *net.UDPConn {
	t.Helper()
	c, err := net.DialUDP("udp4", nil, addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(4 << 20)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func datagram(seq uint32, size int) []byte {
	b := make([]byte, max(size, 4))
	binary.BigEndian.PutUint32(b, seq)
	return b
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func newUDPRelay(t *testing.T, cfg UDPConfig) *UDPRelay {
	t.Helper()
	r, err := NewUDPRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

// sendAll sends n datagrams through c, waiting every batch for the relay
// to have decided the fate of what was sent, so that no socket buffer on
// loopback drops any and the relay sees the whole sequence.
func sendAll(t *testing.T, r *UDPRelay, c *net.UDPConn, n int) {
	t.Helper()
	base := r.Stats()
	for i := range n {
		if _, err := c.Write(datagram(uint32(i), 32)); err != nil {
			t.Fatal(err)
		}
		if (i+1)%50 == 0 || i == n-1 {
			want := uint64(i + 1)
			eventually(t, 5*time.Second, "the relay to read the batch", func() bool {
				s := r.Stats()
				return s.Forwarded-base.Forwarded+s.DroppedLoss-base.DroppedLoss+s.DroppedQueue-base.DroppedQueue >= want
			})
		}
	}
}
