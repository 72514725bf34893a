package js_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	js "github.com/quicpush/quicpush/clients/js"
)

func TestDemoHandler(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/demo/", http.StripPrefix("/demo", js.DemoHandler(&js.DemoConfig{WebSocket: "ws://127.0.0.1:4434/ws", Room: "lobby"})))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, string, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), string(body)
	}
	for _, tt := range []struct{ path, ctype, contains string }{
		{"/demo/", "text/html", `src="./demo.js"`},
		{"/demo/demo.js", "javascript", `import("./dist/index.js")`},
		{"/demo/dist/index.js", "javascript", "Client"},
		{"/demo/dist/codec.js", "javascript", "FrameDecoder"},
		{"/demo/dist/index.d.ts", "", "Client"},
	} {
		code, ctype, body := get(tt.path)
		if code != http.StatusOK || !strings.Contains(ctype, tt.ctype) || !strings.Contains(body, tt.contains) {
			t.Errorf("GET %s: %d %q, body has %q: %v", tt.path, code, ctype, tt.contains, strings.Contains(body, tt.contains))
		}
	}
	code, _, body := get("/demo/config.json")
	var cfg map[string]string
	if code != http.StatusOK || json.Unmarshal([]byte(body), &cfg) != nil || cfg["ws"] != "ws://127.0.0.1:4434/ws" || cfg["room"] != "lobby" {
		t.Errorf("config.json: %d %s", code, body)
	}
	if _, ok := cfg["key"]; ok {
		t.Error("empty fields must be left out")
	}
	if code, _, _ := get("/demo/dist/../../go.mod"); code == http.StatusOK {
		t.Error("served a file outside the embedded ones")
	}
	// The push API client for Node backends (dist/api/) is not for browsers.
	if code, _, _ := get("/demo/dist/api/index.js"); code == http.StatusOK {
		t.Error("embedded the Node-only entry point dist/api/")
	}

	bare := httptest.NewServer(js.DemoHandler(nil))
	defer bare.Close()
	res, err := http.Get(bare.URL + "/config.json")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("config.json without a config: %d", res.StatusCode)
	}
}

// TestDemoConfigLoopbackOnly: the demo config holds the development API key
// and a token for every room, so only a client on the same machine gets it,
// even when the server listens on every interface.
func TestDemoConfigLoopbackOnly(t *testing.T) {
	h := js.DemoHandler(&js.DemoConfig{Token: "t", APIKey: "k"})
	for _, tt := range []struct {
		remote string
		code   int
	}{
		{"127.0.0.1:5000", http.StatusOK},
		{"[::1]:5000", http.StatusOK},
		{"192.0.2.1:5000", http.StatusForbidden},
		{"[2001:db8::1]:5000", http.StatusForbidden},
		{"10.0.0.1:5000", http.StatusForbidden},
		{"garbage", http.StatusForbidden},
	} {
		req := httptest.NewRequest(http.MethodGet, "/config.json", nil)
		req.RemoteAddr = tt.remote
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.code || (tt.code != http.StatusOK && strings.Contains(rec.Body.String(), `"k"`)) {
			t.Errorf("config.json from %s: %d %q, want %d", tt.remote, rec.Code, rec.Body.String(), tt.code)
		}
	}
	// The page itself holds no secret.
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.0.2.1:5000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("page from a remote client: %d", rec.Code)
	}
}
