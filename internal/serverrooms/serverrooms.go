package serverrooms

import (
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultTTL is how long a user's server-side rooms are remembered after the
// user's last subscription or connection, when a TTL is not given.
const DefaultTTL = 24 * time.Hour

// Memory keeps each user's server-side rooms in memory, with a TTL refreshed
// by each Add for the user and each Rooms (an Auth of the user). It is safe
// for concurrent use.
type Memory struct {
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	users map[string]*entry
	// sweepAt is when Add next forgets expired users, so that users who
	// never come back do not stay in memory.
	sweepAt time.Time
}

type entry struct {
	rooms   map[string]struct{}
	expires time.Time
}

// NewMemory returns an empty store whose users' rooms live ttl after their
// last use (zero means DefaultTTL).
func NewMemory(ttl time.Duration) *Memory {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Memory{ttl: ttl, now: time.Now, users: make(map[string]*entry)}
}

// Add gives room to users and refreshes their TTL.
func (m *Memory) Add(_ context.Context, room string, users []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.sweepLocked(now)
	for _, u := range users {
		e := m.liveLocked(u, now)
		if e == nil {
			e = &entry{rooms: make(map[string]struct{}, 1)}
			m.users[u] = e
		}
		e.rooms[room] = struct{}{}
		e.expires = now.Add(m.ttl)
	}
	return nil
}

// Remove takes room from users.
func (m *Memory) Remove(_ context.Context, room string, users []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range users {
		if e := m.users[u]; e != nil {
			delete(e.rooms, room)
			if len(e.rooms) == 0 {
				delete(m.users, u)
			}
		}
	}
	return nil
}

// Rooms returns user's server-side rooms, sorted, and refreshes their TTL.
func (m *Memory) Rooms(_ context.Context, user string) ([]string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	e := m.liveLocked(user, now)
	if e == nil {
		return nil, nil
	}
	e.expires = now.Add(m.ttl)
	rooms := make([]string, 0, len(e.rooms))
	for r := range e.rooms {
		rooms = append(rooms, r)
	}
	slices.Sort(rooms)
	return rooms, nil
}

// liveLocked returns user's entry unless it expired (then forgotten).
func (m *Memory) liveLocked(user string, now time.Time) *entry {
	e := m.users[user]
	if e != nil && !now.Before(e.expires) {
		delete(m.users, user)
		return nil
	}
	return e
}

// sweepLocked forgets expired users, at most once per TTL.
func (m *Memory) sweepLocked(now time.Time) {
	if now.Before(m.sweepAt) {
		return
	}
	m.sweepAt = now.Add(m.ttl)
	for u, e := range m.users {
		if !now.Before(e.expires) {
			delete(m.users, u)
		}
	}
}
