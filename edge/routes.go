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

// openRoom records a room's first member in the route store and wakes the
// joins waiting for it.
func (e *Edge) openRoom(c *roomCount, room string) error {
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	defer cancel()
	c.err = e.cfg.Routes.RoomCount(ctx, room, 1)
	close(c.opened)
	if c.err != nil {
		e.metrics.routeErrors.Inc()
	}
	return c.err
}

// waitOpened waits until a room another join opened is routed here.
func (e *Edge) waitOpened(c *roomCount) error {
	t := time.NewTimer(e.cfg.RouteTimeout)
	defer t.Stop()
	select {
	case <-c.opened:
		return c.err
	case <-t.C:
		return context.DeadlineExceeded
	case <-e.ctx.Done():
		return e.ctx.Err()
	}
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
func (e *Edge) Snapshot() Snapshot {
	conns := make(map[string]string)
	for _, sh := range e.shards {
		sh.mu.RLock()
		for k, s := range sh.sessions {
			conns[k] = s.ident.User
		}
		sh.mu.RUnlock()
	}
	return Snapshot{Conns: conns, Rooms: e.roomCounts.snapshot()}
}
