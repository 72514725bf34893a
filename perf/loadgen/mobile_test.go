package main

import (
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// TestMoveSchedule checks that the moves are staggered evenly, in time
// order, that every client moves every period, and none at the start.
func TestMoveSchedule(t *testing.T) {
	const n, every, span = 10, 30 * time.Second, 78 * time.Second
	s := moveSchedule(n, every, span)
	per := make(map[int][]time.Duration)
	for k, mv := range s {
		if k > 0 && mv.at < s[k-1].at {
			t.Fatalf("move %d at %v before move %d at %v", k, mv.at, k-1, s[k-1].at)
		}
		if mv.at <= 0 || mv.at >= span {
			t.Fatalf("move at %v outside (0, %v)", mv.at, span)
		}
		per[mv.client] = append(per[mv.client], mv.at)
	}
	if len(per) != n {
		t.Fatalf("%d clients move, want %d", len(per), n)
	}
	for i, ats := range per {
		if first := time.Duration(int64(every) * int64(i+1) / n); ats[0] != first {
			t.Errorf("client %d first moves at %v, want %v", i, ats[0], first)
		}
		for k := 1; k < len(ats); k++ {
			if ats[k]-ats[k-1] != every {
				t.Errorf("client %d moves %v apart", i, ats[k]-ats[k-1])
			}
		}
		if want := int((span - ats[0] + every - 1) / every); len(ats) != want {
			t.Errorf("client %d moves %d times, want %d", i, len(ats), want)
		}
	}
	// Consecutive first moves are a tenth of the period apart.
	if s[1].at-s[0].at != every/n {
		t.Errorf("stagger %v, want %v", s[1].at-s[0].at, every/n)
	}
	if moveSchedule(n, 0, span) != nil || moveSchedule(0, every, span) != nil {
		t.Error("no period or no clients should mean no moves")
	}
}

func TestPushRoom(t *testing.T) {
	frame := wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "hol-b", ID: "m", Data: []byte(`{"t":1}`)})
	_, body, _, ok, err := wire.Split(frame, len(frame))
	if err != nil || !ok {
		t.Fatalf("split: %v %v", ok, err)
	}
	room, ok := pushRoom(body)
	if !ok || string(room) != "hol-b" {
		t.Fatalf("pushRoom = %q, %v", room, ok)
	}
	for k := range 2 + len("hol-b") {
		if _, ok := pushRoom(body[:k]); ok {
			t.Errorf("a body cut to %d bytes gave a room", k)
		}
	}
}

// TestMobileTables renders both tables and the plots from results.
func TestMobileTables(t *testing.T) {
	rows := []mobileResult{
		{Transport: "quic", LossPct: 0, Connected: 10, Moves: 20, Expected: 1000, P50ms: 25, P99ms: 30, P999ms: 40,
			Hol: &holResult{BothP99ms: 40, OnlyP99ms: 30}},
		{Transport: "quic", LossPct: 5, Connected: 10, Moves: 20, Expected: 1000, P50ms: 26, P99ms: 80, P999ms: 140,
			Hol: &holResult{BothP99ms: 120, OnlyP99ms: 80}},
		{Transport: "tcp", LossPct: 5, Connected: 10, Moves: 20, Reconnects: 20, Expected: 1000, P50ms: 26, P99ms: 230, P999ms: 330,
			Hol: &holResult{BothP99ms: 240, OnlyP99ms: 230}},
	}
	var b strings.Builder
	mobileTable(&b, rows)
	if got := strings.Count(b.String(), "\n"); got != 2+len(rows) {
		t.Errorf("mobile table has %d lines, want %d:\n%s", got, 2+len(rows), b.String())
	}
	if !strings.Contains(b.String(), "| tcp | 5% | 10 | 20 | 20 |") {
		t.Errorf("mobile table:\n%s", b.String())
	}
	b.Reset()
	holTable(&b, rows)
	if !strings.Contains(b.String(), "+40.0") {
		t.Errorf("hol table lacks quic's p99 difference at 5%%:\n%s", b.String())
	}
	dir := t.TempDir()
	for _, mode := range []string{"mobile", "hol"} {
		if err := writeMobile(dir, mode, rows); err != nil {
			t.Fatal(err)
		}
	}
}
