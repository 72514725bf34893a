package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/alecthomas/kong"
)

// parse reads args as loadgen's command line does and returns the command
// kong selected and the cli it filled.
func parse(t *testing.T, args ...string) (string, cli) {
	t.Helper()
	var c cli
	p, err := kong.New(&c, kong.Name("loadgen"), kong.WithHyphenPrefixedParameters(true),
		kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := p.Parse(args)
	if err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return ctx.Command(), c
}

// TestFlagDefaults pins the defaults the generator has always had: the
// results of runs made with different defaults would not compare.
func TestFlagDefaults(t *testing.T) {
	cmd, c := parse(t)
	if cmd != "run" {
		t.Fatalf("no command selects %q, want run", cmd)
	}
	got := c.Run.config()
	want := config{
		scenario: "goim-room", transport: "tcp", conns: 1000, rate: 40, duration: 10 * time.Second,
		warmup: 3 * time.Second, room: "bench", sources: 4, quicSockets: 8, pushers: 128, dialPar: 64,
		settle: 3 * time.Second, drain: 10 * time.Second,
		sat:    satConfig{factor: 2, step: 3 * time.Second, maxSteps: 12, gain: 1.1, p99Limit: time.Second, refine: 1},
		rooms:  roomsConfig{groupSize: 10, groupShare: 0.5, churnPerMin: 0.10, grace: 2 * time.Second},
		churn:  churnConfig{parallel: 32},
		storm:  stormConfig{gap: 2 * time.Second, timeout: time.Minute, tail: time.Second},
		devDir: ".quicpush-dev",
	}
	got.serverFlags = nil // nil or empty: both mean none
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
}

// TestFlagForms parses the command lines perf/bench.sh, perf/cluster.sh and
// the worker processes use.
func TestFlagForms(t *testing.T) {
	for _, args := range [][]string{
		{"--spawn", "--scenario", "idle"},
		{"run", "--spawn", "--scenario", "idle"},
	} {
		cmd, c := parse(t, append(args, "--server-flag=--admin-addr=127.0.0.1:0", "--server-flag", "--history-size=-1",
			"--gen-cpu", "1", "--rate", "100", "--sat-step", "2s", "--server-flag=--merge-window=5ms,x")...)
		cfg := c.Run.config()
		if cmd != "run" || !cfg.spawn || cfg.scenario != "idle" || cfg.genCPUs != "1" || cfg.sat.step != 2*time.Second {
			t.Errorf("%q: %s %+v", args, cmd, cfg)
		}
		if cfg.rate != 0 {
			t.Errorf("%q: idle pushes at %g/s", args, cfg.rate)
		}
		if want := []string{"--admin-addr=127.0.0.1:0", "--history-size=-1", "--merge-window=5ms,x"}; !reflect.DeepEqual(cfg.serverFlags, want) {
			t.Errorf("%q: server flags %q, want %q", args, cfg.serverFlags, want)
		}
	}
	cmd, c := parse(t, "worker", "--transport", "ws", "--conns", "500", "--first", "500", "--edge-tcp", "a:1,b:2")
	if cfg := c.Worker.config(); cmd != "worker" || cfg.transport != "ws" || cfg.conns != 500 || cfg.first != 500 || cfg.edgeTCP != "a:1,b:2" {
		t.Errorf("worker: %s %+v", cmd, cfg)
	}
	if cmd, c := parse(t, "table", "a.json", "b.json"); cmd != "table <files>" || len(c.Table.Files) != 2 {
		t.Errorf("table: %s %+v", cmd, c.Table)
	}
	if cmd, c := parse(t, "report", "dir"); cmd != "report <dir>" || c.Report.Dir != "dir" {
		t.Errorf("report: %s %+v", cmd, c.Report)
	}
}
