package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// Presence answers the push API's Presence and PresenceStats from the
// listings the live edges wrote (EdgeRoutes.RoomPresence). It reads Redis on
// every call, two pipelined round trips: the room's count hash names the
// edges holding members, then one HGETALL per such live edge. Each edge
// lists at most its listing threshold of members (edge.Config.PresenceListMax),
// so a read is bounded by edges × threshold fields whatever the room's size.
type Presence struct {
	client redis.UniversalClient
	keys   keys
}

// NewPresence returns a Presence reading client under prefix ("" means
// DefaultPrefix).
func NewPresence(client redis.UniversalClient, prefix string) *Presence {
	return &Presence{client: client, keys: newKeys(prefix)}
}

// Presence returns the room's users after the user after (all when empty),
// at most limit of them, ordered by user, with the room's counts. Listed is
// false, and no user is returned, when some live edge holds the room as
// counts only.
func (p *Presence) Presence(ctx context.Context, room, after string, limit int) (push.Presence, error) {
	conns, st, listed, err := p.read(ctx, room)
	if err != nil {
		return push.Presence{}, err
	}
	out := push.Presence{Listed: listed, Stats: st}
	if listed {
		out.Users, out.More = push.PagePresence(conns, after, limit)
	}
	return out, nil
}

// PresenceStats returns the room's connections and distinct users on live
// edges.
func (p *Presence) PresenceStats(ctx context.Context, room string) (push.PresenceStats, error) {
	_, st, _, err := p.read(ctx, room)
	return st, err
}

// read gathers the room's listed members and counts over the live edges.
// Connections are the edges' counts (the same as Online's). Distinct users
// are exact over the edges that list the room; each counts-only edge adds
// its own distinct users. An edge with members but no listing yet (its
// first write is a flush behind its count) counts as listed and empty.
func (p *Presence) read(ctx context.Context, room string) (conns []push.PresenceConn, st push.PresenceStats, listed bool, err error) {
	pipe := p.client.Pipeline()
	liveCmd := pipe.ZRangeByScore(ctx, p.keys.edges(), liveRange(time.Now()))
	countsCmd := pipe.HGetAll(ctx, p.keys.room(room))
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, st, false, fmt.Errorf("store: read presence counts: %w", err)
	}
	alive := make(map[string]bool, len(liveCmd.Val()))
	for _, id := range liveCmd.Val() {
		alive[id] = true
	}
	var edges []string
	for id, count := range countsCmd.Val() {
		if !alive[id] {
			continue
		}
		c, _ := strconv.ParseInt(count, 10, 64) // only edges write these
		st.Conns += c
		edges = append(edges, id)
	}
	listed, st.UsersExact = true, true
	if len(edges) == 0 {
		return nil, st, listed, nil
	}
	pipe = p.client.Pipeline()
	lists := make([]*redis.MapStringStringCmd, len(edges))
	for i, id := range edges {
		lists[i] = pipe.HGetAll(ctx, p.keys.edgePresence(id, room))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, st, false, fmt.Errorf("store: read presence: %w", err)
	}
	var counted int64 // distinct users of counts-only edges
	for i, cmd := range lists {
		h := cmd.Val()
		edgeListed, users, ok := parsePresenceHeader(h[presenceHeader])
		if ok && !edgeListed {
			listed, st.UsersExact = false, false
			counted += users
			continue
		}
		for key, v := range h {
			if key == presenceHeader {
				continue
			}
			if user, info, ok := parsePresenceValue(v); ok {
				conns = append(conns, push.PresenceConn{Key: key, User: user, Edge: edges[i], Info: info})
			}
		}
	}
	st.Users = push.DistinctUsers(conns) + counted
	return conns, st, listed, nil
}
