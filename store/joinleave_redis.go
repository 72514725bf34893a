package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// JoinLeave carries join and leave notices between the edges of a cluster
// (docs/protocol.md 6.9) on one Redis Pub/Sub channel, <prefix>joinleave.
// Every interval an edge with changes in rooms whose namespace has notices
// on publishes one message holding its batches (one per room: at most 100
// joins and 100 leaves each, the rest counted); every edge receives every
// message and keeps the batches of rooms it holds.
//
// What it costs: one PUBLISH per edge per interval while such rooms change,
// and each edge receives and decodes every other edge's batches, whether or
// not it holds the rooms, so the traffic grows with the number of edges
// times the rooms with notices on that change. Rooms whose namespace has
// notices off never reach it. Notices are best effort: a message published
// while an edge is not subscribed (a reconnect to Redis) is lost.
type JoinLeave struct {
	client redis.UniversalClient
	keys   keys
	log    *slog.Logger
}

// NewJoinLeave returns a JoinLeave on client under prefix ("" means
// DefaultPrefix); log (nil: discard) hears about lost subscriptions.
func NewJoinLeave(client redis.UniversalClient, prefix string, log *slog.Logger) *JoinLeave {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &JoinLeave{client: client, keys: newKeys(prefix), log: log}
}

// PublishJoinLeave sends one interval's batches of an edge to every edge
// subscribed.
func (j *JoinLeave) PublishJoinLeave(ctx context.Context, batches []push.JoinLeave) error {
	msg, err := json.Marshal(batches)
	if err != nil {
		return fmt.Errorf("store: join and leave batches: %w", err)
	}
	if err := j.client.Publish(ctx, j.keys.joinLeave(), msg).Err(); err != nil {
		return fmt.Errorf("store: publish join and leave batches: %w", err)
	}
	return nil
}

// Subscribe calls fn with every batch published, its own edge's included
// (the edge drops those), from one goroutine, until the returned stop is
// called. It returns once the first subscription is confirmed; a lost one
// is made again with backoff.
func (j *JoinLeave) Subscribe(ctx context.Context, fn func(push.JoinLeave)) (stop func(), err error) {
	ps, err := j.subscribe(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { j.listen(ctx, ps, fn) })
	return func() { cancel(); wg.Wait() }, nil
}

func (j *JoinLeave) subscribe(ctx context.Context) (*redis.PubSub, error) {
	ps := j.client.Subscribe(ctx, j.keys.joinLeave())
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, fmt.Errorf("store: subscribe to %s: %w", j.keys.joinLeave(), err)
	}
	return ps, nil
}

// listen reads the channel until ctx ends, subscribing again when the
// subscription fails or falls silent (changes published meanwhile are lost:
// notices are best effort).
func (j *JoinLeave) listen(ctx context.Context, ps *redis.PubSub, fn func(push.JoinLeave)) {
	l := listener{
		// The listener takes the confirmation of a subscription made
		// again as its sign of health (the first one, Subscribe's, was
		// awaited).
		subscribe: func(ctx context.Context) (*redis.PubSub, error) {
			return j.client.Subscribe(ctx, j.keys.joinLeave()), nil
		},
		lost: func(err error) { j.log.Warn("join and leave subscription lost", "err", err) },
		message: func(m *redis.Message) {
			var batches []push.JoinLeave
			if err := json.Unmarshal([]byte(m.Payload), &batches); err != nil {
				j.log.Warn("join and leave message dropped", "err", err)
				return
			}
			for _, b := range batches {
				fn(b)
			}
		},
	}
	l.run(ctx, ps)
}
