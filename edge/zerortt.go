package edge

import "github.com/quicpush/quicpush/wire"

// 0-RTT: a QUIC client holding a session ticket from this edge process may
// send its first frames as 0-RTT data (Config.Disable0RTT off), which the
// session reads before the QUIC handshake has completed. Such data can be
// replayed by anyone who captured it, so until the handshake completes the
// session serves only what is safe to replay (replaySafe): whatever a replay
// does, it does to a new session whose replies are encrypted for the ticket
// holder alone, and a replayed flight never completes the handshake, so
// quic-go closes it at the handshake timeout. Any other frame waits for the
// handshake (see docs/security.md, "0-RTT").

// replaySafe reports whether op may be served before the handshake has
// completed: it has no effect beyond the session that reads it.
func replaySafe(op wire.Op) bool {
	switch op {
	case wire.OpAuth, wire.OpJoin, wire.OpLeave, wire.OpPing, wire.OpPong:
		return true
	}
	return false
}

// handshaker is a transport whose frames may arrive before its cryptographic
// handshake has completed: QUIC, with 0-RTT.
type handshaker interface {
	// used0RTT reports whether the connection's first data came as 0-RTT.
	used0RTT() bool
	// awaitHandshake waits for the handshake to complete, and reports
	// false if the connection ended first.
	awaitHandshake() bool
}

func (t *quicTransport) used0RTT() bool { return t.conn.ConnectionState().Used0RTT }

func (t *quicTransport) awaitHandshake() bool {
	select {
	case <-t.conn.HandshakeComplete():
		return true
	case <-t.conn.Context().Done():
		return false
	}
}

// confirmed reports whether op may be served now: it is replay-safe, or the
// transport's handshake has completed (waiting for it). False means the
// connection ended first.
func (s *session) confirmed(op wire.Op) bool {
	h, ok := s.t.(handshaker)
	if !ok || replaySafe(op) {
		return true
	}
	return h.awaitHandshake()
}

// count0RTT counts a session opened by 0-RTT data.
func (s *session) count0RTT() {
	if h, ok := s.t.(handshaker); ok && h.used0RTT() {
		s.edge.metrics.zeroRTT.WithLabelValues(s.t.kind()).Inc()
	}
}
