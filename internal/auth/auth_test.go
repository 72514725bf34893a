package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte(strings.Repeat("s", 32))

func TestVerifyHS256(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := IssueHS256(secret, "alice", []string{"lobby", "chat:*"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.User != "alice" || time.Until(id.Expires) <= 0 {
		t.Fatalf("identity %+v", id)
	}
	for room, want := range map[string]bool{"lobby": true, "chat:1": true, "chat": false, "other": false} {
		if got := id.CanJoin(room); got != want {
			t.Errorf("CanJoin(%q) = %v, want %v", room, got, want)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HMACSecret: secret, Leeway: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	expired, _ := IssueHS256(secret, "alice", nil, -time.Minute)
	wrongKey, _ := IssueHS256([]byte(strings.Repeat("x", 32)), "alice", nil, time.Minute)
	noSub, _ := IssueHS256(secret, "", nil, time.Minute)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "a"}).SignedString(secret)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{Subject: "a",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	// An ES256 token must not verify against an HMAC-only verifier, whatever it carries.
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.RegisteredClaims{Subject: "a",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(ecKey)
	cases := map[string]struct {
		token string
		want  error
	}{
		"expired":   {expired, ErrExpired},
		"wrong key": {wrongKey, ErrInvalid},
		"no sub":    {noSub, ErrInvalid},
		"no exp":    {noExp, ErrInvalid},
		"alg none":  {none, ErrInvalid},
		"other alg": {es, ErrInvalid},
		"garbage":   {"not.a.token", ErrInvalid},
		"empty":     {"", ErrInvalid},
	}
	for name, c := range cases {
		if _, err := v.Verify(c.token); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", name, err, c.want)
		}
	}
}

func TestVerifyAsymmetric(t *testing.T) {
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	v, err := NewVerifier(VerifierConfig{ECDSAKey: &ecKey.PublicKey, Ed25519Key: edPub})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.RegisteredClaims{Subject: "bob", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	es, _ := jwt.NewWithClaims(jwt.SigningMethodES256, claims).SignedString(ecKey)
	ed, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(edPriv)
	for name, tok := range map[string]string{"ES256": es, "EdDSA": ed} {
		if id, err := v.Verify(tok); err != nil || id.User != "bob" {
			t.Errorf("%s: %v %+v", name, err, id)
		}
	}
	// An HS256 token signed with the public key's bytes (the classic confusion)
	// is refused because no HMAC key is configured.
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(edPub))
	if _, err := v.Verify(hs); !errors.Is(err, ErrInvalid) {
		t.Errorf("HS256 against asymmetric verifier: %v", err)
	}
}

func TestNewVerifierConfig(t *testing.T) {
	if _, err := NewVerifier(VerifierConfig{}); err == nil {
		t.Error("no keys accepted")
	}
	if _, err := NewVerifier(VerifierConfig{HMACSecret: []byte("short")}); err == nil {
		t.Error("short secret accepted")
	}
}
