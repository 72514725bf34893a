package core

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quicpush/quicpush/internal/push"
)

// source is where core reads accepted messages from.
type source interface {
	// Poll waits for at least one message and appends up to max to buf.
	Poll(ctx context.Context, buf []*push.Message, max int) ([]*push.Message, error)
	// TryPoll appends what is already available, up to max in all.
	TryPoll(buf []*push.Message, max int) []*push.Message
}

// deliverer is an edge as core sees it. Deliver must not block on clients.
type deliverer interface {
	Deliver(msgs []*push.Message)
}

// Config configures a Core. Zero values mean the documented defaults.
type Config struct {
	// Source is the bus to read. Required.
	Source source
	// Edge receives every batch. Required. (The cluster mode routes batches
	// to many edges behind this same interface.)
	Edge deliverer
	// MergeWindow is how long core waits after the first message of a batch
	// for more to merge. It bounds the latency merging adds. Zero means 1ms;
	// negative means merge only what is already queued.
	MergeWindow time.Duration
	// MaxBatch bounds the messages in one batch. Zero means 512.
	MaxBatch int
	// Logger receives core's logs. Nil means discard.
	Logger *slog.Logger
	// Registerer receives core's metrics. Nil means none are registered.
	Registerer prometheus.Registerer
}

// Core reads batches from the bus and fans them out to edges.
type Core struct {
	cfg     Config
	metrics *metrics
}

// New returns a Core; Run starts it.
func New(cfg Config) (*Core, error) {
	if cfg.Source == nil {
		return nil, errors.New("core: Config.Source is required")
	}
	if cfg.Edge == nil {
		return nil, errors.New("core: Config.Edge is required")
	}
	if cfg.MergeWindow == 0 {
		cfg.MergeWindow = time.Millisecond
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 512
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Core{cfg: cfg, metrics: m}, nil
}

// Run moves messages until ctx ends. Messages already polled when ctx ends
// are still delivered.
func (c *Core) Run(ctx context.Context) error {
	var (
		batch  = make([]*push.Message, 0, c.cfg.MaxBatch)
		merged = make([]*push.Message, 0, c.cfg.MaxBatch)
		timer  *time.Timer
	)
	for {
		var err error
		batch, err = c.cfg.Source.Poll(ctx, batch[:0], c.cfg.MaxBatch)
		if len(batch) == 0 {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil
			}
			return err
		}
		if c.cfg.MergeWindow > 0 && len(batch) < c.cfg.MaxBatch && err == nil {
			if timer == nil {
				timer = time.NewTimer(c.cfg.MergeWindow)
			} else {
				timer.Reset(c.cfg.MergeWindow)
			}
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
			}
		}
		batch = c.cfg.Source.TryPoll(batch, c.cfg.MaxBatch)
		merged = mergeRooms(merged[:0], batch)
		c.cfg.Edge.Deliver(merged)
		c.metrics.batches.Inc()
		c.metrics.batchSize.Observe(float64(len(batch)))
		now := time.Now()
		for _, m := range batch {
			if !m.Accepted.IsZero() {
				c.metrics.latency.Observe(now.Sub(m.Accepted).Seconds())
			}
		}
		clear(batch)
		clear(merged)
	}
}

// mergeRooms appends batch to dst with each room's messages moved next to
// the first message of that room, keeping their order. Every other message
// keeps its place. An edge then encodes each room's run once.
func mergeRooms(dst, batch []*push.Message) []*push.Message {
	rooms := 0
	for _, m := range batch {
		if m.Kind == push.KindRoom {
			rooms++
		}
	}
	if rooms < 2 {
		return append(dst, batch...)
	}
	placed := make([]bool, len(batch))
	for i, m := range batch {
		if placed[i] {
			continue
		}
		dst = append(dst, m)
		placed[i] = true
		if m.Kind != push.KindRoom {
			continue
		}
		for j := i + 1; j < len(batch); j++ {
			if !placed[j] && batch[j].Kind == push.KindRoom && batch[j].Room == m.Room {
				dst = append(dst, batch[j])
				placed[j] = true
			}
		}
	}
	return dst
}
