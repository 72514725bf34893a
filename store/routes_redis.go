package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Defaults of RoutesConfig.
const (
	// DefaultCacheTTL is how long a route lookup is cached. Invalidations
	// make changes visible at once; the TTL only bounds what a missed
	// invalidation or an edge dying without notice can cost.
	DefaultCacheTTL = time.Second
	// DefaultCacheMaxCost bounds the route cache: about 64 MiB.
	DefaultCacheMaxCost = 64 << 20
	// DefaultJanitorInterval is how often dead edges are looked for.
	DefaultJanitorInterval = 5 * time.Second
)

// RoutesConfig configures Routes. Client is required; every other field has a
// working zero value.
type RoutesConfig struct {
	// Client is the shared Redis. Required.
	Client redis.UniversalClient
	// Prefix starts every key and the invalidation channel. Empty means
	// DefaultPrefix ("qp:").
	Prefix string
	// CacheTTL is how long lookups are cached. Zero means DefaultCacheTTL
	// (1s); negative disables the cache.
	CacheTTL time.Duration
	// CacheMaxCost bounds the cache in approximate bytes: each entry costs
	// its key, its edge ids and some bookkeeping. Zero means
	// DefaultCacheMaxCost (64 MiB).
	CacheMaxCost int64
	// EdgeTTL is the edges' registration TTL (EdgeRoutesConfig.TTL). When
	// Redis is found to have lost its state (restarted empty, flushed),
	// lookups fail with ErrRepublishing for this long: every live edge
	// heartbeats, and republishes its routes, within it. Answering from the
	// empty store meanwhile would tell core a room or user has no edge, and
	// core would commit the batch delivered to nobody. Zero means
	// DefaultTTL (6s).
	EdgeTTL time.Duration
	// JanitorInterval is how often dead edges (killed without Close) are
	// looked for and cleaned. Zero means DefaultJanitorInterval (5s);
	// negative disables the janitor. Several processes may run it at once.
	JanitorInterval time.Duration
	// Logger receives the store's logs. Nil means discard.
	Logger *slog.Logger
	// Registerer receives the store's metrics. Nil means none are
	// registered.
	Registerer prometheus.Registerer
}

// Routes is core's read side of the store: which live edges hold a room's
// members or a user's connections. Lookups are cached, and the cache is
// invalidated through the store's Pub/Sub channel as edges write.
type Routes struct {
	cfg     RoutesConfig
	keys    keys
	log     *slog.Logger
	metrics *routesMetrics
	errs    *errLog
	cache   *routeCache

	life    sync.Mutex
	started bool
	closed  bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	// marked: the state marker was seen (or written) once, so its absence
	// from now on means Redis lost its state.
	marked atomic.Bool

	psMu   sync.Mutex
	ps     *redis.PubSub // the current subscription, closed by Close
	psDone bool          // Close ran: make no new subscription
}

// NewRoutes validates cfg and returns Routes. Lookups work at once, without
// the cache; Start subscribes to invalidations (enabling the cache) and
// starts the janitor.
func NewRoutes(cfg RoutesConfig) (*Routes, error) {
	if cfg.Client == nil {
		return nil, errors.New("store: RoutesConfig.Client is required")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultCacheTTL
	}
	if cfg.CacheMaxCost == 0 {
		cfg.CacheMaxCost = DefaultCacheMaxCost
	}
	if cfg.EdgeTTL <= 0 {
		cfg.EdgeTTL = DefaultTTL
	}
	if cfg.CacheMaxCost < 0 {
		return nil, fmt.Errorf("store: RoutesConfig.CacheMaxCost %d is negative", cfg.CacheMaxCost)
	}
	if cfg.JanitorInterval == 0 {
		cfg.JanitorInterval = DefaultJanitorInterval
	}
	cfg.Logger = discardLogger(cfg.Logger)
	m, err := newRoutesMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("store: register metrics: %w", err)
	}
	cache, err := newRouteCache(cfg.CacheTTL, cfg.CacheMaxCost)
	if err != nil {
		return nil, fmt.Errorf("store: route cache: %w", err)
	}
	return &Routes{
		cfg:     cfg,
		keys:    newKeys(cfg.Prefix),
		log:     cfg.Logger,
		metrics: m,
		errs:    newErrLog(cfg.Logger, m.redisErrors),
		cache:   cache,
	}, nil
}

// Start subscribes to the invalidation channel and starts the janitor. It
// returns once the subscription is sent; the cache is used from its
// confirmation on. Lost subscriptions (Redis restarted) are made again, and
// the whole cache is voided then, since invalidations may have been missed.
func (r *Routes) Start(ctx context.Context) error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.closed {
		return errors.New("store: Routes is closed")
	}
	if r.started {
		return errors.New("store: Routes already started")
	}
	// The marker goes first: a loss from here on is noticed even before
	// the first lookup.
	if err := r.cfg.Client.SetNX(ctx, r.keys.state(), 0, 0).Err(); err != nil {
		return fmt.Errorf("store: write state marker: %w", err)
	}
	r.marked.Store(true)
	ps, err := r.subscribe(ctx)
	if err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	r.started, r.cancel = true, cancel
	r.wg.Add(1)
	go r.listen(runCtx, ps)
	if r.cfg.JanitorInterval > 0 {
		r.wg.Add(1)
		go r.janitor(runCtx)
	}
	return nil
}

// Close stops the subscription and the janitor and waits for them. Call it
// once lookups have returned.
func (r *Routes) Close() error {
	r.life.Lock()
	defer r.life.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	if r.started {
		r.cancel()
		r.psMu.Lock()
		r.psDone = true
		if r.ps != nil {
			_ = r.ps.Close() // ends a Receive in progress
		}
		r.psMu.Unlock()
		r.wg.Wait()
	}
	r.cache.close()
	return nil
}

// LiveEdges returns the registered edges whose registration has not expired,
// sorted by id. An edge between a Redis restart and its republish (no info
// yet) is left out.
func (r *Routes) LiveEdges(ctx context.Context) ([]EdgeInfo, error) {
	km := &r.metrics.edges
	start := time.Now()
	defer km.observe(start)
	if s := r.cache.liveInfo(start); s != nil {
		km.hits.Inc()
		return s.alive(start), nil
	}
	km.misses.Inc()
	tok := r.cache.begin()
	pipe := r.cfg.Client.Pipeline()
	state := pipe.Get(ctx, r.keys.state())
	zcmd := pipe.ZRangeByScoreWithScores(ctx, r.keys.edges(), liveRange(start))
	if err := execKeepNil(ctx, pipe); err != nil {
		r.errs.fail("live_edges", err)
		return nil, fmt.Errorf("store: read edge registry: %w", err)
	}
	if err := r.intact(ctx, state, start); err != nil {
		return nil, err
	}
	zs := zcmd.Val()
	cmds := make([]*redis.MapStringStringCmd, len(zs))
	for i, z := range zs {
		cmds[i] = pipe.HGetAll(ctx, r.keys.edge(z.Member.(string)))
	}
	if len(zs) > 0 {
		if _, err := pipe.Exec(ctx); err != nil {
			r.errs.fail("live_edges", err)
			return nil, fmt.Errorf("store: read edge info: %w", err)
		}
	}
	r.errs.ok("live_edges")
	s := &infoSnap{fetched: start}
	for i, z := range zs {
		if e, ok := parseEdgeInfo(z.Member.(string), cmds[i].Val()); ok {
			s.edges = append(s.edges, e)
			s.expiry = append(s.expiry, int64(z.Score))
		}
	}
	r.cache.setLiveInfo(tok, s)
	return s.alive(start), nil
}

// alive returns a copy of the edges still registered at now, sorted by id.
func (s *infoSnap) alive(now time.Time) []EdgeInfo {
	ms := now.UnixMilli()
	out := make([]EdgeInfo, 0, len(s.edges))
	for i, e := range s.edges {
		if s.expiry[i] > ms {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b EdgeInfo) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// RoomEdges returns, for each room, the ids of the live edges with members
// of it, sorted. Rooms without any are left out. Cache misses are read in one
// pipelined round trip.
func (r *Routes) RoomEdges(ctx context.Context, rooms []string) (map[string][]string, error) {
	return r.lookup(ctx, &r.metrics.room, invalRoom, rooms, func(pipe redis.Pipeliner, room string) *redis.StringSliceCmd {
		// The room hash holds only edges with members (count > 0).
		return pipe.HKeys(ctx, r.keys.room(room))
	})
}

// UserEdges returns, for each user, the ids of the live edges holding a
// connection of the user, sorted and deduplicated. Users without any are
// left out.
func (r *Routes) UserEdges(ctx context.Context, users []string) (map[string][]string, error) {
	return r.lookup(ctx, &r.metrics.user, invalUser, users, func(pipe redis.Pipeliner, user string) *redis.StringSliceCmd {
		return pipe.HVals(ctx, r.keys.user(user))
	})
}

// lookup answers names from the cache, reads the misses (and the registry,
// when its cached copy is stale) in one pipeline, and keeps only live edges.
func (r *Routes) lookup(ctx context.Context, km *kindMetrics, prefix string, names []string,
	read func(redis.Pipeliner, string) *redis.StringSliceCmd) (map[string][]string, error) {
	if len(names) == 0 {
		return map[string][]string{}, nil
	}
	start := time.Now()
	defer km.observe(start)
	tok := r.cache.begin()
	raw := make(map[string][]string, len(names)) // name -> cached or read ids, not filtered
	var misses []string
	for _, n := range names {
		if _, dup := raw[n]; dup {
			continue
		}
		if ids, ok := r.cache.get(prefix + n); ok {
			raw[n] = ids
			continue
		}
		raw[n] = nil
		misses = append(misses, n)
	}
	km.hits.Add(float64(len(raw) - len(misses)))
	km.misses.Add(float64(len(misses)))

	live := r.cache.liveIDs(start)
	if len(misses) > 0 || live == nil {
		pipe := r.cfg.Client.Pipeline()
		state := pipe.Get(ctx, r.keys.state())
		var liveCmd *redis.ZSliceCmd
		if live == nil {
			liveCmd = pipe.ZRangeByScoreWithScores(ctx, r.keys.edges(), liveRange(start))
		}
		cmds := make([]*redis.StringSliceCmd, len(misses))
		for i, n := range misses {
			cmds[i] = read(pipe, n)
		}
		if err := execKeepNil(ctx, pipe); err != nil {
			r.errs.fail("lookup", err)
			return nil, fmt.Errorf("store: look up %d routes: %w", len(misses), err)
		}
		r.errs.ok("lookup")
		if err := r.intact(ctx, state, start); err != nil {
			return nil, err
		}
		if liveCmd != nil {
			live = &liveSnap{fetched: start, expiry: make(map[string]int64)}
			for _, z := range liveCmd.Val() {
				live.expiry[z.Member.(string)] = int64(z.Score)
			}
			r.cache.setLiveIDs(tok, live)
		}
		for i, n := range misses {
			ids := sortedUnique(cmds[i].Val())
			raw[n] = ids
			r.cache.set(tok, prefix+n, ids)
		}
	}

	ms := start.UnixMilli()
	out := make(map[string][]string, len(raw))
	for n, ids := range raw {
		var alive []string // a fresh slice: cached ones are shared
		for _, id := range ids {
			if live.expiry[id] > ms {
				alive = append(alive, id)
			}
		}
		if len(alive) > 0 {
			out[n] = alive
		}
	}
	return out, nil
}

// execKeepNil runs pipe; a key found missing (redis.Nil) is not an error.
func execKeepNil(ctx context.Context, pipe redis.Pipeliner) error {
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return nil
	}
	for _, c := range cmds {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return err
		}
	}
	return nil
}

// intact checks the state marker read with a lookup, at now. The marker
// holds 0, or the time (unix ms) until which the edges may still be
// republishing after Redis lost its state; then the lookup read a store the
// edges are still filling, and ErrRepublishing is returned.
func (r *Routes) intact(ctx context.Context, state *redis.StringCmd, now time.Time) error {
	v, err := state.Result()
	if errors.Is(err, redis.Nil) {
		// Gone: Redis lost its state, unless this Routes never saw the
		// marker (not started: a fresh store). The first reader to notice
		// sets the wait, every reader sees the same one.
		until := int64(0)
		if r.marked.Load() {
			until = now.Add(r.cfg.EdgeTTL).UnixMilli()
		}
		set, err := r.cfg.Client.SetNX(ctx, r.keys.state(), until, 0).Result()
		if err != nil {
			r.errs.fail("state", err)
			return fmt.Errorf("store: write state marker: %w", err)
		}
		if set && until > 0 {
			r.metrics.stateLost.Inc()
			r.log.Warn("Redis lost its state: holding route lookups while the edges republish", "for", r.cfg.EdgeTTL)
		}
		if v, err = r.cfg.Client.Get(ctx, r.keys.state()).Result(); err != nil {
			r.errs.fail("state", err)
			return fmt.Errorf("store: read state marker: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("store: read state marker: %w", err)
	}
	r.marked.Store(true)
	until, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("store: bad state marker %q", v)
	}
	if left := time.Duration(until-now.UnixMilli()) * time.Millisecond; left > 0 {
		return fmt.Errorf("%w (%v left)", ErrRepublishing, left)
	}
	return nil
}

func (km *kindMetrics) observe(start time.Time) {
	km.lookups.Inc()
	km.time.Observe(time.Since(start).Seconds())
}

// liveRange selects registry entries expiring after now.
func liveRange(now time.Time) *redis.ZRangeBy {
	return &redis.ZRangeBy{Min: "(" + strconv.FormatInt(now.UnixMilli(), 10), Max: "+inf"}
}

// sortedUnique sorts ids and drops duplicates, in place.
func sortedUnique(ids []string) []string {
	slices.Sort(ids)
	return slices.Compact(ids)
}
