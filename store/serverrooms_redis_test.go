package store

import (
	"slices"
	"testing"
	"time"
)

// TestServerRooms: rooms are kept per user under the prefix, with the TTL
// that Add and Rooms set again; Remove takes one room, and the last one's
// removal leaves no key.
func TestServerRooms(t *testing.T) {
	t.Parallel()
	c, ctx := redisFixture(t)
	s := NewServerRooms(c, "srt:", time.Hour)
	if err := s.Add(ctx, "b", []string{"u1", "u2"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(ctx, "a", []string{"u1"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Rooms(ctx, "u1")
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Rooms(u1) = %v, %v; want [a b]", got, err)
	}
	ttl, err := c.TTL(ctx, "srt:srooms:u1").Result()
	if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
		t.Fatalf("TTL %v (%v), want about an hour", ttl, err)
	}
	// Rooms sets the TTL again.
	if err := c.Expire(ctx, "srt:srooms:u2", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Rooms(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	if ttl := c.TTL(ctx, "srt:srooms:u2").Val(); ttl <= 59*time.Minute {
		t.Fatalf("TTL after Rooms %v, want set again to an hour", ttl)
	}
	if err := s.Remove(ctx, "b", []string{"u1", "u2"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Rooms(ctx, "u1"); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("after Remove: %v, want [a]", got)
	}
	if n := c.Exists(ctx, "srt:srooms:u2").Val(); n != 0 {
		t.Fatalf("an emptied user's key is still there")
	}
	if got, err := s.Rooms(ctx, "nobody"); err != nil || len(got) != 0 {
		t.Fatalf("Rooms(nobody) = %v, %v", got, err)
	}
}
