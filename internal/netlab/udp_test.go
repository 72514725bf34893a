package netlab

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestUDPRefusesNonLoopback(t *testing.T) {
	for _, target := range []string{"192.0.2.1:443", "8.8.8.8:53", "[2001:db8::1]:443"} {
		if _, err := NewUDPRelay(UDPConfig{Target: target}); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("UDP %s: err = %v, want ErrNotLoopback", target, err)
		}
		if _, err := NewTCPRelay(TCPConfig{Target: target}); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("TCP %s: err = %v, want ErrNotLoopback", target, err)
		}
	}
}

// rtt sends one datagram through c to an echo sink and times the reply.
func rtt(t *testing.T, c *net.UDPConn, seq uint32) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(datagram(seq, 32)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	if _, err := c.Read(buf); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func TestUDPDelay(t *testing.T) {
	s := newSink(t, true)
	r := newUDPRelay(t, UDPConfig{Target: s.addr(), Path: Path{
		Up:   Link{Delay: 30 * time.Millisecond},
		Down: Link{Delay: 20 * time.Millisecond},
	}})
	c := dialUDP(t, r.Addr())
	for i := range 5 {
		d := rtt(t, c, uint32(i))
		if d < 50*time.Millisecond || d > 80*time.Millisecond {
			t.Errorf("round trip %d = %v, want 50ms (+30ms of scheduling)", i, d)
		}
	}
}

func TestUDPJitterKeepsOrder(t *testing.T) {
	s := newSink(t, false)
	r := newUDPRelay(t, UDPConfig{Target: s.addr(), Seed: 1, Path: Path{
		Up: Link{Delay: 20 * time.Millisecond, Jitter: 15 * time.Millisecond},
	}})
	c := dialUDP(t, r.Addr())
	for i := range 200 {
		_, _ = c.Write(datagram(uint32(i), 32))
		time.Sleep(200 * time.Microsecond)
	}
	eventually(t, 3*time.Second, "200 datagrams", func() bool { seqs, _, _ := s.snapshot(); return len(seqs) == 200 })
	seqs, _, _ := s.snapshot()
	if !slices.IsSorted(seqs) {
		t.Errorf("jitter reordered datagrams: %v", seqs)
	}
}

// lossRun sends n datagrams through a relay with link up and returns the
// sequence numbers that arrived and the relay's counters.
func lossRun(t *testing.T, up Link, seed uint64, n int) ([]uint32, Stats) {
	t.Helper()
	s := newSink(t, false)
	r, err := NewUDPRelay(UDPConfig{Target: s.addr(), Seed: seed, Path: Path{Up: up}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c := dialUDP(t, r.Addr())
	sendAll(t, r, c, n)
	want := int(r.Stats().Forwarded)
	eventually(t, 3*time.Second, "the sink to receive what was forwarded", func() bool {
		seqs, _, _ := s.snapshot()
		return len(seqs) == want
	})
	seqs, _, _ := s.snapshot()
	slices.Sort(seqs)
	return seqs, r.Stats()
}

func TestUDPLossRateAndSeed(t *testing.T) {
	const n = 3000
	link := Link{Loss: 0.1, Delay: time.Millisecond}
	a, sa := lossRun(t, link, 42, n)
	rate := float64(sa.DroppedLoss) / n
	if rate < 0.08 || rate > 0.12 {
		t.Errorf("loss rate = %.3f, want 0.10 ± 0.02", rate)
	}
	if int(sa.Forwarded)+int(sa.DroppedLoss) != n || len(a) != int(sa.Forwarded) {
		t.Errorf("forwarded %d + lost %d != %d sent, or the sink got %d", sa.Forwarded, sa.DroppedLoss, n, len(a))
	}
	b, _ := lossRun(t, link, 42, n)
	if !slices.Equal(a, b) {
		t.Errorf("same seed, different datagrams lost: %d and %d arrived", len(a), len(b))
	}
	other, _ := lossRun(t, link, 43, n)
	if slices.Equal(a, other) {
		t.Error("another seed lost exactly the same datagrams")
	}
}

// lossRuns returns the lengths of the runs of consecutive missing sequence
// numbers in [0, n).
func lossRuns(arrived []uint32, n int) []int {
	got := make([]bool, n)
	for _, s := range arrived {
		got[s] = true
	}
	var runs []int
	run := 0
	for _, ok := range got {
		if !ok {
			run++
			continue
		}
		if run > 0 {
			runs = append(runs, run)
		}
		run = 0
	}
	if run > 0 {
		runs = append(runs, run)
	}
	return runs
}

func meanRun(runs []int) float64 {
	sum := 0
	for _, r := range runs {
		sum += r
	}
	return float64(sum) / float64(max(len(runs), 1))
}

func TestUDPBurstLoss(t *testing.T) {
	const n = 3000
	// Mean burst 1/0.25 = 4 datagrams; stationary loss 0.02/(0.02+0.25) ≈ 7%.
	burst, _ := lossRun(t, Link{Burst: GilbertElliott{PGoodBad: 0.02, PBadGood: 0.25}}, 7, n)
	random, _ := lossRun(t, Link{Loss: 0.07}, 7, n)
	b, r := meanRun(lossRuns(burst, n)), meanRun(lossRuns(random, n))
	t.Logf("mean loss run: burst %.2f, random %.2f", b, r)
	if b < 2.5 {
		t.Errorf("burst loss mean run = %.2f, want about 4", b)
	}
	if r > 1.5 {
		t.Errorf("random loss mean run = %.2f, want about 1", r)
	}
}

func TestUDPReorder(t *testing.T) {
	s := newSink(t, false)
	r := newUDPRelay(t, UDPConfig{Target: s.addr(), Seed: 3, Path: Path{
		Up: Link{Delay: 5 * time.Millisecond, Reorder: 0.1, ReorderDelay: 20 * time.Millisecond},
	}})
	c := dialUDP(t, r.Addr())
	const n = 300
	for i := range n {
		_, _ = c.Write(datagram(uint32(i), 32))
		time.Sleep(500 * time.Microsecond)
	}
	eventually(t, 3*time.Second, "every datagram", func() bool { seqs, _, _ := s.snapshot(); return len(seqs) == n })
	seqs, _, _ := s.snapshot()
	late := 0
	for i := 1; i < len(seqs); i++ {
		if seqs[i] < seqs[i-1] {
			late++
		}
	}
	st := r.Stats()
	t.Logf("reordered %d, arrived out of order %d", st.Reordered, late)
	if st.Reordered < n/20 || late == 0 {
		t.Errorf("reordered %d (want about %d), %d arrived after a later one", st.Reordered, n/10, late)
	}
}

func TestUDPBandwidthCap(t *testing.T) {
	s := newSink(t, false)
	const bw = 200_000 // bytes/s
	r := newUDPRelay(t, UDPConfig{Target: s.addr(), Path: Path{
		Up: Link{Bandwidth: bw, QueueBytes: 20_000},
	}})
	c := dialUDP(t, r.Addr())
	// Offer 3x the cap for a second.
	start := time.Now()
	for i := 0; time.Since(start) < time.Second; i++ {
		for j := range 6 {
			_, _ = c.Write(datagram(uint32(i*6+j), 1000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // the queue drains: 20 KB at 200 KB/s is 100ms
	elapsed := time.Since(start)
	_, got, _ := s.snapshot()
	rate := float64(got) / elapsed.Seconds()
	t.Logf("offered ~600 KB/s, received %d bytes in %v: %.0f B/s; %+v", got, elapsed, rate, r.Stats())
	if rate > bw*1.1 || rate < bw*0.8 {
		t.Errorf("throughput %.0f B/s, want about %d", rate, bw)
	}
	if r.Stats().DroppedQueue == 0 {
		t.Error("no datagram dropped by the full queue")
	}
}

func TestUDPRebind(t *testing.T) {
	s := newSink(t, false)
	r := newUDPRelay(t, UDPConfig{Target: s.addr()})
	c := dialUDP(t, r.Addr())
	_, _ = c.Write(datagram(0, 8))
	eventually(t, time.Second, "the first datagram", func() bool { _, _, srcs := s.snapshot(); return len(srcs) == 1 })
	_, _, srcs := s.snapshot()
	old := srcs[0]
	client := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if up, ok := r.Upstream(client); !ok || up != old {
		t.Fatalf("Upstream(%v) = %v, %v; the server saw %v", client, up, ok, old)
	}

	now, err := r.Rebind(client)
	if err != nil {
		t.Fatal(err)
	}
	if now.Port() == old.Port() {
		t.Fatalf("rebind kept port %d", old.Port())
	}
	_, _ = c.Write(datagram(1, 8))
	eventually(t, time.Second, "the second datagram", func() bool { _, _, srcs := s.snapshot(); return len(srcs) == 2 })
	_, _, srcs = s.snapshot()
	if srcs[1] != now || srcs[1] == old {
		t.Fatalf("after rebind the server saw %v, want %v (was %v)", srcs[1], now, old)
	}

	// The old mapping is gone: the server's datagrams to it are lost; to
	// the new one they arrive.
	buf := make([]byte, 64)
	_, _ = s.conn.WriteToUDPAddrPort([]byte("old"), old)
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if n, err := c.Read(buf); err == nil {
		t.Fatalf("the old port still delivers: %q", buf[:n])
	}
	_, _ = s.conn.WriteToUDPAddrPort([]byte("new"), now)
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "new" {
		t.Fatalf("the new port: %q, %v", buf[:n], err)
	}

	if _, err := r.Rebind(old); !errors.Is(err, ErrUnknownClient) {
		t.Errorf("Rebind of an unknown address: %v, want ErrUnknownClient", err)
	}
}

func TestUDPSecondPath(t *testing.T) {
	s := newSink(t, true)
	r := newUDPRelay(t, UDPConfig{Target: s.addr()})
	cellular, err := r.AddPath(Path{Up: Link{Delay: 40 * time.Millisecond}, Down: Link{Delay: 40 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	wifi := dialUDP(t, r.Addr())
	if d := rtt(t, wifi, 0); d > 30*time.Millisecond {
		t.Errorf("first path round trip %v, want about 0", d)
	}
	// The phone leaves Wi-Fi: a new local socket, to the other address.
	cell := dialUDP(t, cellular)
	if d := rtt(t, cell, 1); d < 80*time.Millisecond || d > 120*time.Millisecond {
		t.Errorf("second path round trip %v, want 80ms", d)
	}
	_, _, srcs := s.snapshot()
	if len(srcs) != 2 || srcs[0] == srcs[1] {
		t.Fatalf("the server saw %v, want two distinct sources", srcs)
	}
	if len(r.Clients()) != 2 {
		t.Errorf("Clients() = %v, want two", r.Clients())
	}
}

func TestUDPBlackhole(t *testing.T) {
	s := newSink(t, true)
	r := newUDPRelay(t, UDPConfig{Target: s.addr()})
	c := dialUDP(t, r.Addr())
	rtt(t, c, 0)
	r.Blackhole(true)
	for i := range 10 {
		_, _ = c.Write(datagram(uint32(i+1), 8))
	}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := c.Read(make([]byte, 64)); err == nil {
		t.Fatal("a datagram crossed the black hole")
	}
	if seqs, _, _ := s.snapshot(); len(seqs) != 1 {
		t.Errorf("the server received %d datagrams, want only the first", len(seqs))
	}
	if st := r.Stats(); st.DroppedBlackhole != 10 {
		t.Errorf("DroppedBlackhole = %d, want 10", st.DroppedBlackhole)
	}
	r.Blackhole(false)
	rtt(t, c, 99)
}

func TestUDPIPv6Target(t *testing.T) {
	srv, err := net.ListenUDP("udp6", &net.UDPAddr{IP: net.IPv6loopback})
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	defer srv.Close()
	r := newUDPRelay(t, UDPConfig{Target: srv.LocalAddr().String()})
	c := dialUDP(t, r.Addr())
	_, _ = c.Write([]byte("v6"))
	_ = srv.SetReadDeadline(time.Now().Add(time.Second))
	buf := make([]byte, 8)
	n, from, err := srv.ReadFromUDPAddrPort(buf)
	if err != nil || string(buf[:n]) != "v6" || !from.Addr().IsLoopback() {
		t.Fatalf("got %q from %v, %v", buf[:n], from, err)
	}
}

// TestUDPSourcePath gives a second client address a path of its own behind
// the same listening address: its datagrams take that path's delay, and a
// source path with total loss lets nothing through either way.
func TestUDPSourcePath(t *testing.T) {
	s := newSink(t, true)
	r := newUDPRelay(t, UDPConfig{Target: s.conn.LocalAddr().String()})
	if err := r.AddSourcePath(netip.MustParseAddr("127.0.0.2"), Path{Up: Link{Delay: 80 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddSourcePath(netip.MustParseAddr("127.0.0.3"), Path{Up: Link{Loss: 1}, Down: Link{Loss: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := r.AddSourcePath(netip.MustParseAddr("127.0.0.2"), Path{}); err == nil {
		t.Error("a second path for 127.0.0.2 was accepted")
	}
	if err := r.AddSourcePath(netip.MustParseAddr("10.0.0.1"), Path{}); !errors.Is(err, ErrNotLoopback) {
		t.Errorf("a path for 10.0.0.1: %v, want ErrNotLoopback", err)
	}
	echo := func(ip string) time.Duration {
		conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		start := time.Now()
		if _, err := conn.WriteTo([]byte{0, 0, 0, 1}, r.Addr()); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Second))
		buf := make([]byte, 64)
		if _, _, err := conn.ReadFrom(buf); err != nil {
			return -1
		}
		return time.Since(start)
	}
	if d := echo("127.0.0.1"); d < 0 || d >= 80*time.Millisecond {
		t.Errorf("first path echo took %v, want under 80ms", d)
	}
	if d := echo("127.0.0.2"); d < 80*time.Millisecond {
		t.Errorf("source path echo took %v, want at least its 80ms delay", d)
	}
	if d := echo("127.0.0.3"); d >= 0 {
		t.Errorf("an echo came back through a path that loses everything, after %v", d)
	}
}
