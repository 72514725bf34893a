package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects a child process's output while the test reads it.
type syncBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced by every Write
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// waitFor waits until the output holds want.
func (b *syncBuffer) waitFor(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		b.mu.Lock()
		if strings.Contains(b.b.String(), want) {
			b.mu.Unlock()
			return
		}
		if b.changed == nil {
			b.changed = make(chan struct{})
		}
		changed := b.changed
		b.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("no %q within %v in:\n%s", want, timeout, b.String())
		}
	}
}

// secretValue is a random value named for what it stands for, so that a leak
// is easy to recognise in a failure message.
func secretValue(t *testing.T, name string) string {
	t.Helper()
	var r [16]byte
	_, _ = rand.Read(r[:])
	return name + "-" + hex.EncodeToString(r[:])
}

// TestServeLogsNoSecret runs serve with a JWT secret, an API key and a
// connect hook whose header holds a secret, logging at debug level in JSON,
// and goes through what touches them: push API calls with a wrong and the
// right key, clients with a valid JWT, with a session token the hook accepts,
// with a token refused and with one whose hook call fails. Every log line is JSON and names the process;
// the API's request line names the caller's request id; and no secret, no
// token and no Authorization value is anywhere in the log.
func TestServeLogsNoSecret(t *testing.T) {
	jwtSecret := secretValue(t, "jwt-secret")
	apiKey := secretValue(t, "api-key")
	wrongKey := secretValue(t, "wrong-api-key")
	hookSecret := secretValue(t, "hook-header-secret")
	sessionToken := secretValue(t, "session-token")
	refusedToken := secretValue(t, "refused-token")
	failingToken := secretValue(t, "hook-fails-token")

	// The backend's connect hook: the session token is bob's, the failing
	// token gets a reply that is not JSON and quotes it (the edge logs the
	// failed call), anything else is refused for good (3500).
	var mu sync.Mutex
	headerSeen := false
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Token string `json:"token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		mu.Lock()
		headerSeen = headerSeen || r.Header.Get("X-Backend-Key") == hookSecret
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if req.Token == failingToken {
			_, _ = w.Write([]byte("no JSON here, " + req.Token + " " + r.Header.Get("X-Backend-Key"))) //nolint:gosec // G705: a test backend echoing what it got, to a test client
			return
		}
		if req.Token == sessionToken {
			_, _ = w.Write([]byte(`{"result": {"user": "bob", "rooms": ["lobby"]}}`))
			return
		}
		_, _ = w.Write([]byte(`{"disconnect": {"code": 3500, "reason": "unknown session"}}`))
	}))
	defer backend.Close()

	var logs syncBuffer
	s := startServeLogging(t, &logs, "--log-level", "debug", "--log-format", "json",
		"--jwt-secret", jwtSecret, "--api-key", apiKey,
		"--proxy-connect-url", backend.URL, "--proxy-header", "X-Backend-Key="+hookSecret)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The push API: a wrong key, then the right one with a request id.
	for _, tt := range []struct {
		key, requestID string
		status         int
	}{
		{wrongKey, "", http.StatusUnauthorized},
		{apiKey + "x", "", http.StatusUnauthorized},
		{apiKey, "logs-test-1", http.StatusOK},
	} {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost,
			"http://"+s.api+"/quicpush.push.v1.PushService/PushRoom", strings.NewReader(`{"room":"lobby","text":"hi"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tt.key)
		if tt.requestID != "" {
			req.Header.Set("X-Request-Id", tt.requestID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Fatalf("PushRoom with key %q: %d, want %d", tt.key, resp.StatusCode, tt.status)
		}
		if id := resp.Header.Get("X-Request-Id"); id == "" || tt.requestID != "" && id != tt.requestID {
			t.Fatalf("PushRoom answered request id %q, want %q (or a new one)", id, tt.requestID)
		}
	}

	// Clients: a JWT, a session token the hook accepts, a refused token.
	jwt := strings.TrimSpace(run(t, ctx, quicpushBin(t), "token", "--user", "alice", "--rooms", "lobby", "--jwt-secret", jwtSecret))
	for _, tok := range []string{jwt, sessionToken} {
		cmd, es := listen(t, ctx, "--token", tok, "--room", "lobby", "--endpoint", "quic://"+s.quic+" tcp://"+s.tcp, "--cert-hash", s.hash)
		lineWith(t, es, "joined lobby")
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	cmd, es := listen(t, ctx, "--token", refusedToken, "--room", "lobby", "--endpoint", "tcp://"+s.tcp, "--cert-hash", s.hash)
	var out strings.Builder
	for es.Scan() {
		out.WriteString(es.Text() + "\n")
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("listen with a refused token succeeded:\n%s", out.String())
	}
	// A hook that fails: the client is told to come back later (3001) and
	// keeps trying; the edge logs the failure.
	cmd, _ = listen(t, ctx, "--token", failingToken, "--room", "lobby", "--endpoint", "tcp://"+s.tcp, "--cert-hash", s.hash)
	logs.waitFor(t, "proxy hook call failed", 10*time.Second)
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	mu.Lock()
	if !headerSeen {
		t.Error("the connect hook never got its header")
	}
	mu.Unlock()

	// The API's request line: the log is at debug level and has caught the
	// calls above.
	logs.waitFor(t, `"request_id":"logs-test-1"`, 10*time.Second)
	log := logs.String()
	for line := range strings.Lines(log) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["process"] != "serve" {
			t.Errorf("not a JSON line of process serve: %q (%v)", line, err)
		}
	}
	secrets := map[string]string{
		"JWT secret": jwtSecret, "API key": apiKey, "wrong API key": wrongKey, "hook header": hookSecret,
		"JWT": jwt, "JWT signature": jwt[strings.LastIndexByte(jwt, '.')+1:],
		"session token": sessionToken, "refused token": refusedToken, "failing token": failingToken,
		"Authorization value": "Bearer ",
	}
	for name, v := range secrets {
		if strings.Contains(log, v) {
			t.Errorf("the %s (%q) is in the log:\n%s", name, v, log)
		}
	}
	t.Logf("%d log lines checked", strings.Count(log, "\n"))
}
