package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// TCPConfig configures a TCPRelay.
type TCPConfig struct {
	// Target is the server's host:port; it must be on loopback.
	Target string
	// Path is what the relay does to the streams through it. Loss delays a
	// segment and everything behind it by RTO; Reorder is ignored (a
	// stream arrives in order).
	Path Path
	// RTO is the delay a lost segment costs, a retransmission timeout;
	// zero means 200ms, Linux's minimum RTO, what a connection with a short
	// RTT pays for a loss that fast retransmit does not repair.
	RTO time.Duration
	// Seed seeds the loss and jitter decisions.
	Seed uint64
	// MaxConns bounds the connections relayed at once (each costs four
	// goroutines and two buffers of about QueueBytes); more are refused.
	// Zero means 1024.
	MaxConns int
}

const (
	defaultRTO      = 200 * time.Millisecond
	defaultMaxConns = 1024
	// segmentSize is the most the relay reads at once, one "segment" for
	// the link model.
	segmentSize = 16 << 10
	dialTimeout = 2 * time.Second
)

// TCPRelay relays TCP connections to one server on loopback through a
// Path: each accepted connection gets its own connection to the target.
type TCPRelay struct {
	ln       net.Listener
	target   netip.AddrPort
	rto      time.Duration
	maxConns int
	up, down *shaper
	// queued is how many segments a direction holds before its reader
	// stops reading: the relay's receive window.
	queued int
	stats  counters
	done   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex // guards everything below
	closed bool
	conns  map[*tcpPair]struct{}
}

// tcpPair is one relayed connection: the client's and the relay's own to
// the server.
type tcpPair struct {
	client, server *net.TCPConn
	// from is the client's address, for CutConn.
	from netip.AddrPort
	cut  chan struct{}
	once sync.Once
}

// reset closes both sides with a RST, once.
func (p *tcpPair) reset() {
	p.once.Do(func() {
		close(p.cut)
		_ = p.client.SetLinger(0)
		_ = p.server.SetLinger(0)
		_ = p.client.Close()
		_ = p.server.Close()
	})
}

// NewTCPRelay starts a relay listening on 127.0.0.1 on a free port.
func NewTCPRelay(cfg TCPConfig) (*TCPRelay, error) {
	target, err := loopbackTarget("tcp", cfg.Target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("netlab: listen: %w", err)
	}
	r := &TCPRelay{
		ln:       ln,
		target:   target,
		rto:      cfg.RTO,
		maxConns: cfg.MaxConns,
		up:       newShaper(cfg.Path.Up, cfg.Seed, 0),
		down:     newShaper(cfg.Path.Down, cfg.Seed, 1),
		done:     make(chan struct{}),
		conns:    make(map[*tcpPair]struct{}),
	}
	if r.rto <= 0 {
		r.rto = defaultRTO
	}
	if r.maxConns <= 0 {
		r.maxConns = defaultMaxConns
	}
	r.queued = max(1, r.up.link.QueueBytes/segmentSize)
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.accept() }()
	return r, nil
}

// Addr is the relay's listening address.
func (r *TCPRelay) Addr() *net.TCPAddr { return r.ln.Addr().(*net.TCPAddr) }

// Stats returns the relay's counters.
func (r *TCPRelay) Stats() Stats { return r.stats.snapshot() }

// Cut resets every relayed connection, both to the client and to the
// server, as a network change or a middlebox's timeout does. The relay keeps
// accepting new ones.
func (r *TCPRelay) Cut() {
	r.mu.Lock()
	pairs := make([]*tcpPair, 0, len(r.conns))
	for p := range r.conns {
		pairs = append(pairs, p)
	}
	r.mu.Unlock()
	for _, p := range pairs {
		p.reset()
	}
}

// CutConn resets the one relayed connection whose client is at client (its
// address as the relay sees it, the client's local address), both to the
// client and to the server: a phone that changes networks loses its TCP
// connection, whatever the others do. It reports whether there was one.
func (r *TCPRelay) CutConn(client netip.AddrPort) bool {
	client = netip.AddrPortFrom(client.Addr().Unmap(), client.Port())
	r.mu.Lock()
	var found *tcpPair
	for p := range r.conns {
		if p.from == client {
			found = p
			break
		}
	}
	r.mu.Unlock()
	if found == nil {
		return false
	}
	found.reset()
	return true
}

// Close stops accepting, resets every relayed connection and waits for all
// the relay's goroutines.
func (r *TCPRelay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	r.mu.Unlock()
	_ = r.ln.Close()
	r.Cut()
	r.wg.Wait()
	return nil
}

func (r *TCPRelay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue // a transient accept error; Close ends the loop
		}
		client := c.(*net.TCPConn)
		r.mu.Lock()
		full := r.closed || len(r.conns) >= r.maxConns
		r.mu.Unlock()
		if full {
			_ = client.Close()
			continue
		}
		// The dial is to loopback and normally answered at once, so the
		// accept loop may do it; the timeout covers a server whose accept
		// queue is full.
		sc, err := (&net.Dialer{Timeout: dialTimeout}).Dial("tcp", r.target.String())
		if err != nil {
			_ = client.SetLinger(0)
			_ = client.Close()
			continue
		}
		from := client.RemoteAddr().(*net.TCPAddr).AddrPort()
		p := &tcpPair{client: client, server: sc.(*net.TCPConn), cut: make(chan struct{}),
			from: netip.AddrPortFrom(from.Addr().Unmap(), from.Port())}
		r.mu.Lock()
		if r.closed {
			r.mu.Unlock()
			p.reset()
			continue
		}
		r.conns[p] = struct{}{}
		r.wg.Add(1)
		r.mu.Unlock()
		go func() { defer r.wg.Done(); r.relay(p) }()
	}
}

// relay runs both directions of a pair and forgets it when both are done.
func (r *TCPRelay) relay(p *tcpPair) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.pipe(p, p.server, p.client, r.down) }()
	r.pipe(p, p.client, p.server, r.up)
	wg.Wait()
	_ = p.client.Close()
	_ = p.server.Close()
	r.mu.Lock()
	delete(r.conns, p)
	r.mu.Unlock()
}

type segment struct {
	at   time.Time
	data []byte
}

// pipe carries one direction: a reader that stamps each segment with its
// arrival time, and a writer that delivers it then. The channel between them
// is the direction's bounded buffer: when it is full the reader stops, and
// TCP's flow control pushes back on the sender.
func (r *TCPRelay) pipe(p *tcpPair, src, dst *net.TCPConn, s *shaper) {
	ch := make(chan segment, r.queued)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.write(p, dst, ch, s.perfect())
	}()
	defer wg.Wait()
	defer close(ch)
	for {
		buf := make([]byte, segmentSize)
		n, err := src.Read(buf)
		if n > 0 {
			seg := segment{data: buf[:n]}
			if !s.perfect() {
				at, f, _ := s.schedule(time.Now(), n, true, r.rto)
				seg.at = at
				if f == fateLost {
					r.stats.retransmitted.Add(1)
				}
			}
			select {
			case ch <- seg:
			case <-p.cut:
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// write delivers segments at their arrival times, in the order they were
// read (a segment due before the one ahead of it waits for it: head-of-line
// blocking, what a TCP loss costs), then half-closes dst when
// the source has ended, so that an orderly close passes through.
func (r *TCPRelay) write(p *tcpPair, dst *net.TCPConn, ch <-chan segment, perfect bool) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for seg := range ch {
		if !perfect {
			if d := time.Until(seg.at); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-p.cut:
					timer.Stop()
					return
				}
			}
		}
		if _, err := dst.Write(seg.data); err != nil {
			p.reset()
			return
		}
		r.stats.forwarded.Add(1)
	}
	_ = dst.CloseWrite()
}
