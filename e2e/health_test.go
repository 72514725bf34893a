package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// getStatus returns the status and body of GET http://addr/path.
func getStatus(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The single process answers /healthz and /readyz on its API port, without
// an admin listener: ready while the bus accepts and the edge listens, not
// once the edge stopped.
func TestSingleHealthOnAPIPort(t *testing.T) {
	srv := startServer(t, nil)
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, body := getStatus(t, srv.api, path); code != http.StatusOK || body != "ok\n" {
			t.Fatalf("%s: %d %q, want 200 ok", path, code, body)
		}
	}
	_ = srv.Edge.Close()
	if code, body := getStatus(t, srv.api, "/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "edge") {
		t.Fatalf("/readyz with the edge closed: %d %q, want 503 naming the edge", code, body)
	}
	if code, _ := getStatus(t, srv.api, "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with the edge closed: %d, want 200 (the process runs)", code)
	}
}
