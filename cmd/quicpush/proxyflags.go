package main

import (
	"fmt"
	"net/http"
	"net/textproto"
	"os"
	"strings"
	"time"

	"github.com/quicpush/quicpush/proxy"
)

// proxyFlags configure the edge's hooks to the application's backend
// (docs/proxy.md). Header values are never printed: errors name the flag and
// the entry's position.
type proxyFlags struct {
	ProxyConnectURL      string        `name:"proxy-connect-url" help:"Connect hook: an http(s) URL the edge POSTs to (JSON), or grpc://HOST:PORT (h2c) / grpcs://HOST:PORT for the gRPC quicpush.proxy.v1.ProxyService, to authenticate a client without a verified JWT (the credentials it sent, its IP, transport, the edge id); the answer names the user, or refuses. Default: off (tokens alone)."`
	ProxyConnectMode     string        `name:"proxy-connect-mode" default:"no-jwt" enum:"no-jwt,always" help:"Which connections the connect hook sees: no-jwt (an empty token or one the JWT keys do not verify) or always (also verified JWTs, to add rooms and info or refuse)."`
	ProxyJoinURL         string        `name:"proxy-join-url" help:"Join hook: an http(s) URL the edge POSTs to (JSON), or a grpc:// / grpcs:// URL, to authorize joins of the rooms --proxy-join-rooms names (allow, deny with Error 101, or disconnect). Default: off."`
	ProxyJoinRooms       []string      `name:"proxy-join-rooms" default:"*" help:"Rooms the join hook decides instead of the token's rooms claim (repeatable or comma-separated): an exact name, a prefix ending in '*', or '*'. Other rooms keep the token's rule."`
	ProxyTimeout         time.Duration `name:"proxy-timeout" default:"1s" help:"Bound of one hook call. Connect past it: 3001 (the client reconnects with backoff); join: Error 104 (retry)."`
	ProxyMaxInFlight     int           `name:"proxy-max-in-flight" default:"256" help:"Hook calls under way at once per hook on this edge; past it a call fails at once (connect: 3001, join: Error 104)."`
	ProxyBreakerFailures int           `name:"proxy-breaker-failures" default:"5" help:"Failed calls in a row that open a hook's circuit breaker (calls then fail fast)."`
	ProxyBreakerCoolDown time.Duration `name:"proxy-breaker-cool-down" default:"5s" help:"How long an open breaker fails calls fast before one trial call."`
	ProxyHeaders         []string      `name:"proxy-header" sep:"none" placeholder:"NAME=VALUE|NAME=file:PATH" help:"Headers sent with every hook call (repeatable), e.g. an API key the backend checks: NAME=VALUE, or NAME=file:PATH (the file's bytes, one trailing newline dropped). Values are never logged."`
}

// config is the hooks' configuration; the zero proxy.Config (no hook) when
// no URL is given.
func (f *proxyFlags) config() (proxy.Config, error) {
	hook := func(url string) proxy.HookConfig {
		return proxy.HookConfig{URL: url, Timeout: f.ProxyTimeout, MaxInFlight: f.ProxyMaxInFlight,
			BreakerFailures: f.ProxyBreakerFailures, BreakerCoolDown: f.ProxyBreakerCoolDown}
	}
	cfg := proxy.Config{
		ConnectMode: proxy.ConnectMode(f.ProxyConnectMode),
		JoinRooms:   f.ProxyJoinRooms,
	}
	if f.ProxyConnectURL != "" {
		cfg.Connect = hook(f.ProxyConnectURL)
	}
	if f.ProxyJoinURL != "" {
		cfg.Join = hook(f.ProxyJoinURL)
	}
	for i, h := range f.ProxyHeaders {
		name, value, ok := strings.Cut(h, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " :\t") {
			return cfg, fmt.Errorf("--proxy-header #%d: want NAME=VALUE or NAME=file:PATH", i+1)
		}
		if path, ok := strings.CutPrefix(value, "file:"); ok {
			b, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the header file
			if err != nil {
				return cfg, fmt.Errorf("--proxy-header #%d: %w", i+1, err)
			}
			value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		}
		if strings.ContainsAny(value, "\r\n") {
			return cfg, fmt.Errorf("--proxy-header #%d: the value holds a line break", i+1)
		}
		if cfg.Header == nil {
			cfg.Header = http.Header{}
		}
		cfg.Header.Add(textproto.CanonicalMIMEHeaderKey(name), value)
	}
	return cfg, nil
}
