package store

import (
	"hash/maphash"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/ristretto/v2"
)

// cacheSlots is the number of invalidation slots: enough that unrelated keys
// rarely share one (sharing only skips caching a lookup, never serves stale
// data), small enough to stay a few KiB.
const cacheSlots = 4096

// routeCache caches route lookups for Routes. Entries are keyed by the
// invalidation message that voids them ("r:<room>", "u:<user>").
//
// Two counters keep a lookup racing an invalidation from caching what it
// read before the change:
//   - epoch voids everything at once. It moves when an edge joins, leaves or
//     republishes ("e:" messages), and whenever the subscription is lost or
//     regained (invalidations may have been missed). Every entry carries the
//     epoch its lookup started in and is valid only in that epoch.
//   - seq counts single-key invalidations; slots remember, per hash slot,
//     the seq of the last one. A lookup that started before an invalidation
//     of its key (slot > its starting seq) does not keep its entry.
type routeCache struct {
	c   *ristretto.Cache[string, cacheEntry] // nil: caching disabled
	ttl time.Duration

	healthy atomic.Bool // subscribed: invalidations arrive
	epoch   atomic.Uint64
	seq     atomic.Uint64
	seed    maphash.Seed
	slots   [cacheSlots]atomic.Uint64

	live atomic.Pointer[liveSnap] // the registry's ids and expiries
	info atomic.Pointer[infoSnap] // LiveEdges' answer
}

type cacheEntry struct {
	epoch uint64
	ids   []string // edge ids, sorted, deduplicated; never modified
}

// liveSnap is the registry as read at one time: edge id -> expiry (unix ms).
// Expiries are kept rather than a yes/no so an edge that stops
// heartbeating drops out on time even while the snapshot is cached.
type liveSnap struct {
	epoch   uint64
	fetched time.Time
	expiry  map[string]int64
}

type infoSnap struct {
	epoch   uint64
	fetched time.Time
	edges   []EdgeInfo
	expiry  []int64 // of edges[i]
}

// cacheToken is taken before a lookup reads Redis.
type cacheToken struct {
	ok    bool
	epoch uint64
	seq   uint64
}

// newRouteCache returns a cache bounded by maxCost (approximate bytes), or
// a disabled one when ttl < 0.
func newRouteCache(ttl time.Duration, maxCost int64) (*routeCache, error) {
	rc := &routeCache{ttl: ttl, seed: maphash.MakeSeed()}
	if ttl < 0 {
		return rc, nil
	}
	c, err := ristretto.NewCache(&ristretto.Config[string, cacheEntry]{
		// Ristretto wants ~10 counters per entry it may hold; entries are a
		// key and a few edge ids, ~150 bytes with its own overhead.
		NumCounters: max(maxCost/16, 1024),
		MaxCost:     maxCost,
		BufferItems: 64,
	})
	if err != nil {
		return nil, err
	}
	rc.c = c
	return rc, nil
}

func (rc *routeCache) enabled() bool { return rc.c != nil }

// begin is called before reading Redis.
func (rc *routeCache) begin() cacheToken {
	return cacheToken{ok: rc.enabled() && rc.healthy.Load(), epoch: rc.epoch.Load(), seq: rc.seq.Load()}
}

// get returns the cached ids of key.
func (rc *routeCache) get(key string) ([]string, bool) {
	if !rc.enabled() || !rc.healthy.Load() {
		return nil, false
	}
	e, ok := rc.c.Get(key)
	if !ok || e.epoch != rc.epoch.Load() {
		return nil, false
	}
	return e.ids, true
}

// set caches what a lookup begun at t read for key.
func (rc *routeCache) set(t cacheToken, key string, ids []string) {
	if !t.ok || t.epoch != rc.epoch.Load() {
		return
	}
	cost := int64(len(key) + 48)
	for _, id := range ids {
		cost += int64(len(id) + 16)
	}
	rc.c.SetWithTTL(key, cacheEntry{epoch: t.epoch, ids: ids}, cost, rc.ttl)
	// Checked after the set: an invalidation either sees our entry and
	// deletes it, or stored its seq before this load and we delete it.
	if rc.slot(key).Load() > t.seq {
		rc.c.Del(key)
	}
}

// invalidate voids key ("r:..." or "u:...").
func (rc *routeCache) invalidate(key string) {
	if !rc.enabled() {
		return
	}
	rc.slot(key).Store(rc.seq.Add(1))
	rc.c.Del(key)
}

// reset voids every entry.
func (rc *routeCache) reset() { rc.epoch.Add(1) }

// setHealthy records whether invalidations arrive; both transitions void
// every entry.
func (rc *routeCache) setHealthy(ok bool) {
	rc.healthy.Store(ok)
	rc.reset()
}

func (rc *routeCache) slot(key string) *atomic.Uint64 {
	return &rc.slots[maphash.String(rc.seed, key)%cacheSlots]
}

// liveIDs returns the cached registry if it is fresh.
func (rc *routeCache) liveIDs(now time.Time) *liveSnap {
	if !rc.enabled() || !rc.healthy.Load() {
		return nil
	}
	s := rc.live.Load()
	if s == nil || s.epoch != rc.epoch.Load() || now.Sub(s.fetched) >= rc.ttl {
		return nil
	}
	return s
}

func (rc *routeCache) setLiveIDs(t cacheToken, s *liveSnap) {
	if t.ok && t.epoch == rc.epoch.Load() {
		s.epoch = t.epoch
		rc.live.Store(s)
	}
}

// liveInfo returns the cached LiveEdges answer if it is fresh.
func (rc *routeCache) liveInfo(now time.Time) *infoSnap {
	if !rc.enabled() || !rc.healthy.Load() {
		return nil
	}
	s := rc.info.Load()
	if s == nil || s.epoch != rc.epoch.Load() || now.Sub(s.fetched) >= rc.ttl {
		return nil
	}
	return s
}

func (rc *routeCache) setLiveInfo(t cacheToken, s *infoSnap) {
	if t.ok && t.epoch == rc.epoch.Load() {
		s.epoch = t.epoch
		rc.info.Store(s)
	}
}

func (rc *routeCache) close() {
	if rc.c != nil {
		rc.c.Close()
	}
}
