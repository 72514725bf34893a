package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"time"
)

// fleet is the generator's connections as a measurement sees them: the
// connections of this process (localFleet), or those of several worker
// processes driven by a coordinator (workerFleet).
type fleet interface {
	// setWindow makes pushes stamped in [start, end) (unix nanos) count.
	setWindow(start, end int64)
	totals() fleetTotals
	// latency returns the in-window latency histogram (microseconds) and
	// the time of the last in-window delivery.
	latency() (*histogram, time.Time)
	// resetLatency empties the latency histograms between two windows.
	resetLatency()
	errors() (errs, disconnects map[string]int64)
	// genCPU is the CPU time used so far by the generator's processes.
	genCPU() time.Duration
	// udpPorts are the generator's UDP sockets (QUIC and WebTransport).
	udpPorts() map[int]bool
	close()
}

// fleetTotals are the generator's counters, summed over its connections.
type fleetTotals struct {
	Arrivals  int64 `json:"arrivals"`  // every push frame received
	Reads     int64 `json:"reads"`     // reads that returned data
	Delivered int64 `json:"delivered"` // in-window deliveries
	Pongs     int64 `json:"pongs"`
	Unstamped int64 `json:"unstamped"`
	Live      int64 `json:"live"` // connections open now
}

// connectStats describes the connect phase.
type connectStats struct {
	ok    int
	fails int64
	dur   time.Duration
}

// localFleet is this process's own connections.
type localFleet struct {
	cl    *clients
	pool  *quicPool
	ports map[int]bool
	stop  context.CancelFunc
}

func (f *localFleet) setWindow(start, end int64) {
	f.cl.winStart.Store(start)
	f.cl.winEnd.Store(end)
}

func (f *localFleet) totals() fleetTotals {
	return fleetTotals{
		Arrivals: f.cl.arrivals(), Reads: f.cl.reads(), Delivered: f.cl.delivered(),
		Pongs: f.cl.pongs(), Unstamped: f.cl.unstamped(), Live: int64(f.cl.connected()),
	}
}

func (f *localFleet) latency() (*histogram, time.Time) { return f.cl.latency() }

func (f *localFleet) resetLatency() {
	for _, sh := range f.cl.shards {
		sh.lat.reset()
		sh.last.Store(0)
	}
}

func (f *localFleet) errors() (map[string]int64, map[string]int64) {
	return f.cl.errs.snapshot(), f.cl.disconnects.snapshot()
}

func (f *localFleet) genCPU() time.Duration  { return readProc(os.Getpid()).cpu }
func (f *localFleet) udpPorts() map[int]bool { return f.ports }

func (f *localFleet) close() {
	if f.stop != nil {
		f.stop()
	}
	f.cl.closeAll(64, 10*time.Second)
	if f.pool != nil {
		f.pool.close()
	}
}

// dialer returns the dial function of transport against tgt, with the
// connections spread over src and over the edges (connection i, of user
// first+i, to edge first+i mod their number); for QUIC and WebTransport
// also the pool of UDP sockets they share.
func dialer(transport string, tgt *target, first int, src []net.IP, quicSockets int) (func(context.Context, int) (link, error), *quicPool, error) {
	switch transport {
	case "tcp", "ws":
		if len(tgt.tcp) == 0 {
			return nil, nil, errors.New("no edge TCP address")
		}
		if transport == "tcp" {
			return dialTCP(tgt.tcp, first, src), nil, nil
		}
		return dialWS(tgt.tcp, first, src), nil, nil
	case "quic", "webtransport":
		pool, err := newQUICPool(tgt.quic, first, quicSockets, src)
		if err != nil {
			return nil, nil, err
		}
		if transport == "quic" {
			return dialQUIC(pool), pool, nil
		}
		return dialWebTransport(pool), pool, nil
	}
	return nil, nil, fmt.Errorf("unknown transport %q", transport)
}

// openLocal connects n connections of this process, users u<first> on,
// joined to the rooms rooms returns, and starts their pinger.
func openLocal(ctx context.Context, c config, tgt *target, n, first int, rooms func(int) []string, trackN bool) (*localFleet, connectStats, error) {
	return openClients(ctx, c, tgt, n, first, rooms, func(cl *clients) { cl.trackN = trackN })
}

// openClients is openLocal with prep to set the clients up before they
// connect.
func openClients(ctx context.Context, c config, tgt *target, n, first int, rooms func(int) []string, prep func(*clients)) (*localFleet, connectStats, error) {
	var src []net.IP
	if c.sources > 0 {
		src = sourceAddrs(c.sourceBase, c.sources)
	}
	dial, pool, err := dialer(c.transport, tgt, first, src, c.quicSockets)
	if err != nil {
		return nil, connectStats{}, err
	}
	ttl := 2*time.Hour + c.duration + c.warmup
	cl := newClients(dial, n, first, rooms, tgt.jwtSecret, ttl, 4*runtime.GOMAXPROCS(0))
	if prep != nil {
		prep(cl)
	}
	f := &localFleet{cl: cl, pool: pool}
	if pool != nil {
		f.ports = pool.ports()
	}
	logf("connecting %d %s clients (%d at a time)", n, c.transport, c.dialPar)
	start := time.Now()
	cl.connect(ctx, n, c.dialPar, func(done int) { logf("  %d handshakes done", done) })
	st := connectStats{ok: cl.connected(), fails: cl.errs.total(), dur: time.Since(start)}
	pctx, stop := context.WithCancel(context.Background())
	f.stop = stop
	go cl.ping(pctx)
	return f, st, nil
}
