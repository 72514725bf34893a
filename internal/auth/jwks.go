package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWKS defaults (VerifierConfig).
const (
	// DefaultJWKSRefresh is how often the JWKS is fetched again.
	DefaultJWKSRefresh = 5 * time.Minute
	// DefaultJWKSMinInterval is the shortest time between a fetch and one
	// caused by an unknown kid.
	DefaultJWKSMinInterval = 30 * time.Second
	// DefaultJWKSTimeout bounds each fetch.
	DefaultJWKSTimeout = 5 * time.Second

	// maxJWKSBytes bounds the JWKS document.
	maxJWKSBytes = 1 << 20
	// maxJWKSKeys bounds the keys taken from it: a token without a kid is
	// tried against every kid-less key of its algorithm.
	maxJWKSKeys = 100
)

// jwksSource keeps the keys of a JWKS URL: the last set fetched without
// error, refreshed periodically and, rate-limited, on an unknown kid. At
// most one fetch runs at a time; callers that need one while it runs wait
// for it.
type jwksSource struct {
	url     *url.URL
	client  *http.Client
	timeout time.Duration
	every   time.Duration
	minGap  time.Duration
	log     *slog.Logger

	set atomic.Pointer[keySet]

	mu       sync.Mutex
	last     time.Time  // when the last fetch started
	inflight *fetchCall // the fetch under way, if any
	bodySum  [sha256.Size]byte

	ctx    context.Context // cancelled by close: ends the refresh loop and fetches
	cancel context.CancelFunc
	done   chan struct{}
	closed sync.Once
}

type fetchCall struct {
	done chan struct{}
	err  error
}

// checkJWKSURL accepts https URLs, and http ones to a loopback host.
func checkJWKSURL(u *url.URL) error {
	switch {
	case u.Host == "":
		return errors.New("JWKS URL has no host")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errors.New("JWKS URL must be https (http only to a loopback host)")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newJWKSSource(cfg VerifierConfig) (*jwksSource, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil {
		return nil, errors.New("auth: JWKS URL does not parse")
	}
	if err := checkJWKSURL(u); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	j := &jwksSource{
		url:     u,
		client:  cfg.HTTPClient,
		timeout: cfg.JWKSTimeout,
		every:   cfg.JWKSRefresh,
		minGap:  cfg.JWKSMinInterval,
		log:     cfg.Logger,
		done:    make(chan struct{}),
	}
	if j.timeout <= 0 {
		j.timeout = DefaultJWKSTimeout
	}
	if j.every <= 0 {
		j.every = DefaultJWKSRefresh
	}
	if j.minGap <= 0 {
		j.minGap = DefaultJWKSMinInterval
	}
	if j.log == nil {
		j.log = slog.New(slog.DiscardHandler)
	}
	j.log = j.log.With("jwks", u.Redacted())
	if j.client == nil {
		j.client = &http.Client{
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("too many redirects")
				}
				return checkJWKSURL(req.URL)
			},
		}
	}
	j.set.Store(newKeySet())
	j.ctx, j.cancel = context.WithCancel(context.Background())
	if err := j.refresh(false); err != nil {
		j.cancel()
		return nil, fmt.Errorf("auth: fetching the JWKS: %w", err)
	}
	go j.run()
	return j, nil
}

// keys returns the current set; it is never modified, only replaced.
func (j *jwksSource) keys() *keySet { return j.set.Load() }

// run refreshes the set every j.every, or j.minGap after a failure.
func (j *jwksSource) run() {
	defer close(j.done)
	t := time.NewTimer(j.every)
	defer t.Stop()
	for {
		select {
		case <-j.ctx.Done():
			return
		case <-t.C:
		}
		next := j.every
		if err := j.refresh(false); err != nil {
			if j.ctx.Err() != nil {
				return
			}
			j.log.Warn("JWKS refresh failed; keeping the last keys", "err", err)
			next = min(next, j.minGap)
		}
		t.Reset(next)
	}
}

// refreshUnknown fetches the set for a token with an unknown kid, unless a
// fetch started less than minGap ago; a fetch under way is waited for.
func (j *jwksSource) refreshUnknown() {
	err := j.refresh(true)
	if err != nil && !errors.Is(err, errRateLimited) && j.ctx.Err() == nil {
		j.log.Warn("JWKS refresh for an unknown kid failed; keeping the last keys", "err", err)
	}
}

var errRateLimited = errors.New("JWKS fetched too recently")

// refresh fetches the set, or waits for the fetch under way. limited
// refuses to start a fetch within minGap of the last one.
func (j *jwksSource) refresh(limited bool) error {
	j.mu.Lock()
	c := j.inflight
	if c != nil {
		j.mu.Unlock()
		<-c.done
		return c.err
	}
	if limited && time.Since(j.last) < j.minGap {
		j.mu.Unlock()
		return errRateLimited
	}
	c = &fetchCall{done: make(chan struct{})}
	j.inflight = c
	j.last = time.Now()
	j.mu.Unlock()

	c.err = j.fetch()

	j.mu.Lock()
	j.inflight = nil
	j.mu.Unlock()
	close(c.done)
	return c.err
}

// fetch gets the document and, if it changed, replaces the set. A document
// that does not parse leaves the set as it was.
func (j *jwksSource) fetch() error {
	ctx, cancel := context.WithTimeout(j.ctx, j.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.url.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := j.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is in every log line already
		}
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return fmt.Errorf("reading the JWKS: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return fmt.Errorf("JWKS larger than %d bytes", maxJWKSBytes)
	}
	sum := sha256.Sum256(body)
	j.mu.Lock()
	same := sum == j.bodySum
	j.mu.Unlock()
	if same {
		return nil
	}
	set, err := j.parse(body)
	if err != nil {
		return err
	}
	old := j.set.Swap(set)
	j.mu.Lock()
	j.bodySum = sum
	j.mu.Unlock()
	j.logChange(old, set)
	return nil
}

// jwksAlgs are the algorithms a JWKS key may have: the parser accepts them
// whenever a JWKS is configured, since the set changes after NewVerifier.
var jwksAlgs = []string{
	jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg(),
	jwt.SigningMethodRS256.Alg(), jwt.SigningMethodPS256.Alg(),
}

// jwk holds the members of a JSON Web Key this package reads; private
// members (d, p, q...) are never read.
type jwk struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Kid    *string  `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
}

// parse reads a JWK Set. A key that is malformed, of another type or
// curve, for another use or algorithm, is skipped with a log line; only a
// document that is not a JWK Set is an error.
func (j *jwksSource) parse(body []byte) (*keySet, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, errors.New(`JWKS has no "keys" array`)
	}
	set := newKeySet()
	n := 0
	for i, raw := range *doc.Keys {
		var k jwk
		if err := json.Unmarshal(raw, &k); err != nil {
			j.log.Warn("JWKS key ignored: malformed", "index", i)
			continue
		}
		kid := ""
		if k.Kid != nil {
			kid = *k.Kid
		}
		vk, err := k.verifyKey()
		if err != nil {
			j.log.Warn("JWKS key ignored", "index", i, "kid", kid, "kty", k.Kty, "crv", k.Crv, "reason", err.Error())
			continue
		}
		if k.Kid != nil && kid == "" {
			j.log.Warn("JWKS key ignored: empty kid", "index", i)
			continue
		}
		if n == maxJWKSKeys {
			j.log.Warn("JWKS key ignored: too many keys", "index", i, "kid", kid, "max", maxJWKSKeys)
			continue
		}
		if err := set.add(kid, vk); err != nil {
			j.log.Warn("JWKS key ignored", "index", i, "kid", kid, "reason", err.Error())
			continue
		}
		n++
	}
	return set, nil
}

// verifyKey turns an EC P-256, OKP Ed25519 or RSA signing key into the key
// it verifies with.
func (k jwk) verifyKey() (verifyKey, error) {
	if k.Use != "" && k.Use != "sig" {
		return verifyKey{}, fmt.Errorf("use %q, not sig", k.Use)
	}
	if k.KeyOps != nil && !slices.Contains(k.KeyOps, "verify") {
		return verifyKey{}, errors.New("key_ops lacks verify")
	}
	switch {
	case k.Kty == "EC" && k.Crv == "P-256":
		if k.Alg != "" && k.Alg != jwt.SigningMethodES256.Alg() {
			return verifyKey{}, fmt.Errorf("alg %q on a P-256 key", k.Alg)
		}
		x, errX := decodeCoord(k.X, 32)
		y, errY := decodeCoord(k.Y, 32)
		if err := errors.Join(errX, errY); err != nil {
			return verifyKey{}, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), slices.Concat([]byte{4}, x, y))
		if err != nil {
			return verifyKey{}, errors.New("point not on P-256")
		}
		return verifyKey{alg: jwt.SigningMethodES256.Alg(), key: pub}, nil
	case k.Kty == "OKP" && k.Crv == "Ed25519":
		// RFC 9864 names the algorithm Ed25519; JWTs still say EdDSA.
		if k.Alg != "" && k.Alg != jwt.SigningMethodEdDSA.Alg() && k.Alg != "Ed25519" {
			return verifyKey{}, fmt.Errorf("alg %q on an Ed25519 key", k.Alg)
		}
		x, err := decodeCoord(k.X, ed25519.PublicKeySize)
		if err != nil {
			return verifyKey{}, err
		}
		return verifyKey{alg: jwt.SigningMethodEdDSA.Alg(), key: ed25519.PublicKey(x)}, nil
	case k.Kty == "RSA":
		// An RSA key without alg is taken as RS256: it is what providers
		// mean (the RSA algorithm RFC 7518 recommends, the one OpenID
		// Connect requires), and it keeps such a key to one algorithm. A
		// PS256 key must say so.
		pub, err := k.rsaKey()
		if err != nil {
			return verifyKey{}, err
		}
		return publicVerifyKey(pub, k.Alg)
	}
	return verifyKey{}, errors.New("unsupported key type (only EC P-256, OKP Ed25519 and RSA)")
}

// rsaKey decodes n and e; publicVerifyKey checks their sizes.
func (k jwk) rsaKey() (*rsa.PublicKey, error) {
	n, errN := base64.RawURLEncoding.DecodeString(k.N)
	e, errE := base64.RawURLEncoding.DecodeString(k.E)
	switch {
	case errN != nil || len(n) == 0:
		return nil, errors.New("n is not base64url")
	case len(n) > MaxRSABits/8+1: // one leading zero byte tolerated
		return nil, fmt.Errorf("RSA key is over %d bits", MaxRSABits)
	case errE != nil || len(e) == 0 || len(e) > 4:
		return nil, errors.New("e is not 1 to 4 bytes of base64url")
	}
	var exp int
	for _, b := range e {
		exp = exp<<8 | int(b)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
}

func decodeCoord(s string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("coordinate is not %d bytes of base64url", size)
	}
	return b, nil
}

// logChange logs the kids a fetch added and removed.
func (j *jwksSource) logChange(old, set *keySet) {
	var added, removed []string
	for kid := range set.byKID {
		if _, ok := old.byKID[kid]; !ok {
			added = append(added, kid)
		}
	}
	for kid := range old.byKID {
		if _, ok := set.byKID[kid]; !ok {
			removed = append(removed, kid)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	noKID := 0
	for _, ks := range set.noKID {
		noKID += len(ks)
	}
	j.log.Info("JWKS keys loaded", "kids", len(set.byKID), "without_kid", noKID, "added", added, "removed", removed)
}

// close stops the refresh loop and any fetch under way.
func (j *jwksSource) close() {
	j.closed.Do(func() {
		j.cancel()
		<-j.done
	})
}
