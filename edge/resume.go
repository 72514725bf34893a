package edge

import (
	"context"
	"time"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/wire"
)

// HistoryReader is what the edge reads of history to resume clients: a
// stream's position, and what a client missed since its own
// (history.Memory in one process, store.History on Redis in a cluster).
type HistoryReader interface {
	Top(ctx context.Context, stream string) (history.Position, error)
	Since(ctx context.Context, stream string, from history.Position, limit int) (history.Result, error)
}

// A resume runs on the session's reader goroutine, so a session has at most
// one at a time:
//
//  1. hold: from now on every frame for the session is held back, not
//     queued, so that nothing reaches the client before the reply;
//  2. the session becomes a member of the stream (registered for its user,
//     joined to the room) and, in a cluster, the stream is routed here;
//  3. the edge reads the stream: its position, or what the client missed;
//  4. release: the reply, then the replayed messages, then the held frames
//     minus those of the stream at or below the reply's position (already
//     replayed, or older than the subscription), in order.
//
// Step 2 before step 3 is what makes the cut exact: a message the edge did
// not see live was written to history before the stream was read, because
// core writes history before handing messages to edges.

// hold starts holding frames back.
func (s *session) hold() {
	s.mu.Lock()
	s.holding = true
	s.mu.Unlock()
}

// release queues first (the reply), then replay, then the held frames that
// drop does not reject, and stops holding.
func (s *session) release(first, replay []byte, drop func(*wire.Push) bool) {
	s.mu.Lock()
	held := s.held
	s.held, s.heldBytes, s.holding = nil, 0, false
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	if len(first) > 0 {
		s.queueLocked(first)
	}
	if len(replay) > 0 {
		s.queueLocked(replay)
	}
	for _, b := range held {
		if drop != nil {
			b = filterPushes(b, drop)
		}
		if len(b) > 0 {
			s.queueLocked(b)
		}
	}
	s.kickLocked()
	s.mu.Unlock()
}

// filterPushes returns b without the Push frames drop rejects. b is a
// shared, immutable run of frames: it is copied only when something goes.
func filterPushes(b []byte, drop func(*wire.Push) bool) []byte {
	var (
		out  []byte
		rest = b
		pos  = 0
		p    wire.Push
	)
	for len(rest) > 0 {
		h, body, next, ok, err := wire.Split(rest, len(rest))
		if err != nil || !ok {
			return b // not ours to judge: keep as is
		}
		n := len(rest) - len(next)
		if h.Op == wire.OpPush && p.Decode(body) == nil && drop(&p) {
			if out == nil {
				out = append(make([]byte, 0, len(b)), b[:pos]...)
			}
		} else if out != nil {
			out = append(out, rest[:n]...)
		}
		pos += n
		rest = next
	}
	if out == nil {
		return b
	}
	return out
}

// upTo rejects the pushes of one stream at or below cut.
func upTo(kind wire.PushKind, room string, cut history.Position) func(*wire.Push) bool {
	return func(p *wire.Push) bool {
		return p.Kind == kind && p.Room == room && p.Epoch != "" && p.Epoch == cut.Epoch && p.Offset <= cut.Offset
	}
}

// resume reads a stream for a client at from: the result, the position the
// reply names and the encoded replay. A failed read is answered as if
// nothing could be recovered (with no position), never with a partial
// replay; the client learns it from the result.
func (e *Edge) resume(kind wire.PushKind, room, stream string, from history.Position) (wire.Recovery, history.Position, []byte) {
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	defer cancel()
	label := "room"
	if kind == wire.PushDirect {
		label = "user"
	}
	if from.IsZero() {
		top, err := e.cfg.History.Top(ctx, stream)
		if err != nil {
			e.metrics.historyErrors.Inc()
			e.cfg.Logger.Warn("history unavailable: no position", "stream", stream, "err", err)
			return wire.RecoveryNone, history.Position{}, nil
		}
		e.metrics.recoveries.WithLabelValues(label, "none").Inc()
		return wire.RecoveryNone, top, nil
	}
	start := time.Now()
	r, err := e.cfg.History.Since(ctx, stream, from, e.cfg.RecoveryLimit)
	if err != nil {
		e.metrics.historyErrors.Inc()
		e.metrics.recoveries.WithLabelValues(label, "not_recovered").Inc()
		e.cfg.Logger.Warn("history unavailable: not recovered", "stream", stream, "err", err)
		return wire.RecoveryNotRecovered, history.Position{}, nil
	}
	e.metrics.recoverySeconds.Observe(time.Since(start).Seconds())
	if !r.Recovered(from) {
		e.metrics.recoveries.WithLabelValues(label, "not_recovered").Inc()
		return wire.RecoveryNotRecovered, r.Top, nil
	}
	e.metrics.recoveries.WithLabelValues(label, "recovered").Inc()
	e.metrics.replayed.Add(float64(len(r.Entries)))
	n := 0
	ps := make([]wire.Push, len(r.Entries))
	for i, en := range r.Entries {
		ps[i] = wire.Push{Kind: kind, Room: room, ID: en.ID, Offset: en.Offset, Epoch: r.Top.Epoch, Data: en.Data}
		n += wire.PushSize(&ps[i])
	}
	replay := make([]byte, 0, n)
	for i := range ps {
		replay = wire.AppendPush(replay, &ps[i])
	}
	return wire.RecoveryRecovered, r.Top, replay
}
