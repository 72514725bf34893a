package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// subscribe makes a new subscription to the invalidation channel and makes
// it the one Close closes.
func (r *Routes) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := r.cfg.Client.Subscribe(ctx)
	if err := ps.Subscribe(ctx, r.keys.inval()); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("store: subscribe to %s: %w", r.keys.inval(), err)
	}
	r.psMu.Lock()
	defer r.psMu.Unlock()
	if r.psDone {
		_ = ps.Close()
		return nil, errors.New("store: Routes is closed")
	}
	r.ps = ps
	return ps, nil
}

// listen applies invalidations to the cache. It owns the subscription: on
// any failure it drops it, voids the cache (invalidations may be lost from
// here on), and subscribes again with backoff; the cache comes back into use
// at the new subscription's confirmation.
func (r *Routes) listen(ctx context.Context, ps *redis.PubSub) {
	defer r.wg.Done()
	l := listener{
		subscribe: r.subscribe,
		lost: func(err error) {
			r.cache.setHealthy(false)
			r.errs.fail("subscribe", err)
		},
		confirmed: func() {
			r.cache.setHealthy(true)
			r.errs.ok("subscribe")
		},
		message: func(m *redis.Message) { r.invalidate(m.Payload) },
	}
	l.run(ctx, ps)
}

// invalidate applies one message of the invalidation channel.
func (r *Routes) invalidate(msg string) {
	switch {
	case strings.HasPrefix(msg, invalRoom), strings.HasPrefix(msg, invalUser):
		r.cache.invalidate(msg)
	case strings.HasPrefix(msg, invalEdge):
		// An edge joined, left or republished: its routes may be in any
		// entry, and the registry changed.
		r.cache.reset()
	}
}
