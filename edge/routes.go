package edge

import (
	"context"
	"sync"
	"time"
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

// roomCounts counts each room's members on the whole edge (the shards only
// know their own), for the rooms gauge and for the route store.
type roomCounts struct {
	mu    sync.Mutex
	rooms map[string]*roomCount
}

type roomCount struct {
	n int
	// opened is closed once the room's opening was reported; joins that
	// find it open wait for it, so no JoinOK for the room goes out before
	// the cluster routes the room here.
	opened chan struct{}
	err    error
}

// add counts one more member and returns the room's entry and whether this
// join opened the room on the edge.
func (rc *roomCounts) add(room string) (*roomCount, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.rooms == nil {
		rc.rooms = make(map[string]*roomCount)
	}
	c := rc.rooms[room]
	if c == nil {
		c = &roomCount{opened: make(chan struct{})}
		rc.rooms[room] = c
		c.n = 1
		return c, true
	}
	c.n++
	return c, false
}

// remove counts one member less and returns the count left.
func (rc *roomCounts) remove(room string) int {
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
func (h *hub) countLeave(room string) {
	if h.counts.remove(room) == 0 {
		h.metrics.rooms.Dec()
	}
	h.reportCount(room)
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
