package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Key is one verification key. Exactly one of HMAC and Public is set, and
// it alone decides the algorithm the key accepts.
type Key struct {
	// ID is the key id tokens name in their kid header. Empty means the key
	// checks tokens without a kid.
	ID string
	// HMAC is an HS256 secret of at least MinHMACSecret bytes.
	HMAC []byte
	// Public is an ES256 key (*ecdsa.PublicKey on P-256) or an EdDSA key
	// (ed25519.PublicKey).
	Public crypto.PublicKey
}

// verifyKey is a key with the one algorithm it accepts, in the form the jwt
// package verifies with.
type verifyKey struct {
	alg string
	key jwt.VerificationKey
}

func (k Key) verifyKey() (verifyKey, error) {
	switch {
	case k.HMAC != nil && k.Public != nil:
		return verifyKey{}, errors.New("both an HMAC secret and a public key")
	case k.HMAC != nil:
		if len(k.HMAC) < MinHMACSecret {
			return verifyKey{}, fmt.Errorf("HMAC secret is %d bytes, need at least %d", len(k.HMAC), MinHMACSecret)
		}
		return verifyKey{alg: jwt.SigningMethodHS256.Alg(), key: slices.Clone(k.HMAC)}, nil
	case k.Public != nil:
		return publicVerifyKey(k.Public)
	}
	return verifyKey{}, errors.New("no key material")
}

// publicVerifyKey accepts the public key types this package verifies with.
func publicVerifyKey(pub crypto.PublicKey) (verifyKey, error) {
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p == nil || p.Curve != elliptic.P256() {
			return verifyKey{}, errors.New("ECDSA key is not on P-256 (ES256)")
		}
		return verifyKey{alg: jwt.SigningMethodES256.Alg(), key: p}, nil
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return verifyKey{}, fmt.Errorf("Ed25519 key is %d bytes, want %d", len(p), ed25519.PublicKeySize)
		}
		return verifyKey{alg: jwt.SigningMethodEdDSA.Alg(), key: p}, nil
	}
	return verifyKey{}, fmt.Errorf("unsupported public key type %T (want ECDSA P-256 or Ed25519)", pub)
}

// keySet holds keys by kid, and the keys without one by algorithm.
type keySet struct {
	byKID map[string]verifyKey
	noKID map[string][]jwt.VerificationKey
}

func newKeySet() *keySet {
	return &keySet{byKID: map[string]verifyKey{}, noKID: map[string][]jwt.VerificationKey{}}
}

func (s *keySet) add(kid string, k verifyKey) error {
	if kid == "" {
		s.noKID[k.alg] = append(s.noKID[k.alg], k.key)
		return nil
	}
	if _, dup := s.byKID[kid]; dup {
		return fmt.Errorf("kid %q used twice", kid)
	}
	s.byKID[kid] = k
	return nil
}

// algs lists the algorithms of the set's keys.
func (s *keySet) algs() []string {
	var algs []string
	for alg := range s.noKID {
		algs = append(algs, alg)
	}
	for _, k := range s.byKID {
		if !slices.Contains(algs, k.alg) {
			algs = append(algs, k.alg)
		}
	}
	slices.Sort(algs)
	return algs
}

// ParsePublicKeyPEM reads a PEM "PUBLIC KEY" block (PKIX, as written by
// `openssl pkey -pubout`) holding an ECDSA P-256 or an Ed25519 key, the
// public keys a Verifier accepts.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	switch {
	case block == nil:
		return nil, errors.New("no PEM block")
	case block.Type != "PUBLIC KEY":
		// Never echo the block: it might be a private key.
		return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\"", block.Type)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	if _, err := publicVerifyKey(pub); err != nil {
		return nil, err
	}
	return pub, nil
}
