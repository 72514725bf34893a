package devcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"testing"
	"time"
)

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	c, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	key, ok := c.Leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Fatalf("key is %T, want ECDSA P-256", c.Leaf.PublicKey)
	}
	if life := c.Leaf.NotAfter.Sub(c.Leaf.NotBefore); life > 14*24*time.Hour {
		t.Fatalf("validity %v exceeds the 14 days browsers accept", life)
	}
	if err := c.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if h1, h2 := Hash(c), Hash(again); !bytes.Equal(h1[:], h2[:]) {
		t.Fatal("a valid stored certificate was replaced")
	}
}
