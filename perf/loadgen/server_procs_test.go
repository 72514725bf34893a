package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseServerProcs(t *testing.T) {
	for _, tc := range []struct {
		admins, pids string
		want         []serverProc
		err          string
	}{
		{"", "", nil, ""},
		{"", "123", []serverProc{{name: "pid123", pid: 123}}, ""},
		{"127.0.0.1:9101", "", []serverProc{{name: "127.0.0.1:9101", admin: "127.0.0.1:9101"}}, ""},
		{
			"api=127.0.0.1:9104, core1=127.0.0.1:9103,edge1=127.0.0.1:9101,", "kafka=10,redis=11,edge1=12",
			[]serverProc{
				{name: "api", admin: "127.0.0.1:9104"},
				{name: "core1", admin: "127.0.0.1:9103"},
				{name: "edge1", admin: "127.0.0.1:9101", pid: 12},
				{name: "kafka", pid: 10},
				{name: "redis", pid: 11},
			}, "",
		},
		{"api=9104", "", nil, "want host:port"},
		{"a=127.0.0.1:1,a=127.0.0.1:2", "", nil, "given twice"},
		{"", "x", nil, "want a pid"},
		{"", "a=1,a=2", nil, "given twice"},
		{"", "0", nil, "want a pid"},
	} {
		got, err := parseServerProcs(tc.admins, tc.pids)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseServerProcs(%q, %q) = %v, %v; want an error with %q", tc.admins, tc.pids, got, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseServerProcs(%q, %q) = %+v, %v; want %+v", tc.admins, tc.pids, got, err, tc.want)
		}
	}
}

func TestEdgeFor(t *testing.T) {
	edges := splitList("a:1, b:2")
	var got []string
	for i := range 4 {
		got = append(got, edgeFor(edges, 0, i))
	}
	// A worker whose users start at 3 continues the global pattern.
	got = append(got, edgeFor(edges, 3, 0), edgeFor(edges, 3, 1))
	want := []string{"a:1", "b:2", "a:1", "b:2", "b:2", "a:1"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("edges %v, want %v", got, want)
	}
}

// TestTargetSample reads two processes' CPU and RSS from their /metrics and
// sums the rest of their metrics.
func TestTargetSample(t *testing.T) {
	serve := func(cpu, rss, deliveries float64) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, "# HELP x\nprocess_cpu_seconds_total %g\nprocess_resident_memory_bytes %g\n", cpu, rss)
			fmt.Fprintf(w, "quicpush_edge_deliveries_total{transport=\"tcp\"} %g\n", deliveries)
			fmt.Fprintf(w, "quicpush_edge_disconnects_total{code=\"3000\"} 1\n")
		}))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	a, b := serve(1.5, 100, 10), serve(0.25, 50, 5)
	procs, err := parseServerProcs("edge1="+a+",edge2="+b, "")
	if err != nil {
		t.Fatal(err)
	}
	tgt := &target{procs: procs}
	s := tgt.sample()
	if !s.ok || s.cpu != 1750*time.Millisecond || s.rss != 150 || len(s.procs) != 2 || s.procs[1].cpu != 250*time.Millisecond {
		t.Errorf("sample = %+v", s)
	}
	m := tgt.metrics()
	if !m.ok || m.deliveries != 15 || m.disconnects["3000"] != 2 {
		t.Errorf("metrics = %+v", m)
	}
	if s.gone() {
		t.Error("gone with both processes up")
	}
	tgt.procs = append(tgt.procs, serverProc{name: "dead", admin: "127.0.0.1:1"})
	if s := tgt.sample(); s.ok || !s.gone() {
		t.Errorf("sample with a dead process = %+v", s)
	}
}
