package history

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Memory is the single-process Store: each stream a bounded slice of
// entries, in shards so that streams do not contend. A process restart
// loses it all, and every stream starts a new epoch.
type Memory struct {
	policies Policies
	now      func() time.Time
	shards   [64]memShard

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

type memShard struct {
	mu      sync.Mutex
	streams map[string]*memStream
}

type memStream struct {
	epoch   string
	top     uint64
	trimmed uint64 // highest offset removed (by size or age)
	entries []Entry
	touched time.Time // last write or start
}

var memSeed = maphash.MakeSeed()

// NewMemory returns an in-memory Store; Close stops its janitor, which drops
// idle streams once their position outlived Policies.MetaTTL.
func NewMemory(policies Policies) *Memory {
	m := &Memory{policies: policies, now: time.Now, stop: make(chan struct{}), done: make(chan struct{})}
	for i := range m.shards {
		m.shards[i].streams = make(map[string]*memStream)
	}
	go m.janitor()
	return m
}

func (m *Memory) shard(stream string) *memShard {
	return &m.shards[maphash.String(memSeed, stream)%uint64(len(m.shards))]
}

// stream returns the stream, started when create is set; sh is locked.
func (m *Memory) stream(sh *memShard, name string, create bool) *memStream {
	s := sh.streams[name]
	if s == nil && create {
		s = &memStream{epoch: NewEpoch(), touched: m.now()}
		sh.streams[name] = s
	}
	return s
}

// expire drops entries older than ttl; sh is locked.
func (s *memStream) expire(now time.Time, ttl time.Duration) {
	cut := now.Add(-ttl)
	n := 0
	for n < len(s.entries) && s.entries[n].Accepted.Before(cut) {
		n++
	}
	if n > 0 {
		s.trimmed = max(s.trimmed, s.entries[n-1].Offset)
		clear(s.entries[:n])
		s.entries = s.entries[n:]
	}
}

// Append implements Store.
func (m *Memory) Append(_ context.Context, items []Item) (map[string]string, error) {
	epochs := make(map[string]string)
	now := m.now()
	for _, it := range items {
		p := m.policies.For(it.Stream)
		if !p.Enabled() {
			continue
		}
		sh := m.shard(it.Stream)
		sh.mu.Lock()
		s := m.stream(sh, it.Stream, true)
		e := it.Entry
		if e.Offset <= s.top {
			if !s.holdsOther(e) {
				epochs[it.Stream] = s.epoch
				sh.mu.Unlock()
				continue // a redelivery
			}
			// The bus started over: so does the stream.
			*s = memStream{epoch: NewEpoch()}
		}
		s.entries = append(s.entries, Entry{Offset: e.Offset, ID: e.ID, Data: e.Data, Accepted: e.Accepted})
		s.top = e.Offset
		s.touched = now
		if over := len(s.entries) - p.Size; over > 0 {
			s.trimmed = max(s.trimmed, s.entries[over-1].Offset)
			clear(s.entries[:over])
			s.entries = s.entries[over:]
		}
		s.expire(now, p.TTL)
		epochs[it.Stream] = s.epoch
		sh.mu.Unlock()
	}
	return epochs, nil
}

// holdsOther reports whether the stream holds a message other than e at
// e's offset.
func (s *memStream) holdsOther(e Entry) bool {
	for i := len(s.entries) - 1; i >= 0; i-- {
		switch o := s.entries[i].Offset; {
		case o == e.Offset:
			return s.entries[i].ID != e.ID
		case o < e.Offset:
			return false
		}
	}
	return false
}

// Top implements Store.
func (m *Memory) Top(_ context.Context, stream string) (Position, error) {
	if !m.policies.For(stream).Enabled() {
		return Position{}, nil
	}
	sh := m.shard(stream)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := m.stream(sh, stream, true)
	return Position{Offset: s.top, Epoch: s.epoch}, nil
}

// Since implements Store.
func (m *Memory) Since(_ context.Context, stream string, from Position, limit int) (Result, error) {
	p := m.policies.For(stream)
	if !p.Enabled() {
		return Result{Truncated: !from.IsZero()}, nil
	}
	sh := m.shard(stream)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := m.stream(sh, stream, true)
	s.expire(m.now(), p.TTL)
	r := Result{Top: Position{Offset: s.top, Epoch: s.epoch}}
	r.Truncated = truncated(from, r.Top, s.trimmed)
	start := 0
	if !r.Truncated {
		for start < len(s.entries) && s.entries[start].Offset <= from.Offset {
			start++
		}
	}
	rest := s.entries[start:]
	if len(rest) > limit {
		rest, r.More = rest[:limit], true
	}
	r.Entries = append([]Entry(nil), rest...)
	return r, nil
}

// truncated decides whether a reader at from missed entries that are gone.
// The zero position asks for whatever is held, which is never truncated.
func truncated(from, top Position, trimmed uint64) bool {
	if from.IsZero() {
		return false
	}
	return from.Epoch != top.Epoch || from.Offset < trimmed || from.Offset > top.Offset
}

// janitor drops streams idle for longer than the policies' MetaTTL.
func (m *Memory) janitor() {
	defer close(m.done)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.sweep()
		}
	}
}

func (m *Memory) sweep() {
	cut := m.now().Add(-m.policies.metaTTL())
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		for name, s := range sh.streams {
			p := m.policies.For(name)
			s.expire(m.now(), p.TTL)
			if s.touched.Before(cut) {
				delete(sh.streams, name)
			}
		}
		sh.mu.Unlock()
	}
}

// Close stops the janitor. It may be called more than once.
func (m *Memory) Close() error {
	m.once.Do(func() { close(m.stop); <-m.done })
	return nil
}
