package server

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
)

// TestNewVerifier: the kid-less secret and the keys with ids of one
// auth.VerifierConfig combine into one verifier; no key at all is refused.
func TestNewVerifier(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	newSecret := []byte(strings.Repeat("n", 32))
	log := slog.New(slog.DiscardHandler)
	tok := func(key []byte, kid string) string {
		s, err := auth.Sign(key, kid, auth.NewClaims("alice", nil, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, tc := range map[string]struct {
		cfg    auth.VerifierConfig
		accept []string
		reject []string
	}{
		"secret alone": {cfg: auth.VerifierConfig{HMACSecret: secret},
			accept: []string{tok(secret, "")}, reject: []string{tok(newSecret, "")}},
		"keys alone": {cfg: auth.VerifierConfig{Keys: []auth.Key{{ID: "new", HMAC: newSecret}}},
			accept: []string{tok(newSecret, "new")}, reject: []string{tok(secret, "")}},
		"both": {cfg: auth.VerifierConfig{HMACSecret: secret, Keys: []auth.Key{{ID: "new", HMAC: newSecret}}},
			accept: []string{tok(secret, ""), tok(newSecret, "new")}, reject: []string{tok(newSecret, "")}},
	} {
		v, err := newVerifier(tc.cfg, log)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, s := range tc.accept {
			if _, err := v.Verify(s); err != nil {
				t.Errorf("%s: rejected: %v", name, err)
			}
		}
		for _, s := range tc.reject {
			if _, err := v.Verify(s); err == nil {
				t.Errorf("%s: accepted a token it should not", name)
			}
		}
		_ = v.Close()
	}
	if _, err := newVerifier(auth.VerifierConfig{}, log); err == nil {
		t.Error("no key accepted")
	}
}
