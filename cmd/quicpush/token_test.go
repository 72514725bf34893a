package main

import (
	"strings"
	"testing"

	"github.com/quicpush/quicpush/internal/auth"
)

// TestTokenRefusesShortSecret: a token signed with a secret the edge would
// refuse (--jwt-secret shorter than auth.MinHMACSecret) could never be
// verified, so token says so instead of printing it.
func TestTokenRefusesShortSecret(t *testing.T) {
	c := parse(t, "token", "--user", "alice", "--jwt-secret", strings.Repeat("s", auth.MinHMACSecret-1))
	err := c.Token.Run()
	if err == nil || !strings.Contains(err.Error(), "--jwt-secret") {
		t.Fatalf("token with a %d-byte secret: %v", auth.MinHMACSecret-1, err)
	}
	c = parse(t, "token", "--user", "alice", "--jwt-secret", strings.Repeat("s", auth.MinHMACSecret))
	if err := c.Token.Run(); err != nil {
		t.Fatalf("token with a %d-byte secret: %v", auth.MinHMACSecret, err)
	}
}
