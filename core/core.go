package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/internal/tracing"
)

// Deliverer is an edge in the same process (an *edge.Edge). Deliver must not
// block on clients.
type Deliverer interface {
	Deliver(msgs []*push.Message)
}

// BatchRouter hands a batch to the edges of a cluster (a *Router): it
// returns nil once every edge that needs a message of msgs accepted it (or
// is gone), or an error when ctx ended first or the routes could not be
// read.
type BatchRouter interface {
	Route(ctx context.Context, msgs []*push.Message) error
}

// Config configures a Core. Zero values mean the documented defaults.
type Config struct {
	// Source is the bus to read: a bus.Memory in one process, a
	// bus.KafkaSource in a cluster. Required.
	Source bus.Source
	// Edge receives every batch, in one process. Exactly one of Edge and
	// Router is required.
	Edge Deliverer
	// Router hands batches to the edges of a cluster (a Router).
	Router BatchRouter
	// History, when set, stores every room and user message before it is
	// handed to the edges, and core stamps each with its streams' epochs:
	// a position a client sees is always in history (or declared lost by a
	// new epoch). Nil means messages carry no position.
	History history.Store
	// MergeWindow is how long core waits after the first message of a batch
	// for more to merge. It bounds the latency merging adds. Zero means 1ms;
	// negative means merge only what is already queued.
	MergeWindow time.Duration
	// MaxBatch bounds the messages in one batch. Zero means 512.
	MaxBatch int
	// HandoffTimeout bounds how long a batch in flight when Run's context
	// ends may still take to reach the edges, so that a stopping core
	// finishes (and commits) it. Zero means 10s.
	HandoffTimeout time.Duration
	// Tracer records core's span of each push the push API traced
	// (docs/tracing.md). Nil means no spans.
	Tracer trace.TracerProvider
	// Logger receives core's logs. Nil means discard.
	Logger *slog.Logger
	// Registerer receives core's metrics. Nil means none are registered.
	Registerer prometheus.Registerer
}

// Core reads batches from the bus and fans them out to edges.
type Core struct {
	cfg     Config
	metrics *metrics
	tracer  trace.Tracer   // nil without Config.Tracer
	items   []history.Item // reused by record
}

// New returns a Core; Run starts it.
func New(cfg Config) (*Core, error) {
	if cfg.Source == nil {
		return nil, errors.New("core: Config.Source is required")
	}
	if (cfg.Edge == nil) == (cfg.Router == nil) {
		return nil, errors.New("core: exactly one of Config.Edge and Config.Router is required")
	}
	if cfg.HandoffTimeout <= 0 {
		cfg.HandoffTimeout = 10 * time.Second
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
	c := &Core{cfg: cfg, metrics: m}
	if cfg.Tracer != nil {
		c.tracer = cfg.Tracer.Tracer("github.com/quicpush/quicpush/core")
	}
	return c, nil
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
		spans := c.startSpans(batch)
		if err := c.record(ctx, batch); err != nil {
			endSpans(spans, err)
			return err
		}
		merged = mergeRooms(merged[:0], batch)
		if err := c.handoff(ctx, merged); err != nil {
			// Not committed: the partitions' next owner delivers the batch.
			endSpans(spans, err)
			return err
		}
		endSpans(spans, nil)
		if cm, ok := c.cfg.Source.(bus.Committer); ok {
			cm.Delivered()
		}
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

// record appends the batch's room and user messages to their streams and
// stamps them with the streams' epochs; ephemeral messages are left out and
// lose the bus offset that would otherwise be their position. Like handoff, a failure (the store
// unreachable) is retried for as long as core runs: nothing is committed
// meanwhile.
func (c *Core) record(ctx context.Context, msgs []*push.Message) error {
	for _, m := range msgs {
		if m.Ephemeral {
			// Superseded state keeps no history, so it has no position.
			m.Offset = 0
		}
	}
	if c.cfg.History == nil {
		return nil
	}
	items := c.items[:0]
	for _, m := range msgs {
		if m.Offset == 0 || m.Ephemeral {
			continue
		}
		e := history.Entry{Offset: m.Offset, ID: m.ID, Data: m.Data, Accepted: m.Accepted}
		switch m.Kind {
		case push.KindRoom:
			items = append(items, history.Item{Stream: history.RoomStream(m.Room), Entry: e})
		case push.KindUsers:
			for _, u := range m.Users {
				items = append(items, history.Item{Stream: history.UserStream(u), Entry: e})
			}
		}
	}
	c.items = items
	if len(items) == 0 {
		return nil
	}
	defer clear(c.items)
	delay := 50 * time.Millisecond
	for {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.HandoffTimeout)
		epochs, err := c.cfg.History.Append(hctx, items)
		cancel()
		if err == nil {
			for _, m := range msgs {
				if m.Ephemeral {
					continue
				}
				switch m.Kind {
				case push.KindRoom:
					m.Epoch = epochs[history.RoomStream(m.Room)]
				case push.KindUsers:
					m.UserEpochs = make([]string, len(m.Users))
					for i, u := range m.Users {
						m.UserEpochs[i] = epochs[history.UserStream(u)]
					}
				}
			}
			return nil
		}
		c.metrics.historyFailures.Inc()
		if ctx.Err() != nil {
			return fmt.Errorf("core: batch not recorded before stopping: %w", err)
		}
		c.cfg.Logger.Warn("history append failed, retrying", "messages", len(msgs), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// handoff gives a batch to the edges. A batch polled before ctx ended is
// still handed off, within HandoffTimeout, so a stopping core commits it.
//
// In a cluster a failed hand-off (the route store unreachable, say) is
// retried with backoff for as long as core runs: the batch is not committed,
// so nothing is lost, and delivery resumes where it stopped.
func (c *Core) handoff(ctx context.Context, msgs []*push.Message) error {
	if c.cfg.Edge != nil {
		c.cfg.Edge.Deliver(msgs)
		return nil
	}
	delay := 50 * time.Millisecond
	for {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.HandoffTimeout)
		err := c.cfg.Router.Route(hctx, msgs)
		cancel()
		if err == nil {
			return nil
		}
		c.metrics.handoffFailures.Inc()
		if ctx.Err() != nil {
			return fmt.Errorf("core: batch not handed off before stopping: %w", err)
		}
		c.cfg.Logger.Warn("hand-off failed, retrying", "messages", len(msgs), "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay = min(2*delay, 2*time.Second)
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

// startSpans starts core's span of each traced message of batch (recording
// it in history and handing it to the edges) and makes it the parent the
// edges' spans join; nil when none is traced, so the common batch allocates
// nothing.
func (c *Core) startSpans(batch []*push.Message) []trace.Span {
	if c.tracer == nil {
		return nil
	}
	var spans []trace.Span
	for _, m := range batch {
		if m.TraceParent == "" {
			continue
		}
		ctx, span := c.tracer.Start(tracing.Extract(context.Background(), m.TraceParent), "quicpush.route",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.String("quicpush.message_id", m.ID), attribute.String("quicpush.kind", m.Kind.String()),
				attribute.String("quicpush.room", m.Room), attribute.Int("quicpush.batch", len(batch))))
		m.TraceParent = tracing.Inject(ctx)
		spans = append(spans, span)
	}
	return spans
}

// endSpans ends core's spans, marking them failed with err.
func endSpans(spans []trace.Span, err error) {
	for _, s := range spans {
		if err != nil {
			s.RecordError(err)
			s.SetStatus(codes.Error, "not handed to the edges")
		}
		s.End()
	}
}
