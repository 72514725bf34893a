package netlab

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// echoTCP is a TCP echo server; it records the errors its connections end
// with.
type echoTCP struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
}

func newEchoTCP(t *testing.T) *echoTCP {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoTCP{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				_, err := io.Copy(c, c)
				e.mu.Lock()
				e.errs = append(e.errs, err)
				e.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		e.wg.Wait()
	})
	return e
}

func newTCPRelay(t *testing.T, cfg TCPConfig) *TCPRelay {
	t.Helper()
	r, err := NewTCPRelay(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func tcpRTT(t *testing.T, c net.Conn, msg []byte) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, msg) {
		t.Fatalf("echo %q, want %q", buf, msg)
	}
	return time.Since(start)
}

func TestTCPDelayKeepsOrder(t *testing.T) {
	e := newEchoTCP(t)
	r := newTCPRelay(t, TCPConfig{Target: e.ln.Addr().String(), Seed: 5, Path: Path{
		Up:   Link{Delay: 30 * time.Millisecond, Jitter: 10 * time.Millisecond},
		Down: Link{Delay: 20 * time.Millisecond},
	}})
	c, err := net.Dial("tcp4", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := range 5 {
		if d := tcpRTT(t, c, []byte("ping")); d < 40*time.Millisecond || d > 90*time.Millisecond {
			t.Errorf("round trip %d = %v, want 50ms ± 10ms of jitter", i, d)
		}
	}
	// A stream of small writes arrives whole and in order under jitter.
	var want bytes.Buffer
	for i := range 200 {
		want.WriteString("segment ")
		want.WriteByte(byte('a' + i%26))
	}
	go func() {
		for i := 0; i < want.Len(); i += 9 {
			_, _ = c.Write(want.Bytes()[i : i+9])
			time.Sleep(100 * time.Microsecond)
		}
	}()
	got := make([]byte, want.Len())
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Error("the stream arrived altered")
	}
}

func TestTCPLossIsRetransmissionDelay(t *testing.T) {
	e := newEchoTCP(t)
	r := newTCPRelay(t, TCPConfig{Target: e.ln.Addr().String(), RTO: 100 * time.Millisecond, Path: Path{
		Up: Link{Loss: 1},
	}})
	c, err := net.Dial("tcp4", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if d := tcpRTT(t, c, []byte("lost once")); d < 100*time.Millisecond || d > 160*time.Millisecond {
		t.Errorf("round trip with a lost segment = %v, want the RTO, 100ms", d)
	}
	if st := r.Stats(); st.Retransmitted != 1 {
		t.Errorf("Retransmitted = %d, want 1", st.Retransmitted)
	}
}

func TestTCPBandwidthCap(t *testing.T) {
	e := newEchoTCP(t)
	const bw = 500_000
	r := newTCPRelay(t, TCPConfig{Target: e.ln.Addr().String(), Path: Path{
		Up: Link{Bandwidth: bw, QueueBytes: 32 << 10},
	}})
	c, err := net.Dial("tcp4", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 400_000
	go func() { _, _ = c.Write(make([]byte, n)) }()
	start := time.Now()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	rate := float64(n) / time.Since(start).Seconds()
	t.Logf("%d bytes at %.0f B/s", n, rate)
	if rate > bw*1.1 || rate < bw*0.7 {
		t.Errorf("throughput %.0f B/s, want about %d", rate, bw)
	}
}

func TestTCPCut(t *testing.T) {
	e := newEchoTCP(t)
	r := newTCPRelay(t, TCPConfig{Target: e.ln.Addr().String()})
	c, err := net.Dial("tcp4", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tcpRTT(t, c, []byte("before"))
	r.Cut()
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = c.Read(make([]byte, 1))
	if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("read after Cut: %v, want a reset", err)
	}
	if !isReset(err) {
		t.Errorf("read after Cut: %v, want a reset, not an orderly close", err)
	}
	eventually(t, 2*time.Second, "the server's side to end", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.errs) == 1
	})
	// The relay goes on accepting.
	c2, err := net.Dial("tcp4", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	tcpRTT(t, c2, []byte("after"))
}

// TestTCPCutConn cuts one of two connections: the other goes on.
func TestTCPCutConn(t *testing.T) {
	e := newEchoTCP(t)
	r := newTCPRelay(t, TCPConfig{Target: e.ln.Addr().String()})
	var cs [2]net.Conn
	for i := range cs {
		c, err := net.Dial("tcp4", r.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		tcpRTT(t, c, []byte("before"))
		cs[i] = c
	}
	if r.CutConn(netip.MustParseAddrPort("127.0.0.1:1")) {
		t.Fatal("CutConn cut a connection from an address it never saw")
	}
	if !r.CutConn(cs[0].LocalAddr().(*net.TCPAddr).AddrPort()) {
		t.Fatal("CutConn found no connection from the first client")
	}
	_ = cs[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := cs[0].Read(make([]byte, 1)); !isReset(err) {
		t.Fatalf("read after CutConn: %v, want a reset", err)
	}
	tcpRTT(t, cs[1], []byte("the other one goes on"))
	eventually(t, 2*time.Second, "the cut connection's server side to end", func() bool {
		e.mu.Lock()
		defer e.mu.Unlock()
		return len(e.errs) == 1
	})
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && bytes.Contains([]byte(op.Err.Error()), []byte("reset"))
}
