package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/push"
)

// Defaults of EdgeRoutesConfig.
const (
	// DefaultTTL is how long an edge stays registered without a heartbeat.
	DefaultTTL = 6 * time.Second
	// DefaultFlushInterval is how long changes are gathered before a write.
	DefaultFlushInterval = 2 * time.Millisecond

	// minTTL keeps the heartbeat period (TTL/3) at least 10ms.
	minTTL = 30 * time.Millisecond
	// maxRetryBackoff caps the wait between failed flushes: writes resume
	// within a second of Redis coming back.
	maxRetryBackoff = time.Second
	// republishTimeout bounds one republish of an edge's whole state.
	republishTimeout = 30 * time.Second
)

// EdgeRoutesConfig configures an EdgeRoutes. Client, Edge.ID, Edge.URL and
// Snapshot are required; every other field has a working zero value.
type EdgeRoutesConfig struct {
	// Client is the shared Redis. Required. A single Redis (or a primary
	// with replicas); the scripts need every key on one node.
	Client redis.UniversalClient
	// Prefix starts every key and the invalidation channel. Empty means
	// DefaultPrefix ("qp:").
	Prefix string
	// Edge describes this edge, as registered from Start on (later changes
	// to the caller's copy are not seen). ID (at most 64 bytes, no ':' or
	// spaces) and URL are required; a zero Started means the time of Start.
	Edge EdgeInfo
	// TTL is how long the edge stays registered without a heartbeat;
	// heartbeats run every TTL/3, and a restarted Redis is noticed within
	// one heartbeat. Zero means DefaultTTL (6s); at least 30ms.
	TTL time.Duration
	// Snapshot returns the edge's whole state, to write it again when Redis
	// lost it (restarted, flushed, or the edge was taken for dead).
	// Required. The edge must change its own state before reporting the
	// change (add a connection, then call Connected; remove it, then call
	// Disconnected), so that a snapshot never holds what a report already
	// removed. It is called from the store's goroutine and must not call
	// back into the EdgeRoutes.
	Snapshot func() Snapshot
	// Members lists a room's members on the edge, to write its presence
	// listing whole: when the room falls back under the edge's listing
	// threshold, and on a republish. Nil means presence is not recorded
	// (RoomPresence does nothing). Called like Snapshot.
	Members func(room string) []push.PresenceConn
	// FlushInterval is how long changes are gathered before they are
	// written in one pipeline; sync calls wait for it too. Zero means
	// DefaultFlushInterval (2ms); negative means write as soon as the
	// previous write is done (changes still coalesce while one is in
	// flight).
	FlushInterval time.Duration
	// Logger receives the store's logs. Nil means discard.
	Logger *slog.Logger
	// Registerer receives the store's metrics. Nil means none are
	// registered.
	Registerer prometheus.Registerer
}

// EdgeRoutes is an edge's link to the store: it registers the edge, keeps
// it alive, and writes the routes and room counts the edge reports. Changes
// are coalesced and written in pipelines by one goroutine, so a burst of
// connections costs a few round trips, not one each.
type EdgeRoutes struct {
	cfg     EdgeRoutesConfig
	keys    keys
	log     *slog.Logger
	metrics *edgeMetrics
	errs    *errLog
	wake    chan struct{} // capacity 1: "there is something to flush"

	// life serializes Start and Close; it is taken before mu, never after.
	life    sync.Mutex
	started bool
	cancel  context.CancelFunc
	done    chan struct{} // closed when run returns

	mu       sync.Mutex
	pend     *batch
	reported map[string]int // the last count of each room with members
	// listed says, for each room with members, whether its presence is
	// listed (true) or counts only, as last reported.
	listed  map[string]bool
	lastErr error // the last failed write, for sync calls that give up
	closed  bool
}

// NewEdgeRoutes validates cfg and returns an EdgeRoutes; Start
// registers it.
func NewEdgeRoutes(cfg EdgeRoutesConfig) (*EdgeRoutes, error) {
	if cfg.Client == nil {
		return nil, errors.New("store: EdgeRoutesConfig.Client is required")
	}
	if err := validEdgeID(cfg.Edge.ID); err != nil {
		return nil, fmt.Errorf("store: EdgeRoutesConfig.Edge.ID: %w", err)
	}
	if cfg.Edge.URL == "" {
		return nil, errors.New("store: EdgeRoutesConfig.Edge.URL is required")
	}
	if cfg.Snapshot == nil {
		return nil, errors.New("store: EdgeRoutesConfig.Snapshot is required")
	}
	switch {
	case cfg.TTL == 0:
		cfg.TTL = DefaultTTL
	case cfg.TTL < minTTL:
		return nil, fmt.Errorf("store: EdgeRoutesConfig.TTL %v is below %v", cfg.TTL, minTTL)
	}
	switch {
	case cfg.FlushInterval == 0:
		cfg.FlushInterval = DefaultFlushInterval
	case cfg.FlushInterval < 0:
		cfg.FlushInterval = 0
	}
	cfg.Logger = discardLogger(cfg.Logger)
	m, err := newEdgeMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("store: register metrics: %w", err)
	}
	log := cfg.Logger.With("edge", cfg.Edge.ID)
	return &EdgeRoutes{
		cfg:      cfg,
		keys:     newKeys(cfg.Prefix),
		log:      log,
		metrics:  m,
		errs:     newErrLog(log, m.redisErrors),
		wake:     make(chan struct{}, 1),
		pend:     newBatch(),
		reported: make(map[string]int),
		listed:   make(map[string]bool),
	}, nil
}

// Start removes whatever a previous run with the same edge id left (an edge
// restarted with its configured id must not inherit stale routes), registers
// the edge, and starts the heartbeat and the writer. It returns once the edge
// is registered. Changes reported before Start are written after it.
func (p *EdgeRoutes) Start(ctx context.Context) error {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		return ErrClosed
	}
	if p.started {
		return errors.New("store: EdgeRoutes already started")
	}
	id := p.cfg.Edge.ID
	if err := removeEdge(ctx, p.cfg.Client, p.keys, id); err != nil {
		return fmt.Errorf("store: start edge %s: %w", id, err)
	}
	if p.cfg.Edge.Started.IsZero() {
		p.cfg.Edge.Started = time.Now()
	}
	pipe := p.cfg.Client.Pipeline()
	pipe.HSet(ctx, p.keys.edge(id), p.cfg.Edge.fields()...)
	pipe.PExpire(ctx, p.keys.edge(id), p.cfg.TTL)
	pipe.ZAdd(ctx, p.keys.edges(), p.expiry())
	pipe.Publish(ctx, p.keys.inval(), invalEdge+id)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: register edge %s: %w", id, err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.started, p.cancel, p.done = true, cancel, make(chan struct{})
	go p.run(runCtx)
	p.signal()
	p.log.Info("edge registered", "url", p.cfg.Edge.URL, "ttl", p.cfg.TTL)
	return nil
}

// Connected records that connKey belongs to user on this edge. It returns
// once the route is written and its "u:<user>" invalidation published, so a
// push to the user right after finds it. Concurrent calls share one write.
// If Redis is unreachable it keeps waiting until ctx ends, then returns an
// error wrapping ctx's and the last Redis error. The change is not withdrawn
// by the error: it is written when Redis returns, unless a later call for the
// same connection replaces it (report Disconnected for a refused connection).
func (p *EdgeRoutes) Connected(ctx context.Context, connKey, user string) error {
	ch := make(chan error, 1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.pend.conns[connRef{connKey, user}] = true
	p.pend.waiters = append(p.pend.waiters, ch)
	p.mu.Unlock()
	p.signal()
	return p.wait(ctx, ch, "connected", connKey)
}

// Disconnected removes the route of connKey, asynchronously. The route is
// removed only while it names this edge: a late disconnect never removes a
// route another edge wrote since.
func (p *EdgeRoutes) Disconnected(connKey, user string) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.pend.conns[connRef{connKey, user}] = false
	p.mu.Unlock()
	p.signal()
}

// RoomCount reports the room's member count on this edge (0: none left).
// When the room opens on this edge (0 to > 0) the call returns only once the
// count is written and "r:<room>" published, so a push to the room right
// after reaches this edge; it fails like Connected. Other changes are
// written asynchronously, only the latest count per room.
func (p *EdgeRoutes) RoomCount(ctx context.Context, room string, members int) error {
	members = max(members, 0)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	prev := p.reported[room]
	if prev == 0 && members == 0 {
		p.mu.Unlock()
		return nil
	}
	if members > 0 {
		p.reported[room] = members
	} else {
		delete(p.reported, room)
		if p.cfg.Members != nil {
			// The listing goes in the same pipeline as the count, so that
			// every listing in Redis belongs to a room of the edge's rooms
			// zset, where the dead-edge cleanup finds it.
			p.pend.pres[room] = &presOp{reset: true}
			delete(p.listed, room)
		}
	}
	opened := prev == 0
	op := p.pend.rooms[room]
	op.count, op.opened = members, op.opened || opened
	p.pend.rooms[room] = op
	var ch chan error
	if opened {
		ch = make(chan error, 1)
		p.pend.waiters = append(p.pend.waiters, ch)
	}
	p.mu.Unlock()
	p.signal()
	if ch == nil {
		return nil
	}
	return p.wait(ctx, ch, "open room", room)
}

// RoomPresence records a member's arrival in or departure from a room on
// this edge, asynchronously, with the room's counts there: it is written
// with the next flush, coalesced per connection. A room the edge holds as
// counts only costs one header field per flush, whatever its churn. It
// does nothing without EdgeRoutesConfig.Members.
func (p *EdgeRoutes) RoomPresence(c push.PresenceChange) {
	if p.cfg.Members == nil {
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	listed, known := p.listed[c.Room]
	if c.Members > 0 {
		p.listed[c.Room] = c.Listed
	} else {
		delete(p.listed, c.Room)
	}
	op := p.pend.pres[c.Room]
	if op == nil {
		op = &presOp{}
		p.pend.pres[c.Room] = op
	}
	op.apply(&c, known, listed)
	p.mu.Unlock()
	p.signal()
}

// Shutdown stops the heartbeat, writes what is pending (until ctx ends), then
// deregisters the edge and removes all its routes and room counts, and
// publishes "e:<id>". Sync calls still waiting get ErrClosed, and so does a
// second Shutdown or one after Close.
func (p *EdgeRoutes) Shutdown(ctx context.Context) error {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.closed = true
	p.mu.Unlock()

	var errs []error
	if p.started {
		p.stop()
		if err := p.drain(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	p.mu.Lock()
	left := p.pend
	p.pend = newBatch()
	p.mu.Unlock()
	left.release(ErrClosed)

	if p.started {
		if err := removeEdge(ctx, p.cfg.Client, p.keys, p.cfg.Edge.ID); err != nil {
			errs = append(errs, err)
		} else {
			p.log.Info("edge deregistered")
		}
	}
	return errors.Join(errs...)
}

// Close stops the heartbeat and the writer at once, without writing or
// removing anything, as if the process had died: the registration expires
// after the TTL and the janitor of a core removes the routes. Sync calls
// still waiting get ErrClosed. It is for a process that must stop at once
// and for tests of an edge's death; it may be called more than once.
func (p *EdgeRoutes) Close() error {
	p.life.Lock()
	defer p.life.Unlock()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	left := p.pend
	p.pend = newBatch()
	p.mu.Unlock()
	if p.started {
		p.stop()
	}
	left.release(ErrClosed)
	return nil
}

// SetClientAddrs sets the client-facing addresses the registry shows, once
// the edge has bound them (a configured port 0 becomes a real one). It must
// be called before Start.
func (p *EdgeRoutes) SetClientAddrs(quic, tcp string) {
	p.life.Lock()
	defer p.life.Unlock()
	p.cfg.Edge.QUICAddr, p.cfg.Edge.TCPAddr = quic, tcp
}

// stop ends the writer and heartbeat goroutine and waits for it.
func (p *EdgeRoutes) stop() {
	p.cancel()
	<-p.done
}

// drain writes what is pending, retrying until it succeeds or ctx ends.
func (p *EdgeRoutes) drain(ctx context.Context) error {
	var backoff time.Duration
	for {
		err := p.flush(ctx)
		if err == nil {
			return nil
		}
		backoff = nextBackoff(backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("store: flush on close: %w", err)
		case <-t.C:
		}
	}
}

// signal wakes the writer.
func (p *EdgeRoutes) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// wait waits for the outcome of a sync call's write.
func (p *EdgeRoutes) wait(ctx context.Context, ch <-chan error, op, name string) error {
	select {
	case err := <-ch:
		if err != nil {
			return fmt.Errorf("store: %s %q: %w", op, name, err)
		}
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		last := p.lastErr
		p.mu.Unlock()
		if last != nil {
			return fmt.Errorf("store: %s %q: %w (last redis error: %w)", op, name, ctx.Err(), last)
		}
		return fmt.Errorf("store: %s %q: %w", op, name, ctx.Err())
	}
}
