package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// frontierRun is a synthetic goim-room result at one write budget.
func frontierRun(transport, budget string, cpuPerM, p99, genUtil float64) result {
	r := result{
		Time: "2026-12-07T10:00:00Z", Scenario: "goim-room", Label: budget, Transport: transport,
		Conns: 10000, ConnsOK: 10000, Rate: 40, PushRate: 40, DurationS: 20, PayloadBytes: 34,
		CPUsPerMillion: cpuPerM, P50ms: p99 / 2, P99ms: p99, ServerCPUUtil: 0.9, GenCPUUtil: genUtil,
	}
	if budget != "" {
		r.ServerFlags = []string{"--admin-addr=127.0.0.1:0", "--write-budget=" + budget}
	}
	return r
}

func writeRuns(t *testing.T, dir string, rs ...result) {
	t.Helper()
	for i, r := range rs {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Join(dir, r.Transport+"-"+strings.ReplaceAll(r.Label, " ", "_")+"-"+string(rune('a'+i))+".json")
		if err := os.WriteFile(name, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestGenBound(t *testing.T) {
	for _, tc := range []struct {
		util float64
		want bool
	}{{0, false}, {0.5, false}, {0.85, false}, {0.851, true}, {1.0, true}} {
		if got := genBound(result{GenCPUUtil: tc.util}); got != tc.want {
			t.Errorf("genBound(gen_cpu_util %v) = %v, want %v", tc.util, got, tc.want)
		}
	}
}

func TestRunBudget(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		label string
		want  string
		d     time.Duration
	}{
		{[]string{"--write-budget=200ms"}, "frontier", "200ms", 200 * time.Millisecond},
		{[]string{"--write-budget", "50ms"}, "", "50ms", 50 * time.Millisecond},
		{[]string{"--write-budget=0"}, "0", "0", 0},
		{nil, "350ms", "350ms", 350 * time.Millisecond},
		{[]string{"--merge-window=10ms"}, "goim", "default", -1},
	} {
		got, d := runBudget(result{ServerFlags: tc.flags, Label: tc.label})
		if got != tc.want || d != tc.d {
			t.Errorf("runBudget(%q, label %q) = %q, %v; want %q, %v", tc.flags, tc.label, got, d, tc.want, tc.d)
		}
	}
}

func TestFrontier(t *testing.T) {
	dir := t.TempDir()
	disturbed := frontierRun("quic", "200ms", 1.1, 260, 0.5)
	disturbed.Disturbed = true
	writeRuns(t, dir,
		frontierRun("tcp", "500ms", 0.4, 520, 0.6),
		frontierRun("tcp", "0", 2.4, 6, 0.7),
		frontierRun("tcp", "50ms", 1.2, 60, 0.95),
		frontierRun("quic", "0", 4.0, 12, 0.4),
		disturbed,
		frontierRun("ws", "", 0.5, 380, 0.3),
	)
	// Not on the frontier: another scenario in the same folder.
	sat := frontierRun("tcp", "0", 1, 1, 0.1)
	sat.Scenario, sat.Label = "saturation", "x"
	writeRuns(t, dir, sat)

	out := filepath.Join(dir, "frontier.png")
	if err := writeFrontier(dir, out); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("frontier.png does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
		t.Errorf("frontier.png is %v", b)
	}

	md, err := os.ReadFile(filepath.Join(dir, "frontier.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for line := range strings.SplitSeq(string(md), "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| transport") {
			rows = append(rows, line)
		}
	}
	// By transport, then budget, the default last; the saturation run left out.
	want := []string{
		"| tcp | 0 | 10000 | 40 | 2.40 | 3.0 | 6.0 | 90% | 70% | 0 | no | no |",
		"| tcp | 50ms | 10000 | 40 | 1.20 | 30.0 | 60.0 | 90% | 95% | 0 | yes | no |",
		"| tcp | 500ms | 10000 | 40 | 0.40 | 260 | 520 | 90% | 60% | 0 | no | no |",
		"| ws | default | 10000 | 40 | 0.50 | 190 | 380 | 90% | 30% | 0 | no | no |",
		"| quic | 0 | 10000 | 40 | 4.00 | 6.0 | 12.0 | 90% | 40% | 0 | no | no |",
		"| quic | 200ms | 10000 | 40 | 1.10 | 130 | 260 | 90% | 50% | 0 | no | yes |",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("frontier.md rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// The line of each transport skips the excluded runs.
	var onLine []string
	for _, p := range frontierPoints([]result{frontierRun("tcp", "0", 2, 5, 0.9), frontierRun("tcp", "50ms", 1, 50, 0.2), disturbed}) {
		if !p.excluded() {
			onLine = append(onLine, p.r.Transport+" "+p.budget)
		}
	}
	if got := strings.Join(onLine, ", "); got != "tcp 50ms" {
		t.Errorf("on the line: %s, want tcp 50ms", got)
	}
}

func TestFrontierEmpty(t *testing.T) {
	dir := t.TempDir()
	if err := writeFrontier(dir, filepath.Join(dir, "frontier.png")); err == nil {
		t.Error("no runs: want an error")
	}
}

func TestTableMarksGeneratorBound(t *testing.T) {
	dir := t.TempDir()
	writeRuns(t, dir, frontierRun("tcp", "0", 2, 5, 0.9), frontierRun("ws", "0", 2, 5, 0.4))
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := printTable(&b, files); err != nil {
		t.Fatal(err)
	}
	var tcp, ws string
	for line := range strings.SplitSeq(b.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "| tcp "):
			tcp = line
		case strings.HasPrefix(line, "| ws "):
			ws = line
		}
	}
	if !strings.Contains(tcp, "| 90% (generator-bound) |") {
		t.Errorf("tcp row (generator 90%% busy) not marked: %s", tcp)
	}
	if ws == "" || strings.Contains(ws, "generator-bound") {
		t.Errorf("ws row (generator 40%% busy): %q", ws)
	}
}
