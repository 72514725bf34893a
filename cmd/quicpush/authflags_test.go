package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kong"

	"github.com/quicpush/quicpush/internal/auth"
)

func TestParseHMACKey(t *testing.T) {
	t.Parallel()
	secret := []byte(strings.Repeat("k", 31) + "=") // 32 bytes, ends like padding
	b64 := base64.StdEncoding.EncodeToString(secret)
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	crlf := filepath.Join(dir, "secret-crlf")
	if err := os.WriteFile(crlf, append(secret, '\r', '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ok := map[string]string{ // value -> kid
		"base64:" + b64:         "",
		"2024-06=base64:" + b64: "2024-06",
		"k=base64:" + base64.RawURLEncoding.EncodeToString(secret): "k",
		"base64:" + base64.URLEncoding.EncodeToString(secret):      "",
		"file:" + file:      "",
		"new=file:" + file:  "new",
		"crlf=file:" + crlf: "crlf",
	}
	for v, kid := range ok {
		k, err := parseHMACKey(v)
		if err != nil || k.ID != kid || string(k.HMAC) != string(secret) {
			t.Errorf("%q: %+v %v", v, k, err)
		}
	}
	bad := []string{
		b64,                  // no form
		"=base64:" + b64,     // empty kid
		"k=" + b64,           // no form after the kid
		"base64:!!" + b64,    // not base64
		"base64:" + b64[:20], // too short
		"file:" + short,      // too short
		"file:" + filepath.Join(dir, "missing"),
		"k=hex:00",
	}
	for _, v := range bad {
		_, err := parseHMACKey(v)
		if err == nil {
			t.Errorf("%q accepted", v)
			continue
		}
		if strings.Contains(err.Error(), b64[:16]) || strings.Contains(err.Error(), string(secret[:16])) {
			t.Errorf("%q: error quotes the secret: %v", v, err)
		}
	}
}

// TestJWTFlags parses the flags as the command line does and builds a
// verifier from them: kids, public keys from PEM files, audience and issuer.
func TestJWTFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	writePEM := func(name string, pub any) string {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ecPath, edPath := writePEM("ec.pem", &ecKey.PublicKey), writePEM("ed=1.pem", edPub)
	oldSecret, newSecret := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))

	var c cli
	p, err := kong.New(&c, kong.Name("quicpush"), kong.Exit(func(int) { t.Fatal("kong exited") }))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"edge",
		"--jwt-key", "old=base64:" + base64.StdEncoding.EncodeToString(oldSecret),
		"--jwt-key", "new=base64:" + base64.StdEncoding.EncodeToString(newSecret),
		"--jwt-public-key", "ec-1=" + ecPath + ",=" + edPath,
		"--jwt-audience", "quicpush,quicpush-eu",
		"--jwt-issuer", "https://id.example.com",
		"--jwt-es256-low-s",
	}); err != nil {
		t.Fatal(err)
	}
	f := &c.Edge.jwtFlags
	if !f.configured() || f.JWKSRefresh != 5*time.Minute || !f.JWTES256LowS {
		t.Fatalf("flags: %+v", f)
	}
	vc, err := f.verifierConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !vc.ES256LowS {
		t.Error("--jwt-es256-low-s did not reach the verifier")
	}
	v, err := auth.NewVerifier(vc)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	claims := func(aud, iss string) auth.Claims {
		c := auth.NewClaims("alice", nil, time.Minute)
		c.Audience, c.Issuer = []string{aud}, iss
		return c
	}
	good := claims("quicpush-eu", "https://id.example.com")
	for name, tc := range map[string]struct {
		key  any
		kid  string
		c    auth.Claims
		want bool
	}{
		"old kid":        {oldSecret, "old", good, true},
		"new kid":        {newSecret, "new", good, true},
		"ES256 kid":      {ecKey, "ec-1", good, true},
		"EdDSA kid-less": {edPriv, "", good, true},
		"swapped kids":   {oldSecret, "new", good, false},
		"no kid HS256":   {newSecret, "", good, false},
		"wrong aud":      {newSecret, "new", claims("other", "https://id.example.com"), false},
		"wrong iss":      {newSecret, "new", claims("quicpush", "https://other"), false},
	} {
		tok, err := auth.Sign(tc.key, tc.kid, tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); (err == nil) != tc.want {
			t.Errorf("%s: %v", name, err)
		}
	}

	for _, args := range [][]string{
		{"--jwt-key", "base64:c2hvcnQ="},
		{"--jwt-public-key", filepath.Join(dir, "missing.pem")},
		{"--jwt-public-key", "k="},
		{"--jwt-public-key", filepath.Join(dir, "nothing")},
	} {
		c = cli{}
		if _, err := p.Parse(append([]string{"serve"}, args...)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Serve.jwtFlags.verifierConfig(nil); err == nil || !strings.HasPrefix(err.Error(), args[0]+" #1") {
			t.Errorf("%q: %v", args, err)
		}
	}
	c = cli{}
	if _, err := p.Parse([]string{"serve"}); err != nil {
		t.Fatal(err)
	}
	if c.Serve.jwtFlags.configured() {
		t.Error("no key flag, but configured")
	}
}
