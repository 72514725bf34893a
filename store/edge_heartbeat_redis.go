package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"
)

// run is the single goroutine that writes to Redis: heartbeats, flushes
// and republishes never interleave, so a republished snapshot is never
// overtaken by an older change.
func (p *EdgeRoutes) run(ctx context.Context) {
	defer close(p.done)
	hb := time.NewTicker(p.cfg.TTL / 3)
	defer hb.Stop()
	flushT := time.NewTimer(time.Hour)
	flushT.Stop()
	defer flushT.Stop()
	armed := false
	var backoff time.Duration
	for {
		select {
		case <-ctx.Done():
			return
		case <-hb.C:
			p.heartbeat(ctx)
		case <-p.wake:
			if !armed {
				flushT.Reset(p.cfg.FlushInterval)
				armed = true
			}
		case <-flushT.C:
			armed = false
			if err := p.flush(ctx); err != nil {
				// Keep the batch and retry: Redis may be restarting.
				backoff = nextBackoff(backoff)
				flushT.Reset(backoff)
				armed = true
				continue
			}
			backoff = 0
		}
	}
}

// heartbeat extends the registration, and republishes the edge's state when
// its info hash is gone: Redis restarted or was flushed, or the edge was
// taken for dead and cleaned.
func (p *EdgeRoutes) heartbeat(ctx context.Context) {
	hctx, cancel := context.WithTimeout(ctx, p.cfg.TTL/3)
	defer cancel()
	id := p.cfg.Edge.ID
	pipe := p.cfg.Client.Pipeline()
	// ZADD first: from then on the cleanup's check sees the edge alive,
	// even before the republish below writes the info hash.
	pipe.ZAdd(hctx, p.keys.edges(), p.expiry())
	alive := pipe.PExpire(hctx, p.keys.edge(id), p.cfg.TTL)
	if _, err := pipe.Exec(hctx); err != nil {
		p.failed("heartbeat", err)
		return
	}
	p.errs.ok("heartbeat")
	if alive.Val() {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, republishTimeout)
	defer cancel()
	conns, rooms, err := p.republish(rctx)
	if err != nil {
		// The info hash is written last, so the next heartbeat tries again.
		p.failed("republish", err)
		return
	}
	p.errs.ok("republish")
	p.metrics.republishes.Inc()
	p.log.Info("republished edge state", "conns", conns, "rooms", rooms)
}

// failed records a failed Redis operation.
func (p *EdgeRoutes) failed(op string, err error) {
	p.errs.fail(op, err)
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

// expiry is the registry entry of this edge, valid for one TTL from now.
func (p *EdgeRoutes) expiry() redis.Z {
	return redis.Z{Score: float64(time.Now().Add(p.cfg.TTL).UnixMilli()), Member: p.cfg.Edge.ID}
}

// nextBackoff doubles the wait between retries, from 50ms up to
// maxRetryBackoff.
func nextBackoff(d time.Duration) time.Duration {
	if d <= 0 {
		return 50 * time.Millisecond
	}
	return min(2*d, maxRetryBackoff)
}

// republish writes the edge's whole state again, from Snapshot: routes, room
// counts, and last the info hash, so a republish cut short is retried by the
// next heartbeat. Each chunk also renews the registry entry, keeping the
// edge alive (and safe from the cleanup) however long this takes. Entries
// Redis still holds but the snapshot lacks are left alone: they only exist
// when Redis came back from an old dump, and then cost wasted lookups and
// overstated counts until the edge closes. Deleting them here would race
// changes reported while the snapshot was taken.
func (p *EdgeRoutes) republish(ctx context.Context) (conns, rooms int, err error) {
	snap := p.cfg.Snapshot()
	id, k := p.cfg.Edge.ID, p.keys
	pipe := p.cfg.Client.Pipeline()
	n := 0
	exec := func(force bool) error {
		if n == 0 || (!force && n < writeChunk) {
			return nil
		}
		pipe.ZAdd(ctx, k.edges(), p.expiry())
		_, err := pipe.Exec(ctx)
		n = 0
		return err
	}

	var fields []any
	for connKey, user := range snap.Conns {
		fields = append(fields, connKey, user)
		pipe.HSet(ctx, k.user(user), connKey, id)
		if n++; n >= writeChunk {
			pipe.HSet(ctx, k.edgeConns(id), fields...)
			fields = nil
			if err := exec(false); err != nil {
				return 0, 0, fmt.Errorf("store: republish routes: %w", err)
			}
		}
	}
	if len(fields) > 0 {
		pipe.HSet(ctx, k.edgeConns(id), fields...)
	}
	for room, count := range snap.Rooms {
		if count <= 0 {
			continue
		}
		pipe.HSet(ctx, k.room(room), id, count)
		pipe.ZAdd(ctx, k.edgeRooms(id), redis.Z{Score: float64(count), Member: room})
		rooms++
		n += p.republishPresence(ctx, pipe, room)
		if n++; n >= writeChunk {
			if err := exec(false); err != nil {
				return 0, 0, fmt.Errorf("store: republish rooms: %w", err)
			}
		}
	}
	n++ // the info hash always goes
	pipe.HSet(ctx, k.edge(id), p.cfg.Edge.fields()...)
	pipe.PExpire(ctx, k.edge(id), p.cfg.TTL)
	pipe.Publish(ctx, k.inval(), invalEdge+id)
	if err := exec(true); err != nil {
		return 0, 0, fmt.Errorf("store: republish edge info: %w", err)
	}
	return len(snap.Conns), rooms, nil
}

// republishPresence queues the presence listing of room on pipe, from
// EdgeRoutesConfig.Members, and returns the number of commands queued. A
// room the edge holds as counts only gets its header alone.
func (p *EdgeRoutes) republishPresence(ctx context.Context, pipe redis.Pipeliner, room string) int {
	if p.cfg.Members == nil {
		return 0
	}
	p.mu.Lock()
	listed, known := p.listed[room]
	p.mu.Unlock()
	members := p.cfg.Members(room)
	if len(members) == 0 {
		return 0
	}
	listed = listed || !known
	users := make(map[string]struct{}, len(members))
	fields := make([]any, 0, 2)
	for _, m := range members {
		users[m.User] = struct{}{}
		if listed {
			fields = append(fields, m.Key, presenceValue(m.User, m.Info))
		}
	}
	fields = append(fields, presenceHeader, presenceHeaderValue(listed, len(users)))
	key := p.keys.edgePresence(p.cfg.Edge.ID, room)
	cmds := 0
	for c := range slices.Chunk(fields, 2*writeChunk) {
		pipe.HSet(ctx, key, c...)
		cmds++
	}
	return cmds
}
