package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	quicpush "github.com/quicpush/quicpush/clients/go"
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
	received := 0
	opts := []quicpush.Option{
		quicpush.WithToken(c.Token),
		quicpush.WithOnConnect(func(e quicpush.ConnectEvent) {
			fmt.Fprintf(os.Stderr, "connected over %s as %s (key %s)\n", e.Transport, e.User, e.ConnKey)
		}),
		quicpush.WithOnDisconnect(func(e quicpush.DisconnectEvent) {
			fmt.Fprintf(os.Stderr, "disconnected: %d %s (reconnect: %v)\n", e.Code, e.Reason, e.Reconnect)
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
		return err
	}
	for _, r := range c.Rooms {
		if err := client.Join(connectCtx, r); err != nil {
			return fmt.Errorf("join %s: %w", r, err)
		}
		fmt.Fprintf(os.Stderr, "joined %s\n", r)
	}
	select {
	case <-ctx.Done():
	case <-done:
	}
	return nil
}
