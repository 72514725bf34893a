package pushapi

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// TestIdempotencyKey checks that a retried call with the same key is not
// published twice and gets the first reply; that keys are scoped by API key
// and method; that a failed call can be retried; and that a repeat during the
// first call is refused with Aborted.
func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	var fail atomic.Bool
	release := make(chan struct{})
	blocked := make(chan struct{}, 1)
	var block atomic.Bool
	ts := runServer(t, Config{})
	ts.pub.fn = func(ctx context.Context, m *push.Message) error {
		if block.Load() {
			blocked <- struct{}{}
			<-release
		}
		if fail.Load() {
			return errors.New("bus down")
		}
		return nil
	}
	c := ts.client(protocols[0], "Bearer "+testKey)
	other := ts.client(protocols[0], "Bearer "+otherTestKey)
	ctx := t.Context()
	room := func(key string) *connect.Request[pushv1.PushRoomRequest] {
		return connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x", IdempotencyKey: key})
	}

	first, err := c.PushRoom(ctx, room("k1"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.PushRoom(ctx, room("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if again.Msg.GetMessageId() != first.Msg.GetMessageId() || len(ts.pub.published()) != 1 {
		t.Fatalf("retry published again: ids %s %s, %d published", first.Msg.GetMessageId(), again.Msg.GetMessageId(), len(ts.pub.published()))
	}
	// Another API key, or another method, is another call.
	if r, err := other.PushRoom(ctx, room("k1")); err != nil || r.Msg.GetMessageId() == first.Msg.GetMessageId() {
		t.Fatalf("another API key shared the idempotency key: %v", err)
	}
	if _, err := c.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Text: "x", IdempotencyKey: "k1"})); err != nil {
		t.Fatal(err)
	}
	if n := len(ts.pub.published()); n != 3 {
		t.Fatalf("%d published, want 3", n)
	}

	// A failed call leaves the key free.
	fail.Store(true)
	if _, err := c.PushRoom(ctx, room("k2")); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("failing publish: %v", err)
	}
	fail.Store(false)
	if _, err := c.PushRoom(ctx, room("k2")); err != nil {
		t.Fatalf("retry after a failure: %v", err)
	}

	// A repeat while the first is in flight.
	block.Store(true)
	done := make(chan error, 1)
	go func() { _, err := c.PushRoom(ctx, room("k3")); done <- err }()
	select {
	case <-blocked: // the first call is publishing
	case <-time.After(5 * time.Second):
		t.Fatal("the first call never reached the bus")
	}
	if _, err := c.PushRoom(ctx, room("k3")); connect.CodeOf(err) != connect.CodeAborted {
		t.Fatalf("repeat during the first call: %v, want Aborted", err)
	}
	block.Store(false)
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if _, err := c.PushRoom(ctx, room(strings.Repeat("k", 129))); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("129-byte key: %v", err)
	}
}

// TestIdempotencyKeyReused checks that a key sent again with another request
// is refused instead of answered with the first call's reply: the caller
// would believe its new message accepted while nothing was published.
func TestIdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})
	for _, p := range []protocol{protocols[0], protocols[1]} {
		c := ts.client(p, "Bearer "+testKey)
		ctx := t.Context()
		key := "reused-" + p.name
		before := len(ts.pub.published())
		first, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "first", IdempotencyKey: key}))
		if err != nil {
			t.Fatal(err)
		}
		for _, req := range []*pushv1.PushRoomRequest{
			{Room: "r", Text: "second", IdempotencyKey: key},
			{Room: "other", Text: "first", IdempotencyKey: key},
			{Room: "r", Data: []byte("first"), IdempotencyKey: key},
		} {
			_, err := c.PushRoom(ctx, connect.NewRequest(req))
			if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "different request") {
				t.Errorf("%s: %v with the key of another request: %v, want FailedPrecondition", p.name, req, err)
			}
		}
		// The same request is still a retry.
		again, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "first", IdempotencyKey: key}))
		if err != nil || again.Msg.GetMessageId() != first.Msg.GetMessageId() {
			t.Fatalf("%s: retry after the refusals: %v", p.name, err)
		}
		if n := len(ts.pub.published()) - before; n != 1 {
			t.Errorf("%s: %d published, want 1", p.name, n)
		}
	}
	// A request is the same whether it came as JSON or binary.
	bin, js := ts.client(protocols[0], "Bearer "+testKey), ts.client(protocols[1], "Bearer "+testKey)
	req := &pushv1.PushUsersRequest{Users: []string{"u1", "u2"}, Data: []byte{0, 1, 2}, IdempotencyKey: "across"}
	first, err := bin.PushUsers(t.Context(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	again, err := js.PushUsers(t.Context(), connect.NewRequest(req))
	if err != nil || again.Msg.GetMessageId() != first.Msg.GetMessageId() {
		t.Fatalf("the same request as JSON: %v", err)
	}
}

func TestMemoryIdempotencyExpires(t *testing.T) {
	m := NewMemoryIdempotency()
	now := time.Unix(1000, 0)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	d, other := []byte("digest"), []byte("other")
	if _, done, err := m.Begin(ctx, "k", d, time.Minute); done || err != nil {
		t.Fatal(done, err)
	}
	if _, _, err := m.Begin(ctx, "k", other, time.Minute); !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("another request while in flight: %v", err)
	}
	if err := m.Finish(ctx, "k", d, []byte("reply"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if r, done, _ := m.Begin(ctx, "k", d, time.Minute); !done || string(r) != "reply" {
		t.Fatal("finished call not remembered")
	}
	if _, done, err := m.Begin(ctx, "k", other, time.Minute); done || !errors.Is(err, ErrIdempotencyKeyReused) {
		t.Fatalf("another request after the first: %v %v", done, err)
	}
	now = now.Add(2 * time.Minute)
	if _, done, err := m.Begin(ctx, "k", other, time.Minute); done || err != nil {
		t.Fatal("expired key still remembered")
	}
}

// TestRateLimitPerKey checks that one key over its rate gets
// ResourceExhausted while another key is unaffected.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{RateLimit: 5}) // burst 10
	c := ts.client(protocols[0], "Bearer "+testKey)
	other := ts.client(protocols[0], "Bearer "+otherTestKey)
	limited := 0
	for range 30 {
		_, err := c.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"}))
		switch {
		case err == nil:
		case connect.CodeOf(err) == connect.CodeResourceExhausted:
			limited++
		default:
			t.Fatal(err)
		}
	}
	if limited < 15 {
		t.Fatalf("%d of 30 rapid calls limited at 5/s with a burst of 10", limited)
	}
	if _, err := other.PushRoom(t.Context(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"})); err != nil {
		t.Fatalf("another key was limited too: %v", err)
	}
}
