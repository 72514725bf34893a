package edge

import (
	"errors"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// Ephemeral pushes: superseded state (positions, typing, live scores) that
// core kept out of history. On a connection that carries datagrams (raw QUIC
// whose client enabled them, WebTransport) each goes as one whole Push frame
// in one datagram, so it never waits behind a lost stream packet and the
// stream never waits behind it; one too large for a datagram, and every one
// on TCP and WebSocket, goes on the stream like any push.
//
// quic-go's SendDatagram blocks while the connection's datagram queue (32
// frames) is full, so fan-out never calls it: it appends the frame to the
// session's own small queue and, if no sender runs, starts one. The sender is
// a goroutine of the session's that drains the queue into SendDatagram and
// exits when it is empty, so an idle connection holds neither a goroutine nor
// a buffer for datagrams. A queue that is full when a frame arrives loses its
// oldest frame: the newer one supersedes it. Dropped and oversize frames are
// counted (datagrams_dropped_total, datagrams_too_large_total).
//
// Ephemeral pushes skip the write policy (pacer.go): their point is latency,
// and holding superseded state back to batch it would deliver it stale.

// datagramSender is a transport whose connection may carry datagrams.
type datagramSender interface {
	// datagrams reports whether the peer accepts datagrams. It is fixed once
	// the handshake is done.
	datagrams() bool
	// sendDatagram sends b in one datagram. It may block while the
	// connection's datagram queue is full; a *quic.DatagramTooLargeError says
	// b does not fit.
	sendDatagram(b []byte) error
}

// maxQueuedDatagrams bounds a session's datagrams waiting for its sender, on
// top of quic-go's own queue of 32.
const maxQueuedDatagrams = 16

// Values of session.dgState.
const (
	dgUnknown uint8 = iota
	dgNo
	dgYes
)

// deliverEphemeral sends m, ephemeral, to the sessions it addresses, at once:
// one encoding shared by all of them, with no position.
func (e *Edge) deliverEphemeral(m *push.Message) {
	p := wire.Push{ID: m.ID, Data: m.Data, Flags: wire.PushEphemeral}
	switch m.Kind {
	case push.KindRoom:
		p.Kind, p.Room = wire.PushRoom, m.Room
	case push.KindBroadcast:
		p.Kind = wire.PushBroadcast
	default:
		p.Kind = wire.PushDirect
	}
	buf := wire.AppendPush(make([]byte, 0, wire.PushSize(&p)), &p)
	n := 0
	switch m.Kind {
	case push.KindRoom:
		n = e.hub.each(m.Room, false, func(s *session) bool { return s.sendEphemeral(buf) })
	case push.KindBroadcast:
		// Not paced by m.Rate: a broadcast of superseded state that takes
		// seconds to reach everyone would reach most of them stale.
		n = e.hub.each("", true, func(s *session) bool { return s.sendEphemeral(buf) })
	case push.KindKeys:
		for _, k := range m.Keys {
			if s := e.hub.lookup(k); s != nil && s.sendEphemeral(buf) {
				n++
			}
		}
	case push.KindUsers:
		for _, u := range m.Users {
			e.hub.forUser(u, func(s *session) {
				if s.sendEphemeral(buf) {
					n++
				}
			})
		}
	}
	e.metrics.deliveries.Add(float64(n))
}

// sendEphemeral queues an ephemeral Push frame for a datagram, or on the
// stream when the connection carries none. It never blocks.
func (s *session) sendEphemeral(b []byte) bool {
	ds, ok := s.t.(datagramSender)
	if !ok {
		return s.enqueue(b)
	}
	s.mu.Lock()
	if s.dgState == dgUnknown {
		s.dgState = dgNo
		if ds.datagrams() {
			s.dgState = dgYes
		}
	}
	if s.dgState == dgNo {
		s.mu.Unlock()
		return s.enqueue(b)
	}
	if s.state != stateOpen {
		s.mu.Unlock()
		return false
	}
	if len(s.dgrams) == maxQueuedDatagrams {
		copy(s.dgrams, s.dgrams[1:])
		s.dgrams[len(s.dgrams)-1] = nil
		s.dgrams = s.dgrams[:len(s.dgrams)-1]
		s.edge.metrics.datagramsDropped.Inc()
	}
	s.dgrams = append(s.dgrams, b)
	start := !s.dgSending
	s.dgSending = true
	s.mu.Unlock()
	if start {
		go s.sendDatagrams(ds)
	}
	return true
}

// sendDatagrams is the session's datagram sender: it sends what is queued,
// oldest first, and exits once the queue is empty or the session is gone.
func (s *session) sendDatagrams(ds datagramSender) {
	for {
		s.mu.Lock()
		if len(s.dgrams) == 0 || s.state == stateClosed {
			s.edge.metrics.datagramsDropped.Add(float64(len(s.dgrams)))
			s.dgrams, s.dgSending = nil, false
			s.mu.Unlock()
			return
		}
		b := s.dgrams[0]
		s.dgrams[0] = nil
		s.dgrams = s.dgrams[1:]
		s.mu.Unlock()

		var tooLarge *quic.DatagramTooLargeError
		switch err := ds.sendDatagram(b); {
		case err == nil:
			s.edge.metrics.datagramsSent.Inc()
		case errors.As(err, &tooLarge):
			s.edge.metrics.datagramsTooLarge.Inc()
			s.enqueue(b)
		default:
			// The connection is closing: its reader ends the session.
			s.edge.metrics.datagramsDropped.Inc()
		}
	}
}
