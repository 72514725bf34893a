package main

import (
	"fmt"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
)

type tokenCmd struct {
	User      string        `required:"" help:"User id (the token's sub)."`
	Rooms     []string      `default:"*" help:"Rooms the token may join; a trailing * matches a prefix, * alone every room."`
	TTL       time.Duration `default:"24h" help:"Lifetime of the token."`
	JWTSecret string        `name:"jwt-secret" help:"HS256 secret; default: the one 'serve' keeps in --dev-dir."`
	DevDir    string        `default:".quicpush-dev" help:"Where 'serve' keeps its development certificate and secrets."`
}

func (c *tokenCmd) Run() error {
	secret := []byte(c.JWTSecret)
	if c.JWTSecret == "" {
		st, err := loadDevState(c.DevDir, false)
		if err != nil {
			return err
		}
		if secret, err = st.secret(); err != nil {
			return err
		}
	}
	tok, err := auth.IssueHS256(secret, c.User, c.Rooms, c.TTL)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
