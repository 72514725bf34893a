package main

import (
	"testing"
	"time"

	"github.com/quicpush/quicpush/edge"
)

// edgeConfigOf parses cmd ("serve" or "edge") with args and returns the edge
// configuration its flags make.
func edgeConfigOf(t *testing.T, cmd string, args []string) edge.Config {
	t.Helper()
	c := parse(t, append([]string{cmd}, args...)...)
	f := c.Serve.edgeFlags
	if cmd == "edge" {
		f = c.Edge.edgeFlags
	}
	ec, err := f.config("", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	return ec
}

// --write-budget reaches the edge: its default, a value, and 0 as "write
// every message at once" (the edge's negative).
func TestWriteBudgetFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{nil, 350 * time.Millisecond},
		{[]string{"--write-budget=100ms"}, 100 * time.Millisecond},
		{[]string{"--write-budget=0"}, -1},
	} {
		for _, cmd := range []string{"serve", "edge"} {
			ec := edgeConfigOf(t, cmd, tc.args)
			if ec.WriteBudget != tc.want {
				t.Errorf("%s %v: WriteBudget %v, want %v", cmd, tc.args, ec.WriteBudget, tc.want)
			}
		}
	}
}

// --quic-0rtt reaches the edge: on by default, off with --no-quic-0rtt.
func TestQUIC0RTTFlag(t *testing.T) {
	for _, tc := range []struct {
		args        []string
		wantDisable bool
	}{
		{nil, false},
		{[]string{"--quic-0rtt"}, false},
		{[]string{"--no-quic-0rtt"}, true},
	} {
		for _, cmd := range []string{"serve", "edge"} {
			ec := edgeConfigOf(t, cmd, tc.args)
			if ec.Disable0RTT != tc.wantDisable {
				t.Errorf("%s %v: Disable0RTT %v, want %v", cmd, tc.args, ec.Disable0RTT, tc.wantDisable)
			}
		}
	}
}

// --presence-list-max reaches the edge: 1000 by default, or the value given.
func TestPresenceListMaxFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 1000},
		{[]string{"--presence-list-max=50"}, 50},
	} {
		for _, cmd := range []string{"serve", "edge"} {
			if got := edgeConfigOf(t, cmd, tc.args).PresenceListMax; got != tc.want {
				t.Errorf("%s %v: PresenceListMax %d, want %d", cmd, tc.args, got, tc.want)
			}
		}
	}
}
