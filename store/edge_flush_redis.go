package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// writeChunk bounds the fields of one HSET and the pairs of one disconnect
// script, so no single command holds Redis for long.
const writeChunk = 500

// flush writes everything pending in one pipeline. On a transient failure
// the changes go back to the pending set (newer ones win) and their sync
// callers keep waiting.
func (p *EdgeRoutes) flush(ctx context.Context) error {
	p.mu.Lock()
	b := p.pend
	if b.size() == 0 && len(b.waiters) == 0 {
		p.mu.Unlock()
		return nil
	}
	p.pend = newBatch()
	p.mu.Unlock()

	// Half a TTL: a stuck write must not delay heartbeats past the TTL.
	wctx, cancel := context.WithTimeout(ctx, p.cfg.TTL/2)
	start := time.Now()
	err := p.write(wctx, b)
	cancel()
	p.metrics.flushes.Inc()
	p.metrics.flushOps.Observe(float64(b.size()))
	p.metrics.flushTime.Observe(time.Since(start).Seconds())
	if err == nil {
		p.errs.ok("flush")
		p.mu.Lock()
		p.lastErr = nil
		p.mu.Unlock()
		b.release(nil)
		return nil
	}
	p.failed("flush", err)
	if permanent(err) {
		// Retrying cannot help (a key of the wrong type, say), and the other
		// commands of the pipeline were applied: give up on this batch
		// rather than block every later change behind it.
		p.log.Error("Redis refused a write; dropping it", "err", err, "changes", b.size())
		b.release(err)
		return nil
	}
	p.mu.Lock()
	p.pend.requeue(b)
	p.mu.Unlock()
	return err
}

// write sends one batch as a pipeline: route changes, room counts, then the
// invalidations, which therefore reach readers only after the data.
func (p *EdgeRoutes) write(ctx context.Context, b *batch) error {
	id, k := p.cfg.Edge.ID, p.keys
	conns := k.edgeConns(id)
	pipe := p.cfg.Client.Pipeline()
	users := make(map[string]struct{})

	// Disconnects first: when a connKey closed for one user and opened for
	// another in the same batch, the second route must survive.
	discArgs := func() []any { return append(make([]any, 0, 2+2*writeChunk), id, k.userPrefix()) }
	args := discArgs()
	for ref, connected := range b.conns {
		if connected {
			continue
		}
		users[ref.user] = struct{}{}
		if args = append(args, ref.key, ref.user); len(args) >= 2+2*writeChunk {
			disconnectScript.Eval(ctx, pipe, []string{conns}, args...)
			args = discArgs()
		}
	}
	if len(args) > 2 {
		disconnectScript.Eval(ctx, pipe, []string{conns}, args...)
	}

	// Connects: the edge's own record first, so an interrupted pipeline
	// leaves routes the cleanup can find.
	var fields []any
	routes := make(map[string][]any) // user -> connKey, id, ...
	for ref, connected := range b.conns {
		if !connected {
			continue
		}
		users[ref.user] = struct{}{}
		routes[ref.user] = append(routes[ref.user], ref.key, id)
		if fields = append(fields, ref.key, ref.user); len(fields) >= 2*writeChunk {
			pipe.HSet(ctx, conns, fields...)
			fields = nil
		}
	}
	if len(fields) > 0 {
		pipe.HSet(ctx, conns, fields...)
	}
	for user, fv := range routes {
		pipe.HSet(ctx, k.user(user), fv...)
	}

	var rooms []string // to invalidate: opened or closed here
	for room, op := range b.rooms {
		if op.count > 0 {
			pipe.HSet(ctx, k.room(room), id, op.count)
			pipe.ZAdd(ctx, k.edgeRooms(id), redis.Z{Score: float64(op.count), Member: room})
		} else {
			pipe.HDel(ctx, k.room(room), id)
			pipe.ZRem(ctx, k.edgeRooms(id), room)
		}
		// A count moving between two positive values changes no route.
		if op.opened || op.count == 0 {
			rooms = append(rooms, room)
		}
	}

	for room, op := range b.pres {
		p.writePresence(ctx, pipe, room, op)
	}

	for user := range users {
		pipe.Publish(ctx, k.inval(), invalUser+user)
	}
	for _, room := range rooms {
		pipe.Publish(ctx, k.inval(), invalRoom+room)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: write %d changes: %w", b.size(), err)
	}
	return nil
}

// permanent reports whether err is Redis refusing a command for good (wrong
// key type, script error), as opposed to Redis being away, loading, or
// failing over, which retrying fixes.
func permanent(err error) bool {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := rerr.Error()
	switch {
	case strings.HasPrefix(msg, "WRONGTYPE"):
		return true
	case strings.HasPrefix(msg, "ERR "):
		return !redis.IsMaxClientsError(err)
	}
	return false
}

// writePresence queues one room's presence write on pipe.
func (p *EdgeRoutes) writePresence(ctx context.Context, pipe redis.Pipeliner, room string, op *presOp) {
	key := p.keys.edgePresence(p.cfg.Edge.ID, room)
	if op.reset {
		pipe.Del(ctx, key)
	}
	if op.header == "" {
		return
	}
	set := op.set
	if op.relist {
		set = make(map[string]string)
		for _, m := range p.cfg.Members(room) {
			set[m.Key] = presenceValue(m.User, m.Info)
		}
	}
	if len(op.del) > 0 {
		dels := make([]string, 0, len(op.del))
		for k := range op.del {
			dels = append(dels, k)
		}
		for c := range slices.Chunk(dels, writeChunk) {
			pipe.HDel(ctx, key, c...)
		}
	}
	fields := []any{presenceHeader, op.header}
	for k, v := range set {
		if fields = append(fields, k, v); len(fields) >= 2*writeChunk {
			pipe.HSet(ctx, key, fields...)
			fields = nil
		}
	}
	if len(fields) > 0 {
		pipe.HSet(ctx, key, fields...)
	}
}
