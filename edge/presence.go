package edge

import (
	"context"

	"github.com/quicpush/quicpush/internal/push"
)

// DefaultPresenceListMax is the default Config.PresenceListMax.
const DefaultPresenceListMax = 1000

// presenceConn describes s as a room member.
func (h *hub) presenceConn(s *session) push.PresenceConn {
	return push.PresenceConn{Key: s.key, User: s.ident.User, Edge: h.edgeID, Info: s.ident.Info}
}

// members lists room's members on this edge at one moment.
func (h *hub) members(room string) []push.PresenceConn {
	var out []push.PresenceConn
	for _, sh := range h.shards {
		sh.mu.RLock()
		for s := range sh.rooms[room] {
			out = append(out, h.presenceConn(s))
		}
		sh.mu.RUnlock()
	}
	return out
}

// presenceStats reads room's counts on this edge and whether it is listed.
func (h *hub) presenceStats(room string) (push.PresenceStats, bool) {
	rc := &h.counts
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c := rc.rooms[room]
	if c == nil {
		return push.PresenceStats{UsersExact: true}, rc.unlisted == nil || !rc.unlisted(room)
	}
	return push.PresenceStats{Conns: int64(c.n), Users: int64(len(c.users)), UsersExact: true}, !c.unlisted
}

// RoomMembers lists room's members on this edge, for the presence store to
// write a room's listing again (it fell back under the threshold, or Redis
// lost it).
func (e *Edge) RoomMembers(room string) []push.PresenceConn { return e.hub.members(room) }

// Presence answers the push API's Presence from this edge alone (one
// process): the users after the user after, at most limit of them. A room
// past Config.PresenceListMax is counts only, as in a cluster.
func (e *Edge) Presence(_ context.Context, room, after string, limit int) (push.Presence, error) {
	st, listed := e.hub.presenceStats(room)
	out := push.Presence{Listed: listed, Stats: st}
	if listed {
		out.Users, out.More = push.PagePresence(e.hub.members(room), after, limit)
	}
	return out, nil
}

// PresenceStats answers the push API's PresenceStats from this edge alone.
func (e *Edge) PresenceStats(_ context.Context, room string) (push.PresenceStats, error) {
	st, _ := e.hub.presenceStats(room)
	return st, nil
}
