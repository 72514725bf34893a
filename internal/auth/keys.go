package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// Key is one verification key. Exactly one of HMAC and Public is set, and
// it decides the one algorithm the key accepts, except that an RSA key
// carries no algorithm of its own: Alg picks RS256 or PS256 for it.
type Key struct {
	// ID is the key id tokens name in their kid header. Empty means the key
	// checks tokens without a kid.
	ID string
	// HMAC is an HS256 secret of at least MinHMACSecret bytes.
	HMAC []byte
	// Public is an ES256 key (*ecdsa.PublicKey on P-256), an EdDSA key
	// (ed25519.PublicKey), or an RS256 or PS256 key (*rsa.PublicKey of
	// MinRSABits to MaxRSABits bits, odd exponent of at least 3).
	Public crypto.PublicKey
	// Alg is the algorithm of an RSA key: RS256 or PS256, never both; empty
	// means RS256. Other keys have one algorithm each; Alg may name it
	// (HS256, ES256, EdDSA) and must not name another.
	Alg string
}

// RSA key sizes a Verifier accepts. Below 2048 bits RSA is not considered
// secure (NIST SP 800-131A); above 8192 each token's check costs more than
// any issuer needs, which a JWKS should not be able to impose.
const (
	MinRSABits = 2048
	MaxRSABits = 8192
)

// Algorithm returns the one algorithm k accepts (HS256, ES256, EdDSA, RS256
// or PS256), or why a Verifier would refuse k.
func (k Key) Algorithm() (string, error) {
	vk, err := k.verifyKey()
	return vk.alg, err
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
		if k.Alg != "" && k.Alg != jwt.SigningMethodHS256.Alg() {
			return verifyKey{}, fmt.Errorf("alg %q on an HMAC secret (HS256)", k.Alg)
		}
		return verifyKey{alg: jwt.SigningMethodHS256.Alg(), key: slices.Clone(k.HMAC)}, nil
	case k.Public != nil:
		return publicVerifyKey(k.Public, k.Alg)
	}
	return verifyKey{}, errors.New("no key material")
}

// publicVerifyKey accepts the public key types this package verifies with,
// and alg when it is the key's algorithm (empty: the key's default).
func publicVerifyKey(pub crypto.PublicKey, alg string) (verifyKey, error) {
	var vk verifyKey
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if p == nil || p.Curve != elliptic.P256() {
			return verifyKey{}, errors.New("ECDSA key is not on P-256 (ES256)")
		}
		vk = verifyKey{alg: jwt.SigningMethodES256.Alg(), key: p}
	case ed25519.PublicKey:
		if len(p) != ed25519.PublicKeySize {
			return verifyKey{}, fmt.Errorf("Ed25519 key is %d bytes, want %d", len(p), ed25519.PublicKeySize)
		}
		vk = verifyKey{alg: jwt.SigningMethodEdDSA.Alg(), key: p}
	case *rsa.PublicKey:
		if err := checkRSA(p); err != nil {
			return verifyKey{}, err
		}
		switch alg {
		case "", jwt.SigningMethodRS256.Alg():
			return verifyKey{alg: jwt.SigningMethodRS256.Alg(), key: p}, nil
		case jwt.SigningMethodPS256.Alg():
			return verifyKey{alg: jwt.SigningMethodPS256.Alg(), key: p}, nil
		}
		return verifyKey{}, fmt.Errorf("alg %q on an RSA key (want RS256 or PS256)", alg)
	default:
		return verifyKey{}, fmt.Errorf("unsupported public key type %T (want ECDSA P-256, Ed25519 or RSA)", pub)
	}
	if alg != "" && alg != vk.alg {
		return verifyKey{}, fmt.Errorf("alg %q on an %s key", alg, vk.alg)
	}
	return vk, nil
}

// checkRSA refuses RSA keys that are too small or too large, and public
// exponents no real key has: an even or tiny e is a broken or forged key.
func checkRSA(p *rsa.PublicKey) error {
	switch {
	case p == nil || p.N == nil || p.N.Sign() <= 0:
		return errors.New("RSA key has no modulus")
	case p.N.BitLen() < MinRSABits:
		return fmt.Errorf("RSA key is %d bits, need at least %d", p.N.BitLen(), MinRSABits)
	case p.N.BitLen() > MaxRSABits:
		return fmt.Errorf("RSA key is %d bits, at most %d accepted", p.N.BitLen(), MaxRSABits)
	case p.N.Bit(0) == 0:
		return errors.New("RSA modulus is even")
	case p.E < 3 || p.E%2 == 0 || p.E > 1<<31-1:
		return fmt.Errorf("RSA public exponent %d is not an odd number from 3 to 2^31-1", p.E)
	}
	return nil
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
// `openssl pkey -pubout`) holding an ECDSA P-256, an Ed25519 or an RSA key,
// or an "RSA PUBLIC KEY" block (PKCS #1, `openssl rsa -RSAPublicKey_out`):
// the public keys a Verifier accepts. An RSA key does not say whether it
// signs RS256 or PS256; Key.Alg does.
func ParsePublicKeyPEM(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var pub crypto.PublicKey
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		// Never echo the block: it might be a private key.
		return nil, fmt.Errorf("PEM block is %q, want \"PUBLIC KEY\" or \"RSA PUBLIC KEY\"", block.Type)
	}
	if err != nil {
		return nil, err
	}
	if _, err := publicVerifyKey(pub, ""); err != nil {
		return nil, err
	}
	return pub, nil
}
