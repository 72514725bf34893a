package core

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/internal/push"
)

func room(id, r string) *push.Message { return &push.Message{ID: id, Kind: push.KindRoom, Room: r} }

func ids(msgs []*push.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.ID
	}
	return out
}

func TestMergeRooms(t *testing.T) {
	user := &push.Message{ID: "u1", Kind: push.KindUsers, Users: []string{"a"}}
	batch := []*push.Message{room("1", "a"), room("2", "b"), user, room("3", "a"), room("4", "b"), room("5", "c")}
	got := ids(mergeRooms(nil, batch))
	want := []string{"1", "3", "2", "4", "u1", "5"}
	if !slices.Equal(got, want) {
		t.Fatalf("merge = %v, want %v", got, want)
	}
	single := []*push.Message{room("1", "a"), user}
	if got := ids(mergeRooms(nil, single)); !slices.Equal(got, []string{"1", "u1"}) {
		t.Fatalf("single room batch reordered: %v", got)
	}
}

type recorder struct {
	mu      sync.Mutex
	batches [][]string
	n       int
}

func (r *recorder) Deliver(msgs []*push.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, ids(msgs))
	r.n += len(msgs)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func TestRunDeliversEverythingInRoomOrder(t *testing.T) {
	b := bus.NewMemory(16)
	rec := &recorder{}
	c, err := New(Config{Source: b, Edge: rec, MaxBatch: 8})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	const n = 1000
	for i := range n {
		// A bus of 16 makes Publish wait for core: back-pressure, not loss.
		if _, err := b.Publish(context.Background(), room(strconv.Itoa(i), "r"+strconv.Itoa(i%3))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for rec.count() < n && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rec.count() != n {
		t.Fatalf("delivered %d of %d", rec.count(), n)
	}
	last := map[int]int{0: -1, 1: -1, 2: -1}
	for _, b := range rec.batches {
		if len(b) > 8 {
			t.Fatalf("batch of %d over MaxBatch", len(b))
		}
		for _, id := range b {
			i, _ := strconv.Atoi(id)
			if i <= last[i%3] {
				t.Fatalf("room r%d out of order: %d after %d", i%3, i, last[i%3])
			}
			last[i%3] = i
		}
	}
}
