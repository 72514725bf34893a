package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Subscription health: a read waits at most recvTimeout; each quiet period
// sends a PING, and a subscription silent for silentAfter (a half-open
// connection that no write error reveals) is made again.
const (
	recvTimeout = time.Second
	silentAfter = 3 * recvTimeout
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
	defer func() {
		if ps != nil {
			_ = ps.Close()
		}
	}()
	var backoff time.Duration
	lastHeard := time.Now()
	drop := func(err error) {
		r.cache.setHealthy(false)
		r.errs.fail("subscribe", err)
		_ = ps.Close()
		ps = nil
	}
	for ctx.Err() == nil {
		if ps == nil {
			backoff = nextBackoff(backoff)
			if !sleepCtx(ctx, backoff) {
				return
			}
			var err error
			if ps, err = r.subscribe(ctx); err != nil {
				r.errs.fail("subscribe", err)
				continue
			}
			lastHeard = time.Now()
		}
		msg, err := ps.ReceiveTimeout(ctx, recvTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if !isTimeout(err) {
				drop(err)
				continue
			}
			if time.Since(lastHeard) >= silentAfter {
				drop(errors.New("store: subscription silent, no reply to PING"))
				continue
			}
			if err := ps.Ping(ctx); err != nil {
				drop(err)
			}
			continue
		}
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				backoff = 0
				r.cache.setHealthy(true)
				r.errs.ok("subscribe")
			}
		case *redis.Message:
			r.invalidate(m.Payload)
		}
	}
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

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleepCtx waits d, or less if ctx ends; it reports whether ctx is still
// alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
