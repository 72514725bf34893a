package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// pushBody encodes a room push as the edge sends it and returns its body.
func pushBody(t *testing.T, n int64, off uint64, epoch string) []byte {
	t.Helper()
	p := &pusher{numbered: true}
	frame := wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "bench", ID: "m-1", Offset: off, Epoch: epoch,
		Data: []byte(p.body(n, 1767225600123456789))})
	_, body, _, ok, err := wire.Split(frame, len(frame))
	if err != nil || !ok {
		t.Fatalf("split: %v %v", ok, err)
	}
	return body
}

func TestPushPosition(t *testing.T) {
	body := pushBody(t, 7, 1<<40+3, "e1")
	off, epoch, data, ok := pushPosition(body)
	if !ok || off != 1<<40+3 || string(epoch) != "e1" {
		t.Fatalf("pushPosition = %d, %q, %v", off, epoch, ok)
	}
	var want wire.Push
	if err := want.Decode(body); err != nil || !bytes.Equal(data, want.Data) {
		t.Fatalf("data %q, want %q (%v)", data, want.Data, err)
	}
	if n, ok := intField(data, numKey); !ok || n != 7 {
		t.Fatalf("n = %d, %v", n, ok)
	}
	// No position: a stream without history.
	off, epoch, _, ok = pushPosition(pushBody(t, 1, 0, ""))
	if !ok || off != 0 || len(epoch) != 0 {
		t.Fatalf("no position: %d, %q, %v", off, epoch, ok)
	}
	for k := range body {
		if _, _, _, ok := pushPosition(body[:k]); ok {
			t.Errorf("truncated body of %d bytes parsed", k)
		}
	}
}

func TestPositionSet(t *testing.T) {
	p := position{off: 5, epoch: "a"}
	p.set(wire.RecoveryRecovered, 9, "a")
	if p != (position{5, "a"}) {
		t.Errorf("recovered moved the position: %+v", p)
	}
	p.set(wire.RecoveryNone, 0, "")
	if p != (position{5, "a"}) {
		t.Errorf("a reply without a position moved it: %+v", p)
	}
	p.set(wire.RecoveryNotRecovered, 20, "b")
	if p != (position{20, "b"}) {
		t.Errorf("not recovered: %+v", p)
	}
}

func TestResumeTracker(t *testing.T) {
	tr := newResumeTracker(2, 8)
	tr.slots[0].active = true
	tr.slots[1].active = true
	for i := range 2 {
		tr.onJoinOK(i, &wire.JoinOK{Room: "bench", Offset: 0, Epoch: "e"})
	}
	now := time.Now().UnixNano()
	due := func(n int) int64 { return now + int64(n)*int64(time.Second) }
	push := func(i, n int) { tr.onPush(i, pushBody(t, int64(n), uint64(10*(n+1)), "e"), due(n), due(n)) }
	for n := range 6 {
		tr.done(int64(n), due(n), nil)
	}
	tr.done(6, due(6), errors.New("refused"))
	// Both get 0 and 1 live, then the cut; 2 and 3 are missed.
	for i := range 2 {
		push(i, 0)
		push(i, 1)
	}
	if off, ep := tr.roomPosition(0); off != 20 || ep != "e" {
		t.Fatalf("position %d %q", off, ep)
	}
	tr.storm.Store(true)
	tr.slots[0].reconnStart = due(3)
	// Client 0 rejoins at due(4)-: recovered, replay 2 and 3 (its position
	// is 20), a repeat of 1 (dropped by position), then 4 and 5 live.
	tr.onJoinOK(0, &wire.JoinOK{Room: "bench", Recovery: wire.RecoveryRecovered, Offset: 40, Epoch: "e"})
	tr.slots[0].rejoinedAt = due(4) - 1
	push(0, 2)
	push(0, 3)
	push(0, 1)
	if tr.caught.Load() != 0 {
		t.Fatal("caught up before a push due after the JoinOK")
	}
	push(0, 4)
	if tr.caught.Load() != 1 {
		t.Fatal("not caught up after the replay and a live push")
	}
	push(0, 5)
	// Client 1 is told not recovered and misses 2 and 3.
	tr.onJoinOK(1, &wire.JoinOK{Room: "bench", Recovery: wire.RecoveryNotRecovered, Offset: 40, Epoch: "e"})
	push(1, 4)
	push(1, 5)
	push(1, 4) // a repeat
	if tr.replayed.Load() != 2 {
		t.Errorf("replayed %d, want 2", tr.replayed.Load())
	}
	if tr.roomRec[wire.RecoveryRecovered].Load() != 1 || tr.roomRec[wire.RecoveryNotRecovered].Load() != 1 {
		t.Errorf("recoveries %d recovered, %d not", tr.roomRec[1].Load(), tr.roomRec[2].Load())
	}
	if m := tr.missing(2); m != 2 {
		t.Errorf("missing %d, want 2", m)
	}
	var sr stormResult
	tr.account(&sr)
	if sr.Pushes != 6 || sr.PushErrors != 1 || sr.Expected != 12 || sr.Delivered != 10 || sr.Lost != 2 ||
		sr.DupByPosition != 2 || sr.DupAfterDedup != 0 || sr.Extra != 0 {
		t.Errorf("account: %+v", sr)
	}
}

func TestResumeTrackerNoPositions(t *testing.T) {
	// Without history pushes carry no position: repeats are caught by
	// push number alone.
	tr := newResumeTracker(1, 4)
	tr.slots[0].active = true
	tr.done(0, 0, nil)
	tr.done(1, 0, errors.New("timeout"))
	tr.done(2, 0, nil)
	tr.onPush(0, pushBody(t, 0, 0, ""), 0, 0)
	tr.onPush(0, pushBody(t, 0, 0, ""), 0, 0)
	tr.onPush(0, pushBody(t, 1, 0, ""), 0, 0) // refused by the API, delivered all the same
	if m := tr.missing(1); m != 1 {
		t.Errorf("missing %d, want 1 (push 2)", m)
	}
	tr.onPush(0, pushBody(t, 2, 0, ""), 0, 0)
	if m := tr.missing(1); m != 0 {
		t.Errorf("missing %d, want 0", m)
	}
	var sr stormResult
	tr.account(&sr)
	if sr.Delivered != 2 || sr.DupAfterDedup != 1 || sr.Lost != 0 || sr.Extra != 1 {
		t.Errorf("account: %+v", sr)
	}
}

func TestHistoryReport(t *testing.T) {
	off := []string{"--admin-addr=127.0.0.1:0", "--history-size=-1", "--user-history-size=-1"}
	rows := []result{
		{Scenario: "goim-room", Transport: "tcp", Conns: 2000, ConnsOK: 2000, Rate: 40, PushRate: 40, CPUsPerMillion: 10, DeliveriesPerS: 80000},
		{Scenario: "goim-room", Transport: "tcp", Conns: 2000, ConnsOK: 2000, Rate: 40, PushRate: 40, CPUsPerMillion: 8, DeliveriesPerS: 80000, ServerFlags: off},
		{Scenario: "goim-room", Transport: "quic", Conns: 2000, ConnsOK: 2000, Rate: 40, PushRate: 40},
		{Scenario: "resume-storm", Transport: "tcp", Conns: 10, ConnsOK: 10, Rate: 10, PushRate: 10,
			Storm: &stormResult{Clients: 10, Concurrency: 10}},
		{Scenario: "resume-storm", Transport: "tcp", Conns: 20, ConnsOK: 20, Rate: 10, PushRate: 10,
			Errors: map[string]int64{"reconnect dial: timeout": 2, "reconnect dial: CONNECTION_REFUSED (remote)": 3, "dial: timeout": 1, "connect again auth: eof": 4, "lost: eof": 1},
			Storm:  &stormResult{Clients: 20, Concurrency: 20, AllRejoinedS: 2.5, AllCaughtUpS: 2.6, Rejoined: 20, CaughtUp: 20, Recovered: 20}},
	}
	if !historyOff(rows[1]) || historyOff(rows[0]) {
		t.Fatal("historyOff")
	}
	ps := historyPairs(rows, "goim-room")
	if len(ps) != 1 || ps[0].on.CPUsPerMillion != 10 || ps[0].off.CPUsPerMillion != 8 {
		t.Fatalf("pairs: %+v", ps)
	}
	var b strings.Builder
	renderReport(&b, "x", rows, nil)
	out := b.String()
	for _, want := range []string{"Cost of history", "| 10.00 / 8.00 | +25% |", "Resume storm", "| tcp | 10 | on | 10 | 0.0 | 10 | not all (0) | not all (0 of 10) |",
		"| tcp | 20 | on | 10 | 0.0 | 20 | 2.50 | 2.60 |", "connect again auth x4; connect dial x1; lost x1; reconnect dial x5 |"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}
