package pushapi

import (
	"strings"
	"testing"
	"time"
)

// checkID fails t unless id has the message id format.
func checkID(t *testing.T, id string) {
	t.Helper()
	if len(id) != idLen {
		t.Errorf("id %q has %d characters, want %d", id, len(id), idLen)
	}
	for _, c := range id {
		if !strings.ContainsRune(crockford, c) {
			t.Errorf("id %q holds %q, not in the Crockford alphabet", id, c)
			return
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		time   time.Time
		prefix string // the 10 timestamp characters
	}{
		{time.UnixMilli(0), "0000000000"},
		{time.UnixMilli(1), "0000000001"},
		{time.UnixMilli(32), "0000000010"},
		{time.UnixMilli(1<<48 - 1), "7ZZZZZZZZZ"},     // the largest timestamp, in year 10889
		{time.UnixMilli(1469918176385), "01ARYZ6S41"}, // the ULID specification's example
		{time.UnixMilli(1700000000000), "01HF7YAT00"},
	}
	for _, tt := range tests {
		id := newID(tt.time)
		checkID(t, id)
		if !strings.HasPrefix(id, tt.prefix) {
			t.Errorf("newID(%d ms) = %s, want prefix %s", tt.time.UnixMilli(), id, tt.prefix)
		}
	}
}

func TestNewIDSortsByTime(t *testing.T) {
	t.Parallel()
	prev := ""
	for ms := int64(1_700_000_000_000); ms < 1_700_000_000_000+2000; ms += 7 {
		id := newID(time.UnixMilli(ms))
		if id <= prev {
			t.Fatalf("id %s at %d ms sorts before %s", id, ms, prev)
		}
		prev = id
	}
}

func TestNewIDUnique(t *testing.T) {
	t.Parallel()
	now := time.Now()
	seen := make(map[string]bool)
	for range 100_000 {
		id := newID(now) // one millisecond: only the random part differs
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
	}
}

// raceEnabled is set when the tests run with the race detector.
var raceEnabled bool

func TestNewIDAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { _ = newID(now) }); n > 1 {
		t.Errorf("newID allocates %v times, want 1 (the string)", n)
	}
}

func BenchmarkNewID(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = newID(now)
	}
}
