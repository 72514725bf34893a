package netlab

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Link is one direction of a path. Its zero value is a perfect link: no
// delay, no loss, no reordering, no bandwidth cap.
type Link struct {
	// Delay is the one-way propagation delay added to every datagram or
	// segment.
	Delay time.Duration
	// Jitter adds a uniform random delay in [-Jitter, +Jitter] (never
	// below zero in total). Jitter keeps the order of the link, as a single
	// router queue does: reordering is Reorder's job, so a test controls the
	// two separately.
	Jitter time.Duration
	// Loss is the probability in [0, 1] that a datagram is lost, drawn
	// independently for each one (on TCP: that a segment needs a
	// retransmission, see TCPConfig.RTO).
	Loss float64
	// Burst adds correlated loss on top of Loss; its zero value adds none.
	Burst GilbertElliott
	// Reorder is the probability in [0, 1] that a datagram is held back by
	// ReorderDelay, so that the ones sent after it overtake it (UDP only: a
	// TCP stream is delivered in order).
	Reorder float64
	// ReorderDelay is how long a reordered datagram is held back on top of
	// its delay; zero means 10ms, a few datagrams' worth at push rates.
	ReorderDelay time.Duration
	// Bandwidth caps the link in bytes per second; zero means no cap.
	Bandwidth int64
	// QueueBytes bounds the bytes waiting for the capped link; a datagram
	// that does not fit is dropped, as a router's tail drop does (on TCP the
	// relay stops reading instead: backpressure). Zero means 64 KiB. Without
	// a Bandwidth it has no effect.
	QueueBytes int
}

// GilbertElliott is the two-state burst loss model: the link is good or bad,
// moves from good to bad with probability PGoodBad and back with PBadGood at
// each datagram, and loses a datagram with LossGood or LossBad depending on
// its state. The mean burst length is 1/PBadGood datagrams. Its zero value
// never enters the bad state.
type GilbertElliott struct {
	// PGoodBad is the probability of entering the bad state at a datagram.
	PGoodBad float64
	// PBadGood is the probability of leaving the bad state at a datagram.
	PBadGood float64
	// LossGood is the loss probability in the good state.
	LossGood float64
	// LossBad is the loss probability in the bad state; zero means 1 when
	// PGoodBad is set (Gilbert's original model: a bad state that loses
	// nothing would be no burst at all).
	LossBad float64
}

const (
	defaultReorderDelay = 10 * time.Millisecond
	defaultQueueBytes   = 64 << 10
)

// fate is what the link does with one datagram or segment.
type fate int

const (
	fateDeliver fate = iota
	fateLost
	fateOverflow
)

// shaper applies a Link to a sequence of datagrams or segments: it decides
// when each arrives, or whether it is lost. It is shared by every client of a
// path, as a real link is (the bandwidth cap and the burst state are the
// link's, not a flow's).
type shaper struct {
	link Link

	mu        sync.Mutex
	rng       *rand.Rand
	bad       bool      // Gilbert-Elliott state
	busyUntil time.Time // when the capped link has sent what it holds
	last      time.Time // latest in-order arrival, to keep jitter in order
}

func newShaper(l Link, seed, stream uint64) *shaper {
	if l.ReorderDelay <= 0 {
		l.ReorderDelay = defaultReorderDelay
	}
	if l.QueueBytes <= 0 {
		l.QueueBytes = defaultQueueBytes
	}
	if l.Burst.PGoodBad > 0 && l.Burst.LossBad == 0 {
		l.Burst.LossBad = 1
	}
	return &shaper{link: l, rng: rand.New(rand.NewPCG(seed, stream))} //nolint:gosec // G404: the lab's draws must replay from a seed, not be secret
}

// perfect reports whether the link changes nothing, so that callers can
// skip the delay line.
func (s *shaper) perfect() bool {
	l := s.link
	return l.Delay == 0 && l.Jitter == 0 && l.Loss == 0 && l.Burst.PGoodBad == 0 &&
		l.Burst.LossGood == 0 && l.Reorder == 0 && l.Bandwidth == 0
}

// lose draws the loss of one datagram: independent loss, then the burst
// model. Both draws happen for every datagram whatever the outcome, so that
// the sequence of decisions depends only on the seed and the count.
func (s *shaper) lose() bool {
	b := s.link.Burst
	if s.bad {
		if s.rng.Float64() < b.PBadGood {
			s.bad = false
		}
	} else if s.rng.Float64() < b.PGoodBad {
		s.bad = true
	}
	p := b.LossGood
	if s.bad {
		p = b.LossBad
	}
	lostBurst := s.rng.Float64() < p
	lostRandom := s.rng.Float64() < s.link.Loss
	return lostBurst || lostRandom
}

// schedule decides the fate of n bytes handed to the link at now and, when
// delivered, when they arrive. On a stream (tcp), a loss is not a drop but a
// retransmission rto later, nothing is held back to reorder, and the queue never
// overflows (the caller's bounded buffer stops the reader instead).
func (s *shaper) schedule(now time.Time, n int, tcp bool, rto time.Duration) (at time.Time, f fate, reordered bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.link
	depart := now
	if l.Bandwidth > 0 {
		if s.busyUntil.Before(now) {
			s.busyUntil = now
		}
		backlog := int64(s.busyUntil.Sub(now)) * l.Bandwidth / int64(time.Second)
		if !tcp && backlog+int64(n) > int64(l.QueueBytes) {
			return time.Time{}, fateOverflow, false
		}
		// A lost datagram used the link all the same: it is lost on the
		// wire, after the queue.
		s.busyUntil = s.busyUntil.Add(time.Duration(int64(n) * int64(time.Second) / l.Bandwidth))
		depart = s.busyUntil
	}
	lost := s.lose()
	if lost && !tcp {
		return time.Time{}, fateLost, false
	}
	at = depart.Add(l.Delay)
	if l.Jitter > 0 {
		at = at.Add(time.Duration(s.rng.Int64N(2*int64(l.Jitter)+1)) - l.Jitter)
		if at.Before(depart) {
			at = depart
		}
	}
	if lost {
		at = at.Add(rto)
		f = fateLost
	}
	if !tcp && l.Reorder > 0 && s.rng.Float64() < l.Reorder {
		// Held back outside the in-order sequence, so that what follows
		// overtakes it.
		return at.Add(l.ReorderDelay), fateDeliver, true
	}
	if tcp {
		// Order is the stream's, kept by its writer: a retransmission
		// holds up its own connection, not the others sharing the link.
		return at, f, false
	}
	if at.Before(s.last) {
		at = s.last
	}
	s.last = at
	return at, f, false
}
