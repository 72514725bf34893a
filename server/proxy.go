package server

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/quicpush/quicpush/edge"
	"github.com/quicpush/quicpush/proxy"
)

// proxyHooks builds the edge's hooks to the application's backend, nil (no
// hooks) when cfg configures neither.
func proxyHooks(cfg proxy.Config, log *slog.Logger, reg prometheus.Registerer) (edge.ProxyHooks, error) {
	if !cfg.Enabled() {
		return nil, nil
	}
	cfg.Logger = log.With("component", "proxy")
	cfg.Registerer = reg
	c, err := proxy.New(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
