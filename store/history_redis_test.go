package store

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/history/historytest"
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
	srv.kill()
	srv.restart()
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
