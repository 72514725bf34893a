package edge

import (
	"context"
	"time"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// Presence for clients (docs/protocol.md 6.10): a member of a room whose
// namespace has ClientPresence on asks who is in it with PresenceGet and
// gets PresenceOK, read from the same place the push API's Presence reads:
// the presence store in a cluster, this edge's own hub in one process.
//
// What a client can cause is bounded three ways: the read runs on the
// connection's reader goroutine, so one connection has at most one in
// flight; each connection may ask presenceGetsPerSec times a second (burst
// presenceGetsBurst), past which it gets Error 104 (retry with backoff);
// and a read is bounded by the store itself (each edge lists at most
// PresenceListMax members of a room), the answer by one frame.

// PresenceReader reads a room's members across the cluster
// (store.Presence on Redis). The edge itself is one, for one process.
type PresenceReader interface {
	// Presence returns the room's users after the user after (all when
	// empty), at most limit of them, with the room's counts.
	Presence(ctx context.Context, room, after string, limit int) (push.Presence, error)
}

// The per-connection rate of PresenceGet.
const (
	presenceGetsPerSec = 1
	presenceGetsBurst  = 5
)

// presenceGet serves PresenceGet. False means the session is closing (a
// malformed request: 3501).
func (s *session) presenceGet(seq uint32, body []byte) bool {
	var r wire.RoomReply
	if err := r.Decode(body); err != nil {
		s.close(protocolError(err.Error()))
		return false
	}
	e := s.edge
	room := r.Room
	// rooms changes under member (the Subscribe and Unsubscribe orders
	// run on a goroutine of their own); the store read below needs no lock.
	s.member.Lock()
	_, in := s.rooms[room]
	s.member.Unlock()
	if !in {
		e.metrics.presenceGets.WithLabelValues("not_joined").Inc()
		s.replyError(seq, wire.ErrCodeNotJoined, "not in room "+room)
		return true
	}
	if !e.cfg.Namespaces.For(room).ClientPresence {
		e.metrics.presenceGets.WithLabelValues("forbidden").Inc()
		s.replyError(seq, wire.ErrCodeForbidden, "presence of room "+room+" is not open to clients")
		return true
	}
	if !s.presenceGets.allow(time.Now().UnixNano(), presenceGetsPerSec, presenceGetsBurst) {
		e.metrics.presenceGets.WithLabelValues("limited").Inc()
		s.replyError(seq, wire.ErrCodeInternal, "too many presence requests, retry")
		return true
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	p, err := e.cfg.Presence.Presence(ctx, room, "", e.cfg.PresenceListMax)
	cancel()
	if err != nil {
		e.metrics.presenceGets.WithLabelValues("error").Inc()
		e.cfg.Logger.Warn("presence read failed", "room", room, "err", err)
		s.replyError(seq, wire.ErrCodeInternal, "presence unavailable, retry")
		return true
	}
	e.metrics.presenceGets.WithLabelValues("ok").Inc()
	s.enqueue(wire.AppendPresenceOK(nil, seq, presenceOK(room, &p, e.cfg.PresenceListMax)))
	return true
}

// presenceOK builds the answer from p: members while they fit one frame
// every client accepts and listMax, Complete only when the list is the
// whole room.
func presenceOK(room string, p *push.Presence, listMax int) *wire.PresenceOK {
	m := &wire.PresenceOK{Room: room, Conns: uint64(max(0, p.Stats.Conns)), Users: uint64(max(0, p.Stats.Users))}
	// Header, room, two counts, complete and the list's count at their
	// largest.
	size := wire.HeaderSize + 2 + len(room) + 10 + 10 + 1 + 10
	var conns []push.PresenceConn
	for _, u := range p.Users {
		conns = append(conns, u.Conns...)
	}
	var left int
	m.Members, left = fillMembers(conns, listMax, &size)
	whole := p.Listed && !p.More && left == 0
	m.Complete = whole && uint64(len(m.Members)) == m.Conns
	return m
}
