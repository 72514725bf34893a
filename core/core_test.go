package core

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/quicpush/quicpush/bus"
	"github.com/quicpush/quicpush/history"
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

// capture keeps the messages handed to the edge.
type capture struct {
	mu   sync.Mutex
	msgs []*push.Message
}

func (c *capture) Deliver(msgs []*push.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, msgs...)
}

func (c *capture) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.msgs)
}

func TestEphemeralKeepsNoHistoryAndNoPosition(t *testing.T) {
	b := bus.NewMemory(16)
	h := history.NewMemory(history.Policies{})
	defer h.Close()
	rec := &capture{}
	c, err := New(Config{Source: b, Edge: rec, History: h})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	msgs := []*push.Message{
		{ID: "r1", Kind: push.KindRoom, Room: "a", Data: []byte("1")},
		{ID: "e1", Kind: push.KindRoom, Room: "a", Data: []byte("2"), Ephemeral: true},
		{ID: "u1", Kind: push.KindUsers, Users: []string{"x"}, Data: []byte("3"), Ephemeral: true},
		{ID: "r2", Kind: push.KindRoom, Room: "a", Data: []byte("4")},
	}
	for _, m := range msgs {
		m.Accepted = time.Now() // history keeps messages for a TTL from it
		if _, err := b.Publish(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for rec.count() < len(msgs) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(slices.Values(ids(rec.msgs))); !slices.Equal(got, []string{"e1", "r1", "r2", "u1"}) {
		t.Fatalf("delivered %v, want every message, ephemeral ones included", got)
	}
	for _, m := range rec.msgs {
		hasPos := m.Offset != 0 || m.Epoch != "" || len(m.UserEpochs) != 0
		if hasPos == m.Ephemeral {
			t.Errorf("%s (ephemeral %v): offset %d, epoch %q, user epochs %q", m.ID, m.Ephemeral, m.Offset, m.Epoch, m.UserEpochs)
		}
	}
	r, err := h.Since(context.Background(), history.RoomStream("a"), history.Position{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range r.Entries {
		got = append(got, e.ID)
	}
	if !slices.Equal(got, []string{"r1", "r2"}) {
		t.Fatalf("room history holds %v, want only the reliable r1, r2", got)
	}
	if u, err := h.Since(context.Background(), history.UserStream("x"), history.Position{}, 10); err != nil || len(u.Entries) != 0 {
		t.Fatalf("user history holds %d entries (err %v), want none", len(u.Entries), err)
	}
}
