package netlab

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Path is one way between the clients and the server: what a listening
// address of the relay does to the traffic through it. Its zero value is a
// perfect path.
type Path struct {
	// Up is the direction client -> server.
	Up Link
	// Down is the direction server -> client.
	Down Link
}

// UDPConfig configures a UDPRelay.
type UDPConfig struct {
	// Target is the server's host:port; it must be on loopback.
	Target string
	// Path is the first listening address's path (see UDPRelay.AddPath for
	// more).
	Path Path
	// Seed seeds the loss, jitter and reordering decisions; each direction
	// of each path draws from its own PCG stream of it.
	Seed uint64
	// MaxClients bounds the client addresses the relay tracks, each with an
	// upstream socket and a reader goroutine; datagrams from more are
	// dropped. Zero means 1024.
	MaxClients int
}

const (
	defaultMaxClients = 1024
	// maxDatagram is the largest UDP payload: the relay never truncates.
	maxDatagram = 64 << 10
)

// UDPRelay relays datagrams between clients and one server on loopback.
// Each client address it sees gets an upstream socket of its own, so that
// the server sees one source address per client, as it would through a NAT;
// Rebind and AddPath move a client the way a phone moves.
type UDPRelay struct {
	target     netip.AddrPort
	seed       uint64
	maxClients int
	blackhole  atomic.Bool
	sources    atomic.Bool // some client IPs have paths of their own
	stats      counters
	done       chan struct{}
	wg         sync.WaitGroup

	mu      sync.Mutex // guards everything below
	closed  bool
	paths   []*udpPath
	clients map[udpClientKey]*udpClient
	// bySource maps a client IP to the index in paths of the path its
	// datagrams to the first listening address take (AddSourcePath).
	bySource map[netip.Addr]int
}

type udpPath struct {
	conn     *net.UDPConn
	up, down *shaper
	upLine   *delayLine
	downLine *delayLine
	shared   bool // conn is the first path's (AddSourcePath)
}

type udpClientKey struct {
	path int
	addr netip.AddrPort
}

// udpClient is one client address on one path and its upstream socket.
type udpClient struct {
	path *udpPath
	addr netip.AddrPort

	mu       sync.Mutex
	upstream *net.UDPConn
}

func (c *udpClient) conn() *net.UDPConn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upstream
}

// NewUDPRelay starts a relay listening on 127.0.0.1 on a free port with
// cfg.Path as its first path.
func NewUDPRelay(cfg UDPConfig) (*UDPRelay, error) {
	target, err := loopbackTarget("udp", cfg.Target)
	if err != nil {
		return nil, err
	}
	r := &UDPRelay{
		target:     target,
		seed:       cfg.Seed,
		maxClients: cfg.MaxClients,
		done:       make(chan struct{}),
		clients:    make(map[udpClientKey]*udpClient),
	}
	if r.maxClients <= 0 {
		r.maxClients = defaultMaxClients
	}
	if _, err := r.AddPath(cfg.Path); err != nil {
		return nil, err
	}
	return r, nil
}

// loopbackTarget resolves addr and refuses anything outside loopback.
func loopbackTarget(network, addr string) (netip.AddrPort, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("netlab: target %q: %w", addr, err)
	}
	if host == "localhost" {
		host = "127.0.0.1"
	}
	ap, err := netip.ParseAddrPort(net.JoinHostPort(host, port))
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("netlab: %s target %q: %w", network, addr, err)
	}
	if !ap.Addr().Unmap().IsLoopback() {
		return netip.AddrPort{}, fmt.Errorf("%w: %s", ErrNotLoopback, addr)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}

// Addr is the first path's listening address, where clients send.
func (r *UDPRelay) Addr() *net.UDPAddr {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.paths[0].conn.LocalAddr().(*net.UDPAddr)
}

// AddPath opens another listening address with path's characteristics and
// returns it. A client that starts sending to it from a new local socket
// (a phone leaving Wi-Fi for cellular) reaches the server from yet another
// source address, through a link with other properties.
func (r *UDPRelay) AddPath(p Path) (*net.UDPAddr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrClosed
	}
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("netlab: listen: %w", err)
	}
	i, path := r.addPathLocked(p, conn, false)
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.readClients(i, path) }()
	return conn.LocalAddr().(*net.UDPAddr), nil
}

// addPathLocked appends a path with p's characteristics answering clients
// from conn (shared: the first path's), starts its delay lines and returns
// its index; r.mu is held.
func (r *UDPRelay) addPathLocked(p Path, conn *net.UDPConn, shared bool) (int, *udpPath) {
	i := uint64(len(r.paths))
	up, down := newShaper(p.Up, r.seed, 2*i), newShaper(p.Down, r.seed, 2*i+1)
	path := &udpPath{conn: conn, up: up, down: down, upLine: newDelayLine(), downLine: newDelayLine(), shared: shared}
	r.paths = append(r.paths, path)
	r.wg.Add(2)
	go func() { defer r.wg.Done(); path.upLine.run(r.done, &r.stats) }()
	go func() { defer r.wg.Done(); path.downLine.run(r.done, &r.stats) }()
	return int(i), path
}

// AddSourcePath makes what clients at source IP src (any port) send to the
// first listening address, and what the server answers them, go through a
// link with path's characteristics instead of the first path's. A client
// that opens a socket on another local address (a phone's cellular
// interface beside its Wi-Fi one) reaches the server at the same address
// through another network, which is what QUIC connection migration expects:
// a connection keeps its server address on every path. src must be a
// loopback address other than the one clients use already, such as
// 127.0.0.2.
func (r *UDPRelay) AddSourcePath(src netip.Addr, p Path) error {
	src = src.Unmap()
	if !src.IsLoopback() {
		return fmt.Errorf("%w: %s", ErrNotLoopback, src)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	if _, ok := r.bySource[src]; ok {
		return fmt.Errorf("netlab: %s has a path already", src)
	}
	// Answers leave from the address the client sent to: the first path's.
	i, _ := r.addPathLocked(p, r.paths[0].conn, true)
	if r.bySource == nil {
		r.bySource = make(map[netip.Addr]int)
	}
	r.bySource[src] = i
	r.sources.Store(true)
	return nil
}

// sourcePath returns the path of what a client at src sends to the first
// listening address.
func (r *UDPRelay) sourcePath(src netip.Addr) (int, *udpPath) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i, ok := r.bySource[src]; ok {
		return i, r.paths[i]
	}
	return 0, r.paths[0]
}

// Blackhole drops every datagram in both directions while on: a network
// that lets no UDP through, to prove a client's TCP fallback.
func (r *UDPRelay) Blackhole(on bool) { r.blackhole.Store(on) }

// Rebind gives client (an address as the relay sees it, on any path) a new
// upstream socket, so that the server sees it from a new source port: a NAT
// rebinding. The old socket is closed, so that what the server still sends
// to the old port is lost, as it is behind a real NAT. It returns the new
// source address.
func (r *UDPRelay) Rebind(client netip.AddrPort) (netip.AddrPort, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return netip.AddrPort{}, ErrClosed
	}
	c := r.findLocked(client)
	if c == nil {
		return netip.AddrPort{}, fmt.Errorf("%w: %s", ErrUnknownClient, client)
	}
	conn, err := r.dialUpstreamLocked()
	if err != nil {
		return netip.AddrPort{}, err
	}
	c.mu.Lock()
	old := c.upstream
	c.upstream = conn
	c.mu.Unlock()
	_ = old.Close() // its reader goroutine ends with it
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.readServer(c, conn) }()
	return conn.LocalAddr().(*net.UDPAddr).AddrPort(), nil
}

// Upstream returns the source address the server sees for client.
func (r *UDPRelay) Upstream(client netip.AddrPort) (netip.AddrPort, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.findLocked(client)
	if c == nil {
		return netip.AddrPort{}, false
	}
	return c.conn().LocalAddr().(*net.UDPAddr).AddrPort(), true
}

// Clients returns the client addresses the relay has seen, on every path.
func (r *UDPRelay) Clients() []netip.AddrPort {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]netip.AddrPort, 0, len(r.clients))
	for k := range r.clients {
		out = append(out, k.addr)
	}
	return out
}

// Stats returns the relay's counters.
func (r *UDPRelay) Stats() Stats { return r.stats.snapshot() }

// Close stops the relay and waits for all its goroutines.
func (r *UDPRelay) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	close(r.done)
	for _, p := range r.paths {
		if !p.shared {
			_ = p.conn.Close()
		}
	}
	for _, c := range r.clients {
		_ = c.conn().Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

func (r *UDPRelay) findLocked(addr netip.AddrPort) *udpClient {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	for k, c := range r.clients {
		if k.addr == addr {
			return c
		}
	}
	return nil
}

func (r *UDPRelay) dialUpstreamLocked() (*net.UDPConn, error) {
	// Unconnected, so that a datagram from anywhere but the target can be
	// told apart and dropped rather than refused by the kernel.
	local := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	if r.target.Addr().Is6() {
		local = &net.UDPAddr{IP: net.IPv6loopback}
	}
	conn, err := net.ListenUDP("udp", local)
	if err != nil {
		return nil, fmt.Errorf("netlab: upstream socket: %w", err)
	}
	return conn, nil
}

// client returns the client for addr on path i, creating it and its upstream
// socket on first sight; nil when the table is full or the relay closed.
func (r *UDPRelay) client(i int, path *udpPath, addr netip.AddrPort) *udpClient {
	key := udpClientKey{path: i, addr: addr}
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[key]; ok {
		return c
	}
	if r.closed || len(r.clients) >= r.maxClients {
		return nil
	}
	conn, err := r.dialUpstreamLocked()
	if err != nil {
		return nil
	}
	c := &udpClient{path: path, addr: addr, upstream: conn}
	r.clients[key] = c
	r.wg.Add(1)
	go func() { defer r.wg.Done(); r.readServer(c, conn) }()
	return c
}

// readClients reads what clients send to one path's listening address and
// forwards it upstream through each client's own socket.
func (r *UDPRelay) readClients(i int, path *udpPath) {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := path.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		if r.blackhole.Load() {
			r.stats.blackholed.Add(1)
			continue
		}
		pi, p := i, path
		if i == 0 && r.sources.Load() {
			pi, p = r.sourcePath(from.Addr())
		}
		c := r.client(pi, p, from)
		if c == nil {
			r.stats.overflow.Add(1)
			continue
		}
		// The socket is looked up when the datagram leaves the relay, not
		// when it enters: a Rebind in between moves it too, as a NAT would.
		r.forward(p.up, p.upLine, buf[:n], func(b []byte) {
			_, _ = c.conn().WriteToUDPAddrPort(b, r.target)
		})
	}
}

// readServer reads what the server sends to one client's upstream socket and
// forwards it to the client through the path the client came in on. It ends
// when the socket is closed, by Rebind or Close.
func (r *UDPRelay) readServer(c *udpClient, conn *net.UDPConn) {
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		if netip.AddrPortFrom(from.Addr().Unmap(), from.Port()) != r.target {
			continue
		}
		if r.blackhole.Load() {
			r.stats.blackholed.Add(1)
			continue
		}
		r.forward(c.path.down, c.path.downLine, buf[:n], func(b []byte) {
			_, _ = c.path.conn.WriteToUDPAddrPort(b, c.addr)
		})
	}
}

// forward applies a link to one datagram: sent at once on a perfect link,
// dropped, or copied into the delay line.
func (r *UDPRelay) forward(s *shaper, line *delayLine, data []byte, send func([]byte)) {
	if s.perfect() {
		send(data)
		r.stats.forwarded.Add(1)
		return
	}
	at, f, reordered := s.schedule(time.Now(), len(data), false, 0)
	switch f {
	case fateLost:
		r.stats.lost.Add(1)
		return
	case fateOverflow:
		r.stats.overflow.Add(1)
		return
	}
	if reordered {
		r.stats.reordered.Add(1)
	}
	if !line.add(at, append([]byte(nil), data...), send) {
		r.stats.overflow.Add(1)
	}
}
