package netlab

import "sync/atomic"

// Stats counts what a relay did, in both directions together, for tests
// and perf reports.
type Stats struct {
	// Forwarded is the datagrams (UDP) or segments (TCP) delivered.
	Forwarded uint64
	// DroppedLoss is the datagrams lost by the loss models.
	DroppedLoss uint64
	// DroppedQueue is the datagrams dropped because a queue was full: the
	// bandwidth cap's queue, the delay line's bound or the client table.
	DroppedQueue uint64
	// DroppedBlackhole is the datagrams dropped while black-holed. (What
	// the server sends to a port a Rebind replaced is dropped by the kernel,
	// uncounted: the socket is closed, as a NAT forgets a mapping.)
	DroppedBlackhole uint64
	// Reordered is the datagrams held back so that later ones overtake
	// them.
	Reordered uint64
	// Retransmitted is the TCP segments delayed by a retransmission
	// timeout, the stream's form of loss.
	Retransmitted uint64
}

type counters struct {
	forwarded, lost, overflow, blackholed, reordered, retransmitted atomic.Uint64
}

func (c *counters) snapshot() Stats {
	return Stats{
		Forwarded:        c.forwarded.Load(),
		DroppedLoss:      c.lost.Load(),
		DroppedQueue:     c.overflow.Load(),
		DroppedBlackhole: c.blackholed.Load(),
		Reordered:        c.reordered.Load(),
		Retransmitted:    c.retransmitted.Load(),
	}
}
