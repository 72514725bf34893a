package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
)

type tokenCmd struct {
	User      string        `required:"" help:"User id (the token's sub)."`
	Rooms     []string      `default:"*" help:"Rooms the token may join; a trailing * matches a prefix, * alone every room."`
	TTL       time.Duration `default:"24h" help:"Lifetime of the token."`
	JWTSecret string        `name:"jwt-secret" help:"HS256 secret (at least 32 bytes, as the edge requires); default: the one 'serve' keeps in --dev-dir."`
	JWTKey    string        `name:"jwt-key" placeholder:"[KID=]base64:DATA|file:PATH" help:"HS256 secret in the edge's --jwt-key syntax, instead of --jwt-secret; its KID goes into the token's header."`
	KID       string        `name:"kid" help:"Key id to put in the token's header (the KID of the edge's --jwt-key KID=...); default: none, or the KID of --jwt-key."`
	Audience  []string      `name:"audience" help:"The token's aud claim (for edges with --jwt-audience); default: none."`
	Issuer    string        `name:"issuer" help:"The token's iss claim (for edges with --jwt-issuer); default: none."`
	DevDir    string        `default:".quicpush-dev" help:"Where 'serve' keeps its development certificate and secrets."`
}

func (c *tokenCmd) Run() error {
	secret, kid := []byte(c.JWTSecret), c.KID
	switch {
	case c.JWTKey != "" && c.JWTSecret != "":
		return errors.New("give --jwt-secret or --jwt-key, not both")
	case c.JWTKey != "":
		k, err := parseHMACKey(c.JWTKey)
		if err != nil {
			return fmt.Errorf("--jwt-key: %w", err)
		}
		secret = k.HMAC
		if kid == "" {
			kid = k.ID
		}
	case len(c.JWTSecret) < auth.MinHMACSecret && c.JWTSecret != "":
		// The edge refuses such a secret, so no edge could verify the token.
		return fmt.Errorf("--jwt-secret is %d bytes, need at least %d", len(c.JWTSecret), auth.MinHMACSecret)
	case c.JWTSecret == "":
		st, err := loadDevState(c.DevDir, false)
		if err != nil {
			return err
		}
		if secret, err = st.secret(); err != nil {
			return err
		}
	}
	claims := auth.NewClaims(c.User, c.Rooms, c.TTL)
	claims.Audience = c.Audience
	claims.Issuer = c.Issuer
	tok, err := auth.Sign(secret, kid, claims)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
