package store

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// janitorBatch bounds the dead edges one sweep handles; the next sweep takes
// the rest.
const janitorBatch = 100

// janitor periodically cleans edges that died without Close (kill -9, lost
// host): their registration expired, but their routes and room counts stay
// until someone removes them.
func (r *Routes) janitor(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.JanitorInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.sweep(ctx)
		}
	}
}

// sweep cleans the edges whose registration expired. Each cleanup re-checks
// in Redis that the edge is still dead, so racing sweeps of other cores and
// edges coming back are safe.
func (r *Routes) sweep(ctx context.Context) {
	now := time.Now()
	ids, err := r.cfg.Client.ZRangeByScore(ctx, r.keys.edges(), &redis.ZRangeBy{
		Min: "-inf", Max: strconv.FormatInt(now.UnixMilli(), 10), Count: janitorBatch,
	}).Result()
	if err != nil {
		r.errs.fail("janitor", err)
		return
	}
	for _, id := range ids {
		res, err := cleanupEdge(ctx, r.cfg.Client, r.keys, id, now)
		if err != nil {
			r.errs.fail("janitor", err)
			return
		}
		if res == cleanupDone {
			r.metrics.deadCleaned.Inc()
			r.log.Info("cleaned dead edge", "edge", id)
		}
	}
	r.errs.ok("janitor")
}
