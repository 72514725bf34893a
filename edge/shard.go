package edge

import (
	"context"
	"hash/maphash"
	"sync"

	"github.com/quicpush/quicpush/wire"
)

// shard holds a slice of the edge's sessions: those whose key hashes to it,
// their room memberships, and the user index for users hashing to it. Sharding
// keeps registration and fan-out from contending on one lock.
type shard struct {
	mu       sync.RWMutex
	sessions map[string]*session
	rooms    map[string]map[*session]struct{}
	users    map[string][]*session
}

func newShard() *shard {
	return &shard{
		sessions: make(map[string]*session),
		rooms:    make(map[string]map[*session]struct{}),
		users:    make(map[string][]*session),
	}
}

var shardSeed = maphash.MakeSeed()

func (e *Edge) shardOf(s string) *shard {
	return e.shards[maphash.String(shardSeed, s)%uint64(len(e.shards))]
}

// register adds an authenticated session. It fails with the code to close
// with once the edge drains (3000) or when the user has as many connections
// here as the edge allows (3007).
func (e *Edge) register(s *session) wire.Code {
	if e.draining.Load() {
		return wire.CodeShutdown
	}
	us := e.shardOf(s.ident.User)
	us.mu.Lock()
	if limit := e.cfg.MaxConnsPerUser; limit > 0 && len(us.users[s.ident.User]) >= limit {
		us.mu.Unlock()
		e.metrics.limited.WithLabelValues("connections_per_user", s.t.kind()).Inc()
		return wire.CodeConnectionLimit
	}
	us.users[s.ident.User] = append(us.users[s.ident.User], s)
	us.mu.Unlock()
	sh := e.shardOf(s.key)
	s.shard = sh
	sh.mu.Lock()
	sh.sessions[s.key] = s
	sh.mu.Unlock()
	e.metrics.connections.WithLabelValues(s.t.kind()).Inc()
	return 0
}

// unregister removes a session and its memberships.
func (e *Edge) unregister(s *session) {
	sh := s.shard
	sh.mu.Lock()
	delete(sh.sessions, s.key)
	for room := range s.rooms {
		sh.removeMember(room, s)
	}
	sh.mu.Unlock()
	for room := range s.rooms {
		e.countLeave(room)
	}
	if p := e.cfg.Routes; p != nil {
		p.Disconnected(s.key, s.ident.User)
	}
	us := e.shardOf(s.ident.User)
	us.mu.Lock()
	list := us.users[s.ident.User]
	for i, m := range list {
		if m == s {
			list[i] = list[len(list)-1]
			list[len(list)-1] = nil
			list = list[:len(list)-1]
			break
		}
	}
	if len(list) == 0 {
		delete(us.users, s.ident.User)
	} else {
		us.users[s.ident.User] = list
	}
	us.mu.Unlock()
	e.metrics.connections.WithLabelValues(s.t.kind()).Dec()
}

// join makes s a member of room. In a cluster, the room's first member on
// this edge makes the edge report the room (and every join waits for that
// report), so that pushes to the room are routed here before JoinOK; on
// error s is not a member.
func (e *Edge) join(s *session, room string) error {
	sh := s.shard
	sh.mu.Lock()
	members := sh.rooms[room]
	if members == nil {
		members = make(map[*session]struct{}, 1)
		sh.rooms[room] = members
	}
	members[s] = struct{}{}
	sh.mu.Unlock()
	c, opened := e.roomCounts.add(room)
	if opened {
		e.metrics.rooms.Inc()
	}
	if e.cfg.Routes == nil {
		return nil
	}
	var err error
	if opened {
		err = e.openRoom(c, room)
	} else {
		err = e.waitOpened(c)
		e.reportCount(room)
	}
	if err != nil {
		e.leave(s, room)
	}
	return err
}

// leave ends s's membership of room.
func (e *Edge) leave(s *session, room string) {
	sh := s.shard
	sh.mu.Lock()
	sh.removeMember(room, s)
	sh.mu.Unlock()
	e.countLeave(room)
}

// countLeave counts one member less in room and reports it.
func (e *Edge) countLeave(room string) {
	if e.roomCounts.remove(room) == 0 {
		e.metrics.rooms.Dec()
	}
	e.reportCount(room)
}

// reportCount tells the route store the room's current count. It reports
// under the counts' lock, so that two reports of one room reach the store in
// the order of the counts they carry; the store only queues them (it
// coalesces them and writes the latest), so the lock is held briefly.
func (e *Edge) reportCount(room string) {
	p := e.cfg.Routes
	if p == nil {
		return
	}
	rc := &e.roomCounts
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	if c := rc.rooms[room]; c != nil {
		n = c.n
	}
	// A room the store saw at zero would make this a synchronous opening;
	// joins wait for the opening first, so that does not happen, but the
	// wait stays bounded whatever happens.
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	defer cancel()
	_ = p.RoomCount(ctx, room, n)
}

func (sh *shard) removeMember(room string, s *session) {
	members := sh.rooms[room]
	delete(members, s)
	if len(members) == 0 {
		delete(sh.rooms, room)
	}
}
