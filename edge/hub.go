package edge

import (
	"cmp"
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/wire"
)

// hub is the edge's membership: which sessions are connected, for which
// user, in which rooms. Every question about who receives a message is
// answered here, and every change of membership goes through here, so that
// the room counts (routes.go) and, in a cluster, the route store follow it.
//
// Sessions live in shards keyed by connection key; each shard also indexes
// its sessions' room memberships, and the sessions of the users whose name
// hashes to it. Sharding keeps registration and fan-out from contending on
// one lock.
//
// Lock order: session.member (serverrooms.go) before shard.mu before
// session.mu (fan-out enqueues under a shard's read lock); a session never
// takes a shard lock while holding its own mu.
// roomCounts.mu is taken with neither held.
type hub struct {
	shards []*shard
	// counts counts each room's members on the whole edge.
	counts roomCounts
	// draining refuses new sessions once the edge shuts down.
	draining atomic.Bool

	maxPerUser int              // <= 0: unlimited
	routes     RouteRecorder    // nil in one process
	presence   PresenceRecorder // nil in one process, or if routes does not record presence
	edgeID     string
	// notices are the pending join and leave notices (joinleave.go); nil
	// when no namespace has them on.
	notices      *notices
	routeTimeout time.Duration
	metrics      *metrics
	// ctx ends when the edge closes; it bounds the calls to the route store.
	ctx context.Context
}

// shard holds a slice of the edge's sessions: those whose key hashes to it,
// their room memberships, and the user index for users hashing to it.
type shard struct {
	mu       sync.RWMutex
	sessions map[string]*session
	rooms    map[string]map[*session]struct{}
	users    map[string][]*session
}

// init sets an empty hub up; ctx bounds its calls to the route store.
func (h *hub) init(ctx context.Context, cfg *Config, m *metrics) {
	h.shards = make([]*shard, cfg.Shards)
	h.maxPerUser = cfg.MaxConnsPerUser
	h.routes = cfg.Routes
	h.presence, _ = cfg.Routes.(PresenceRecorder)
	h.edgeID = cfg.ID
	h.notices = newNotices(cfg)
	h.counts.listMax = cfg.PresenceListMax
	if ns := cfg.Namespaces; ns.Any(func(o namespace.Options) bool { return o.NoPresence }) {
		h.counts.unlisted = func(room string) bool { return ns.For(room).NoPresence }
	}
	h.routeTimeout = cfg.RouteTimeout
	h.metrics = m
	h.ctx = ctx
	for i := range h.shards {
		h.shards[i] = &shard{
			sessions: make(map[string]*session),
			rooms:    make(map[string]map[*session]struct{}),
			users:    make(map[string][]*session),
		}
	}
}

var shardSeed = maphash.MakeSeed()

func (h *hub) shardOf(s string) *shard {
	return h.shards[maphash.String(shardSeed, s)%uint64(len(h.shards))]
}

// Refusals of register.
var (
	disconnectDraining      = disconnect{wire.CodeShutdown, "edge is draining"}
	disconnectTooManyOfUser = disconnect{wire.CodeConnectionLimit, "too many connections for this user"}
)

// register adds an authenticated session. It returns the disconnect that
// refuses it (the zero disconnect when it is in): once the edge drains
// (3000), or when the user has as many connections here as the edge allows
// (3007).
func (h *hub) register(s *session) disconnect {
	if h.draining.Load() {
		return disconnectDraining
	}
	us := h.shardOf(s.ident.User)
	us.mu.Lock()
	if h.maxPerUser > 0 && len(us.users[s.ident.User]) >= h.maxPerUser {
		us.mu.Unlock()
		h.metrics.limited.WithLabelValues("connections_per_user", s.t.kind()).Inc()
		return disconnectTooManyOfUser
	}
	us.users[s.ident.User] = append(us.users[s.ident.User], s)
	us.mu.Unlock()
	sh := h.shardOf(s.key)
	s.shard = sh
	sh.mu.Lock()
	sh.sessions[s.key] = s
	sh.mu.Unlock()
	h.metrics.connections.WithLabelValues(s.t.kind()).Inc()
	return disconnect{}
}

// unregister removes a session and its memberships.
func (h *hub) unregister(s *session) {
	sh := s.shard
	sh.mu.Lock()
	delete(sh.sessions, s.key)
	for room := range s.rooms {
		sh.removeMember(room, s)
	}
	sh.mu.Unlock()
	for room := range s.rooms {
		h.countLeave(room, s)
		h.notices.record(room, h.presenceConn(s), false)
	}
	if h.routes != nil {
		h.routes.Disconnected(s.key, s.ident.User)
	}
	us := h.shardOf(s.ident.User)
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
	h.metrics.connections.WithLabelValues(s.t.kind()).Dec()
}

// join makes s a member of room. In a cluster, the room's first member on
// this edge makes the edge report the room (and every join waits for that
// report), so that pushes to the room are routed here before JoinOK; on
// error s is not a member.
func (h *hub) join(s *session, room string) error {
	sh := s.shard
	sh.mu.Lock()
	members := sh.rooms[room]
	if members == nil {
		members = make(map[*session]struct{}, 1)
		sh.rooms[room] = members
	}
	members[s] = struct{}{}
	sh.mu.Unlock()
	c, opened := h.counts.add(room, s.ident.User)
	if opened {
		h.metrics.rooms.Inc()
	}
	if h.routes == nil {
		h.notices.record(room, h.presenceConn(s), true)
		return nil
	}
	var err error
	if opened {
		err = h.openRoom(c, room)
	} else {
		err = h.waitOpened(c)
		h.reportCount(room)
	}
	if err != nil {
		h.remove(s, room)
		return err
	}
	h.reportPresence(room, s, true)
	h.notices.record(room, h.presenceConn(s), true)
	return nil
}

// leave ends s's membership of room.
func (h *hub) leave(s *session, room string) {
	h.remove(s, room)
	h.notices.record(room, h.presenceConn(s), false)
}

// remove ends s's membership of room without a notice (a join that failed
// is no news).
func (h *hub) remove(s *session, room string) {
	sh := s.shard
	sh.mu.Lock()
	sh.removeMember(room, s)
	sh.mu.Unlock()
	h.countLeave(room, s)
}

func (sh *shard) removeMember(room string, s *session) {
	members := sh.rooms[room]
	delete(members, s)
	if len(members) == 0 {
		delete(sh.rooms, room)
	}
}

// lookup finds a session by connection key.
func (h *hub) lookup(key string) *session {
	sh := h.shardOf(key)
	sh.mu.RLock()
	s := sh.sessions[key]
	sh.mu.RUnlock()
	return s
}

// forUser calls fn for each of the user's sessions, outside the shard's
// lock (fn may close them).
func (h *hub) forUser(user string, fn func(*session)) {
	sh := h.shardOf(user)
	sh.mu.RLock()
	list := slices.Clone(sh.users[user])
	sh.mu.RUnlock()
	for _, s := range list {
		fn(s)
	}
}

// enqueueRoom queues buf for every member of room and returns how many took
// it.
func (h *hub) enqueueRoom(room string, buf []byte) int {
	return h.enqueueGroup(room, false, 0, 1, buf)
}

// enqueueAll queues buf for every session and returns how many took it.
func (h *hub) enqueueAll(buf []byte) int { return h.enqueueGroup("", true, 0, 1, buf) }

// enqueueGroup queues buf for the members of room (every session when all)
// in the shards of write group g of k (shards g, g+k, g+2k...), and returns
// how many took it: group 0 of 1 is every shard. The pacer writes a busy
// room's members group by group. It enqueues under each shard's read lock:
// enqueue never blocks.
func (h *hub) enqueueGroup(room string, all bool, g, k int, buf []byte) int {
	n := 0
	for i := g; i < len(h.shards); i += k {
		sh := h.shards[i]
		sh.mu.RLock()
		if all {
			for _, s := range sh.sessions {
				if s.enqueue(buf) {
					n++
				}
			}
		} else {
			for s := range sh.rooms[room] {
				if s.enqueue(buf) {
					n++
				}
			}
		}
		sh.mu.RUnlock()
	}
	return n
}

// each calls fn for the members of room (every session when all) under
// each shard's read lock and returns for how many fn reported true. fn must
// not block; it may take the session's lock (shard.mu before session.mu).
func (h *hub) each(room string, all bool, fn func(*session) bool) int {
	n := 0
	for _, sh := range h.shards {
		sh.mu.RLock()
		if all {
			for _, s := range sh.sessions {
				if fn(s) {
					n++
				}
			}
		} else {
			for s := range sh.rooms[room] {
				if fn(s) {
					n++
				}
			}
		}
		sh.mu.RUnlock()
	}
	return n
}

// all lists every session at one moment, for what is done to each outside
// the shards' locks (a paced broadcast, a drain).
func (h *hub) all() []*session {
	var out []*session
	for _, sh := range h.shards {
		sh.mu.RLock()
		for _, s := range sh.sessions {
			out = append(out, s)
		}
		sh.mu.RUnlock()
	}
	return out
}

// Snapshot is what an edge holds at one moment: every connection and every
// room with members here.
type Snapshot struct {
	// Conns maps each authenticated connection's key to its user.
	Conns map[string]string
	// Rooms maps each room with members on this edge to their number.
	Rooms map[string]int
}

// Snapshot lists this edge's connections and rooms, for republishing its
// routes after the route store lost them, and for tests.
func (e *Edge) Snapshot() Snapshot { return e.hub.snapshot() }

func (h *hub) snapshot() Snapshot {
	conns := make(map[string]string)
	for _, sh := range h.shards {
		sh.mu.RLock()
		for k, s := range sh.sessions {
			conns[k] = s.ident.User
		}
		sh.mu.RUnlock()
	}
	return Snapshot{Conns: conns, Rooms: h.counts.snapshot()}
}

// Online reports this edge's counts: the total, the given rooms and the top
// most populated rooms.
func (e *Edge) Online(_ context.Context, rooms []string, top int) (push.Online, error) {
	return e.hub.online(rooms, top), nil
}

// online counts from the shards: a room's count is its members at one
// moment, the top rooms are ordered by count, then by name.
func (h *hub) online(rooms []string, top int) push.Online {
	out := push.Online{Rooms: make(map[string]int64, len(rooms))}
	for _, r := range rooms {
		out.Rooms[r] = 0
	}
	var all map[string]int64
	if top > 0 {
		all = make(map[string]int64)
	}
	for _, sh := range h.shards {
		sh.mu.RLock()
		out.Total += int64(len(sh.sessions))
		for _, r := range rooms {
			out.Rooms[r] += int64(len(sh.rooms[r]))
		}
		if all != nil {
			for r, members := range sh.rooms {
				all[r] += int64(len(members))
			}
		}
		sh.mu.RUnlock()
	}
	for r, n := range all {
		out.Top = append(out.Top, push.RoomCount{Room: r, Count: n})
	}
	slices.SortFunc(out.Top, func(a, b push.RoomCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Room, b.Room))
	})
	if len(out.Top) > top {
		out.Top = out.Top[:top]
	}
	return out
}
