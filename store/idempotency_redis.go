package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// Idempotency is the cluster's push.IdempotencyStore: one key per call,
// "qp:idem:<scoped key>", holding "-" while the call is in flight and the
// reply once it succeeded, with the window as its TTL. Every API process
// sees the same keys, so a retry that lands on another one is recognized.
type Idempotency struct {
	c    redis.UniversalClient
	keys keys
}

var _ push.IdempotencyStore = (*Idempotency)(nil)

// NewIdempotency returns the store under prefix ("" means DefaultPrefix).
func NewIdempotency(client redis.UniversalClient, prefix string) *Idempotency {
	return &Idempotency{c: client, keys: newKeys(prefix)}
}

func (k keys) idem(key string) string { return k.prefix + "idem:" + key }

// inFlight marks a call under way; a reply is a protobuf message, never
// this single byte (an empty reply is the empty string).
const inFlight = "-"

// Begin implements push.IdempotencyStore.
func (s *Idempotency) Begin(ctx context.Context, key string, window time.Duration) ([]byte, bool, error) {
	k := s.keys.idem(key)
	// Twice at most: the key may expire or be abandoned between SETNX and
	// GET, and is then claimed on the second round.
	for range 2 {
		ok, err := s.c.SetNX(ctx, k, inFlight, window).Result()
		if err != nil {
			return nil, false, fmt.Errorf("store: idempotency: %w", err)
		}
		if ok {
			return nil, false, nil
		}
		v, err := s.c.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case err != nil:
			return nil, false, fmt.Errorf("store: idempotency: %w", err)
		case v == inFlight:
			return nil, false, push.ErrInFlight
		}
		return []byte(v), true, nil
	}
	return nil, false, push.ErrInFlight
}

// Finish implements push.IdempotencyStore.
func (s *Idempotency) Finish(ctx context.Context, key string, reply []byte, window time.Duration) error {
	if err := s.c.Set(ctx, s.keys.idem(key), reply, window).Err(); err != nil {
		return fmt.Errorf("store: idempotency: %w", err)
	}
	return nil
}

// Abandon implements push.IdempotencyStore.
func (s *Idempotency) Abandon(ctx context.Context, key string) {
	// Only an in-flight mark is ours to remove.
	s.c.Eval(ctx, `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`,
		[]string{s.keys.idem(key)}, inFlight)
}
