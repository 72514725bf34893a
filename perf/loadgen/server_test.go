package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestScrapeLabels reads the labels the report keeps metrics by (resumes
// by stream and result, refusals by limit, disconnects by code) and the
// push API's PushRoom timing out of a histogram.
func TestScrapeLabels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `# TYPE quicpush_edge_resumes_total counter
quicpush_edge_resumes_total{result="recovered",stream="room"} 3
quicpush_edge_resumes_total{result="none",stream="user"} 1
# TYPE quicpush_edge_limited_total counter
quicpush_edge_limited_total{limit="quic_retry",transport="quic"} 2
quicpush_edge_limited_total{xlimit="a",limit="b"} 5
# TYPE quicpush_edge_disconnects_total counter
quicpush_edge_disconnects_total{code="3001"} 4
quicpush_edge_disconnects_total{a="b"} 9
# TYPE quicpush_pushapi_request_duration_seconds histogram
quicpush_pushapi_request_duration_seconds_bucket{method="PushRoom",le="+Inf"} 10
quicpush_pushapi_request_duration_seconds_sum{method="PushRoom"} 0.5
quicpush_pushapi_request_duration_seconds_count{method="PushRoom"} 10
quicpush_pushapi_request_duration_seconds_bucket{method="Broadcast",le="+Inf"} 1
quicpush_pushapi_request_duration_seconds_sum{method="Broadcast"} 7
quicpush_pushapi_request_duration_seconds_count{method="Broadcast"} 1
# TYPE quicpush_core_batch_messages histogram
quicpush_core_batch_messages_bucket{le="+Inf"} 6
quicpush_core_batch_messages_sum 30
quicpush_core_batch_messages_count 6
`)
	}))
	defer srv.Close()
	s := scrapeMetrics(strings.TrimPrefix(srv.URL, "http://"))
	if !s.ok {
		t.Fatal("scrape failed")
	}
	if s.resumes["room recovered"] != 3 || s.resumes["user none"] != 1 || len(s.resumes) != 2 {
		t.Errorf("resumes %v", s.resumes)
	}
	if s.limited["quic_retry"] != 2 || s.limited["b"] != 5 || len(s.limited) != 2 {
		t.Errorf("limited %v", s.limited)
	}
	if s.disconnects["3001"] != 4 || len(s.disconnects) != 1 {
		t.Errorf("disconnects %v (a series without a code is not one)", s.disconnects)
	}
	if s.apiSum != 0.5 || s.apiCount != 10 || s.batchSum != 30 || s.batchCount != 6 {
		t.Errorf("histograms: api %g/%g, batches %g/%g", s.apiSum, s.apiCount, s.batchSum, s.batchCount)
	}
}

// TestProc reads this process and the machine from /proc, and the drops
// of a UDP socket whose receive buffer overflows.
func TestProc(t *testing.T) {
	p := readProc(os.Getpid())
	for end := time.Now().Add(5 * time.Second); p.ok && p.cpu == 0 && time.Now().Before(end); {
		p = readProc(os.Getpid()) // reading /proc costs CPU time too
	}
	if !p.ok || p.cpu <= 0 || p.rss <= 0 {
		t.Errorf("readProc(self) = %+v", p)
	}
	if p := readProc(0); p.ok {
		t.Errorf("readProc(0) = %+v", p)
	}
	if b := machineBusy(); b <= 0 {
		t.Errorf("machineBusy = %v", b)
	}
	if s := machineSteal(); s < 0 {
		t.Errorf("machineSteal = %v", s)
	}

	rc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := rc.SetReadBuffer(1); err != nil { // the kernel's minimum, a few KiB
		t.Fatal(err)
	}
	ports := map[int]bool{port(rc.LocalAddr().String()): true}
	if d := udpDrops(ports); d != 0 {
		t.Fatalf("udpDrops of a fresh socket = %d", d)
	}
	wc, err := net.DialUDP("udp4", nil, rc.LocalAddr().(*net.UDPAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	for range 200 {
		_, _ = wc.Write(make([]byte, 1000))
	}
	if d := udpDrops(ports); d <= 0 {
		t.Errorf("udpDrops after overflowing the receive buffer = %d", d)
	}
}
