package promscrape

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const page = `# HELP quicpush_edge_messages_total Messages handed to this edge by core, by kind.
# TYPE quicpush_edge_messages_total counter
quicpush_edge_messages_total{kind="room",transport="quic"} 3
quicpush_edge_messages_total{transport="tcp",kind="room"} 4
quicpush_edge_messages_total{kind="users",transport="quic"} 5
quicpush_edge_messages_total{kind="roomy",transport="quic"} 100
# TYPE go_goroutines gauge
go_goroutines 42
# TYPE quicpush_push_seconds histogram
quicpush_push_seconds_bucket{le="0.1"} 6
quicpush_push_seconds_bucket{le="+Inf"} 7
quicpush_push_seconds_sum 0.5
quicpush_push_seconds_count 7
`

func TestSum(t *testing.T) {
	m, err := Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"quicpush_edge_messages_total", map[string]string{"kind": "room"}, 7}, // label order does not matter; "roomy" is not "room"
		{"quicpush_edge_messages_total", map[string]string{"kind": "room", "transport": "tcp"}, 4},
		{"quicpush_edge_messages_total", map[string]string{"kind": "users"}, 5},
		{"quicpush_edge_messages_total", map[string]string{"shard": "1"}, 0}, // a label no sample has
		{"quicpush_edge_messages_total", nil, 112},
		{"go_goroutines", nil, 42},
		{"quicpush_push_seconds", nil, 7},
		{"absent_total", nil, 0},
	} {
		if got := m.Sum(tc.name, tc.labels); got != tc.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := Parse(strings.NewReader("not a metric line {\n")); err == nil {
		t.Fatal("Parse accepted garbage")
	}
}

// TestFetchPromhttp reads what client_golang serves, as the admin page does.
func TestFetchPromhttp(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "Requests."}, []string{"code"})
	reg.MustRegister(c)
	c.WithLabelValues("200").Add(3)
	c.WithLabelValues("500").Inc()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()

	m, err := Fetch(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got := m.Sum("requests_total", map[string]string{"code": "200"}); got != 3 {
		t.Errorf("requests_total{code=200} = %v, want 3", got)
	}
	if got := m.Sum("requests_total", nil); got != 4 {
		t.Errorf("requests_total = %v, want 4", got)
	}

	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	if _, err := Fetch(t.Context(), notFound.URL); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("Fetch of a 404: %v", err)
	}
}
