package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Admin is the operations listener every process runs: Prometheus
// /metrics, /healthz (the process runs), /readyz (it can do its work now:
// load balancers and orchestrators route to it) and /debug/pprof/. It belongs
// on loopback or a private network.
type Admin struct {
	*health
	http *httpService
}

// health answers /healthz and /readyz from readiness checks, for an admin
// listener and, in the single process, for the API port as well.
type health struct {
	mu     sync.Mutex
	checks []readyCheck
	down   string // set while draining: not ready, whatever the checks say
}

type readyCheck struct {
	name string
	fn   func(context.Context) error
}

// StartAdmin listens on addr and serves the admin endpoints of reg.
func StartAdmin(addr string, reg *prometheus.Registry, log *slog.Logger) (*Admin, error) {
	return startAdminWith(addr, reg, log, &health{}, nil)
}

// startAdminWith is StartAdmin answering /readyz from h, with ui's page
// when ui is not nil.
func startAdminWith(addr string, reg *prometheus.Registry, log *slog.Logger, h *health, ui *adminUI) (*Admin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	h.handle(mux)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	if ui != nil {
		ui.handle(mux)
	}
	return &Admin{health: h, http: serveHTTP("admin listener", ln, mux, log)}, nil
}

// Addr is the admin listener's address.
func (a *Admin) Addr() net.Addr { return a.http.Addr() }

// handle serves /healthz (the process runs) and /readyz on mux.
func (h *health) handle(mux *http.ServeMux) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", h.ready)
}

// AddCheck adds a readiness check; /readyz answers 200 only when every check
// passes within a second.
func (h *health) AddCheck(name string, fn func(context.Context) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks = append(h.checks, readyCheck{name, fn})
}

// Draining makes /readyz fail from now on, with reason.
func (h *health) Draining(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down = reason
}

func (h *health) ready(w http.ResponseWriter, r *http.Request) {
	if why := h.status(r.Context()); why != "" {
		http.Error(w, "not ready: "+why, http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// status is why the process is not ready, or "" when it is.
func (h *health) status(ctx context.Context) string {
	h.mu.Lock()
	checks, down := h.checks, h.down
	h.mu.Unlock()
	if down != "" {
		return down
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	for _, c := range checks {
		if err := c.fn(ctx); err != nil {
			return fmt.Sprintf("%s: %v", c.name, err)
		}
	}
	return ""
}

// Close stops the listener.
func (a *Admin) Close() error { return a.http.Close() }

// startAdmin starts the admin listener unless addr is empty.
func startAdmin(addr string, reg *prometheus.Registry, log *slog.Logger) (*Admin, error) {
	if addr == "" {
		return nil, nil
	}
	return StartAdmin(addr, reg, log)
}
