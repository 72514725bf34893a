package store

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/history/historytest"
	"github.com/quicpush/quicpush/internal/push"
)

func TestHistoryRedis(t *testing.T) {
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	var n atomic.Int64
	historytest.Run(t, func(t *testing.T, p history.Policies) history.Store {
		// A prefix per store: every check starts empty.
		return NewHistory(c, fmt.Sprintf("h%d:", n.Add(1)), p)
	})
}

// TestHistoryRedisFlushed checks that a stream whose state Redis lost starts
// a new epoch, so a client's old position is never taken for a new one, and
// that a script Redis forgot (restart) is sent again.
func TestHistoryRedisFlushed(t *testing.T) {
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	h := NewHistory(c, "", history.Policies{})
	ctx := testCtx(t)
	st := history.RoomStream("r")
	eps, err := h.Append(ctx, []history.Item{{Stream: st, Entry: history.Entry{Offset: 1, ID: "a"}}})
	if err != nil {
		t.Fatal(err)
	}
	old := history.Position{Offset: 1, Epoch: eps[st]}
	restartRedis(t, srv)
	eps, err = h.Append(ctx, []history.Item{{Stream: st, Entry: history.Entry{Offset: 2, ID: "b"}}})
	if err != nil {
		t.Fatalf("append after a restart (the script must be sent again): %v", err)
	}
	if eps[st] == old.Epoch {
		t.Fatal("same epoch after Redis lost the stream")
	}
	r, err := h.Since(ctx, st, old, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Truncated || r.Recovered(old) {
		t.Fatalf("old position after the flush: %+v", r)
	}
}

func TestIdempotencyRedis(t *testing.T) {
	srv := startRedis(t)
	s := NewIdempotency(newClient(t, srv.Addr()), "")
	ctx := testCtx(t)
	d := []byte("digest")
	if _, done, err := s.Begin(ctx, "k", d, time.Minute); done || err != nil {
		t.Fatalf("first: %v %v", done, err)
	}
	if _, _, err := s.Begin(ctx, "k", d, time.Minute); !errors.Is(err, push.ErrInFlight) {
		t.Fatalf("while in flight: %v", err)
	}
	if err := s.Finish(ctx, "k", d, []byte("reply"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, done, err := s.Begin(ctx, "k", d, time.Minute); !done || err != nil || string(r) != "reply" {
		t.Fatalf("after finish: %q %v %v", r, done, err)
	}
	// Abandon frees an in-flight key, and only that.
	if _, _, err := s.Begin(ctx, "k2", d, time.Minute); err != nil {
		t.Fatal(err)
	}
	s.Abandon(ctx, "k2")
	if _, done, err := s.Begin(ctx, "k2", d, time.Minute); done || err != nil {
		t.Fatalf("after abandon: %v %v", done, err)
	}
	s.Abandon(ctx, "k") // finished: stays
	if _, done, _ := s.Begin(ctx, "k", d, time.Minute); !done {
		t.Fatal("Abandon removed a finished reply")
	}
	// An empty reply is a reply.
	if _, _, err := s.Begin(ctx, "k3", d, time.Minute); err != nil {
		t.Fatal(err)
	}
	_ = s.Finish(ctx, "k3", d, nil, time.Minute)
	if r, done, err := s.Begin(ctx, "k3", d, time.Minute); !done || err != nil || len(r) != 0 {
		t.Fatalf("empty reply: %q %v %v", r, done, err)
	}
}

// TestIdempotencyRedisKeyReused checks that a key claimed by one request
// refuses another, in flight and once finished, instead of answering it with
// the first one's reply; and that records written before digests were kept
// are still read.
func TestIdempotencyRedisKeyReused(t *testing.T) {
	srv := startRedis(t)
	c := newClient(t, srv.Addr())
	s := NewIdempotency(c, "")
	ctx := testCtx(t)
	d, other := []byte("digest-one"), []byte("digest-two")
	if _, _, err := s.Begin(ctx, "k", d, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Begin(ctx, "k", other, time.Minute); !errors.Is(err, push.ErrKeyReused) {
		t.Fatalf("another request while in flight: %v", err)
	}
	if err := s.Finish(ctx, "k", d, []byte("reply"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, done, err := s.Begin(ctx, "k", other, time.Minute); done || !errors.Is(err, push.ErrKeyReused) {
		t.Fatalf("another request after the first: %q %v %v", r, done, err)
	}
	if r, done, err := s.Begin(ctx, "k", d, time.Minute); !done || err != nil || string(r) != "reply" {
		t.Fatalf("the same request after the refusal: %q %v %v", r, done, err)
	}
	// A reply that happens to start like a record is still a reply.
	if _, _, err := s.Begin(ctx, "k2", d, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := s.Finish(ctx, "k2", d, []byte("-="), time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, done, err := s.Begin(ctx, "k2", d, time.Minute); !done || err != nil || string(r) != "-=" {
		t.Fatalf("reply %q: %v %v", r, done, err)
	}
	// A bare reply, as stored before digests were kept, answers any request.
	if err := c.Set(ctx, "qp:idem:old", "\x0a\x01x", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if r, done, err := s.Begin(ctx, "old", d, time.Minute); !done || err != nil || string(r) != "\x0a\x01x" {
		t.Fatalf("bare reply: %q %v %v", r, done, err)
	}
}
