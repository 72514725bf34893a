package store

import (
	"context"
	"errors"
	"net"
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

// listener keeps one Pub/Sub subscription alive for its owner (the route
// cache's invalidations, the edges' join and leave notices): it reads until
// ctx ends, drops the subscription on any failure or when it falls silent,
// and subscribes again with backoff. The hooks say what the owner does at
// each step; nil ones do nothing.
type listener struct {
	// subscribe makes a new subscription.
	subscribe func(ctx context.Context) (*redis.PubSub, error)
	// lost is called when the subscription is dropped, and when making one
	// failed.
	lost func(err error)
	// confirmed is called when Redis confirms a subscription.
	confirmed func()
	// message is called with every message, from the listener's goroutine.
	message func(m *redis.Message)
}

// run reads ps (a subscription made already; nil to make one first) until
// ctx ends, and closes the subscription it holds then.
func (l *listener) run(ctx context.Context, ps *redis.PubSub) {
	defer func() {
		if ps != nil {
			_ = ps.Close()
		}
	}()
	var backoff time.Duration
	lastHeard := time.Now()
	drop := func(err error) {
		l.fail(err)
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
			if ps, err = l.subscribe(ctx); err != nil {
				l.fail(err)
				continue
			}
			lastHeard = time.Now()
		}
		msg, err := ps.ReceiveTimeout(ctx, recvTimeout)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			switch {
			case !isTimeout(err):
				drop(err)
			case time.Since(lastHeard) >= silentAfter:
				drop(errors.New("store: subscription silent, no reply to PING"))
			default:
				if err := ps.Ping(ctx); err != nil {
					drop(err)
				}
			}
			continue
		}
		lastHeard = time.Now()
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				backoff = 0
				if l.confirmed != nil {
					l.confirmed()
				}
			}
		case *redis.Message:
			if l.message != nil {
				l.message(m)
			}
		}
	}
}

func (l *listener) fail(err error) {
	if l.lost != nil {
		l.lost(err)
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
