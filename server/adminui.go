package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
)

// AdminUIConfig turns on the live admin page (docs/admin.md) at /admin/ on
// the admin listener: the deployment's nodes and their health, connections
// by transport, the top rooms, deliveries per second and push latency over
// the last minutes, the cuts and refusals, and a button that drains an edge.
type AdminUIConfig struct {
	// Token protects the page's data and actions: every call to
	// /admin/api/ must carry it as "Authorization: Bearer TOKEN". Required.
	Token string
}

// ErrAdminToken is returned when the admin page is asked for without a
// token.
var ErrAdminToken = errors.New("server: the admin page needs a token")

//go:embed adminui
var adminAssets embed.FS

// adminUI serves the page and its JSON API.
//
// The page itself (HTML, script, style) holds no data and is served to
// anyone; the script reads the token from the URL's fragment, which browsers
// never send to servers nor put in Referer headers, keeps it in the tab's
// sessionStorage and sends it as a bearer header. The API takes the token
// from that header only, never from a cookie, so a page of another origin
// cannot make the browser call it on an operator's behalf (it cannot set the
// header without a CORS preflight, which is never granted): the drain POST
// is safe from cross-site request forgery without a CSRF token.
type adminUI struct {
	tokenSum [sha256.Size]byte
	sampler  *adminSampler
	log      *slog.Logger
}

func newAdminUI(cfg AdminUIConfig, src adminSource, log *slog.Logger) (*adminUI, error) {
	if cfg.Token == "" {
		return nil, ErrAdminToken
	}
	return &adminUI{tokenSum: sha256.Sum256([]byte(cfg.Token)), sampler: newAdminSampler(src), log: log}, nil
}

// run samples the figures until ctx ends.
func (u *adminUI) run(ctx context.Context) { u.sampler.run(ctx) }

// handle mounts the page on mux.
func (u *adminUI) handle(mux *http.ServeMux) {
	assets, _ := fs.Sub(adminAssets, "adminui") // the directory is embedded: cannot fail
	static := http.StripPrefix("/admin/", http.FileServerFS(assets))
	mux.Handle("GET /admin/", secureHeaders(static))
	mux.Handle("GET /admin/api/state", secureHeaders(u.authorized(http.HandlerFunc(u.serveState))))
	mux.Handle("POST /admin/api/drain", secureHeaders(u.authorized(http.HandlerFunc(u.serveDrain))))
}

// secureHeaders keeps the page from being framed (the drain button must
// not be clickjacked), cached or run with scripts from anywhere else.
func secureHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "no-referrer")
		w.Header().Set("Cache-Control", "no-store")
		h.ServeHTTP(w, r)
	})
}

// authorized lets through requests with the bearer token. Hashing both
// sides makes the comparison constant-time whatever their lengths.
func (u *adminUI) authorized(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		sum := sha256.Sum256([]byte(tok))
		if !ok || subtle.ConstantTimeCompare(sum[:], u.tokenSum[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="quicpush admin"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (u *adminUI) serveState(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(u.sampler.state(r.Context()))
}

// drainRequest is the body of POST /admin/api/drain.
type drainRequest struct {
	Node string `json:"node"`
}

func (u *adminUI) serveDrain(w http.ResponseWriter, r *http.Request) {
	var req drainRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&req); err != nil || req.Node == "" {
		http.Error(w, `body must be {"node": ID}`, http.StatusBadRequest)
		return
	}
	if u.sampler.src.drain == nil {
		http.Error(w, "no node can be drained here", http.StatusNotFound)
		return
	}
	if err := u.sampler.src.drain(req.Node); err != nil {
		if errors.Is(err, errNoSuchNode) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	u.log.Warn("edge draining, asked from the admin page", "node", req.Node, "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusAccepted)
}

// Errors of drain functions.
var (
	errNoSuchNode   = errors.New("server: no such node")
	errAlreadyDrain = errors.New("server: node already draining")
)

// healthText is a node's health on the page: "ok", or why it is not ready.
func healthText(why string) string {
	if why == "" {
		return "ok"
	}
	return why
}
