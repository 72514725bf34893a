package serverrooms

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestMemory: rooms per user, forgotten a TTL after the user's last Add or
// Rooms.
func TestMemory(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	m := NewMemory(time.Hour)
	m.now = func() time.Time { return now }
	_ = m.Add(ctx, "b", []string{"u1", "u2"})
	_ = m.Add(ctx, "a", []string{"u1"})
	if got, _ := m.Rooms(ctx, "u1"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Rooms(u1) = %v", got)
	}
	_ = m.Remove(ctx, "b", []string{"u1"})
	if got, _ := m.Rooms(ctx, "u1"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after Remove: %v", got)
	}
	now = now.Add(50 * time.Minute)
	if got, _ := m.Rooms(ctx, "u1"); len(got) != 1 { // refreshes u1
		t.Fatalf("before the TTL: %v", got)
	}
	now = now.Add(20 * time.Minute)
	if got, _ := m.Rooms(ctx, "u2"); len(got) != 0 {
		t.Fatalf("u2 after its TTL: %v", got)
	}
	if got, _ := m.Rooms(ctx, "u1"); len(got) != 1 {
		t.Fatalf("u1, refreshed 20 minutes ago: %v", got)
	}
	now = now.Add(2 * time.Hour)
	_ = m.Add(ctx, "c", []string{"u3"}) // sweeps
	m.mu.Lock()
	n := len(m.users)
	m.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d users kept after the sweep, want 1", n)
	}
}
