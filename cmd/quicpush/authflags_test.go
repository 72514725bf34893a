package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

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

// writePEM writes pub as a PEM file in dir: PKIX ("PUBLIC KEY"), or PKCS #1
// ("RSA PUBLIC KEY") when pkcs1 is set.
func writePEM(t *testing.T, dir, name string, pub any, pkcs1 bool) string {
	t.Helper()
	block := &pem.Block{Type: "PUBLIC KEY"}
	if pkcs1 {
		block = &pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub.(*rsa.PublicKey))}
	} else {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		block.Bytes = der
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestParsePublicKey: [KID=][ALG:]PATH. An RSA key is RS256 unless PS256:
// says otherwise; ALG: must fit the key; a path with ':' still works when no
// algorithm precedes the colon, and is refused when it could be read both
// ways.
func TestParsePublicKey(t *testing.T) {
	dir := t.TempDir()
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // G403: too small on purpose, to be refused
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaPKIX := writePEM(t, dir, "rsa.pem", &rsaKey.PublicKey, false)
	rsaPKCS1 := writePEM(t, dir, "rsa-pkcs1.pem", &rsaKey.PublicKey, true)
	colon := writePEM(t, dir, "key:2024.pem", &rsaKey.PublicKey, false)
	smallPath := writePEM(t, dir, "small.pem", &small.PublicKey, true)
	ecPath := writePEM(t, dir, "ec.pem", &ecKey.PublicKey, false)
	edPath := writePEM(t, dir, "ed.pem", edPub, false)
	// A relative path that starts like PS256:PATH and names a file.
	if err := os.Mkdir(filepath.Join(dir, "PS256:keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	writePEM(t, dir, "PS256:keys/a.pem", &rsaKey.PublicKey, false)
	if err := os.WriteFile(filepath.Join(dir, "keys"), nil, 0o600); err != nil {
		t.Fatal(err)
	}

	for v, want := range map[string]struct{ kid, alg string }{
		rsaPKIX:                {"", "RS256"},
		"rs=" + rsaPKCS1:       {"rs", "RS256"},
		"rs=RS256:" + rsaPKIX:  {"rs", "RS256"},
		"ps=PS256:" + rsaPKCS1: {"ps", "PS256"},
		"ps256:" + rsaPKIX:     {"", "PS256"},
		"=PS256:" + rsaPKIX:    {"", "PS256"},
		colon:                  {"", "RS256"},
		"k=PS256:" + colon:     {"k", "PS256"},
		"ec=ES256:" + ecPath:   {"ec", "ES256"},
		"EdDSA:" + edPath:      {"", "EdDSA"},
		"ed=" + edPath:         {"ed", "EdDSA"},
		"k:v=RS256:" + rsaPKIX: {"k:v", "RS256"},
	} {
		k, err := parsePublicKey(v)
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		if alg, err := k.Algorithm(); k.ID != want.kid || alg != want.alg || err != nil {
			t.Errorf("%q: kid %q alg %q (%v), want %+v", v, k.ID, alg, err, want)
		}
	}
	for v, wantErr := range map[string]string{
		"PS256:" + smallPath:        "1024 bits, need at least 2048",
		smallPath:                   "1024 bits, need at least 2048",
		"ES256:" + rsaPKIX:          `alg "ES256" on an RSA key`,
		"HS256:" + rsaPKIX:          "no such file", // HS256 is no ALG: it is part of the path
		"RS256:" + ecPath:           `alg "RS256" on an ES256 key`,
		"PS256:" + edPath:           `alg "PS256" on an EdDSA key`,
		"k=RS256:":                  "no path",
		"PS256:" + dir + "/nothing": "no such file",
	} {
		_, err := parsePublicKey(v)
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: %v, want %q", v, err, wantErr)
		}
	}
	// Relative paths, from dir: the file PS256:keys/a.pem is also the
	// algorithm PS256 and the path keys/a.pem (which exists here too).
	t.Run("relative", func(t *testing.T) {
		t.Chdir(dir)
		if _, err := parsePublicKey("PS256:keys/a.pem"); err == nil || !strings.Contains(err.Error(), "./PS256:keys/a.pem") {
			t.Errorf("ambiguous entry: %v", err)
		}
		for v, alg := range map[string]string{"./PS256:keys/a.pem": "RS256", "PS256:PS256:keys/a.pem": "PS256", "k=PS256:./PS256:keys/a.pem": "PS256"} {
			k, err := parsePublicKey(v)
			if got, _ := k.Algorithm(); err != nil || got != alg {
				t.Errorf("%q: %q %v, want %s", v, got, err, alg)
			}
		}
	})
}

// TestJWTFlags parses the flags as the command line does and builds a
// verifier from them: kids, public keys from PEM files, audience and issuer.
func TestJWTFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	rsKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	psKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecPath, edPath := writePEM(t, dir, "ec.pem", &ecKey.PublicKey, false), writePEM(t, dir, "ed=1.pem", edPub, false)
	rsPath, psPath := writePEM(t, dir, "rs.pem", &rsKey.PublicKey, false), writePEM(t, dir, "ps.pem", &psKey.PublicKey, true)
	oldSecret, newSecret := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))

	c := parse(t, "edge",
		"--jwt-key", "old=base64:"+base64.StdEncoding.EncodeToString(oldSecret),
		"--jwt-key", "new=base64:"+base64.StdEncoding.EncodeToString(newSecret),
		"--jwt-public-key", "ec-1="+ecPath+",="+edPath,
		"--jwt-public-key", "rs="+rsPath+",ps=PS256:"+psPath,
		"--jwt-audience", "quicpush,quicpush-eu",
		"--jwt-issuer", "https://id.example.com",
		"--jwt-es256-low-s",
	)
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
		alg  jwt.SigningMethod // nil: the key's (auth.Sign)
	}{
		"old kid":        {oldSecret, "old", good, true, nil},
		"new kid":        {newSecret, "new", good, true, nil},
		"ES256 kid":      {ecKey, "ec-1", good, true, nil},
		"EdDSA kid-less": {edPriv, "", good, true, nil},
		"swapped kids":   {oldSecret, "new", good, false, nil},
		"no kid HS256":   {newSecret, "", good, false, nil},
		"wrong aud":      {newSecret, "new", claims("other", "https://id.example.com"), false, nil},
		"wrong iss":      {newSecret, "new", claims("quicpush", "https://other"), false, nil},
		"RS256 kid":      {rsKey, "rs", good, true, nil},
		"PS256 kid":      {psKey, "ps", good, true, jwt.SigningMethodPS256},
		"PS256 under rs": {rsKey, "rs", good, false, jwt.SigningMethodPS256},
		"RS256 under ps": {psKey, "ps", good, false, jwt.SigningMethodRS256},
	} {
		tok, err := auth.Sign(tc.key, tc.kid, tc.c)
		if tc.alg != nil {
			jt := jwt.NewWithClaims(tc.alg, tc.c)
			jt.Header["kid"] = tc.kid
			tok, err = jt.SignedString(tc.key)
		}
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
		c = parse(t, append([]string{"serve"}, args...)...)
		if _, err := c.Serve.jwtFlags.verifierConfig(nil); err == nil || !strings.HasPrefix(err.Error(), args[0]+" #1") {
			t.Errorf("%q: %v", args, err)
		}
	}
	c = parse(t, "serve")
	if c.Serve.jwtFlags.configured() {
		t.Error("no key flag, but configured")
	}
}
