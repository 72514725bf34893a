package app

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
)

// TestNewVerifier: JWTSecret and Auth combine into one verifier.
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
		secret []byte
		cfg    auth.VerifierConfig
		accept []string
		reject []string
	}{
		"JWTSecret alone": {secret: secret, accept: []string{tok(secret, "")}, reject: []string{tok(newSecret, "")}},
		"Auth alone": {cfg: auth.VerifierConfig{Keys: []auth.Key{{ID: "new", HMAC: newSecret}}},
			accept: []string{tok(newSecret, "new")}, reject: []string{tok(secret, "")}},
		"both": {secret: secret, cfg: auth.VerifierConfig{Keys: []auth.Key{{ID: "new", HMAC: newSecret}}},
			accept: []string{tok(secret, ""), tok(newSecret, "new")}, reject: []string{tok(newSecret, "")}},
		"same secret twice": {secret: secret, cfg: auth.VerifierConfig{HMACSecret: secret}, accept: []string{tok(secret, "")}},
		"empty JWTSecret":   {secret: []byte{}, cfg: auth.VerifierConfig{HMACSecret: secret}, accept: []string{tok(secret, "")}},
	} {
		v, err := newVerifier(tc.secret, tc.cfg, log)
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
		v.Close()
	}
	if _, err := newVerifier(secret, auth.VerifierConfig{HMACSecret: newSecret}, log); err == nil {
		t.Error("two different kid-less secrets accepted")
	}
	if _, err := newVerifier(nil, auth.VerifierConfig{}, log); err == nil {
		t.Error("no key accepted")
	}
}
