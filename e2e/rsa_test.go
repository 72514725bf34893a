package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// TestRSATokensPerTransport: an edge holding an identity provider's RSA keys
// (one for RS256, one for PS256, each pinned to its algorithm) accepts a
// token of either on each of the four transports and refuses, with 3500,
// a token signed by the right key with the other algorithm.
func TestRSATokensPerTransport(t *testing.T) {
	rsKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	psKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(c *server.SingleConfig) {
		c.Auth.Keys = []auth.Key{{ID: "idp-rs", Public: &rsKey.PublicKey, Alg: "RS256"}, {ID: "idp-ps", Public: &psKey.PublicKey, Alg: "PS256"}}
	})
	sign := func(m jwt.SigningMethod, kid string, key *rsa.PrivateKey, user string) string {
		tk := jwt.NewWithClaims(m, auth.NewClaims(user, []string{"r"}, time.Hour))
		tk.Header["kid"] = kid
		s, err := tk.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			for _, tc := range []struct {
				name, token string
				ok          bool
			}{
				{"RS256", sign(jwt.SigningMethodRS256, "idp-rs", rsKey, "rs-"+kind), true},
				{"PS256", sign(jwt.SigningMethodPS256, "idp-ps", psKey, "ps-"+kind), true},
				{"PS256 with the RS256 key", sign(jwt.SigningMethodPS256, "idp-rs", rsKey, "x-"+kind), false},
				{"RS256 with the PS256 key", sign(jwt.SigningMethodRS256, "idp-ps", psKey, "y-"+kind), false},
			} {
				c := dialRaw(t, srv, kind)
				if tc.ok {
					if ok := authenticate(t, c, tc.token); ok.User == "" {
						t.Fatalf("%s: AuthOK without a user", tc.name)
					}
					join(t, c, 2, "r")
				} else {
					if err := c.write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tc.token})); err != nil {
						t.Fatal(err)
					}
					expectDisconnect(t, c, wire.CodeInvalidToken)
				}
				c.close()
			}
		})
	}
}
