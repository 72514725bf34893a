package main

import (
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/namespace"
)

// TestNamespaceFlags: --namespace and --history-namespace make one set of
// namespaces, the same on every command; a namespace that sets no history
// keeps the one --history-namespace gave its prefix, or takes the rooms'
// (the empty prefix's, else --history-size and --history-ttl).
func TestNamespaceFlags(t *testing.T) {
	args := []string{
		"--history-size", "200", "--history-ttl", "3m",
		"--history-namespace", "ticker/=-1",
		"--namespace", "chat/:join-leave=on,client-presence=on",
		"--namespace", "ticker/:ephemeral=on,presence=off",
		"--namespace", "team/:join=server,history=50",
	}
	for _, cmd := range []string{"serve", "edge", "core", "api"} {
		c := parse(t, append([]string{cmd}, args...)...)
		var f historyFlags
		switch cmd {
		case "serve":
			f = c.Serve.historyFlags
		case "edge":
			f = c.Edge.historyFlags
		case "core":
			f = c.Core.historyFlags
		case "api":
			f = c.API.historyFlags
		}
		set, pol, err := f.namespaces()
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		rooms := history.Policy{Size: 200, TTL: 3 * time.Minute}
		want := map[string]namespace.Options{
			"chat/1":   {History: rooms, JoinLeave: true, ClientPresence: true},
			"ticker/x": {History: history.Policy{Size: -1, TTL: 3 * time.Minute}, NoPresence: true},
			"team/7":   {History: history.Policy{Size: 50, TTL: 3 * time.Minute}, Join: namespace.JoinServer},
			"news":     {},
		}
		for room, o := range want {
			if got := set.For(room); got != o {
				t.Errorf("%s: %s gets %+v, want %+v", cmd, room, got, o)
			}
		}
		for stream, p := range map[string]history.Policy{
			history.RoomStream("news"):     rooms,
			history.RoomStream("ticker/x"): {Size: -1, TTL: 3 * time.Minute},
			history.RoomStream("team/7"):   {Size: 50, TTL: 3 * time.Minute},
		} {
			if got := pol.For(stream); got != p {
				t.Errorf("%s: %s keeps %+v, want %+v", cmd, stream, got, p)
			}
		}
	}

	// The empty prefix sets every other room, history included.
	c := parse(t, "serve", "--namespace", ":history=7,join=public", "--namespace", "chat/:join-leave=on")
	set, pol, err := c.Serve.namespaces()
	if err != nil {
		t.Fatal(err)
	}
	if got := pol.For(history.RoomStream("chat/1")); got.Size != 7 {
		t.Errorf("chat/1 keeps %+v, want the empty prefix's 7 messages", got)
	}
	if got := set.For("news"); got.Join != namespace.JoinPublic || got.History.Size != 7 {
		t.Errorf("news gets %+v", got)
	}

	// No namespace: no set at all (every room the defaults).
	if set, _, err := parse(t, "serve").Serve.namespaces(); set != nil || err != nil {
		t.Errorf("no flags: %+v, %v", set, err)
	}
	for _, bad := range []string{"chat/:join=anyone", "history=1", "x:presence=maybe"} {
		_, _, err := parse(t, "serve", "--namespace", bad).Serve.namespaces()
		if err == nil || !strings.HasPrefix(err.Error(), "--namespace: namespace ") {
			t.Errorf("--namespace %q: %v", bad, err)
		}
	}
}
