// Package auth verifies the JWTs that clients present to an edge and issues
// development tokens. A token names the user (sub), when it expires (exp) and
// which rooms the connection may join (the "rooms" claim); the edge checks it
// locally, with no call to another service per connection.
package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors returned by Verify. Both mean the client must not retry with the same
// token; ErrExpired means a fresh token will do.
var (
	ErrInvalid = errors.New("auth: invalid token")
	ErrExpired = errors.New("auth: token expired")
)

// DefaultLeeway is the clock skew allowed on exp and nbf when
// VerifierConfig.Leeway is zero.
const DefaultLeeway = 5 * time.Second

// Identity is what a verified token grants.
type Identity struct {
	// User is the token's subject.
	User string
	// Rooms are the room patterns the connection may join: an exact name, a
	// prefix ending in "*", or "*" for every room.
	Rooms []string
	// Expires is the token's expiry.
	Expires time.Time
}

// CanJoin reports whether the identity allows joining room.
func (id Identity) CanJoin(room string) bool {
	for _, p := range id.Rooms {
		if p == room {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(room, prefix) {
			return true
		}
	}
	return false
}

// Claims is the token payload.
type Claims struct {
	Rooms []string `json:"rooms,omitempty"`
	jwt.RegisteredClaims
}

// VerifierConfig lists the keys tokens may be signed with. Each key pins its
// algorithm: an HMAC secret accepts only HS256, an ECDSA P-256 key only ES256,
// an Ed25519 key only EdDSA, so a token cannot choose a weaker check.
type VerifierConfig struct {
	// HMACSecret verifies HS256 tokens. At least 32 bytes.
	HMACSecret []byte
	// ECDSAKey verifies ES256 tokens.
	ECDSAKey *ecdsa.PublicKey
	// Ed25519Key verifies EdDSA tokens.
	Ed25519Key ed25519.PublicKey
	// Leeway is the clock skew allowed on exp and nbf; zero means DefaultLeeway.
	Leeway time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	keys   map[string]crypto.PublicKey // by alg
	parser *jwt.Parser
}

// MinHMACSecret is the shortest HS256 secret accepted.
const MinHMACSecret = 32

// NewVerifier returns a verifier for the configured keys.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{keys: map[string]crypto.PublicKey{}}
	if cfg.HMACSecret != nil {
		if len(cfg.HMACSecret) < MinHMACSecret {
			return nil, fmt.Errorf("auth: HMAC secret is %d bytes, need at least %d", len(cfg.HMACSecret), MinHMACSecret)
		}
		v.keys[jwt.SigningMethodHS256.Alg()] = cfg.HMACSecret
	}
	if cfg.ECDSAKey != nil {
		v.keys[jwt.SigningMethodES256.Alg()] = cfg.ECDSAKey
	}
	if cfg.Ed25519Key != nil {
		v.keys[jwt.SigningMethodEdDSA.Alg()] = cfg.Ed25519Key
	}
	if len(v.keys) == 0 {
		return nil, errors.New("auth: no verification key configured")
	}
	algs := make([]string, 0, len(v.keys))
	for alg := range v.keys {
		algs = append(algs, alg)
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired(), jwt.WithLeeway(leeway)}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify checks token and returns the identity it grants.
func (v *Verifier) Verify(token string) (Identity, error) {
	var c Claims
	_, err := v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		key, ok := v.keys[t.Method.Alg()]
		if !ok {
			return nil, fmt.Errorf("algorithm %s not accepted", t.Method.Alg())
		}
		return key, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Identity{}, fmt.Errorf("%w: %v", ErrExpired, err)
	case err != nil:
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	case c.Subject == "":
		return Identity{}, fmt.Errorf("%w: empty sub", ErrInvalid)
	case len(c.Subject) > 255:
		return Identity{}, fmt.Errorf("%w: sub longer than 255 bytes", ErrInvalid)
	}
	return Identity{User: c.Subject, Rooms: c.Rooms, Expires: c.ExpiresAt.Time}, nil
}

// IssueHS256 signs a token for user, valid for ttl, allowing rooms. It serves
// development and tests; production tokens come from the application backend.
func IssueHS256(secret []byte, user string, rooms []string, ttl time.Duration) (string, error) {
	now := time.Now()
	c := Claims{
		Rooms: rooms,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   user,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
}
