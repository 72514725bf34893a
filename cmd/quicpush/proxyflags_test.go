package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/proxy"
)

// proxyConfigOf parses cmd ("serve" or "edge") with args and returns the
// hooks' configuration its flags make.
func proxyConfigOf(t *testing.T, cmd string, args []string) (proxy.Config, error) {
	t.Helper()
	c := parse(t, append([]string{cmd}, args...)...)
	f := c.Serve.proxyFlags
	if cmd == "edge" {
		f = c.Edge.proxyFlags
	}
	return f.config()
}

func TestProxyFlags(t *testing.T) {
	cfg, err := proxyConfigOf(t, "serve", nil)
	if err != nil || cfg.Enabled() {
		t.Fatalf("no flags: %+v %v", cfg, err)
	}
	key := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(key, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"serve", "edge"} {
		cfg, err = proxyConfigOf(t, cmd, []string{
			"--proxy-connect-url=http://127.0.0.1:9090/connect", "--proxy-connect-mode=always",
			"--proxy-join-url=http://127.0.0.1:9090/join", "--proxy-join-rooms=team:*,vip",
			"--proxy-timeout=250ms", "--proxy-max-in-flight=8", "--proxy-breaker-failures=2", "--proxy-breaker-cool-down=1s",
			"--proxy-header=x-api-key=secret", "--proxy-header=X-Other=file:" + key,
		})
		if err != nil {
			t.Fatal(err)
		}
		want := proxy.HookConfig{URL: "http://127.0.0.1:9090/connect", Timeout: 250 * time.Millisecond, MaxInFlight: 8, BreakerFailures: 2, BreakerCoolDown: time.Second}
		if cfg.Connect != want || cfg.ConnectMode != proxy.ConnectAlways {
			t.Fatalf("%s: connect %+v mode %q", cmd, cfg.Connect, cfg.ConnectMode)
		}
		if cfg.Join.URL != "http://127.0.0.1:9090/join" || strings.Join(cfg.JoinRooms, ",") != "team:*,vip" {
			t.Fatalf("%s: join %+v rooms %v", cmd, cfg.Join, cfg.JoinRooms)
		}
		if cfg.Header.Get("X-Api-Key") != "secret" || cfg.Header.Get("X-Other") != "from-file" {
			t.Fatalf("%s: headers %v", cmd, cfg.Header)
		}
		if _, err := proxy.New(cfg); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
	}
	for _, bad := range []string{"novalue", "=x", "a b=c"} {
		_, err := proxyConfigOf(t, "serve", []string{"--proxy-header=" + bad})
		if err == nil {
			t.Fatalf("%q: %v", bad, err)
		}
	}
}
