package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// cleanupChunk is how many conns or rooms one cleanup script handles: large
// enough to keep round trips few, small enough that one script never holds
// Redis for more than a fraction of a millisecond.
const cleanupChunk = 1000

// cleanupResult says how far cleanupEdge got.
type cleanupResult int

const (
	// cleanupDone: the edge's routes, room counts and registry entry are gone.
	cleanupDone cleanupResult = iota
	// cleanupAlive: the edge heartbeats or republishes again; nothing more
	// was removed, and what was removed before it came back is rewritten by
	// its republish.
	cleanupAlive
	// cleanupLeft: entries were added during the scan; run it again.
	cleanupLeft
)

// cleanupEdge removes what a dead edge left behind, in chunks: the route of
// each of its connections (only where the route still names it), its field in
// each room hash, its conns hash and rooms zset, then its registry entry, and
// publishes "e:<id>". A room's presence listing goes with its count: the
// rooms zset names every room the edge lists. Every chunk re-checks in Lua
// that the edge is dead, so several cores may run it at once and an edge
// that came back is never wiped.
func cleanupEdge(ctx context.Context, c redis.UniversalClient, k keys, id string, now time.Time) (cleanupResult, error) {
	ks := k.edgeKeys(id) // info hash, edges zset, conns hash, rooms zset
	nowMs := strconv.FormatInt(now.UnixMilli(), 10)

	var cursor uint64
	for {
		kv, next, err := c.HScan(ctx, ks[2], cursor, "", cleanupChunk).Result()
		if err != nil {
			return 0, fmt.Errorf("store: scan conns of edge %s: %w", id, err)
		}
		if len(kv) > 0 {
			args := make([]any, 0, 3+len(kv))
			args = append(args, id, nowMs, k.userPrefix())
			for _, s := range kv {
				args = append(args, s)
			}
			n, err := cleanConnsScript.Run(ctx, c, ks[:3], args...).Int64()
			if err != nil {
				return 0, fmt.Errorf("store: clean routes of edge %s: %w", id, err)
			}
			if n < 0 {
				return cleanupAlive, nil
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}

	cursor = 0
	for {
		ms, next, err := c.ZScan(ctx, ks[3], cursor, "", cleanupChunk).Result()
		if err != nil {
			return 0, fmt.Errorf("store: scan rooms of edge %s: %w", id, err)
		}
		if len(ms) > 0 {
			args := make([]any, 0, 4+len(ms)/2)
			args = append(args, id, nowMs, k.roomPrefix(), k.edgePresencePrefix(id))
			for i := 0; i < len(ms); i += 2 { // member, score pairs
				args = append(args, ms[i])
			}
			n, err := cleanRoomsScript.Run(ctx, c, []string{ks[0], ks[1], ks[3]}, args...).Int64()
			if err != nil {
				return 0, fmt.Errorf("store: clean rooms of edge %s: %w", id, err)
			}
			if n < 0 {
				return cleanupAlive, nil
			}
		}
		if next == 0 {
			break
		}
		cursor = next
	}

	n, err := finishCleanupScript.Run(ctx, c, ks, id, nowMs, k.inval(), invalEdge+id).Int64()
	if err != nil {
		return 0, fmt.Errorf("store: remove edge %s: %w", id, err)
	}
	switch n {
	case 1:
		return cleanupDone, nil
	case 0:
		return cleanupLeft, nil
	}
	return cleanupAlive, nil
}

// removeEdge deregisters an edge and removes everything it wrote, whether or
// not it looks alive: an edge closing, or starting again with the id of a
// previous run.
func removeEdge(ctx context.Context, c redis.UniversalClient, k keys, id string) error {
	// Without the info hash and the registry entry the edge is dead to every
	// reader and to the cleanup's check.
	pipe := c.Pipeline()
	pipe.Del(ctx, k.edge(id))
	pipe.ZRem(ctx, k.edges(), id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: deregister edge %s: %w", id, err)
	}
	// A few rounds at most: cleanupLeft only happens when writes raced the
	// scan, and nothing of ours writes now.
	for range 3 {
		res, err := cleanupEdge(ctx, c, k, id, time.Now())
		if err != nil {
			return err
		}
		switch res {
		case cleanupDone:
			return nil
		case cleanupAlive:
			return fmt.Errorf("store: edge %s was registered again while being removed", id)
		}
	}
	return fmt.Errorf("store: edge %s still had routes after 3 cleanup rounds", id)
}
