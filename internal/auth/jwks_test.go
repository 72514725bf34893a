package auth

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer serves a JWK Set that tests replace, and counts requests.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	body []byte
	down bool
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	s := &jwksServer{}
	s.set(keys...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, down := s.body, s.down
		s.mu.Unlock()
		if down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys ...map[string]any) {
	if keys == nil {
		keys = []map[string]any{}
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	s.setRaw(b)
}

func (s *jwksServer) setRaw(b []byte) {
	s.mu.Lock()
	s.body = b
	s.mu.Unlock()
}

func (s *jwksServer) setDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.mu.Unlock()
}

var b64 = base64.RawURLEncoding.EncodeToString

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	raw, err := k.PublicKey.Bytes()
	if err != nil {
		panic(err)
	}
	size := (len(raw) - 1) / 2
	crv := map[int]string{32: "P-256", 48: "P-384"}[size]
	return map[string]any{"kty": "EC", "crv": crv, "kid": kid, "use": "sig", "alg": "ES256",
		"x": b64(raw[1 : 1+size]), "y": b64(raw[1+size:])}
}

// edJWK is an Ed25519 key; an empty kid leaves the member out.
func edJWK(kid string, pub ed25519.PublicKey) map[string]any {
	k := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(pub)}
	if kid != "" {
		k["kid"] = kid
	}
	return k
}

// rsaJWK is an RSA key; empty kid and alg leave the members out.
func rsaJWK(kid, alg string, pub *rsa.PublicKey) map[string]any {
	k := map[string]any{"kty": "RSA", "use": "sig", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
	if kid != "" {
		k["kid"] = kid
	}
	if alg != "" {
		k["alg"] = alg
	}
	return k
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func jwksVerifier(t *testing.T, cfg VerifierConfig) (*Verifier, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	v, err := NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	return v, logs
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func accepts(v *Verifier, tok string) bool {
	_, err := v.Verify(tok)
	return err == nil
}

// TestJWKSRotation: a token with a new kid makes the verifier fetch the set
// at once; a key removed from the set stops verifying at the next refresh.
func TestJWKSRotation(t *testing.T) {
	srv := newJWKSServer(t, ecJWK("a", ecKey))
	v, logs := jwksVerifier(t, VerifierConfig{
		JWKSURL:         srv.URL + "/jwks.json",
		JWKSRefresh:     time.Hour,
		JWKSMinInterval: time.Nanosecond,
	})
	tokA := sign(jwt.SigningMethodES256, ecKey, kid("a"), claims())
	tokB := sign(jwt.SigningMethodEdDSA, edPriv, kid("b"), claims())
	if !accepts(v, tokA) {
		t.Fatal("key a not accepted")
	}
	if accepts(v, tokB) {
		t.Fatal("key b accepted before it was published")
	}
	// The issuer publishes b: the unknown kid triggers a fetch.
	srv.set(ecJWK("a", ecKey), edJWK("b", edPub))
	if _, err := v.Verify(tokB); err != nil {
		t.Fatalf("key b after rotation: %v", err)
	}
	// Then it withdraws a. Verify does not fetch for a known kid, but the
	// next unknown kid (or the periodic refresh) does.
	srv.set(edJWK("b", edPub))
	if !accepts(v, tokA) {
		t.Fatal("key a dropped before any refresh")
	}
	if accepts(v, sign(jwt.SigningMethodEdDSA, edPriv, kid("c"), claims())) {
		t.Fatal("unknown kid c accepted")
	}
	if accepts(v, tokA) {
		t.Fatal("key a still accepted after it left the set")
	}
	if !accepts(v, tokB) {
		t.Fatal("key b lost")
	}
	if !strings.Contains(logs.String(), "removed=[a]") {
		t.Errorf("no log line for the removed key:\n%s", logs)
	}
}

// TestJWKSPeriodicRefresh: the set is fetched again every JWKSRefresh, and
// a failing server leaves the last keys in place.
func TestJWKSPeriodicRefresh(t *testing.T) {
	srv := newJWKSServer(t, ecJWK("a", ecKey))
	v, logs := jwksVerifier(t, VerifierConfig{
		JWKSURL:         srv.URL,
		JWKSRefresh:     10 * time.Millisecond,
		JWKSMinInterval: 10 * time.Millisecond,
	})
	tokA := sign(jwt.SigningMethodES256, ecKey, kid("a"), claims())
	tokB := sign(jwt.SigningMethodEdDSA, edPriv, kid("b"), claims())

	srv.set(edJWK("b", edPub))
	eventually(t, "the periodic refresh to drop a", func() bool { return !v.jwks.keys().hasKID("a") })
	if !accepts(v, tokB) || accepts(v, tokA) {
		t.Fatal("set not replaced")
	}

	// The server fails: refreshes keep failing, the keys stay.
	srv.setDown(true)
	n := srv.hits.Load()
	eventually(t, "failed refreshes", func() bool { return srv.hits.Load() >= n+3 })
	if !accepts(v, tokB) {
		t.Fatal("keys lost while the JWKS server is down")
	}
	if !strings.Contains(logs.String(), "JWKS refresh failed") {
		t.Errorf("failure not logged:\n%s", logs)
	}
	// A document that does not parse does not replace the set either.
	srv.setDown(false)
	srv.setRaw([]byte(`{"keys": "nope"}`))
	n = srv.hits.Load()
	eventually(t, "refreshes of a bad document", func() bool { return srv.hits.Load() >= n+2 })
	if !accepts(v, tokB) {
		t.Fatal("keys lost to a malformed document")
	}
	// Closing stops the refreshes.
	v.Close()
	n = srv.hits.Load()
	time.Sleep(50 * time.Millisecond)
	if got := srv.hits.Load(); got != n {
		t.Errorf("%d fetches after Close", got-n)
	}
	if !accepts(v, tokB) {
		t.Fatal("keys lost at Close")
	}
}

// TestJWKSServerGone: a JWKS server that disappears leaves the keys.
func TestJWKSServerGone(t *testing.T) {
	srv := newJWKSServer(t, ecJWK("a", ecKey))
	v, _ := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: 5 * time.Millisecond, JWKSMinInterval: time.Nanosecond})
	srv.Close()
	time.Sleep(30 * time.Millisecond)
	// An unknown kid tries (and fails) to fetch; a known one still works.
	if accepts(v, sign(jwt.SigningMethodEdDSA, edPriv, kid("b"), claims())) {
		t.Fatal("unknown kid accepted")
	}
	if !accepts(v, sign(jwt.SigningMethodES256, ecKey, kid("a"), claims())) {
		t.Fatal("key lost when the server went away")
	}
}

// TestJWKSUnknownKIDRateLimit: tokens with unknown kids cause at most one
// fetch per JWKSMinInterval, however many arrive at once.
func TestJWKSUnknownKIDRateLimit(t *testing.T) {
	srv := newJWKSServer(t, ecJWK("a", ecKey))
	v, _ := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSMinInterval: time.Hour})
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches at start", n)
	}
	srv.set(ecJWK("a", ecKey), edJWK("b", edPub))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			if accepts(v, sign(jwt.SigningMethodEdDSA, edPriv, kid("b"+strings.Repeat("x", i)), claims())) {
				t.Error("unknown kid accepted")
			}
		})
	}
	wg.Wait()
	if n := srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (the one at start)", n)
	}

	// With a short interval, a burst of unknown kids shares one fetch.
	srv2 := newJWKSServer(t, ecJWK("a", ecKey))
	v2, _ := jwksVerifier(t, VerifierConfig{JWKSURL: srv2.URL, JWKSRefresh: time.Hour, JWKSMinInterval: 200 * time.Millisecond})
	time.Sleep(250 * time.Millisecond)
	srv2.set(ecJWK("a", ecKey), edJWK("b", edPub))
	tokB := sign(jwt.SigningMethodEdDSA, edPriv, kid("b"), claims())
	var ok atomic.Int64
	for range 20 {
		wg.Go(func() {
			if accepts(v2, tokB) {
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	if n := srv2.hits.Load(); n != 2 {
		t.Errorf("%d fetches, want 2", n)
	}
	if n := ok.Load(); n != 20 {
		t.Errorf("key b accepted %d times out of 20", n)
	}
	if !accepts(v2, tokB) {
		t.Error("key b not accepted after the fetch")
	}
}

// TestJWKSKeyTypes: only EC P-256, OKP Ed25519 and RSA (TestJWKSRSA)
// signing keys are taken; the others are ignored with a log line and never
// verify anything.
func TestJWKSKeyTypes(t *testing.T) {
	octSecret := []byte(strings.Repeat("k", 32))
	withAlg := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range m {
			out[key] = val
		}
		out[k] = v
		return out
	}
	srv := newJWKSServer(t,
		ecJWK("ec", ecKey),
		edJWK("ed", edPub),
		map[string]any{"kty": "oct", "kid": "oct", "k": b64(octSecret)},
		map[string]any{"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
		ecJWK("p384", ec384Key),
		map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x25519", "x": b64(make([]byte, 32))},
		withAlg(ecJWK("ec-rs", ecKey2), "alg", "RS256"),
		withAlg(ecJWK("ec-enc", ecKey2), "use", "enc"),
		withAlg(ecJWK("ec-ops", ecKey2), "key_ops", []string{"encrypt"}),
		withAlg(ecJWK("ec-bad-point", ecKey2), "y", b64(make([]byte, 32))),
		withAlg(edJWK("ed-short", edPub2), "x", b64(edPub2[:16])),
		edJWK("ec", edPub2), // duplicate kid: the first one stays
		map[string]any{"kty": 5},
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "", "x": b64(edPub2)},
	)
	v, logs := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSMinInterval: time.Hour})
	set := v.jwks.keys()
	if len(set.byKID) != 2 || !set.hasKID("ec") || !set.hasKID("ed") {
		t.Fatalf("keys taken: %v", set.byKID)
	}
	for _, want := range []string{"kid=oct", "kid=rsa", "kid=p384", "kid=x25519", "kid=ec-rs", "kid=ec-enc", "kid=ec-ops", "kid=ec-bad-point", "kid=ed-short", "used twice", "malformed", "empty kid"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log line with %q", want)
		}
	}
	if strings.Contains(logs.String(), b64(octSecret)) {
		t.Error("the symmetric key was logged")
	}
	tests := map[string]string{
		"oct key as HMAC secret":  sign(jwt.SigningMethodHS256, octSecret, kid("oct"), claims()),
		"HS256 with EC x as key":  sign(jwt.SigningMethodHS256, []byte(ecJWK("ec", ecKey)["x"].(string)), kid("ec"), claims()),
		"HS256 with Ed key bytes": sign(jwt.SigningMethodHS256, []byte(edPub), kid("ed"), claims()),
		"HS256 kid-less":          sign(jwt.SigningMethodHS256, []byte(edPub), nil, claims()),
		"ES256 under Ed kid":      sign(jwt.SigningMethodES256, ecKey, kid("ed"), claims()),
		"ignored key":             sign(jwt.SigningMethodES256, ecKey2, kid("ec-rs"), claims()),
		"duplicate kid's 2nd key": sign(jwt.SigningMethodEdDSA, edPriv2, kid("ec"), claims()),
		"alg none":                sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid("ec"), claims()),
	}
	for name, tok := range tests {
		if _, err := v.Verify(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tok := range map[string]string{
		"ES256": sign(jwt.SigningMethodES256, ecKey, kid("ec"), claims()),
		"EdDSA": sign(jwt.SigningMethodEdDSA, edPriv, kid("ed"), claims()),
	} {
		if !accepts(v, tok) {
			t.Errorf("%s not accepted", name)
		}
	}
}

// TestJWKSWithStaticKeys: configured keys and JWKS keys live side by side;
// a configured kid wins, and JWKS keys without a kid are tried for kid-less
// tokens.
func TestJWKSWithStaticKeys(t *testing.T) {
	srv := newJWKSServer(t, ecJWK("shared", ecKey2), edJWK("", edPub2))
	v, _ := jwksVerifier(t, VerifierConfig{
		HMACSecret:      secret,
		Keys:            []Key{{ID: "shared", Public: &ecKey.PublicKey}},
		JWKSURL:         srv.URL,
		JWKSMinInterval: time.Hour,
		Audience:        []string{"quicpush"},
		Issuer:          "https://id.example.com",
	})
	ok := claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"quicpush"}; c.Issuer = "https://id.example.com" })
	for name, tc := range map[string]struct {
		tok  string
		want bool
	}{
		"static HS256":                {sign(jwt.SigningMethodHS256, secret, nil, ok), true},
		"static kid wins":             {sign(jwt.SigningMethodES256, ecKey, kid("shared"), ok), true},
		"JWKS key behind static kid":  {sign(jwt.SigningMethodES256, ecKey2, kid("shared"), ok), false},
		"JWKS kid-less key":           {sign(jwt.SigningMethodEdDSA, edPriv2, nil, ok), true},
		"JWKS kid-less key, bad aud":  {sign(jwt.SigningMethodEdDSA, edPriv2, nil, claims(func(c *Claims) { c.Issuer = "https://id.example.com" })), false},
		"JWKS kid-less key, bad iss":  {sign(jwt.SigningMethodEdDSA, edPriv2, nil, claims(func(c *Claims) { c.Audience = jwt.ClaimStrings{"quicpush"} })), false},
		"other kid-less Ed key":       {sign(jwt.SigningMethodEdDSA, edPriv, nil, ok), false},
		"HS256 with JWKS Ed key":      {sign(jwt.SigningMethodHS256, []byte(edPub2), nil, ok), false},
		"ES256 kid-less (none there)": {sign(jwt.SigningMethodES256, ecKey, nil, ok), false},
	} {
		if got := accepts(v, tc.tok); got != tc.want {
			t.Errorf("%s: accepted = %v, want %v", name, got, tc.want)
		}
	}
}

func TestJWKSStart(t *testing.T) {
	// The first fetch must succeed, within JWKSTimeout.
	srv := newJWKSServer(t, ecJWK("a", ecKey))
	srv.setDown(true)
	if _, err := NewVerifier(VerifierConfig{JWKSURL: srv.URL}); err == nil {
		t.Error("started with the JWKS server failing")
	}
	srv.setDown(false)
	srv.setRaw([]byte("<html>"))
	if _, err := NewVerifier(VerifierConfig{JWKSURL: srv.URL}); err == nil {
		t.Error("started with a JWKS that is not JSON")
	}
	srv.set(map[string]any{"kty": "RSA", "kid": "r", "n": "AQAB", "e": "AQAB"})
	if _, err := NewVerifier(VerifierConfig{JWKSURL: srv.URL}); err == nil {
		t.Error("started with no usable key at all")
	}
	// ... but an empty set is fine next to other keys.
	v, err := NewVerifier(VerifierConfig{JWKSURL: srv.URL, HMACSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	v.Close()

	block := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(block)
	start := time.Now()
	if _, err := NewVerifier(VerifierConfig{JWKSURL: slow.URL, JWKSTimeout: 50 * time.Millisecond}); err == nil {
		t.Error("started without a JWKS")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("first fetch took %v despite a 50ms timeout", d)
	}

	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"keys":[` + strings.Repeat(" ", maxJWKSBytes) + `]}`))
	}))
	defer big.Close()
	if _, err := NewVerifier(VerifierConfig{JWKSURL: big.URL}); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("oversized JWKS: %v", err)
	}
}

// TestJWKSRedirect: the default client follows redirects only to URLs a
// JWKS URL could name.
func TestJWKSRedirect(t *testing.T) {
	target := newJWKSServer(t, ecJWK("a", ecKey))
	for name, tc := range map[string]struct {
		to string
		ok bool
	}{
		"to loopback http":  {target.URL, true},
		"to plain http":     {"http://id.example.com/jwks.json", false},
		"to another scheme": {"ftp://127.0.0.1/jwks.json", false},
	} {
		redirect := httptest.NewServer(http.RedirectHandler(tc.to, http.StatusFound))
		v, err := NewVerifier(VerifierConfig{JWKSURL: redirect.URL, JWKSTimeout: time.Second})
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", name, err)
		}
		if v != nil {
			v.Close()
		}
		redirect.Close()
	}
}

// logLine reports whether one line of logs holds every one of want.
func logLine(logs string, want ...string) bool {
	for line := range strings.Lines(logs) {
		all := true
		for _, w := range want {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}

func (s *keySet) hasKID(kid string) bool {
	_, ok := s.byKID[kid]
	return ok
}

// TestJWKSRSA: RSA keys are taken with the algorithm their alg member names,
// RS256 when it is absent, and only that one; keys under MinRSABits, with
// another RSA alg, a bad exponent or another use are skipped with a log line.
func TestJWKSRSA(t *testing.T) {
	with := func(m map[string]any, k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range m {
			out[key] = val
		}
		out[k] = v
		return out
	}
	pub, pub2 := &rsaKey.PublicKey, &rsaKey2.PublicKey
	srv := newJWKSServer(t,
		rsaJWK("rs", "RS256", pub),
		rsaJWK("ps", "PS256", pub2),
		rsaJWK("noalg", "", pub2),
		rsaJWK("", "PS256", pub), // kid-less PS256
		// A leading zero byte on n, as some providers write it.
		with(rsaJWK("n0", "RS256", pub2), "n", b64(append([]byte{0}, pub2.N.Bytes()...))),
		rsaJWK("small", "RS256", &rsaSmall.PublicKey),
		rsaJWK("small-noalg", "", &rsaSmall.PublicKey),
		rsaJWK("rs512", "RS512", pub),
		rsaJWK("hs", "HS256", pub),
		rsaJWK("oaep", "RSA-OAEP", pub),
		with(rsaJWK("enc", "", pub), "use", "enc"),
		with(rsaJWK("ops", "RS256", pub), "key_ops", []string{"encrypt"}),
		with(rsaJWK("e-even", "RS256", pub), "e", b64([]byte{1, 0, 0})),
		with(rsaJWK("e-one", "RS256", pub), "e", "AQ"),
		with(rsaJWK("e-long", "RS256", pub), "e", b64([]byte{1, 0, 0, 0, 1})),
		with(rsaJWK("n-bad", "RS256", pub), "n", "!!"),
		with(rsaJWK("n-huge", "RS256", pub), "n", b64(make([]byte, MaxRSABits/8+2))),
	)
	v, logs := jwksVerifier(t, VerifierConfig{JWKSURL: srv.URL, JWKSMinInterval: time.Hour})
	set := v.jwks.keys()
	for kid, alg := range map[string]string{"rs": "RS256", "ps": "PS256", "noalg": "RS256", "n0": "RS256"} {
		if k, ok := set.byKID[kid]; !ok || k.alg != alg {
			t.Errorf("kid %s: %+v, want %s", kid, k.alg, alg)
		}
	}
	if len(set.byKID) != 4 || len(set.noKID["PS256"]) != 1 || len(set.noKID) != 1 {
		t.Fatalf("keys taken: %v, kid-less %v", set.byKID, set.noKID)
	}
	for _, kid := range []string{"small", "small-noalg"} {
		if !logLine(logs.String(), "kid="+kid+" ", `reason="RSA key is 1024 bits, need at least 2048"`) {
			t.Errorf("no log line naming the size of key %s:\n%s", kid, logs)
		}
	}
	for _, want := range []string{
		"kid=rs512", "kid=hs", "kid=oaep", "kid=enc", "kid=ops", "kid=e-even", "kid=e-one", "kid=e-long", "kid=n-bad", "kid=n-huge",
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("no log line with %q", want)
		}
	}
	c := claims()
	for name, tc := range map[string]struct {
		tok  string
		want bool
	}{
		"RS256 kid":                    {sign(jwt.SigningMethodRS256, rsaKey, kid("rs"), c), true},
		"PS256 kid":                    {sign(jwt.SigningMethodPS256, rsaKey2, kid("ps"), c), true},
		"RS256 kid without alg":        {sign(jwt.SigningMethodRS256, rsaKey2, kid("noalg"), c), true},
		"RS256 kid, n with a zero":     {sign(jwt.SigningMethodRS256, rsaKey2, kid("n0"), c), true},
		"PS256 kid-less":               {sign(jwt.SigningMethodPS256, rsaKey, nil, c), true},
		"PS256 under RS256 kid":        {sign(jwt.SigningMethodPS256, rsaKey, kid("rs"), c), false},
		"RS256 under PS256 kid":        {sign(jwt.SigningMethodRS256, rsaKey2, kid("ps"), c), false},
		"PS256 under kid without alg":  {sign(jwt.SigningMethodPS256, rsaKey2, kid("noalg"), c), false},
		"RS256 kid-less":               {sign(jwt.SigningMethodRS256, rsaKey, nil, c), false},
		"RS512 under its kid":          {sign(jwt.SigningMethodRS512, rsaKey, kid("rs512"), c), false},
		"small key's token":            {sign(jwt.SigningMethodRS256, rsaSmall, kid("small"), c), false},
		"HS256 with n under RS256 kid": {sign(jwt.SigningMethodHS256, []byte(b64(pub.N.Bytes())), kid("rs"), c), false},
		"HS256 with n bytes kid-less":  {sign(jwt.SigningMethodHS256, pub.N.Bytes(), nil, c), false},
		"HS256 under alg HS256 kid":    {sign(jwt.SigningMethodHS256, pub.N.Bytes(), kid("hs"), c), false},
	} {
		if got := accepts(v, tc.tok); got != tc.want {
			t.Errorf("%s: accepted = %v, want %v", name, got, tc.want)
		}
	}

	// A set of only RSA keys too small is no set at all.
	small := newJWKSServer(t, rsaJWK("small", "RS256", &rsaSmall.PublicKey))
	if v, err := NewVerifier(VerifierConfig{JWKSURL: small.URL}); err == nil {
		v.Close()
		t.Error("started with only a 1024-bit RSA key")
	}
}
