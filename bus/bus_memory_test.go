package bus

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/push"
)

func room(id, r string) *push.Message { return &push.Message{ID: id, Kind: push.KindRoom, Room: r} }

func TestPublishFailsWhenFullOrClosed(t *testing.T) {
	b := NewMemory(1)
	if _, err := b.Publish(context.Background(), room("1", "a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Publish(ctx, room("2", "a")); err == nil {
		t.Fatal("publish to a full bus succeeded")
	}
	_ = b.Close()
	if _, err := b.Publish(context.Background(), room("3", "a")); !errors.Is(err, ErrClosed) {
		t.Fatalf("publish after close: %v", err)
	}
}

// TestMemoryOffsets checks that the in-process bus numbers messages in
// queue order, from 0, on partition 0, even when publishers race.
func TestMemoryOffsets(t *testing.T) {
	b := NewMemory(1000)
	var wg sync.WaitGroup
	got := make(map[string]int64)
	var mu sync.Mutex
	for i := range 100 {
		wg.Go(func() {
			m := room(strconv.Itoa(i), "a")
			recs, err := b.Publish(context.Background(), m)
			if err != nil || len(recs) != 1 || recs[0].Partition != 0 {
				t.Errorf("publish %d: %v %v", i, recs, err)
				return
			}
			mu.Lock()
			got[m.ID] = recs[0].Offset
			mu.Unlock()
		})
	}
	wg.Wait()
	polled, err := b.Poll(context.Background(), nil, 1000)
	if err != nil || len(polled) != 100 {
		t.Fatalf("poll: %d messages, %v", len(polled), err)
	}
	for i, m := range polled {
		if got[m.ID] != int64(i) {
			t.Fatalf("message %d in the queue has offset %d", i, got[m.ID])
		}
	}
}
