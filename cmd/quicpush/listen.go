package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	quicpush "github.com/quicpush/quicpush/clients/go"
	"github.com/quicpush/quicpush/wire"
)

type listenCmd struct {
	Token     string   `required:"" help:"Client token (see 'quicpush token')."`
	Rooms     []string `name:"room" help:"Rooms to join."`
	Endpoints []string `name:"endpoint" default:"quic://127.0.0.1:4433 tcp://127.0.0.1:4434" help:"An edge: its endpoint URLs separated by spaces, preferred first (quic://, webtransport:// or https://host:port/wt, tcp://, tls://, ws://, wss://). Repeat the flag, or separate edges with commas, for a cluster: edges are tried in order, and the client moves to the next one when its edge drains or dies. Example: --endpoint \"quic://10.0.0.1:4433 tcp://10.0.0.1:4434\" --endpoint \"quic://10.0.0.2:4433 tcp://10.0.0.2:4434\"."`
	CertHash  string   `name:"cert-hash" help:"Hex SHA-256 of the edge certificate to pin (printed by 'serve'); needed for a self-signed certificate."`
	Insecure  bool     `help:"Skip certificate verification (testing only)."`
	Count     int      `help:"Exit after this many messages (0: run until interrupted)."`
}

func (c *listenCmd) Run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan struct{})
	// The client stops after a code that says not to reconnect (a kick, a
	// token the edge no longer takes): listen then ends with an error.
	stopped := make(chan quicpush.DisconnectEvent, 1)
	received := 0
	opts := []quicpush.Option{
		quicpush.WithToken(c.Token),
		quicpush.WithOnConnect(func(e quicpush.ConnectEvent) {
			fmt.Fprintf(os.Stderr, "connected over %s as %s (key %s)\n", e.Transport, e.User, e.ConnKey)
			if plaintext[e.Transport] && c.encryptedListed() {
				// The user asked for encryption first; say that the token
				// and the messages now cross the network readable by all.
				fmt.Fprintf(os.Stderr, "warning: fell back to %s, without encryption: the encrypted endpoints were unreachable\n", e.Endpoint)
			}
		}),
		quicpush.WithOnDisconnect(func(e quicpush.DisconnectEvent) {
			fmt.Fprintf(os.Stderr, "disconnected: %d %s (reconnect: %v)\n", e.Code, e.Reason, e.Reconnect)
			if !e.Reconnect {
				select {
				case stopped <- e:
				default:
				}
			}
		}),
		quicpush.WithOnMessage(func(m quicpush.Message) {
			target := m.Room
			if target == "" {
				target = "(direct)"
			}
			fmt.Printf("%s %s %s\n", target, m.ID, m.Data)
			received++
			if c.Count > 0 && received == c.Count {
				close(done)
			}
		}),
	}
	if c.CertHash != "" {
		h, err := hex.DecodeString(c.CertHash)
		if err != nil {
			return fmt.Errorf("--cert-hash: %w", err)
		}
		opts = append(opts, quicpush.WithCertHash(h))
	}
	if c.Insecure {
		opts = append(opts, quicpush.WithTLSConfig(insecureTLS()))
	}
	client, err := quicpush.New(c.Endpoints, opts...)
	if err != nil {
		return err
	}
	defer client.Close()
	connectCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := client.Connect(connectCtx); err != nil {
		return explain(err)
	}
	for _, r := range c.Rooms {
		if err := client.Join(connectCtx, r); err != nil {
			return fmt.Errorf("join %s: %w", r, explain(err))
		}
		fmt.Fprintf(os.Stderr, "joined %s\n", r)
	}
	select {
	case <-ctx.Done():
	case <-done:
	case e := <-stopped:
		return fmt.Errorf("disconnected with %d (%s), which says not to reconnect: %w",
			int(e.Code), e.Code, explain(&quicpush.Error{Code: e.Code, Message: e.Reason}))
	}
	return nil
}

// plaintext are the transports without TLS.
var plaintext = map[string]bool{"tcp": true, "ws": true}

// encryptedListed reports whether --endpoint names an encrypted endpoint,
// so that connecting over a plaintext one is a fallback.
func (c *listenCmd) encryptedListed() bool {
	for _, group := range c.Endpoints {
		for _, ep := range strings.Fields(group) {
			scheme, _, _ := strings.Cut(ep, "://")
			if !plaintext[scheme] {
				return true
			}
		}
	}
	return false
}

// explain turns the edge's refusals of the token or of a room into advice.
func explain(err error) error {
	var qerr *quicpush.Error
	if !errors.As(err, &qerr) {
		return err
	}
	switch qerr.Code {
	case wire.CodeInvalidToken, wire.CodeTokenExpired:
		return fmt.Errorf("token refused by the edge (%w): check --token, its expiry and that it was signed with the edge's secret ('quicpush token' signs with serve's --dev-dir)", err)
	case wire.ErrCodeForbidden:
		return fmt.Errorf("the token does not allow this room (%w): see 'quicpush token --rooms'", err)
	}
	return err
}
