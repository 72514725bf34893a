// Package devcert makes the self-signed certificate of the development mode.
// Browsers accept it for WebTransport without a CA through
// serverCertificateHashes, which requires ECDSA P-256 (or RSA) and a validity
// of at most 14 days; we use 13 and renew a day before expiry.
package devcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Validity is the lifetime of a generated certificate.
const Validity = 13 * 24 * time.Hour

// renewBefore is how long before expiry a stored certificate is replaced.
const renewBefore = 24 * time.Hour

// Hosts are the names and addresses a development certificate covers.
var Hosts = []string{"localhost", "127.0.0.1", "::1"}

// Generate returns a new self-signed ECDSA P-256 certificate for hosts,
// valid from a minute ago for Validity.
func Generate(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "quicpush development"},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(Validity - time.Minute),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Hash is the SHA-256 of the certificate's DER encoding: the value browsers
// take in serverCertificateHashes and clients/go in WithCertHash.
func Hash(c tls.Certificate) [32]byte { return sha256.Sum256(c.Certificate[0]) }

// LoadOrCreate returns the certificate stored in dir (cert.pem, key.pem),
// replacing it first when it is missing, unreadable or within a day of expiry.
func LoadOrCreate(dir string) (cert tls.Certificate, err error) {
	err = WithLock(dir, func() error {
		cert, err = loadOrCreate(dir)
		return err
	})
	return cert, err
}

func loadOrCreate(dir string) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if c, err := tls.LoadX509KeyPair(certPath, keyPath); err == nil && time.Until(c.Leaf.NotAfter) > renewBefore {
		return c, nil
	}
	c, err := Generate(Hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return tls.Certificate{}, err
	}
	err = errors.Join(
		//nolint:gosec // G306: a certificate is public; the key below is 0600
		os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644),
		os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600),
	)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("devcert: store: %w", err)
	}
	return c, nil
}
