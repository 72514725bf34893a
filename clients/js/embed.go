// Package js embeds the browser client's build (dist/) and the demo page
// (demo/), so that quicpush serve can offer them without npm: go:embed cannot
// reach clients/js/ from cmd/ or edge/, so the files are embedded here.
//
// Mount the handler under a prefix that ends in a slash:
//
//	mux.Handle("/demo/", http.StripPrefix("/demo", js.DemoHandler(&js.DemoConfig{...})))
//
// which serves /demo/ (the page), /demo/demo.js, /demo/dist/*.js (the client
// as ES modules) and, when a config is given, /demo/config.json, whose values
// prefill the page's fields (URL query parameters override them).
package js

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/netip"
)

//go:embed dist/*.js dist/*.d.ts demo/index.html demo/demo.js
var files embed.FS

// Dist holds the client's ES modules and type declarations (index.js,
// codec.js, ...), at the root of the FS.
var Dist = mustSub("dist")

// Demo holds the demo page: index.html and demo.js.
var Demo = mustSub("demo")

func mustSub(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// DemoConfig prefills the demo page's fields. Empty fields are left out.
// APIKey and Token end up in the page: set them only in development.
type DemoConfig struct {
	WebTransport string `json:"wt,omitempty"`   // https://host:port/wt
	WebSocket    string `json:"ws,omitempty"`   // ws://host:port/ws
	CertHash     string `json:"hash,omitempty"` // base64 SHA-256 of a self-signed certificate
	Token        string `json:"token,omitempty"`
	Room         string `json:"room,omitempty"`
	API          string `json:"api,omitempty"` // push API base URL; empty: the page's origin
	APIKey       string `json:"key,omitempty"`
}

// DemoHandler serves the demo page at "/", its script, the client at
// "/dist/", and cfg at "/config.json" (404 when cfg is nil). cfg holds
// secrets, so it goes only to clients on loopback (by the connection's
// address, r.RemoteAddr); others get 403, even when the server listens on
// every interface. Behind a proxy on the same machine every client looks
// local: do not put the demo behind one.
func DemoHandler(cfg *DemoConfig) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/dist/", http.StripPrefix("/dist/", http.FileServerFS(Dist)))
	mux.HandleFunc("/config.json", func(w http.ResponseWriter, r *http.Request) {
		if cfg == nil {
			http.NotFound(w, r)
			return
		}
		if !fromLoopback(r) {
			http.Error(w, "the demo config is served to loopback clients only", http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(cfg) //nolint:gosec // G117: the demo page gets the key on purpose, in development only
	})
	mux.Handle("/", http.FileServerFS(Demo))
	return mux
}

// fromLoopback reports whether r came over a loopback connection.
func fromLoopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().Unmap().IsLoopback()
}
