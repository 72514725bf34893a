package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/quicpush/quicpush/internal/auth"
)

// listen starts `quicpush listen` with args and returns it with its stderr.
func listen(t *testing.T, ctx context.Context, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.CommandContext(ctx, quicpushBin(t), append([]string{"listen"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stderr)
}

func token(t *testing.T, ctx context.Context, s *served) string {
	t.Helper()
	return strings.TrimSpace(run(t, ctx, quicpushBin(t), "token", "--user", "alice", "--rooms", "lobby", "--dev-dir", s.devDir))
}

// TestListenWarnsOnPlaintextFallback: when the encrypted endpoints listed
// first are unreachable and listen ends up on plain TCP, it says so.
func TestListenWarnsOnPlaintextFallback(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, es := listen(t, ctx, "--token", token(t, ctx, s), "--room", "lobby",
		"--endpoint", "quic://"+freeUDP(t)+" tcp://"+s.tcp, "--cert-hash", s.hash)
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	seen := lineWith(t, es, "joined lobby")
	if !strings.Contains(seen, "warning") || !strings.Contains(seen, "without encryption") {
		t.Fatalf("no warning about plaintext in:\n%s", seen)
	}
}

// TestListenExitsOnNoReconnect: a disconnect code that says "do not
// reconnect" (here 3504, a backend's kick) ends listen with an error.
func TestListenExitsOnNoReconnect(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, es := listen(t, ctx, "--token", token(t, ctx, s), "--room", "lobby",
		"--endpoint", "tcp://"+s.tcp, "--cert-hash", s.hash)
	lineWith(t, es, "joined lobby")
	run(t, ctx, "curl", "-sS", "--fail-with-body", "-H", "Authorization: Bearer "+s.key,
		"-H", "Content-Type: application/json", "-d", `{"users":["alice"],"reason":"bye"}`,
		"http://"+s.api+"/quicpush.push.v1.PushService/Disconnect")
	done := make(chan error, 1)
	var rest strings.Builder
	go func() {
		for es.Scan() {
			rest.WriteString(es.Text() + "\n")
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(rest.String(), "3504") {
			t.Fatalf("listen ended with %v after:\n%s", err, rest.String())
		}
	case <-time.After(10 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("listen still running 10s after a kick (killed: %v); it printed:\n%s", <-done, rest.String())
	}
}

// TestListenAuthFailure: a token the edge refuses ends listen with an error
// that names the token, not only "no endpoint reachable".
func TestListenAuthFailure(t *testing.T) {
	s := startServe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd, es := listen(t, ctx, "--token", "not-a-token", "--room", "lobby",
		"--endpoint", "quic://"+s.quic+" tcp://"+s.tcp, "--cert-hash", s.hash)
	var out strings.Builder
	for es.Scan() {
		out.WriteString(es.Text() + "\n")
	}
	err := cmd.Wait()
	if err == nil || !strings.Contains(out.String(), "token refused") {
		t.Fatalf("listen with a bad token: %v, printed:\n%s", err, out.String())
	}
}

// TestListenRS256Token: a serve given an RSA public key (PKCS #1 PEM) with
// --jwt-public-key accepts a client's RS256 token signed with it, and
// refuses a PS256 token of the same key.
func TestListenRS256Token(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	path := writePEM(t, t.TempDir(), "issuer.pem", &key.PublicKey, true)
	s := startServe(t, "--jwt-public-key", "issuer=RS256:"+path)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	claims := auth.NewClaims("alice", []string{"lobby"}, time.Hour)
	rs256, err := auth.Sign(key, "issuer", claims)
	if err != nil {
		t.Fatal(err)
	}
	cmd, es := listen(t, ctx, "--token", rs256, "--room", "lobby", "--endpoint", "quic://"+s.quic, "--cert-hash", s.hash)
	lineWith(t, es, "joined lobby")
	_ = cmd.Process.Kill()
	_ = cmd.Wait()

	pss := jwt.NewWithClaims(jwt.SigningMethodPS256, claims)
	pss.Header["kid"] = "issuer"
	ps256, err := pss.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	cmd, es = listen(t, ctx, "--token", ps256, "--room", "lobby", "--endpoint", "quic://"+s.quic, "--cert-hash", s.hash)
	var out strings.Builder
	for es.Scan() {
		out.WriteString(es.Text() + "\n")
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(out.String(), "token refused") {
		t.Fatalf("listen with a PS256 token under an RS256 key: %v, printed:\n%s", err, out.String())
	}
}
