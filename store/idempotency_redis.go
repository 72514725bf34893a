package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// Idempotency is the cluster's push.IdempotencyStore: one key per call,
// "qp:idem:<scoped key>", with the window as its TTL, holding a record: a
// state byte ('-' while the call is in flight, '=' once it succeeded), the
// length of the request's digest in one byte, the digest, then (once it
// succeeded) the reply. Every API process sees the same keys, so a retry
// that lands on another one is recognized, and a reused key refused.
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

// States of a record. Before digests were kept a key held "-" in flight and
// the bare reply after: a reply is a protobuf message whose first byte is a
// field tag, never '-' or '=' (fields 5 and 7 as fixed32, which no reply
// has), so such values, written by an older process, are still read.
const (
	stateInFlight = '-'
	stateDone     = '='
)

func idemRecord(state byte, digest, reply []byte) ([]byte, error) {
	if len(digest) > 255 {
		return nil, fmt.Errorf("store: idempotency: digest of %d bytes, at most 255", len(digest))
	}
	b := make([]byte, 0, 2+len(digest)+len(reply))
	b = append(b, state, byte(len(digest)))
	b = append(b, digest...)
	return append(b, reply...), nil
}

// parseIdemRecord reads a record; digest is nil for a value written before
// digests were kept, which matches any request.
func parseIdemRecord(v string) (state byte, digest, reply []byte) {
	if v == string(stateInFlight) {
		return stateInFlight, nil, nil
	}
	if len(v) < 2 || (v[0] != stateInFlight && v[0] != stateDone) || len(v) < 2+int(v[1]) {
		return stateDone, nil, []byte(v)
	}
	n := 2 + int(v[1])
	return v[0], []byte(v[2:n]), []byte(v[n:])
}

// Begin implements push.IdempotencyStore.
func (s *Idempotency) Begin(ctx context.Context, key string, digest []byte, window time.Duration) ([]byte, bool, error) {
	k := s.keys.idem(key)
	mark, err := idemRecord(stateInFlight, digest, nil)
	if err != nil {
		return nil, false, err
	}
	// Twice at most: the key may expire or be abandoned between SETNX and
	// GET, and is then claimed on the second round.
	for range 2 {
		ok, err := s.c.SetNX(ctx, k, mark, window).Result()
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
		}
		state, d, reply := parseIdemRecord(v)
		switch {
		case d != nil && !bytes.Equal(d, digest):
			return nil, false, push.ErrKeyReused
		case state == stateInFlight:
			return nil, false, push.ErrInFlight
		}
		return reply, true, nil
	}
	return nil, false, push.ErrInFlight
}

// Finish implements push.IdempotencyStore.
func (s *Idempotency) Finish(ctx context.Context, key string, digest, reply []byte, window time.Duration) error {
	rec, err := idemRecord(stateDone, digest, reply)
	if err != nil {
		return err
	}
	if err := s.c.Set(ctx, s.keys.idem(key), rec, window).Err(); err != nil {
		return fmt.Errorf("store: idempotency: %w", err)
	}
	return nil
}

// Abandon implements push.IdempotencyStore.
func (s *Idempotency) Abandon(ctx context.Context, key string) {
	// Only an in-flight mark is ours to remove.
	s.c.Eval(ctx, `local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, 1) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`, []string{s.keys.idem(key)}, string(stateInFlight))
}
