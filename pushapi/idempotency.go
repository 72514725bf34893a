package pushapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/quicpush/quicpush/internal/push"
)

// DefaultIdempotencyWindow is how long a push call's idempotency key is
// remembered by default.
const DefaultIdempotencyWindow = 10 * time.Minute

// maxIdempotencyKey is the longest idempotency key in bytes.
const maxIdempotencyKey = 128

// ErrInFlight is push.ErrInFlight: an IdempotencyStore's Begin returns it
// while another call with the key is under way (connect.CodeAborted for the
// caller).
var ErrInFlight = push.ErrInFlight

// ErrIdempotencyKeyReused is push.ErrKeyReused: an idempotency key sent
// again, within the window, with a request that differs from the first one
// (connect.CodeFailedPrecondition for the caller). A new request needs a new
// key.
var ErrIdempotencyKeyReused = push.ErrKeyReused

// IdempotencyStore is push.IdempotencyStore: it remembers the replies of
// calls that carried an idempotency key, for Config.IdempotencyWindow, in
// memory in one process (NewMemoryIdempotency), on Redis in a cluster
// (store.Idempotency), so a retry reaching another API process is
// recognized too.
type IdempotencyStore = push.IdempotencyStore

// apiKeyCtx carries the digest of the API key a call was authenticated
// with, which scopes its idempotency keys: two backends cannot collide.
type apiKeyCtx struct{}

// scopedKey is the store key of an idempotency key: the API key's digest,
// the method and the client's key, hashed to a fixed length.
func scopedKey(ctx context.Context, method, key string) string {
	h := sha256.New()
	if d, ok := ctx.Value(apiKeyCtx{}).([]byte); ok {
		h.Write(d)
	}
	h.Write([]byte{0})
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}

// requestDigest identifies a request for its idempotency key: the SHA-256 of
// the method and the request's deterministic protobuf encoding, the same
// whether the call came as JSON or binary. The encoding includes the
// idempotency key itself, which changes nothing: a digest is only ever
// compared with another one stored under the same key.
func requestDigest(method string, req proto.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(method))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil), nil
}

// idempotentRequest is a push request, which may carry an idempotency key.
type idempotentRequest interface {
	proto.Message
	GetIdempotencyKey() string
}

// once runs call unless an earlier call with the same idempotency key (and
// method, and API key) succeeded within the window: then it returns that
// call's reply again, without publishing anything, if the request is the
// same, and refuses it if the request differs.
func once[T any, PT interface {
	*T
	proto.Message
}](ctx context.Context, s *Service, method string, req idempotentRequest, call func() (PT, error)) (PT, error) {
	key := req.GetIdempotencyKey()
	if key == "" {
		return call()
	}
	if len(key) > maxIdempotencyKey {
		return nil, invalid("idempotency_key", fmt.Errorf("%d bytes, at most %d", len(key), maxIdempotencyKey))
	}
	digest, err := requestDigest(method, req)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, errors.New("request unreadable"))
	}
	sk := scopedKey(ctx, method, key)
	prev, done, err := s.idem.Begin(ctx, sk, digest, s.idemWindow)
	switch {
	case errors.Is(err, ErrIdempotencyKeyReused):
		return nil, connect.NewError(connect.CodeFailedPrecondition,
			fmt.Errorf("idempotency_key: %w within the idempotency window; send a new key with a new request", ErrIdempotencyKeyReused))
	case errors.Is(err, ErrInFlight):
		return nil, connect.NewError(connect.CodeAborted, ErrInFlight)
	case err != nil:
		s.log.WarnContext(ctx, "idempotency store failed", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("idempotency store unavailable"))
	case done:
		out := PT(new(T))
		if err := proto.Unmarshal(prev, out); err != nil {
			return nil, connect.NewError(connect.CodeInternal, errors.New("stored reply unreadable"))
		}
		s.metrics.replayedCalls.Inc()
		return out, nil
	}
	resp, err := call()
	if err != nil {
		s.idem.Abandon(context.WithoutCancel(ctx), sk)
		return nil, err
	}
	b, err := proto.Marshal(resp)
	if err == nil {
		err = s.idem.Finish(context.WithoutCancel(ctx), sk, digest, b, s.idemWindow)
	}
	if err != nil {
		// The push was accepted: say so. A retry may then deliver twice.
		s.log.WarnContext(ctx, "idempotency reply not stored", "error", err)
	}
	return resp, nil
}

// MemoryIdempotency is the single-process IdempotencyStore.
type MemoryIdempotency struct {
	mu    sync.Mutex
	calls map[string]*memCall
	now   func() time.Time
	sweep time.Time
}

type memCall struct {
	digest  []byte
	reply   []byte // nil while in flight
	expires time.Time
}

// NewMemoryIdempotency returns an empty in-memory store.
func NewMemoryIdempotency() *MemoryIdempotency {
	return &MemoryIdempotency{calls: make(map[string]*memCall), now: time.Now}
}

// Begin implements IdempotencyStore.
func (m *MemoryIdempotency) Begin(_ context.Context, key string, digest []byte, window time.Duration) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.expire(now, window)
	if c, ok := m.calls[key]; ok && now.Before(c.expires) {
		switch {
		case !bytes.Equal(c.digest, digest):
			return nil, false, ErrIdempotencyKeyReused
		case c.reply == nil:
			return nil, false, ErrInFlight
		}
		return c.reply, true, nil
	}
	m.calls[key] = &memCall{digest: digest, expires: now.Add(window)}
	return nil, false, nil
}

// Finish implements IdempotencyStore.
func (m *MemoryIdempotency) Finish(_ context.Context, key string, digest, reply []byte, window time.Duration) error {
	if reply == nil {
		reply = []byte{} // nil marks a call in flight
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls[key] = &memCall{digest: digest, reply: reply, expires: m.now().Add(window)}
	return nil
}

// Abandon implements IdempotencyStore.
func (m *MemoryIdempotency) Abandon(_ context.Context, key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.calls, key)
}

// expire drops expired calls, at most once per tenth of a window; m.mu is
// held.
func (m *MemoryIdempotency) expire(now time.Time, window time.Duration) {
	if now.Sub(m.sweep) < window/10 {
		return
	}
	m.sweep = now
	for k, c := range m.calls {
		if !now.Before(c.expires) {
			delete(m.calls, k)
		}
	}
}
