package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
)

// jwtFlags say how serve and edge verify client tokens. Without any key
// flag (--jwt-secret, --jwt-key, --jwt-public-key, --jwks-url) the
// development secret in --dev-dir is used; with one, only the keys given.
// Flag values are never printed: errors name the flag and the entry's
// position, or a file's path.
type jwtFlags struct {
	JWTSecret     string        `name:"jwt-secret" help:"HS256 secret (at least 32 bytes) of client tokens without a kid. Default, when no --jwt-secret, --jwt-key, --jwt-public-key or --jwks-url is given: the development secret in --dev-dir."`
	JWTKeys       []string      `name:"jwt-key" placeholder:"[KID=]base64:DATA|file:PATH" help:"More HS256 secrets (at least 32 bytes each), repeatable or comma-separated: [KID=]base64:DATA (standard or URL-safe base64) or [KID=]file:PATH (the file's bytes; one trailing newline is dropped). A token with a kid header is checked only against the key with that kid; tokens without a kid against the keys without one."`
	JWTPublicKeys []string      `name:"jwt-public-key" placeholder:"[KID=][ALG:]PATH" help:"PEM public key files (PUBLIC KEY from 'openssl pkey -pubout', or RSA PUBLIC KEY), repeatable or comma-separated: ECDSA P-256 keys verify ES256 tokens, Ed25519 keys EdDSA tokens, RSA keys (2048 to 8192 bits) RS256 tokens, or PS256 tokens with PS256: before the path, never both. KID= gives the key an id (needed when the path holds '='); ALG: (RS256, PS256, ES256 or EdDSA) must be the key's algorithm. A path that starts with an algorithm and a colon and also names a file is refused as ambiguous: write ./PATH or ALG:PATH."`
	JWKSURL       string        `name:"jwks-url" help:"JWKS (JSON Web Key Set) URL of ES256 (EC P-256), EdDSA (OKP Ed25519), RS256 and PS256 (RSA, 2048 to 8192 bits; the key's alg picks one, RS256 when it has none) keys, https only (http to loopback for tests). Fetched at start (which fails without it), every --jwks-refresh and on an unknown kid (at most every 30s); the last good set stays when a fetch fails."`
	JWKSRefresh   time.Duration `name:"jwks-refresh" default:"5m" help:"How often --jwks-url is fetched again."`
	JWTAudience   []string      `name:"jwt-audience" help:"Require client tokens' aud claim to hold one of these values (repeatable or comma-separated); default: aud is not checked."`
	JWTIssuer     string        `name:"jwt-issuer" help:"Require client tokens' iss claim to be this value; default: iss is not checked."`
	JWTES256LowS  bool          `name:"jwt-es256-low-s" help:"Refuse ES256 tokens whose signature is in high-S form (the other of its two valid forms). Off by default: standard signers give high S about half the time; turn it on only when every issuer normalises S (quicpush token does)."`
}

// configured reports whether any key flag is given, which turns the
// development secret off.
func (f *jwtFlags) configured() bool {
	return f.JWTSecret != "" || len(f.JWTKeys) > 0 || len(f.JWTPublicKeys) > 0 || f.JWKSURL != ""
}

// verifierConfig is the token verifier's configuration: the flags, with
// secret (--jwt-secret, or the development secret when no key flag is
// given) as the kid-less HS256 key when it is not empty.
func (f *jwtFlags) verifierConfig(secret []byte) (auth.VerifierConfig, error) {
	cfg := auth.VerifierConfig{
		JWKSURL:     f.JWKSURL,
		JWKSRefresh: f.JWKSRefresh,
		Audience:    f.JWTAudience,
		Issuer:      f.JWTIssuer,
		ES256LowS:   f.JWTES256LowS,
	}
	if len(secret) > 0 {
		cfg.HMACSecret = secret
	}
	for i, v := range f.JWTKeys {
		k, err := parseHMACKey(v)
		if err != nil {
			return cfg, fmt.Errorf("--jwt-key #%d: %w", i+1, err)
		}
		cfg.Keys = append(cfg.Keys, k)
	}
	for i, v := range f.JWTPublicKeys {
		k, err := parsePublicKey(v)
		if err != nil {
			return cfg, fmt.Errorf("--jwt-public-key #%d: %w", i+1, err)
		}
		cfg.Keys = append(cfg.Keys, k)
	}
	return cfg, nil
}

// publicKeyAlgs are the ALG: prefixes of --jwt-public-key, by their
// upper-case spelling.
var publicKeyAlgs = map[string]string{"RS256": "RS256", "PS256": "PS256", "ES256": "ES256", "EDDSA": "EdDSA"}

// parsePublicKey reads [KID=][ALG:]PATH and the PEM file it names. ALG is
// needed only for PS256 (an RSA key does not say which of RS256 and PS256
// it signs); for other keys it must be theirs. Paths that hold ':' keep
// working without ALG, unless what precedes the first ':' is an algorithm:
// then the entry is ALG:PATH, and refused if the whole also names a file.
func parsePublicKey(v string) (auth.Key, error) {
	var k auth.Key
	path := v
	if kid, rest, ok := strings.Cut(v, "="); ok {
		k.ID, path = kid, rest
	}
	if prefix, rest, ok := strings.Cut(path, ":"); ok {
		if alg, known := publicKeyAlgs[strings.ToUpper(prefix)]; known {
			if _, err := os.Stat(path); err == nil {
				return k, fmt.Errorf("%s: both %s:PATH and an existing file; write ./%s for the file, or %s:%s for the algorithm", path, alg, path, alg, path)
			}
			k.Alg, path = alg, rest
		}
	}
	if path == "" {
		return k, errors.New("no path")
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the key file
	if err != nil {
		return k, err
	}
	if k.Public, err = auth.ParsePublicKeyPEM(data); err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := k.Algorithm(); err != nil {
		return k, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// parseHMACKey reads [KID=]base64:DATA or [KID=]file:PATH. Its errors never
// quote v: it holds a secret.
func parseHMACKey(v string) (auth.Key, error) {
	var k auth.Key
	if !strings.HasPrefix(v, "base64:") && !strings.HasPrefix(v, "file:") {
		// Base64 may end in '=', so the kid is split off only here.
		var ok bool
		if k.ID, v, ok = strings.Cut(v, "="); !ok || k.ID == "" {
			return k, fmt.Errorf("want [KID=]base64:DATA or [KID=]file:PATH")
		}
	}
	switch {
	case strings.HasPrefix(v, "base64:"):
		data := strings.TrimPrefix(v, "base64:")
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if k.HMAC, err = enc.DecodeString(data); err == nil {
				break
			}
		}
		if err != nil {
			return k, fmt.Errorf("base64: not valid base64")
		}
	case strings.HasPrefix(v, "file:"):
		path := strings.TrimPrefix(v, "file:")
		data, err := os.ReadFile(path) //nolint:gosec // G304: the operator names the secret file
		if err != nil {
			return k, err
		}
		data = bytes.TrimSuffix(data, []byte("\n"))
		k.HMAC = bytes.TrimSuffix(data, []byte("\r"))
	default:
		return k, fmt.Errorf("want [KID=]base64:DATA or [KID=]file:PATH")
	}
	if len(k.HMAC) < auth.MinHMACSecret {
		return k, fmt.Errorf("secret is %d bytes, need at least %d", len(k.HMAC), auth.MinHMACSecret)
	}
	return k, nil
}
