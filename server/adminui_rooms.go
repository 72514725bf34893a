package server

import (
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/internal/push"
)

// roomRatesTracked bounds the rooms counted in one window: the hottest rooms
// are kept (space-saving: a new room replaces the least counted one and
// inherits its count), so that a flood of distinct rooms costs a bounded
// map and a bounded scan, never memory per room.
const roomRatesTracked = 64

// roomRates counts room messages as the push API accepts them, per window
// (the admin page's sampler takes a window every second). It wraps the
// publisher rather than the edge or core, so that the fan-out path is
// untouched: one map update per accepted room push, no allocation for a room
// already counted.
type roomRates struct {
	bus.Publisher

	mu     sync.Mutex
	counts map[string]uint64
}

func newRoomRates(p bus.Publisher) *roomRates {
	return &roomRates{Publisher: p, counts: make(map[string]uint64, roomRatesTracked)}
}

// Publish counts m when it is a room message the bus accepted.
func (r *roomRates) Publish(ctx context.Context, m *push.Message) ([]push.BusRecord, error) {
	recs, err := r.Publisher.Publish(ctx, m)
	if err == nil && m.Kind == push.KindRoom {
		r.add(m.Room)
	}
	return recs, err
}

func (r *roomRates) add(room string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.counts[room]; ok || len(r.counts) < roomRatesTracked {
		r.counts[room]++
		return
	}
	least, fewest := "", uint64(0)
	for k, n := range r.counts {
		if least == "" || n < fewest {
			least, fewest = k, n
		}
	}
	delete(r.counts, least)
	r.counts[room] = fewest + 1
}

// take returns the window's counts and starts a new window.
func (r *roomRates) take() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.counts
	r.counts = make(map[string]uint64, roomRatesTracked)
	return out
}

// roomRate is a room and its messages per second.
type roomRate struct {
	Room      string  `json:"room"`
	PerSecond float64 `json:"per_second"`
}

// hottest sums windows (each a second long) and returns the top n rooms by
// messages per second over them, then by name.
func hottest(windows []map[string]uint64, n int) []roomRate {
	if len(windows) == 0 {
		return nil
	}
	sum := make(map[string]uint64)
	for _, w := range windows {
		for k, c := range w {
			sum[k] += c
		}
	}
	out := make([]roomRate, 0, len(sum))
	for k, c := range sum {
		out = append(out, roomRate{Room: k, PerSecond: float64(c) / float64(len(windows))})
	}
	slices.SortFunc(out, func(a, b roomRate) int {
		if a.PerSecond != b.PerSecond {
			if a.PerSecond > b.PerSecond {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Room, b.Room)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}
