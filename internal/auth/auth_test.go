package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret    = []byte(strings.Repeat("s", 32))
	oldSecret = []byte(strings.Repeat("o", 32))
	newSecret = []byte(strings.Repeat("n", 40))

	ecKey    = mustEC(elliptic.P256())
	ecKey2   = mustEC(elliptic.P256())
	ec384Key = mustEC(elliptic.P384())
	edPub    ed25519.PublicKey
	edPriv   ed25519.PrivateKey
	edPub2   ed25519.PublicKey
	edPriv2  ed25519.PrivateKey

	rsaKey   = mustRSA(2048)
	rsaKey2  = mustRSA(2048)
	rsaSmall = mustRSA(1024) // below MinRSABits
)

func init() {
	edPub, edPriv, _ = ed25519.GenerateKey(rand.Reader)
	edPub2, edPriv2, _ = ed25519.GenerateKey(rand.Reader)
}

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

// pkcs1PEMOf is an "RSA PUBLIC KEY" block, as `openssl rsa
// -RSAPublicKey_out` writes.
func pkcs1PEMOf(pub *rsa.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(pub)})
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// claims are valid claims for user "alice" around now.
func claims(mod ...func(*Claims)) Claims {
	now := time.Now()
	c := Claims{Rooms: []string{"lobby"}, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   "alice",
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
	for _, m := range mod {
		m(&c)
	}
	return c
}

// sign signs with any jwt method, header fields added; it fails the test
// binary on error since the inputs are fixed.
func sign(m jwt.SigningMethod, key any, header map[string]any, c Claims) string {
	t := jwt.NewWithClaims(m, c)
	for k, v := range header {
		t.Header[k] = v
	}
	s, err := t.SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func kid(id string) map[string]any { return map[string]any{"kid": id} }

func pemOf(pub any) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

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

// TestVerify is the accept/reject table: every case names the verifier it
// runs against.
func TestVerify(t *testing.T) {
	verifiers := map[string]VerifierConfig{
		// kid-less HS256 (the historical setup).
		"hs": {HMACSecret: secret, Leeway: 5 * time.Second},
		// Rotation: old and new secrets under kids, one EC and one Ed key
		// under kids, and one kid-less Ed key.
		"kids": {Keys: []Key{
			{ID: "hs-old", HMAC: oldSecret},
			{ID: "hs-new", HMAC: newSecret},
			{ID: "ec-1", Public: &ecKey.PublicKey},
			{ID: "ed-1", Public: edPub},
			{Public: edPub2},
		}},
		// Rotation without kids: both kid-less secrets are tried.
		"two-hs": {Keys: []Key{{HMAC: oldSecret}, {HMAC: newSecret}}},
		// Public keys only, kid-less.
		"public": {ECDSAKey: &ecKey.PublicKey, Ed25519Key: edPub},
		"aud":    {HMACSecret: secret, Audience: []string{"quicpush", "quicpush-eu"}},
		"iss":    {HMACSecret: secret, Issuer: "https://id.example.com"},
		// RSA keys: one RS256 and one PS256 under kids, the RS256 one also
		// kid-less; and a kid-less PS256 key alone.
		"rsa": {Keys: []Key{
			{ID: "rs", Public: &rsaKey.PublicKey},
			{ID: "ps", Public: &rsaKey2.PublicKey, Alg: "PS256"},
			{Public: &rsaKey.PublicKey, Alg: "RS256"},
		}},
		"rsa-ps": {Keys: []Key{{Public: &rsaKey2.PublicKey, Alg: "PS256"}}},
	}
	now := time.Now()
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	ecPEM, edPEM := pemOf(&ecKey.PublicKey), pemOf(edPub)
	ecRaw, _ := ecKey.PublicKey.Bytes()
	rsaPEM, rsaPKCS1 := pemOf(&rsaKey.PublicKey), pkcs1PEMOf(&rsaKey.PublicKey)
	rsaPEM2 := pemOf(&rsaKey2.PublicKey)
	valid := claims()
	tampered := func() string {
		tok := sign(jwt.SigningMethodHS256, secret, nil, valid)
		parts := strings.Split(tok, ".")
		other := strings.Split(sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Subject = "mallory" })), ".")
		return parts[0] + "." + other[1] + "." + parts[2]
	}()
	none := func(header map[string]any) string {
		return sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, header, valid)
	}

	tests := []struct {
		name     string
		verifier string
		token    string
		want     error // nil: accepted as alice
	}{
		{"HS256 kid-less", "hs", sign(jwt.SigningMethodHS256, secret, nil, valid), nil},
		{"IssueHS256", "hs", must(IssueHS256(secret, "alice", nil, time.Minute)), nil},
		{"wrong secret", "hs", sign(jwt.SigningMethodHS256, oldSecret, nil, valid), ErrInvalid},
		{"tampered payload", "hs", tampered, ErrInvalid},
		{"alg none", "hs", none(nil), ErrInvalid},
		{"alg none with kid", "kids", none(kid("hs-new")), ErrInvalid},
		{"HS384", "hs", sign(jwt.SigningMethodHS384, secret, nil, valid), ErrInvalid},
		{"HS512", "hs", sign(jwt.SigningMethodHS512, secret, nil, valid), ErrInvalid},
		{"RS256", "hs", sign(jwt.SigningMethodRS256, rsaKey, nil, valid), ErrInvalid},
		{"ES256 on HS-only", "hs", sign(jwt.SigningMethodES256, ecKey, nil, valid), ErrInvalid},
		{"ES384", "public", sign(jwt.SigningMethodES384, ec384Key, nil, valid), ErrInvalid},
		{"expired", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.ExpiresAt = at(-time.Minute) })), ErrExpired},
		{"expired within leeway", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.ExpiresAt = at(-2 * time.Second) })), nil},
		{"nbf in the future", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.NotBefore = at(time.Minute) })), ErrInvalid},
		{"nbf within leeway", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.NotBefore = at(2 * time.Second) })), nil},
		{"nbf passed", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.NotBefore = at(-time.Minute) })), nil},
		{"no exp", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.ExpiresAt = nil })), ErrInvalid},
		{"no sub", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Subject = "" })), ErrInvalid},
		{"sub too long", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Subject = strings.Repeat("u", 256) })), ErrInvalid},
		{"garbage", "hs", "not.a.token", ErrInvalid},
		{"empty", "hs", "", ErrInvalid},
		{"too long", "hs", strings.Repeat("a", maxTokenLen+1), ErrInvalid},
		{"crit header", "hs", sign(jwt.SigningMethodHS256, secret, map[string]any{"crit": []string{"exp"}}, valid), ErrInvalid},
		// A kid selects exactly one key.
		{"kid old", "kids", sign(jwt.SigningMethodHS256, oldSecret, kid("hs-old"), valid), nil},
		{"kid new", "kids", sign(jwt.SigningMethodHS256, newSecret, kid("hs-new"), valid), nil},
		{"kid ES256", "kids", sign(jwt.SigningMethodES256, ecKey, kid("ec-1"), valid), nil},
		{"kid EdDSA", "kids", sign(jwt.SigningMethodEdDSA, edPriv, kid("ed-1"), valid), nil},
		{"kid-less EdDSA", "kids", sign(jwt.SigningMethodEdDSA, edPriv2, nil, valid), nil},
		{"kid mismatch: new secret under old kid", "kids", sign(jwt.SigningMethodHS256, newSecret, kid("hs-old"), valid), ErrInvalid},
		{"kid mismatch: other EC key", "kids", sign(jwt.SigningMethodES256, ecKey2, kid("ec-1"), valid), ErrInvalid},
		{"kid mismatch: ES256 under Ed kid", "kids", sign(jwt.SigningMethodES256, ecKey, kid("ed-1"), valid), ErrInvalid},
		{"kid mismatch: kid-less key's token under a kid", "kids", sign(jwt.SigningMethodEdDSA, edPriv2, kid("ed-1"), valid), ErrInvalid},
		{"unknown kid", "kids", sign(jwt.SigningMethodHS256, newSecret, kid("hs-next"), valid), ErrInvalid},
		{"kid not a string", "kids", sign(jwt.SigningMethodHS256, newSecret, map[string]any{"kid": 7}, valid), ErrInvalid},
		{"empty kid", "kids", sign(jwt.SigningMethodHS256, newSecret, kid(""), valid), ErrInvalid},
		{"no kid: kid'd secret not tried", "kids", sign(jwt.SigningMethodHS256, newSecret, nil, valid), ErrInvalid},
		{"no kid: kid'd EC key not tried", "kids", sign(jwt.SigningMethodES256, ecKey, nil, valid), ErrInvalid},
		{"kid-less rotation: old", "two-hs", sign(jwt.SigningMethodHS256, oldSecret, nil, valid), nil},
		{"kid-less rotation: new", "two-hs", sign(jwt.SigningMethodHS256, newSecret, nil, valid), nil},
		{"kid-less rotation: other", "two-hs", sign(jwt.SigningMethodHS256, secret, nil, valid), ErrInvalid},
		// Algorithm confusion: public key bytes used as an HMAC secret.
		{"ES256 kid-less", "public", sign(jwt.SigningMethodES256, ecKey, nil, valid), nil},
		{"EdDSA kid-less", "public", sign(jwt.SigningMethodEdDSA, edPriv, nil, valid), nil},
		{"confusion: HS256 with EC PEM", "public", sign(jwt.SigningMethodHS256, ecPEM, nil, valid), ErrInvalid},
		{"confusion: HS256 with EC point", "public", sign(jwt.SigningMethodHS256, ecRaw, nil, valid), ErrInvalid},
		{"confusion: HS256 with Ed key", "public", sign(jwt.SigningMethodHS256, []byte(edPub), nil, valid), ErrInvalid},
		{"confusion: HS256 with Ed PEM", "public", sign(jwt.SigningMethodHS256, edPEM, nil, valid), ErrInvalid},
		{"confusion: HS256 under EC kid", "kids", sign(jwt.SigningMethodHS256, ecPEM, kid("ec-1"), valid), ErrInvalid},
		{"confusion: HS256 under Ed kid", "kids", sign(jwt.SigningMethodHS256, []byte(edPub), kid("ed-1"), valid), ErrInvalid},
		{"confusion: ES256 under HS kid", "kids", sign(jwt.SigningMethodES256, ecKey, kid("hs-new"), valid), ErrInvalid},
		// RSA: each key accepts the one algorithm it was given.
		{"RS256 kid", "rsa", sign(jwt.SigningMethodRS256, rsaKey, kid("rs"), valid), nil},
		{"PS256 kid", "rsa", sign(jwt.SigningMethodPS256, rsaKey2, kid("ps"), valid), nil},
		{"RS256 kid-less", "rsa", sign(jwt.SigningMethodRS256, rsaKey, nil, valid), nil},
		{"PS256 kid-less", "rsa-ps", sign(jwt.SigningMethodPS256, rsaKey2, nil, valid), nil},
		{"Sign RS256", "rsa", must(Sign(rsaKey, "rs", valid)), nil},
		{"PS256 under RS256 kid, same key", "rsa", sign(jwt.SigningMethodPS256, rsaKey, kid("rs"), valid), ErrInvalid},
		{"RS256 under PS256 kid, same key", "rsa", sign(jwt.SigningMethodRS256, rsaKey2, kid("ps"), valid), ErrInvalid},
		{"PS256 kid-less against an RS256 key", "rsa", sign(jwt.SigningMethodPS256, rsaKey, nil, valid), ErrInvalid},
		{"RS256 kid-less against a PS256 key", "rsa-ps", sign(jwt.SigningMethodRS256, rsaKey2, nil, valid), ErrInvalid},
		{"RS256 other key under kid", "rsa", sign(jwt.SigningMethodRS256, rsaKey2, kid("rs"), valid), ErrInvalid},
		{"PS256 other key under kid", "rsa", sign(jwt.SigningMethodPS256, rsaKey, kid("ps"), valid), ErrInvalid},
		{"RS256 kid-less, other key", "rsa", sign(jwt.SigningMethodRS256, rsaKey2, nil, valid), ErrInvalid},
		{"RS384 under RS256 kid", "rsa", sign(jwt.SigningMethodRS384, rsaKey, kid("rs"), valid), ErrInvalid},
		{"RS512 kid-less", "rsa", sign(jwt.SigningMethodRS512, rsaKey, nil, valid), ErrInvalid},
		{"PS384 under PS256 kid", "rsa", sign(jwt.SigningMethodPS384, rsaKey2, kid("ps"), valid), ErrInvalid},
		{"RS256 under EC kid", "kids", sign(jwt.SigningMethodRS256, rsaKey, kid("ec-1"), valid), ErrInvalid},
		{"ES256 under RS256 kid", "rsa", sign(jwt.SigningMethodES256, ecKey, kid("rs"), valid), ErrInvalid},
		{"tampered RS256", "rsa", func() string {
			tok := sign(jwt.SigningMethodRS256, rsaKey, kid("rs"), valid)
			other := strings.Split(sign(jwt.SigningMethodRS256, rsaKey, kid("rs"), claims(func(c *Claims) { c.Subject = "mallory" })), ".")
			parts := strings.Split(tok, ".")
			return parts[0] + "." + other[1] + "." + parts[2]
		}(), ErrInvalid},
		{"confusion: HS256 with RSA PEM", "rsa", sign(jwt.SigningMethodHS256, rsaPEM, nil, valid), ErrInvalid},
		{"confusion: HS256 with RSA PKCS#1 PEM", "rsa", sign(jwt.SigningMethodHS256, rsaPKCS1, nil, valid), ErrInvalid},
		{"confusion: HS256 with RSA modulus", "rsa", sign(jwt.SigningMethodHS256, rsaKey.N.Bytes(), nil, valid), ErrInvalid},
		{"confusion: HS256 under RS256 kid", "rsa", sign(jwt.SigningMethodHS256, rsaPEM, kid("rs"), valid), ErrInvalid},
		{"confusion: HS256 under PS256 kid", "rsa", sign(jwt.SigningMethodHS256, rsaPEM2, kid("ps"), valid), ErrInvalid},
		// Audience and issuer.
		{"aud match", "aud", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"quicpush"} })), nil},
		{"aud one of several", "aud", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"billing", "quicpush-eu"} })), nil},
		{"aud mismatch", "aud", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"billing"} })), ErrInvalid},
		{"aud missing", "aud", sign(jwt.SigningMethodHS256, secret, nil, valid), ErrInvalid},
		{"aud ignored when not configured", "hs", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"billing"} })), nil},
		{"iss match", "iss", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Issuer = "https://id.example.com" })), nil},
		{"iss mismatch", "iss", sign(jwt.SigningMethodHS256, secret, nil, claims(func(c *Claims) { c.Issuer = "https://evil.example.com" })), ErrInvalid},
		{"iss missing", "iss", sign(jwt.SigningMethodHS256, secret, nil, valid), ErrInvalid},
	}
	built := map[string]*Verifier{}
	for name, cfg := range verifiers {
		v, err := NewVerifier(cfg)
		if err != nil {
			t.Fatalf("verifier %s: %v", name, err)
		}
		built[name] = v
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := built[tt.verifier].Verify(tt.token)
			if tt.want == nil {
				if err != nil || id.User != "alice" {
					t.Fatalf("rejected: %v (identity %+v)", err, id)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if errors.Is(tt.want, ErrInvalid) && errors.Is(err, ErrExpired) {
				t.Fatalf("err = %v, also ErrExpired", err)
			}
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token) {
				t.Fatal("error contains the token")
			}
		})
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

func TestSign(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{Keys: []Key{
		{ID: "h", HMAC: secret}, {ID: "e", Public: &ecKey.PublicKey}, {ID: "d", Public: edPub},
		{ID: "r", Public: &rsaKey.PublicKey},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for kid, key := range map[string]any{"h": secret, "e": ecKey, "d": edPriv, "r": rsaKey} {
		tok, err := Sign(key, kid, NewClaims("bob", []string{"*"}, time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if id, err := v.Verify(tok); err != nil || id.User != "bob" || !id.CanJoin("x") {
			t.Errorf("kid %s: %v %+v", kid, err, id)
		}
	}
	if _, err := Sign(ec384Key, "", NewClaims("bob", nil, time.Minute)); err == nil {
		t.Error("signed ES256 with a P-384 key")
	}
	if _, err := Sign(rsaSmall, "", NewClaims("bob", nil, time.Minute)); err == nil {
		t.Error("signed RS256 with a 1024-bit key")
	}
	if _, err := Sign("string", "", NewClaims("bob", nil, time.Minute)); err == nil {
		t.Error("signed with a string")
	}
}

func TestNewVerifierConfig(t *testing.T) {
	rsaWithE := func(e int) *rsa.PublicKey { return &rsa.PublicKey{N: rsaKey.N, E: e} }
	evenN := &rsa.PublicKey{N: new(big.Int).Lsh(rsaKey.N, 1), E: 65537}
	hugeN := &rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), MaxRSABits+1), E: 65537}
	hugeN.N.SetBit(hugeN.N, 0, 1)
	tests := map[string]VerifierConfig{
		"no keys":             {},
		"short secret":        {HMACSecret: []byte("short")},
		"empty secret":        {HMACSecret: []byte{}},
		"short key":           {Keys: []Key{{ID: "a", HMAC: []byte("short")}}},
		"duplicate kid":       {Keys: []Key{{ID: "a", HMAC: secret}, {ID: "a", Public: edPub}}},
		"secret and public":   {Keys: []Key{{HMAC: secret, Public: edPub}}},
		"empty key":           {Keys: []Key{{ID: "a"}}},
		"RSA 1024 bits":       {Keys: []Key{{Public: &rsaSmall.PublicKey}}},
		"RSA 8194 bits":       {Keys: []Key{{Public: hugeN}}},
		"RSA even modulus":    {Keys: []Key{{Public: evenN}}},
		"RSA e = 1":           {Keys: []Key{{Public: rsaWithE(1)}}},
		"RSA e even":          {Keys: []Key{{Public: rsaWithE(65536)}}},
		"RSA e = 2^31+1":      {Keys: []Key{{Public: rsaWithE(1<<31 + 1)}}},
		"RSA without N":       {Keys: []Key{{Public: &rsa.PublicKey{E: 65537}}}},
		"RSA as HS256":        {Keys: []Key{{Public: &rsaKey.PublicKey, Alg: "HS256"}}},
		"RSA as RS384":        {Keys: []Key{{Public: &rsaKey.PublicKey, Alg: "RS384"}}},
		"RSA private key":     {Keys: []Key{{Public: rsaKey}}},
		"EC as PS256":         {Keys: []Key{{Public: &ecKey.PublicKey, Alg: "PS256"}}},
		"Ed25519 as ES256":    {Keys: []Key{{Public: edPub, Alg: "ES256"}}},
		"HMAC as RS256":       {Keys: []Key{{HMAC: secret, Alg: "RS256"}}},
		"P-384 key":           {ECDSAKey: &ec384Key.PublicKey},
		"short Ed25519 key":   {Ed25519Key: edPub[:31]},
		"private key":         {Keys: []Key{{Public: edPriv}}},
		"ecdsa value":         {Keys: []Key{{Public: ecKey.PublicKey}}},
		"JWKS over http":      {JWKSURL: "http://id.example.com/jwks.json"},
		"JWKS other scheme":   {JWKSURL: "ftp://127.0.0.1/jwks.json"},
		"JWKS without host":   {JWKSURL: "https:///jwks.json"},
		"JWKS does not parse": {JWKSURL: "https://[::1"},
	}
	for name, cfg := range tests {
		if v, err := NewVerifier(cfg); err == nil {
			v.Close()
			t.Errorf("%s: accepted", name)
		}
	}
	v, err := NewVerifier(VerifierConfig{HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	v.Close() // no JWKS: a no-op
	v.Close()
}

func TestParsePublicKeyPEM(t *testing.T) {
	for name, data := range map[string][]byte{
		"EC":          pemOf(&ecKey.PublicKey),
		"Ed25519":     pemOf(edPub),
		"RSA PKIX":    pemOf(&rsaKey.PublicKey),
		"RSA PKCS#1":  pkcs1PEMOf(&rsaKey.PublicKey),
		"RSA PKCS#1'": pkcs1PEMOf(&rsaKey2.PublicKey),
	} {
		got, err := ParsePublicKeyPEM(data)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := publicVerifyKey(got, ""); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	bad := map[string][]byte{
		"RSA 1024 PKIX":   pemOf(&rsaSmall.PublicKey),
		"RSA 1024 PKCS#1": pkcs1PEMOf(&rsaSmall.PublicKey),
		"RSA private":     pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}),
		"PKCS#1 as PKIX":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)}),
		"P-384":           pemOf(&ec384Key.PublicKey),
		"private":         pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		"garbage":         []byte("not pem"),
		"corrupt":         pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}}),
	}
	for name, data := range bad {
		_, err := ParsePublicKeyPEM(data)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if name == "private" && strings.Contains(err.Error(), string(privDER)) {
			t.Error("error quotes the private key")
		}
		if strings.HasPrefix(name, "RSA 1024") && !strings.Contains(err.Error(), "1024 bits, need at least 2048") {
			t.Errorf("%s: %v, want the size named", name, err)
		}
	}
}

// flipS returns token with its ES256 signature's S replaced by N-S: the
// other valid form of the same signature.
func flipS(t *testing.T, token string) string {
	t.Helper()
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("not an ES256 signature: %v", err)
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	return token[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
}

// Both forms of an ES256 signature verify by default; with ES256LowS only
// the low one does, and Sign always gives the low one.
func TestES256LowS(t *testing.T) {
	lax, err := NewVerifier(VerifierConfig{ECDSAKey: &ecKey.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	strict, err := NewVerifier(VerifierConfig{ECDSAKey: &ecKey.PublicKey, ES256LowS: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 32 {
		low, err := Sign(ecKey, "", claims())
		if err != nil {
			t.Fatal(err)
		}
		dot := strings.LastIndexByte(low, '.')
		sig, _ := base64.RawURLEncoding.DecodeString(low[dot+1:])
		if highS(sig) {
			t.Fatalf("token %d: Sign gave a high S", i)
		}
		high := flipS(t, low)
		for name, tok := range map[string]string{"low": low, "high": high} {
			if _, err := lax.Verify(tok); err != nil {
				t.Errorf("token %d, %s S, default verifier: %v", i, name, err)
			}
		}
		if _, err := strict.Verify(low); err != nil {
			t.Errorf("token %d, low S, ES256LowS: %v", i, err)
		}
		if _, err := strict.Verify(high); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "low-S") {
			t.Errorf("token %d, high S, ES256LowS: %v, want ErrInvalid (low-S)", i, err)
		}
	}
	// Other algorithms are not affected.
	ed, err := NewVerifier(VerifierConfig{Ed25519Key: edPub, ES256LowS: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ed.Verify(sign(jwt.SigningMethodEdDSA, edPriv, nil, claims())); err != nil {
		t.Errorf("EdDSA with ES256LowS: %v", err)
	}
}
