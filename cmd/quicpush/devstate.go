package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/quicpush/quicpush/internal/devcert"
)

// defaultDevDir is the default of every command's --dev-dir (the banner
// names the directory only when serve's is another).
const defaultDevDir = ".quicpush-dev"

// devState holds the secrets `serve` makes up when none are configured, so
// that `token` (another process) signs with the same secret.
type devState struct {
	JWTSecret string `json:"jwt_secret"` // base64
	APIKey    string `json:"api_key"`
}

func devStatePath(dir string) string { return filepath.Join(dir, "secrets.json") }

// loadDevState reads dir's state, creating it when create is set.
func loadDevState(dir string, create bool) (st devState, err error) {
	if !create {
		return loadOrCreateDevState(dir, false)
	}
	err = devcert.WithLock(dir, func() error {
		st, err = loadOrCreateDevState(dir, true)
		return err
	})
	return st, err
}

func loadOrCreateDevState(dir string, create bool) (devState, error) {
	var st devState
	b, err := os.ReadFile(devStatePath(dir))
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &st); err != nil {
			return st, fmt.Errorf("%s: %w", devStatePath(dir), err)
		}
		return st, nil
	case !errors.Is(err, fs.ErrNotExist) || !create:
		return st, fmt.Errorf("no development secrets (%w): start `quicpush serve` first or pass --jwt-secret", err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	st = devState{JWTSecret: base64.StdEncoding.EncodeToString(secret), APIKey: "dev-" + rand.Text()}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return st, err
	}
	b, _ = json.MarshalIndent(st, "", "  ") //nolint:gosec // G117: this 0600 file exists to hold the development secret
	return st, os.WriteFile(devStatePath(dir), b, 0o600)
}

func (st devState) secret() ([]byte, error) {
	return base64.StdEncoding.DecodeString(st.JWTSecret)
}
