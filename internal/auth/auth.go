// Package auth verifies the JWTs that clients present to an edge and issues
// development tokens. A token names the user (sub), when it expires (exp) and
// which rooms the connection may join (the "rooms" claim); the edge checks it
// locally, with no call to another service per connection (a JWKS, when
// configured, is fetched in the background, not per token).
package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
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

// maxTokenLen bounds the tokens Verify parses; the wire protocol carries at
// most 8 KiB.
const maxTokenLen = 16 << 10

// Identity is what a verified token grants.
type Identity struct {
	// User is the token's subject.
	User string
	// Rooms are the room patterns the connection may join: an exact name, a
	// prefix ending in "*", or "*" for every room.
	Rooms []string
	// Expires is the token's expiry.
	Expires time.Time
	// Info is the token's optional `info` claim, a JSON object of at most
	// MaxInfoLen bytes that the application attaches to the connection
	// (shown by the push API's Presence); empty when absent.
	Info string
}

// MaxInfoLen is the longest `info` claim, in bytes of compact JSON as
// the token carried it.
const MaxInfoLen = 1 << 10

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
	// Info is optional application data about the connection: a JSON
	// object of at most MaxInfoLen bytes (anything else is ignored).
	Info json.RawMessage `json:"info,omitempty"`
	jwt.RegisteredClaims
}

// VerifierConfig lists the keys tokens may be signed with. Each key pins its
// algorithm: an HMAC secret accepts only HS256, an ECDSA P-256 key only ES256,
// an Ed25519 key only EdDSA, an RSA key only the one of RS256 and PS256 its
// Key.Alg names, so a token cannot choose a weaker check (nor HS256 with a
// public key as the secret), and `none` is never accepted.
//
// A token whose header names a key id (kid) is checked only against the key
// with that id, and only if the token's alg is that key's algorithm. A token
// without a kid is checked against the keys without an id of its algorithm.
// Rotation: configure the old and the new key side by side, issue with the
// new one, drop the old one once its tokens have expired.
//
// At least one key or a JWKSURL is required.
type VerifierConfig struct {
	// HMACSecret verifies HS256 tokens without a kid. At least 32 bytes.
	HMACSecret []byte
	// ECDSAKey verifies ES256 tokens without a kid. It must be on P-256.
	ECDSAKey *ecdsa.PublicKey
	// Ed25519Key verifies EdDSA tokens without a kid.
	Ed25519Key ed25519.PublicKey
	// Keys are further keys, each with its algorithm and optionally a kid.
	// Key ids are unique among them.
	Keys []Key

	// JWKSURL, when set, is a JSON Web Key Set (RFC 7517) of ES256 (EC
	// P-256), EdDSA (OKP Ed25519), RS256 and PS256 (RSA, MinRSABits to
	// MaxRSABits; its alg member picks the one it accepts, RS256 when
	// absent) public keys; other keys in it are ignored with a log line,
	// symmetric ones always. It must be https, or http to a loopback host
	// (tests). NewVerifier fetches it once, within JWKSTimeout, and fails
	// if that fails; later the set is fetched again every JWKSRefresh and
	// when a token names an unknown kid (at most once per JWKSMinInterval),
	// keeping the last good set when a fetch fails. A key configured here
	// wins over a JWKS key with the same kid.
	JWKSURL string
	// JWKSRefresh is how often the JWKS is fetched again. Zero means
	// DefaultJWKSRefresh (5 minutes).
	JWKSRefresh time.Duration
	// JWKSMinInterval is the shortest time between a fetch and one caused
	// by a token with an unknown kid, and the wait before retrying a failed
	// periodic fetch. Zero means DefaultJWKSMinInterval (30 s).
	JWKSMinInterval time.Duration
	// JWKSTimeout bounds each fetch. Zero means DefaultJWKSTimeout (5 s).
	JWKSTimeout time.Duration
	// HTTPClient fetches the JWKS. Nil means a client that follows
	// redirects only to https (or loopback http) URLs.
	HTTPClient *http.Client

	// Audience, when not empty, requires the token's aud claim to hold at
	// least one of these values.
	Audience []string
	// Issuer, when set, requires the token's iss claim to equal it.
	Issuer string
	// ES256LowS refuses an ES256 signature whose S is in the upper half of
	// the curve order. Off by default: ECDSA signatures are malleable (S and
	// N-S both verify), and standard signers, Go's crypto/ecdsa among them,
	// give the upper S about half the time, so a strict edge refuses half of
	// such an issuer's tokens. Turn it on when every issuer normalises S
	// (Sign does) and something downstream identifies tokens by their bytes.
	ES256LowS bool

	// Leeway is the clock skew allowed on exp and nbf; zero means DefaultLeeway.
	Leeway time.Duration
	// Now returns the current time for exp and nbf; nil means time.Now.
	Now func() time.Time
	// Logger receives the JWKS's refreshes and failures. Nil means discard.
	Logger *slog.Logger
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	static *keySet
	jwks   *jwksSource // nil without JWKSURL
	parser *jwt.Parser
	lowS   bool
}

// MinHMACSecret is the shortest HS256 secret accepted.
const MinHMACSecret = 32

// NewVerifier returns a verifier for the configured keys. With a JWKSURL it
// fetches the set before returning; call Close to stop refreshing it.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	keys := slices.Clone(cfg.Keys)
	if cfg.HMACSecret != nil {
		keys = append(keys, Key{HMAC: cfg.HMACSecret})
	}
	if cfg.ECDSAKey != nil {
		keys = append(keys, Key{Public: cfg.ECDSAKey})
	}
	if cfg.Ed25519Key != nil {
		keys = append(keys, Key{Public: cfg.Ed25519Key})
	}
	static := newKeySet()
	for i, k := range keys {
		vk, err := k.verifyKey()
		if err != nil {
			return nil, fmt.Errorf("auth: key %d: %w", i+1, err)
		}
		if err := static.add(k.ID, vk); err != nil {
			return nil, fmt.Errorf("auth: key %d: %w", i+1, err)
		}
	}
	if len(keys) == 0 && cfg.JWKSURL == "" {
		return nil, errors.New("auth: no verification key configured")
	}
	v := &Verifier{static: static}
	algs := static.algs()
	if cfg.JWKSURL != "" {
		var err error
		if v.jwks, err = newJWKSSource(cfg); err != nil {
			return nil, err
		}
		if len(keys) == 0 && len(v.jwks.keys().byKID)+len(v.jwks.keys().noKID) == 0 {
			v.jwks.close()
			return nil, errors.New("auth: the JWKS holds no ES256, EdDSA, RS256 or PS256 key and no other key is configured")
		}
		for _, alg := range jwksAlgs {
			if !slices.Contains(algs, alg) {
				algs = append(algs, alg)
			}
		}
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired(), jwt.WithLeeway(leeway)}
	if cfg.Now != nil {
		opts = append(opts, jwt.WithTimeFunc(cfg.Now))
	}
	if len(cfg.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(cfg.Audience...))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	v.lowS = cfg.ES256LowS
	return v, nil
}

// Close stops refreshing the JWKS; Verify goes on with the keys it has. It
// may be called more than once, and on a verifier without a JWKS.
func (v *Verifier) Close() error {
	if v.jwks != nil {
		v.jwks.close()
	}
	return nil
}

// Reasons a token's header selects no key. They end up in Verify's error
// (wrapped in ErrInvalid), which never quotes the token.
var (
	errNoKey      = errors.New("no key for this algorithm without a kid")
	errBadKID     = errors.New("kid is not a non-empty string")
	errUnknownKID = errors.New("unknown kid")
	errKeyAlg     = errors.New("alg is not the algorithm of the kid's key")
	errCrit       = errors.New("crit header not supported")
)

// keyFunc picks the key(s) a token may be checked with. It relies on the
// parser having refused every alg no key is configured for.
func (v *Verifier) keyFunc(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		// RFC 7515, section 4.1.11: extensions we do not know must fail.
		return nil, errCrit
	}
	alg := t.Method.Alg()
	raw, hasKID := t.Header["kid"]
	if !hasKID {
		keys := v.static.noKID[alg]
		if v.jwks != nil {
			keys = slices.Concat(keys, v.jwks.keys().noKID[alg])
		}
		switch len(keys) {
		case 0:
			return nil, errNoKey
		case 1:
			return keys[0], nil
		}
		return jwt.VerificationKeySet{Keys: keys}, nil
	}
	kid, ok := raw.(string)
	if !ok || kid == "" {
		return nil, errBadKID
	}
	k, ok := v.lookup(kid)
	if !ok && v.jwks != nil {
		// Look again even when no fetch was allowed: one may have just
		// ended.
		v.jwks.refreshUnknown()
		k, ok = v.lookup(kid)
	}
	if !ok {
		return nil, errUnknownKID
	}
	if k.alg != alg {
		return nil, errKeyAlg
	}
	return k.key, nil
}

func (v *Verifier) lookup(kid string) (verifyKey, bool) {
	if k, ok := v.static.byKID[kid]; ok {
		return k, true
	}
	if v.jwks != nil {
		k, ok := v.jwks.keys().byKID[kid]
		return k, ok
	}
	return verifyKey{}, false
}

// Verify checks token and returns the identity it grants. Its errors wrap
// ErrExpired or ErrInvalid and never contain the token.
func (v *Verifier) Verify(token string) (Identity, error) {
	if len(token) > maxTokenLen {
		return Identity{}, fmt.Errorf("%w: longer than %d bytes", ErrInvalid, maxTokenLen)
	}
	var c Claims
	t, err := v.parser.ParseWithClaims(token, &c, v.keyFunc)
	if err == nil && v.lowS && t.Method == jwt.SigningMethodES256 && highS(t.Signature) {
		return Identity{}, fmt.Errorf("%w: ES256 signature not in low-S form", ErrInvalid)
	}
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
	id := Identity{User: c.Subject, Rooms: c.Rooms, Expires: c.ExpiresAt.Time}
	// The JSON decoder checked the syntax. An info claim of another shape or
	// size is ignored, not refused: tokens valid before the claim had a
	// meaning stay valid.
	if len(c.Info) <= MaxInfoLen && len(c.Info) > 0 && c.Info[0] == '{' {
		id.Info = string(c.Info)
	}
	return id, nil
}

// NewClaims returns the claims of a token for user, valid for ttl from now,
// allowing rooms.
func NewClaims(user string, rooms []string, ttl time.Duration) Claims {
	now := time.Now()
	return Claims{
		Rooms: rooms,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   user,
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
	}
}

// Sign signs c with key, whose type picks the algorithm: a []byte secret
// HS256, an *ecdsa.PrivateKey on P-256 ES256, an ed25519.PrivateKey EdDSA,
// an *rsa.PrivateKey RS256. A non-empty kid is put in the header. It serves
// development and tests; production tokens come from the application
// backend or the identity provider.
func Sign(key any, kid string, c Claims) (string, error) {
	var m jwt.SigningMethod
	switch k := key.(type) {
	case []byte:
		m = jwt.SigningMethodHS256
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return "", errors.New("auth: ES256 needs a P-256 key")
		}
		m = jwt.SigningMethodES256
	case ed25519.PrivateKey:
		m = jwt.SigningMethodEdDSA
	case *rsa.PrivateKey:
		// No edge would verify a token of a key it refuses.
		if err := checkRSA(&k.PublicKey); err != nil {
			return "", fmt.Errorf("auth: %w", err)
		}
		m = jwt.SigningMethodRS256
	default:
		return "", fmt.Errorf("auth: cannot sign with a %T", key)
	}
	t := jwt.NewWithClaims(m, c)
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil || m != jwt.SigningMethodES256 {
		return s, err
	}
	return lowSToken(s)
}

// p256HalfN is half the order of P-256: an S above it is the "high" one of
// a signature's two valid forms.
var p256HalfN = new(big.Int).Rsh(elliptic.P256().Params().N, 1)

// highS reports whether an ES256 signature (R || S, 32 bytes each) has S
// above N/2.
func highS(sig []byte) bool {
	if len(sig) != 64 {
		return false // the signature check has already refused it
	}
	return new(big.Int).SetBytes(sig[32:]).Cmp(p256HalfN) > 0
}

// lowSToken rewrites a signed ES256 token with S replaced by N-S when S is
// high: the same signature in the form edges with ES256LowS accept.
func lowSToken(token string) (string, error) {
	dot := strings.LastIndexByte(token, '.')
	sig, err := base64.RawURLEncoding.DecodeString(token[dot+1:])
	if err != nil || !highS(sig) {
		return token, err
	}
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(elliptic.P256().Params().N, s)
	s.FillBytes(sig[32:])
	return token[:dot+1] + base64.RawURLEncoding.EncodeToString(sig), nil
}

// IssueHS256 signs a token for user, valid for ttl, allowing rooms, without
// a kid. It serves development and tests; production tokens come from the
// application backend.
func IssueHS256(secret []byte, user string, rooms []string, ttl time.Duration) (string, error) {
	return Sign(secret, "", NewClaims(user, rooms, ttl))
}
