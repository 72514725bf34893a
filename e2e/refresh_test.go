package e2e

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	quicpush "github.com/quicpush/quicpush/clients/go"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

func shortToken(t *testing.T, user string, ttl time.Duration, rooms ...string) string {
	t.Helper()
	tok, err := auth.IssueHS256(testSecret, user, rooms, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenRefresh checks revision 3 on a raw connection: TokenExpiring
// arrives RefreshAhead before exp; a token of another user or a bad one is
// refused with Error 105 and changes nothing; a good one is accepted and
// keeps the connection past the first token's expiry; without a refresh the
// connection is closed with 3004 at expiry.
func TestTokenRefresh(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.RefreshAhead = 2 * time.Second })
	api := srv.apiClient()

	c := dialRaw(t, srv, "tcp")
	authenticate(t, c, shortToken(t, "ref", 3*time.Second, "r"))
	join(t, c, 2, "r")
	start := time.Now()
	_, body := expectFrame(t, c, wire.OpTokenExpiring)
	var te wire.TokenExpiring
	if err := te.Decode(body); err != nil || te.ExpiresInMs == 0 || te.ExpiresInMs > 3000 {
		t.Fatalf("token_expiring %+v %v", te, err)
	}
	t.Logf("token_expiring after %v, %d ms left", time.Since(start).Round(time.Millisecond), te.ExpiresInMs)
	for seq, tok := range map[uint32]string{
		3: shortToken(t, "someone-else", time.Hour, "r"),
		4: "not a token",
	} {
		if err := c.write(wire.AppendRefresh(nil, seq, &wire.Refresh{Token: tok})); err != nil {
			t.Fatal(err)
		}
		h, body := expectFrame(t, c, wire.OpError)
		var e wire.Error
		if err := e.Decode(body); err != nil || e.Code != wire.ErrCodeTokenRejected || h.Seq != seq {
			t.Fatalf("refresh %d: %+v seq %d, want error 105", seq, e, h.Seq)
		}
	}
	if err := c.write(wire.AppendRefresh(nil, 5, &wire.Refresh{Token: shortToken(t, "ref", time.Hour, "r")})); err != nil {
		t.Fatal(err)
	}
	h, body := expectFrame(t, c, wire.OpRefreshOK)
	var ok wire.RefreshOK
	if err := ok.Decode(body); err != nil || h.Seq != 5 || ok.ExpiresInMs < 3500000 {
		t.Fatalf("refresh_ok %+v seq %d %v", ok, h.Seq, err)
	}
	time.Sleep(time.Until(start.Add(3 * time.Second)))
	id := pushRoom(t, api, "r", "still here")
	if p := expectPush(t, c); p.ID != id {
		t.Fatalf("after the first token's expiry: %+v", p)
	}

	// No refresh: closed with 3004.
	c2 := dialRaw(t, srv, "ws")
	authenticate(t, c2, shortToken(t, "lazy", 2*time.Second))
	expectFrame(t, c2, wire.OpTokenExpiring)
	expectDisconnect(t, c2, wire.CodeTokenExpired)
}

// TestGoClientRefreshesToken checks that clients/go answers TokenExpiring
// with its token function, and the connection outlives the first token.
func TestGoClientRefreshesToken(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.RefreshAhead = 2 * time.Second })
	var calls atomic.Int32
	b := &inbox{}
	cl := goClient(t, srv, []string{"tcp://" + srv.tcp}, "", b,
		quicpush.WithTokenFunc(func(context.Context) (string, error) {
			calls.Add(1)
			return shortToken(t, "gc", 3*time.Second, "r"), nil
		}))
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	key := cl.ConnKey()
	if err := cl.Join(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	// Two token lifetimes: the connection must stay the same one.
	time.Sleep(5 * time.Second)
	if cl.ConnKey() != key || b.connects() != 1 {
		t.Fatalf("reconnected (%s -> %s, %d connects): the token was not refreshed in place", key, cl.ConnKey(), b.connects())
	}
	if calls.Load() < 2 {
		t.Fatalf("token function called %d times, want a refresh", calls.Load())
	}
	id := pushRoom(t, srv.apiClient(), "r", "after refresh")
	waitFor(t, "push after refresh", func() bool { return b.has(id) })
}
