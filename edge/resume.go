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
//  4. reply: the reply, then the replayed messages, streamed within the
//     queue budget as the client reads them (frames are still held);
//  5. release: the held frames minus those of the stream at or below the
//     reply's position (already replayed, or older than the subscription),
//     in order.
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

// release queues the held frames that drop does not reject, and stops
// holding.
func (s *session) release(drop func(*wire.Push) bool) {
	s.mu.Lock()
	held := s.held
	s.held, s.heldBytes, s.holding = nil, 0, false
	if s.state != stateOpen {
		s.mu.Unlock()
		return
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

// replay is what a resumed client missed, streamed to it as it reads: the
// stream's entries up to top, of which entries are read but not yet queued.
type replay struct {
	kind    wire.PushKind
	room    string
	stream  string
	top     history.Position
	entries []history.Entry
}

// reply queues the reply to a resume, then streams rp (nil: nothing to
// replay) while frames are held, so that the held frames follow the replay.
// The replay is paced by the client: a chunk of at most a quarter of
// MaxQueueBytes is queued only once the flusher has taken the one before,
// so a replay holds at most half the budget (one chunk being written, one
// queued) however long it is, and what is held meanwhile has the rest. It
// returns false when the session is closing.
//
// History is read again a page at a time after the first chunk, the page
// as long as that chunk, so that the edge keeps no more of the stream than
// it sends. Should the stream lose entries the client has yet to get
// (trimmed while it read slowly), the client cannot have an exact replay
// any more: it is cut as a slow consumer and resumes again, to learn that
// it was not recovered.
func (s *session) reply(first []byte, rp *replay) bool {
	if !s.queueNow(first) {
		return false
	}
	if rp == nil {
		return true
	}
	e := s.edge
	chunk := max(1, e.cfg.MaxQueueBytes/4)
	entries := rp.entries
	rp.entries = nil
	var last uint64
	page := 1 // entries in the last chunk: the length of the next page
	for {
		if len(entries) == 0 {
			if last >= rp.top.Offset {
				return true
			}
			var ok bool
			if entries, ok = s.replayPage(rp, last, page); !ok {
				return false
			}
			if len(entries) == 0 {
				return true
			}
		}
		var b []byte
		n := 0
		for n < len(entries) && (n == 0 || len(b)+pushSizeOf(rp, &entries[n]) <= chunk) {
			p := pushOf(rp, &entries[n])
			b = wire.AppendPush(b, &p)
			n++
		}
		last, page = entries[n-1].Offset, n
		entries = entries[n:]
		if len(entries) > n {
			// Keep no more than the next chunk's worth; history has the rest.
			entries = nil
		}
		if !s.queueNow(b) || !s.waitTaken() {
			return false
		}
	}
}

// replayPage reads up to page entries of rp's stream after last, none
// beyond rp.top. False means the session is cut.
func (s *session) replayPage(rp *replay, last uint64, page int) ([]history.Entry, bool) {
	e := s.edge
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	r, err := e.cfg.History.Since(ctx, rp.stream, history.Position{Offset: last, Epoch: rp.top.Epoch}, page)
	cancel()
	if err != nil || r.Truncated || r.Top.Epoch != rp.top.Epoch {
		if err != nil {
			e.metrics.historyErrors.Inc()
		}
		e.cfg.Logger.Warn("replay lost its place in history, cutting", "key", s.key, "stream", rp.stream, "err", err)
		e.metrics.slowConsumers.Inc()
		s.cut(disconnectSlowConsumer)
		return nil, false
	}
	entries := r.Entries
	for i, en := range entries {
		if en.Offset > rp.top.Offset {
			// Newer than the reply: held, or still to come, live.
			entries = entries[:i]
			break
		}
	}
	return entries, true
}

func pushOf(rp *replay, en *history.Entry) wire.Push {
	return wire.Push{Kind: rp.kind, Room: rp.room, ID: en.ID, Offset: en.Offset, Epoch: rp.top.Epoch, Data: en.Data}
}

func pushSizeOf(rp *replay, en *history.Entry) int {
	p := pushOf(rp, en)
	return wire.PushSize(&p)
}

// queueNow queues b even while frames are held: the reply and the replay go
// before them. False means the session is closing.
func (s *session) queueNow(b []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen {
		return false
	}
	if len(b) > 0 {
		s.queueLocked(b)
		s.kickLocked()
	}
	return true
}

// waitTaken waits until the flusher has taken everything queued (it may
// still be writing it). False means the session is closing.
func (s *session) waitTaken() bool {
	s.mu.Lock()
	if s.taken == nil {
		s.taken = make(chan struct{}, 1)
	}
	for s.state == stateOpen && s.queued > 0 {
		ch := s.taken
		s.mu.Unlock()
		<-ch
		s.mu.Lock()
	}
	open := s.state == stateOpen
	s.mu.Unlock()
	return open
}

// wakeLocked tells a replay waiting in waitTaken to look again; s.mu is
// held. It never blocks and allocates nothing.
func (s *session) wakeLocked() {
	if s.taken != nil {
		select {
		case s.taken <- struct{}{}:
		default:
		}
	}
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
// reply names and what to replay (nil for nothing). A failed read is
// answered as if nothing could be recovered (with no position), never with
// a partial replay; the client learns it from the result.
func (e *Edge) resume(kind wire.PushKind, room, stream string, from history.Position) (wire.Recovery, history.Position, *replay) {
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
	if len(r.Entries) == 0 {
		return wire.RecoveryRecovered, r.Top, nil
	}
	return wire.RecoveryRecovered, r.Top, &replay{kind: kind, room: room, stream: stream, top: r.Top, entries: r.Entries}
}
