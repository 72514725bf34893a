package pushapi

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	ts := runServer(t, Config{Registerer: reg})
	ctx := t.Context()
	ok := ts.client(protocols[0], "Bearer "+testKey)
	for range 2 {
		if _, err := ok.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"})); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ok.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Text: "x"})); err != nil {
		t.Fatal(err)
	}
	_, err := ok.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r"}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("invalid request: %v", err)
	}
	_, err = ts.client(protocols[0], "").PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"}))
	if connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("request without key: %v", err)
	}

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := make(map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			key := f.GetName()
			for _, l := range m.GetLabel() {
				key += " " + l.GetName() + "=" + l.GetValue()
			}
			got[key] = value(m)
		}
	}
	want := map[string]float64{
		"quicpush_pushapi_requests_total code=ok method=PushRoom":               2,
		"quicpush_pushapi_requests_total code=ok method=Broadcast":              1,
		"quicpush_pushapi_requests_total code=invalid_argument method=PushRoom": 1,
		"quicpush_pushapi_requests_total code=unauthenticated method=PushRoom":  1,
		"quicpush_pushapi_request_duration_seconds method=PushRoom":             4,
		"quicpush_pushapi_request_duration_seconds method=Broadcast":            1,
		"quicpush_pushapi_messages_accepted_total kind=room":                    2,
		"quicpush_pushapi_messages_accepted_total kind=broadcast":               1,
		"quicpush_pushapi_messages_accepted_total kind=keys":                    0,
		"quicpush_pushapi_messages_accepted_total kind=users":                   0,
		"quicpush_pushapi_messages_accepted_total kind=disconnect":              0,
		"quicpush_pushapi_messages_accepted_total kind=subscribe":               0,
		"quicpush_pushapi_messages_accepted_total kind=unsubscribe":             0,
		"quicpush_pushapi_idempotent_replays_total":                             0,
		"quicpush_pushapi_rate_limited_total":                                   0,
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %t), want %v", k, g, ok, v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d series, want %d: %v", len(got), len(want), got)
	}
}

// value is a counter's value or a histogram's sample count.
func value(m *dto.Metric) float64 {
	if h := m.GetHistogram(); h != nil {
		return float64(h.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

// TestMetricsPublishFailure checks that a message the bus refused is not
// counted as accepted.
func TestMetricsPublishFailure(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	pub := &fakePublisher{fn: func(context.Context, *push.Message) error { return errors.New("down") }}
	ts := runServer(t, Config{Publisher: pub, Registerer: reg})
	for _, c := range pushCalls {
		if _, err := c.do(t.Context(), ts.client(protocols[0], "Bearer "+testKey)); connect.CodeOf(err) != connect.CodeUnavailable {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	unavailable := 0.0
	for _, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetName() {
			case "quicpush_pushapi_messages_accepted_total":
				if v := value(m); v != 0 {
					t.Errorf("%s %v = %v, want 0", f.GetName(), m.GetLabel(), v)
				}
			case "quicpush_pushapi_requests_total":
				unavailable += value(m)
				for _, l := range m.GetLabel() {
					if l.GetName() == "code" && l.GetValue() != "unavailable" {
						t.Errorf("%s %v counted", f.GetName(), m.GetLabel())
					}
				}
			}
		}
	}
	if unavailable != float64(len(pushCalls)) {
		t.Errorf("%v unavailable requests counted, want %d", unavailable, len(pushCalls))
	}
}
