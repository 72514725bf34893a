package edge

import (
	"context"
	"sync"
	"time"

	"github.com/quicpush/quicpush/internal/push"
)

// RouteRecorder is where a clustered edge records who is connected here and
// which rooms have members here, so that core routes pushes to it
// (store.EdgeRoutes on Redis). One process has none.
type RouteRecorder interface {
	// Connected returns once a push to the user will find this connection.
	Connected(ctx context.Context, connKey, user string) error
	// Disconnected forgets the connection; it may be reported late.
	Disconnected(connKey, user string)
	// RoomCount reports the room's members on this edge. A room going from
	// 0 to members returns once pushes to the room will reach this edge;
	// other changes may be reported late.
	RoomCount(ctx context.Context, room string, members int) error
}

// PresenceRecorder is implemented by a RouteRecorder that also records who
// is in each room (store.EdgeRoutes), for the push API's Presence.
type PresenceRecorder interface {
	// RoomPresence queues a member's arrival or departure; it never blocks.
	// Changes of one room are reported in order.
	RoomPresence(c push.PresenceChange)
}

// roomCounts counts each room's members on the whole edge (the shards only
// know their own), for the rooms gauge and for the route store.
type roomCounts struct {
	mu    sync.Mutex
	rooms map[string]*roomCount
	// listMax is Config.PresenceListMax.
	listMax int
	// unlisted reports whether a room's namespace turns presence listing
	// off (Config.Namespaces): such a room is counts only from the start.
	unlisted func(room string) bool
}

type roomCount struct {
	n int
	// users counts the room's connections of each user, for the distinct
	// users of Presence.
	users map[string]int
	// unlisted is set once the room passed the presence listing threshold,
	// and cleared when it falls back to half of it; neverListed rooms (their
	// namespace has presence off) are unlisted for good.
	unlisted    bool
	neverListed bool
	// opened is closed once the room's opening was reported; joins that
	// find it open wait for it, so no JoinOK for the room goes out before
	// the cluster routes the room here.
	opened chan struct{}
	err    error
}

// add counts one more member, of user, and returns the room's entry and
// whether this join opened the room on the edge.
func (rc *roomCounts) add(room, user string) (*roomCount, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rooms == nil {
		rc.rooms = make(map[string]*roomCount)
	}
	c := rc.rooms[room]
	opened := c == nil
	if opened {
		c = &roomCount{opened: make(chan struct{}), users: make(map[string]int, 1)}
		if rc.unlisted != nil && rc.unlisted(room) {
			c.unlisted, c.neverListed = true, true
		}
		rc.rooms[room] = c
	}
	c.n++
	c.users[user]++
	if c.n > rc.listMax {
		c.unlisted = true
	}
	return c, opened
}

// remove counts one member of user less and returns the count left.
func (rc *roomCounts) remove(room, user string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := rc.rooms[room]
	if c == nil {
		return 0
	}
	c.n--
	if c.n <= 0 {
		delete(rc.rooms, room)
		return 0
	}
	if u := c.users[user] - 1; u > 0 {
		c.users[user] = u
	} else {
		delete(c.users, user)
	}
	// Half the threshold: a room hovering around it does not flip between
	// listed and counts only (each flip rewrites its listing in Redis).
	if c.unlisted && !c.neverListed && c.n <= rc.listMax/2 {
		c.unlisted = false
	}
	return c.n
}

// snapshot copies every room's count.
func (rc *roomCounts) snapshot() map[string]int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make(map[string]int, len(rc.rooms))
	for r, c := range rc.rooms {
		out[r] = c.n
	}
	return out
}

// recordConnected records a registered session in the route store: AuthOK
// promises that pushes to the user reach this connection.
func (h *hub) recordConnected(s *session) error {
	if h.routes == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.routeTimeout)
	defer cancel()
	err := h.routes.Connected(ctx, s.key, s.ident.User)
	if err != nil {
		h.metrics.routeErrors.Inc()
	}
	return err
}

// openRoom records a room's first member in the route store and wakes the
// joins waiting for it.
func (h *hub) openRoom(c *roomCount, room string) error {
	ctx, cancel := context.WithTimeout(h.ctx, h.routeTimeout)
	defer cancel()
	c.err = h.routes.RoomCount(ctx, room, 1)
	close(c.opened)
	if c.err != nil {
		h.metrics.routeErrors.Inc()
	}
	return c.err
}

// waitOpened waits until a room another join opened is routed here.
func (h *hub) waitOpened(c *roomCount) error {
	t := time.NewTimer(h.routeTimeout)
	defer t.Stop()
	select {
	case <-c.opened:
		return c.err
	case <-t.C:
		return context.DeadlineExceeded
	case <-h.ctx.Done():
		return h.ctx.Err()
	}
}

// countLeave counts one member less in room and reports it.
func (h *hub) countLeave(room string, s *session) {
	if h.counts.remove(room, s.ident.User) == 0 {
		h.metrics.rooms.Dec()
	}
	h.reportCount(room)
	h.reportPresence(room, s, false)
}

// reportPresence queues a member's arrival or departure for the presence
// store, with the room's counts. Like reportCount it reports under the
// counts' lock, so that the store sees one room's changes in order and its
// latest counts last.
func (h *hub) reportPresence(room string, s *session, joined bool) {
	if h.presence == nil {
		return
	}
	rc := &h.counts
	rc.mu.Lock()
	defer rc.mu.Unlock()
	ch := push.PresenceChange{Room: room, Joined: joined, Listed: true}
	if c := rc.rooms[room]; c != nil {
		ch.Members, ch.Users, ch.Listed = c.n, len(c.users), !c.unlisted
	}
	ch.Conn = push.PresenceConn{Key: s.key}
	if joined {
		ch.Conn = h.presenceConn(s)
	}
	h.presence.RoomPresence(ch)
}

// reportCount tells the route store the room's current count. It reports
// under the counts' lock, so that two reports of one room reach the store in
// the order of the counts they carry; the store only queues them (it
// coalesces them and writes the latest), so the lock is held briefly.
func (h *hub) reportCount(room string) {
	if h.routes == nil {
		return
	}
	rc := &h.counts
	rc.mu.Lock()
	defer rc.mu.Unlock()
	n := 0
	if c := rc.rooms[room]; c != nil {
		n = c.n
	}
	// A room the store saw at zero would make this a synchronous opening;
	// joins wait for the opening first, so that does not happen, but the
	// wait stays bounded whatever happens.
	ctx, cancel := context.WithTimeout(h.ctx, h.routeTimeout)
	defer cancel()
	_ = h.routes.RoomCount(ctx, room, n)
}
