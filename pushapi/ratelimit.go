package pushapi

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/time/rate"
)

// DefaultRateLimit is the default Config.RateLimit: calls per second per API
// key.
const DefaultRateLimit = 10000

// ErrRateLimited means an API key made calls faster than Config.RateLimit
// (connect.CodeResourceExhausted); the caller should back off and retry.
var ErrRateLimited = errors.New("too many calls for this API key: back off and retry")

// rateLimiter is the interceptor that bounds each API key's calls per
// second (with a burst of twice that), so that one misbehaving backend
// cannot take the push API from the others. It runs after authentication,
// which tells it the key; without API keys (Insecure) it bounds all calls
// together.
type rateLimiter struct {
	perSecond float64
	metrics   *metrics

	mu   sync.Mutex
	keys map[string]*rate.Limiter
}

func newRateLimiter(perSecond float64, m *metrics) *rateLimiter {
	return &rateLimiter{perSecond: perSecond, metrics: m, keys: make(map[string]*rate.Limiter)}
}

func (r *rateLimiter) allow(ctx context.Context) bool {
	d, _ := ctx.Value(apiKeyCtx{}).([]byte)
	r.mu.Lock()
	l := r.keys[string(d)]
	if l == nil {
		// One entry per configured key: the table stays as small as the
		// key list.
		l = rate.NewLimiter(rate.Limit(r.perSecond), max(1, int(2*r.perSecond)))
		r.keys[string(d)] = l
	}
	r.mu.Unlock()
	return l.AllowN(time.Now(), 1)
}

func (r *rateLimiter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if !r.allow(ctx) {
			r.metrics.rateLimited.Inc()
			return nil, connect.NewError(connect.CodeResourceExhausted, ErrRateLimited)
		}
		return next(ctx, req)
	}
}

func (*rateLimiter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (r *rateLimiter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if !r.allow(ctx) {
			r.metrics.rateLimited.Inc()
			return connect.NewError(connect.CodeResourceExhausted, ErrRateLimited)
		}
		return next(ctx, conn)
	}
}
