// Package promscrape reads what a quicpush process serves on its admin
// /metrics page (the Prometheus text format) for tests that watch a running
// process from outside: parsed by the Prometheus project's own parser, so
// label order, escaping, histograms and comments need no hand-written
// handling.
//
//	m, err := promscrape.Fetch(ctx, "http://"+admin+"/metrics")
//	if err != nil {
//		t.Fatal(err)
//	}
//	rooms := m.Sum("quicpush_edge_messages_total", map[string]string{"kind": "room"})
package promscrape
