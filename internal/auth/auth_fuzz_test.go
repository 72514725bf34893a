package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify feeds arbitrary strings to a verifier holding every kind of
// key: none may panic, none may verify (the fuzzer knows no key), every
// error must be ErrInvalid (ErrExpired needs a valid signature) and must not
// quote the token. The seeds are real tokens broken in the ways attackers
// try: signatures cut or swapped, headers switched to none or to HS256 under
// a public key's kid (an RSA key's PEM as the secret), RS256 and PS256
// swapped under an RSA key's kid, kids of the wrong type.
func FuzzVerify(f *testing.F) {
	v, err := NewVerifier(VerifierConfig{
		HMACSecret: secret,
		Keys: []Key{
			{ID: "hs", HMAC: newSecret},
			{ID: "ec", Public: &ecKey.PublicKey},
			{ID: "ed", Public: edPub},
			{Public: edPub2},
			{ID: "rs", Public: &rsaKey.PublicKey},
			{ID: "ps", Public: &rsaKey2.PublicKey, Alg: "PS256"},
		},
		Audience: []string{"quicpush"},
	})
	if err != nil {
		f.Fatal(err)
	}
	c := claims(func(c *Claims) {
		c.Audience = jwt.ClaimStrings{"quicpush"}
		c.ExpiresAt = jwt.NewNumericDate(time.Now().Add(24 * time.Hour))
	})
	valid := []string{
		sign(jwt.SigningMethodHS256, secret, nil, c),
		sign(jwt.SigningMethodHS256, newSecret, kid("hs"), c),
		sign(jwt.SigningMethodES256, ecKey, kid("ec"), c),
		sign(jwt.SigningMethodEdDSA, edPriv, kid("ed"), c),
		sign(jwt.SigningMethodEdDSA, edPriv2, nil, c),
		sign(jwt.SigningMethodRS256, rsaKey, kid("rs"), c),
		sign(jwt.SigningMethodPS256, rsaKey2, kid("ps"), c),
	}
	for _, tok := range valid {
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(parts[0] + "." + parts[1])
		f.Add(tok[:len(tok)-2])
		f.Add(tok + "A")
		f.Add(parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])))
		for _, other := range valid {
			if other != tok {
				f.Add(parts[0] + "." + parts[1] + "." + strings.Split(other, ".")[2])
			}
		}
	}
	for _, h := range []map[string]any{kid("ec"), kid("ed"), kid("rs"), kid("ps"), kid("nope"), {"kid": 1}, {"kid": ""}, {"crit": []string{"x"}}} {
		f.Add(sign(jwt.SigningMethodHS256, []byte(edPub), h, c))
		f.Add(sign(jwt.SigningMethodHS256, pemOf(&rsaKey.PublicKey), h, c))
		f.Add(sign(jwt.SigningMethodHS256, pkcs1PEMOf(&rsaKey2.PublicKey), h, c))
		f.Add(sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, h, c))
	}
	// The right key under the other RSA algorithm: a PS256 signature under
	// the RS256 kid and the reverse.
	f.Add(sign(jwt.SigningMethodPS256, rsaKey, kid("rs"), c))
	f.Add(sign(jwt.SigningMethodRS256, rsaKey2, kid("ps"), c))
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "eyJ.eyJ.", "e30.e30.", strings.Repeat(".", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(token)
		if err == nil {
			t.Fatalf("verified %q as %+v", token, id)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
		if len(token) >= 16 && strings.Contains(err.Error(), token) {
			t.Fatalf("error quotes the token: %v", err)
		}
	})
}
