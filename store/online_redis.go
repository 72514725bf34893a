package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// OnlineCounts answers the push API's Online call from the counts the live edges
// wrote. It reads Redis on every call (two pipelined round trips): online
// counts are asked for rarely, and must not lag.
type OnlineCounts struct {
	client redis.UniversalClient
	keys   keys
}

// NewOnlineCounts returns a OnlineCounts reading client under prefix ("" means
// DefaultPrefix).
func NewOnlineCounts(client redis.UniversalClient, prefix string) *OnlineCounts {
	return &OnlineCounts{client: client, keys: newKeys(prefix)}
}

// Online returns the number of connections on live edges, the count of each
// of rooms (zero when unknown), and the top most populated rooms, largest
// first, ties by name (none when top <= 0).
func (p *OnlineCounts) Online(ctx context.Context, rooms []string, top int) (push.Online, error) {
	pipe := p.client.Pipeline()
	liveCmd := pipe.ZRangeByScore(ctx, p.keys.edges(), liveRange(time.Now()))
	roomCmds := make(map[string]*redis.MapStringStringCmd, len(rooms))
	for _, room := range rooms {
		if _, dup := roomCmds[room]; !dup {
			roomCmds[room] = pipe.HGetAll(ctx, p.keys.room(room))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return push.Online{}, fmt.Errorf("store: read online rooms: %w", err)
	}
	live := liveCmd.Val()
	alive := make(map[string]bool, len(live))
	for _, id := range live {
		alive[id] = true
	}

	out := push.Online{Rooms: make(map[string]int64, len(roomCmds))}
	for room, cmd := range roomCmds {
		var n int64
		for id, count := range cmd.Val() {
			if alive[id] {
				c, _ := strconv.ParseInt(count, 10, 64) // only edges write these
				n += c
			}
		}
		out.Rooms[room] = n
	}
	if len(live) == 0 {
		return out, nil
	}

	pipe = p.client.Pipeline()
	lens := make([]*redis.IntCmd, len(live))
	roomSets := make([]string, len(live))
	for i, id := range live {
		lens[i] = pipe.HLen(ctx, p.keys.edgeConns(id))
		roomSets[i] = p.keys.edgeRooms(id)
	}
	var union *redis.ZSliceCmd
	if top > 0 {
		union = pipe.ZUnionWithScores(ctx, redis.ZStore{Keys: roomSets}) // SUM of the edges' counts
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return push.Online{}, fmt.Errorf("store: read online totals: %w", err)
	}
	for _, l := range lens {
		out.Total += l.Val()
	}
	if union != nil {
		zs := union.Val()
		out.Top = make([]push.RoomCount, 0, len(zs))
		for _, z := range zs {
			out.Top = append(out.Top, push.RoomCount{Room: z.Member.(string), Count: int64(z.Score)})
		}
		slices.SortFunc(out.Top, func(a, b push.RoomCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Room, b.Room))
		})
		out.Top = out.Top[:min(top, len(out.Top))]
	}
	return out, nil
}
