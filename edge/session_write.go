package edge

import (
	"errors"
	"os"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// The write side of a session: what goes to the client, in order, never
// blocking the one who sends it.
//
// Frames are queued (enqueue), and a flusher from the edge's pool drains
// everything queued into one writeBatch, so writes batch themselves under load
// while an idle session still writes at once. A session over its byte budget
// is cut as a slow consumer. Closing queues a Disconnect frame as the last
// one, and the flusher ends the connection after writing it.

// Session states. A session is open until close or cut moves it to closing
// (the Disconnect frame is queued as the last frame), then closed once the
// transport is gone.
const (
	stateOpen uint8 = iota
	stateClosing
	stateClosed
)

// enqueue queues an encoded frame (or several) for the client. It never
// blocks: a session over its byte budget is cut as a slow consumer.
func (s *session) enqueue(b []byte) bool {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false
	}
	if s.queued+s.heldBytes+len(b) > s.edge.cfg.MaxQueueBytes {
		s.mu.Unlock()
		s.edge.metrics.slowConsumers.Inc()
		s.cut(disconnectSlowConsumer)
		return false
	}
	if s.holding {
		s.held = append(s.held, b)
		s.heldBytes += len(b)
		s.mu.Unlock()
		return true
	}
	s.queueLocked(b)
	s.kickLocked()
	s.mu.Unlock()
	return true
}

// queueLocked appends b to the queue; s.mu is held.
func (s *session) queueLocked(b []byte) {
	s.queue = append(s.queue, b)
	s.queued += len(b)
}

// kickLocked starts a flusher unless one runs; s.mu is held.
func (s *session) kickLocked() {
	if !s.flushing && len(s.queue) > 0 {
		s.flushing = true
		s.edge.flushers.run(s)
	}
}

// flush drains the queue into batched writes until it is empty. It runs on a
// flusher only while there is something to write.
func (s *session) flush() {
	s.mu.Lock()
	for {
		if len(s.queue) == 0 {
			// Keep two small slices (the queue and the flusher's batch) so
			// steady traffic allocates nothing; drop big ones so an idle
			// connection costs little.
			if cap(s.queue) > 8 {
				s.queue = nil
			}
			if cap(s.spare) > 8 {
				s.spare = nil
			}
			s.flushing = false
			closing := s.state == stateClosing
			code := s.code
			if closing {
				s.flushEndedLocked()
			}
			s.mu.Unlock()
			if closing {
				s.t.closeWrite(code, code.String())
			}
			return
		}
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		s.queued = 0
		s.wakeLocked()
		s.mu.Unlock()

		s.armWriteDeadline()
		err := s.t.writeBatch(batch)
		clear(batch)

		s.mu.Lock()
		s.spare = batch[:0]
		if err != nil && s.cutShort && errors.Is(err, os.ErrDeadlineExceeded) {
			err = s.finishCut()
		}
		if err != nil {
			s.flushing = false
			s.queue, s.queued = nil, 0
			code := s.code
			if s.state == stateOpen {
				code = wire.CodeServerError
			}
			s.state = stateClosed
			s.flushEndedLocked()
			s.wakeLocked()
			s.mu.Unlock()
			s.edge.cfg.Logger.Debug("write failed", "key", s.key, "err", err)
			s.hardClose(code)
			return
		}
	}
}

// finishCut makes one last, bounded attempt to end a cut session's stream
// with its Disconnect frame after the write that the cut cut short, so a
// client that stops reading and reads again later learns why it was cut
// instead of finding a frame broken off. Only a transport that can finish a
// broken-off write (plain TCP, WebSocket without TLS) allows it; on others
// the error stands. s.mu is held and is held again on return.
func (s *session) finishCut() error {
	f, ok := s.t.(cutFinisher)
	if !ok {
		return os.ErrDeadlineExceeded
	}
	last := s.queue
	s.queue, s.queued = nil, 0
	s.mu.Unlock()
	_ = s.t.setWriteDeadline(time.Now().Add(s.edge.cfg.CloseTimeout))
	err := f.finishBatch(last)
	s.mu.Lock()
	return err
}

// cutFinisher is a transport that keeps what a failed write left unwritten,
// the rest of a frame included, so that it can be written later.
type cutFinisher interface {
	// finishBatch writes what the last failed writeBatch left unwritten,
	// then bufs as writeBatch would. It fails at once where a failed write
	// cannot be finished.
	finishBatch(bufs [][]byte) error
}

// flushEndedLocked tells finish that the flusher of a closing session is
// done with the transport; s.mu is held.
func (s *session) flushEndedLocked() {
	if s.flushDone != nil {
		close(s.flushDone)
		s.flushDone = nil
	}
}

// armWriteDeadline keeps the write deadline between 3/4 and all of
// WriteTimeout ahead of now.
func (s *session) armWriteDeadline() {
	timeout := int64(s.edge.cfg.WriteTimeout)
	now := s.edge.clock.unixNano() + int64(clockTick)
	if s.writeBy-now >= timeout*3/4 {
		return
	}
	s.writeBy = now + timeout
	_ = s.t.setWriteDeadline(time.Unix(0, s.writeBy))
}

// close queues d's Disconnect frame after the frames already queued, and the
// flusher ends the connection after it. Only the first close or cut of a
// session counts.
func (s *session) close(d disconnect) { s.end(d, false) }

// cut drops the frames still queued (a slow consumer would never read them),
// queues d's Disconnect frame and bounds the flusher's current write.
func (s *session) cut(d disconnect) { s.end(d, true) }

func (s *session) end(d disconnect, drop bool) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.state = stateClosing
	s.code = d.code
	s.wakeLocked()
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if drop {
		clear(s.queue)
		s.queue = s.queue[:0]
		s.cutShort = true
		s.flushDone = make(chan struct{})
	}
	s.queue = append(s.queue, wire.AppendDisconnect(nil, &wire.Disconnect{Code: d.code, Reason: d.reason}))
	if !s.flushing {
		s.flushing = true
		s.edge.flushers.run(s)
	}
	s.mu.Unlock()
	s.edge.metrics.disconnects.WithLabelValues(codeLabel(d.code)).Inc()

	// The client gets CloseTimeout to read the last frame and hang up; a
	// flusher stuck on a client that stopped reading is cut by the deadline.
	deadline := time.Now().Add(s.edge.cfg.CloseTimeout)
	_ = s.t.setReadDeadline(deadline)
	if drop {
		// The flusher may be blocked on this client: cut it short. writeBy
		// is the flusher's, but the flusher no longer needs it: the write
		// that follows (finishCut) sets its own deadline.
		_ = s.t.setWriteDeadline(deadline)
	}
}

// hardClose closes the transport now. It is idempotent.
func (s *session) hardClose(code wire.Code) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.state = stateClosed
		s.wakeLocked()
		if s.expiry != nil {
			s.expiry.Stop()
		}
		s.mu.Unlock()
		s.t.close(code, code.String())
	})
}

// closing reports whether the session is past open.
func (s *session) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != stateOpen
}
