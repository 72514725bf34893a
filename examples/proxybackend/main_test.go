package main

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/quicpush/quicpush/proxy"
)

// TestBackendAnswersTheHooks runs the sample against quicpush's own hook
// client, so that the sample and docs/proxy.md's contract stay in step.
func TestBackendAnswersTheHooks(t *testing.T) {
	srv := httptest.NewServer(handler("k"))
	defer srv.Close()
	c, err := proxy.New(proxy.Config{
		Connect:   proxy.HookConfig{URL: srv.URL + "/connect"},
		Join:      proxy.HookConfig{URL: srv.URL + "/join"},
		JoinRooms: []string{"team:*"},
		Header:    map[string][]string{"X-Api-Key": {"k"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	r, err := c.Connect(ctx, proxy.ConnectRequest{Token: "sess-alice", IP: "127.0.0.1", Transport: "tcp", Edge: "e"})
	if err != nil || r.User != "alice" || len(r.Rooms) != 2 || r.Expires.IsZero() || len(r.Info) == 0 {
		t.Fatalf("alice: %+v %v", r, err)
	}
	for tok, code := range map[string]uint16{"sess-eve": 3504, "nobody": 3500} {
		if r, err := c.Connect(ctx, proxy.ConnectRequest{Token: tok}); err != nil || r.Disconnect.Code != code {
			t.Fatalf("%s: %+v %v", tok, r, err)
		}
	}
	if j, err := c.Join(ctx, proxy.JoinRequest{User: "alice", Room: "team:red"}); err != nil || !j.Allow {
		t.Fatalf("team:red: %+v %v", j, err)
	}
	if j, err := c.Join(ctx, proxy.JoinRequest{User: "alice", Room: "team:blue"}); err != nil || j.Allow {
		t.Fatalf("team:blue: %+v %v", j, err)
	}
}
