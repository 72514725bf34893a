package edge

import (
	"context"
	"slices"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// ServerRoomsReader lists a user's server-side rooms, the rooms the push
// API's Subscribe gave the user (docs/protocol.md section 6.8):
// serverrooms.Memory in one process, store.ServerRooms on Redis in a
// cluster. Reading them also keeps them for the store's TTL from now.
type ServerRoomsReader interface {
	Rooms(ctx context.Context, user string) ([]string, error)
}

// Server-side rooms reach a session two ways: read from the user's store at
// Auth, and as Subscribe and Unsubscribe orders of the push API, which
// Deliver hands to the sessions they address. An order may have to resume a
// room (hold, join, read the room's position, release), which must not run
// on Deliver's goroutine, and must not run at once with the reader's own
// Join, Leave or handshake: each session applies its orders in order, on a
// goroutine of its own started when its first order arrives, under the
// session's member mutex, which the reader holds across each Join, Leave
// and the handshake.
//
// Lock order: member, then the hub's shard locks and s.mu.

// memberLock is the session's member mutex. It is a channel rather than a
// sync.Mutex because it may be held for long (a Join replaying a room to a
// slow client): a wait on a channel is one the runtime (and testing/synctest)
// sees as blocked, not a spinning lock.
type memberLock chan struct{}

func (l memberLock) Lock()   { l <- struct{}{} }
func (l memberLock) Unlock() { <-l }

// order is one Subscribe (sub) or Unsubscribe of a session.
type order struct {
	room string
	sub  bool
}

// deliverOrder hands m, a KindSubscribe or KindUnsubscribe message, to the
// sessions it addresses. It never blocks.
func (e *Edge) deliverOrder(m *push.Message) {
	if e.ctx.Err() != nil {
		return // closing: the sessions are going, and Close waits on e.loops
	}
	o := order{room: m.Room, sub: m.Kind == push.KindSubscribe}
	for _, k := range m.Keys {
		if s := e.hub.lookup(k); s != nil {
			s.order(o)
		}
	}
	for _, u := range m.Users {
		e.hub.forUser(u, func(s *session) { s.order(o) })
	}
}

// order queues o, starting the session's order goroutine if none runs.
// While the goroutine waits for the membership lock (a Join replaying to a
// slow client holds it), a later order of a room replaces the earlier one:
// only the last counts, so the queue holds one order per room. Past
// maxPendingOrders rooms the session is closed with 3001: its client
// reconnects and reads the user's rooms afresh at Auth.
func (s *session) order(o order) {
	s.ordersMu.Lock()
	replaced := false
	for i := range s.orders {
		if s.orders[i].room == o.room {
			s.orders[i] = o
			replaced = true
			break
		}
	}
	over := false
	if !replaced {
		if over = len(s.orders) >= maxPendingOrders(s.edge.cfg.MaxRooms); !over {
			s.orders = append(s.orders, o)
		}
	}
	start := !s.ordering && !over
	if start {
		s.ordering = true
	}
	s.ordersMu.Unlock()
	if over {
		s.edge.metrics.subscriptionsSkipped.WithLabelValues("orders").Inc()
		s.close(disconnect{wire.CodeServerError, "too many room orders pending"})
		return
	}
	if start {
		s.edge.loops.Go(s.runOrders)
	}
}

// maxPendingOrders bounds the rooms with an order waiting for one session.
func maxPendingOrders(maxRooms int) int { return max(1024, 4*maxRooms) }

// runOrders applies the session's orders until none is left.
func (s *session) runOrders() {
	for {
		s.ordersMu.Lock()
		if len(s.orders) == 0 {
			s.orders, s.ordering = nil, false
			s.ordersMu.Unlock()
			return
		}
		o := s.orders[0]
		s.orders = s.orders[1:]
		s.ordersMu.Unlock()
		s.member.Lock()
		if !s.gone && !s.closing() {
			if o.sub {
				s.subscribeLocked(o.room)
			} else {
				s.unsubscribeLocked(o.room)
			}
		}
		s.member.Unlock()
	}
}

// subscribeLocked makes room one of the connection's server-side rooms and,
// once the client's announced Joins are handled, puts the connection in it.
// s.member is held.
func (s *session) subscribeLocked(room string) {
	if s.server == nil {
		s.server = make(map[string]struct{}, 1)
	}
	s.server[room] = struct{}{}
	if s.serverReady {
		s.enterLocked(room)
	}
}

// unsubscribeLocked takes the connection out of room, and room out of its
// server-side rooms. s.member is held.
func (s *session) unsubscribeLocked(room string) {
	delete(s.server, room)
	if _, ok := s.rooms[room]; !ok {
		return
	}
	delete(s.rooms, room)
	s.edge.hub.leave(s, room)
	s.enqueue(wire.AppendRoom(nil, wire.OpUnsubscribed, 0, room))
}

// enterLocked puts the connection in room as a Join without a position does,
// and queues Subscribed with the room's position (none when the connection
// is in the room already). Past MaxRooms, or when the room cannot be routed
// here, the subscription is skipped. s.member is held.
func (s *session) enterLocked(room string) {
	e := s.edge
	if _, ok := s.rooms[room]; ok {
		s.enqueue(wire.AppendSubscribed(nil, &wire.Subscribed{Room: room}))
		return
	}
	if len(s.rooms) >= e.cfg.MaxRooms {
		e.metrics.subscriptionsSkipped.WithLabelValues("max_rooms").Inc()
		e.cfg.Logger.Debug("subscription skipped: room limit reached", "key", s.key, "room", room)
		return
	}
	// No position: the room's top, never a replay, so this never waits on
	// the client.
	err := s.enter(room, history.Position{}, func(rec wire.Recovery, top history.Position) []byte {
		return wire.AppendSubscribed(nil, &wire.Subscribed{Room: room, Recovery: rec, Offset: top.Offset, Epoch: top.Epoch})
	})
	if err != nil {
		e.metrics.subscriptionsSkipped.WithLabelValues("route").Inc()
		e.cfg.Logger.Warn("subscription skipped: room not routed here", "key", s.key, "room", room, "err", err)
	}
}

// loadServerRooms reads the user's server-side rooms at Auth, after the
// connection's route is recorded: a Subscribe whose order missed the route
// wrote the store before. A failure leaves the connection without them
// rather than refusing it. s.member is held.
func (s *session) loadServerRooms() {
	e := s.edge
	if e.cfg.ServerRooms == nil {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	rooms, err := e.cfg.ServerRooms.Rooms(ctx, s.ident.User)
	cancel()
	if err != nil {
		e.metrics.serverRoomsErrors.Inc()
		e.cfg.Logger.Warn("server-side rooms unavailable, connecting without them", "key", s.key, "err", err)
		return
	}
	for _, r := range rooms {
		if s.server == nil {
			s.server = make(map[string]struct{}, len(rooms))
		}
		s.server[r] = struct{}{}
	}
}

// enterServerRooms ends the announced Joins (docs/protocol.md section 6.1):
// the connection is put in its server-side rooms it did not rejoin, in name
// order, and later subscriptions take effect at once. Run by the reader.
func (s *session) enterServerRooms() {
	s.member.Lock()
	defer s.member.Unlock()
	if s.serverReady {
		return
	}
	s.serverReady = true
	rooms := make([]string, 0, len(s.server))
	for r := range s.server {
		if _, ok := s.rooms[r]; !ok {
			rooms = append(rooms, r)
		}
	}
	slices.Sort(rooms)
	for i, r := range rooms {
		if s.gone || s.closing() {
			return
		}
		if len(s.rooms) >= s.edge.cfg.MaxRooms {
			// The rest cannot be entered either: count them at once
			// rather than one by one.
			s.edge.metrics.subscriptionsSkipped.WithLabelValues("max_rooms").Add(float64(len(rooms) - i))
			return
		}
		s.enterLocked(r)
	}
}

// isServerRoom reports whether room is one of the connection's server-side
// rooms. s.member is held.
func (s *session) isServerRoom(room string) bool {
	_, ok := s.server[room]
	return ok
}
