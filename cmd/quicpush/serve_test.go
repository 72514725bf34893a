package main

import (
	"strings"
	"testing"

	"github.com/alecthomas/kong"
)

// parse parses args as the binary does, without running the command.
func parse(t *testing.T, args ...string) *cli {
	t.Helper()
	var c cli
	p, err := kong.New(&c, options()...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse(args); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return &c
}

// TestServeDevelopmentBindsLoopback: with the development secrets (which
// the demo page hands out) serve listens on loopback unless told otherwise;
// with an operator's secrets it listens on every interface as before.
func TestServeDevelopmentBindsLoopback(t *testing.T) {
	secret := strings.Repeat("s", 32)
	for _, tt := range []struct {
		args           []string
		quic, tcp, api string
	}{
		{[]string{"serve"}, "127.0.0.1:4433", "127.0.0.1:4434", "127.0.0.1:8080"},
		{[]string{"serve", "--jwt-secret", secret}, "127.0.0.1:4433", "127.0.0.1:4434", "127.0.0.1:8080"},
		{[]string{"serve", "--api-key", "k"}, "127.0.0.1:4433", "127.0.0.1:4434", "127.0.0.1:8080"},
		{[]string{"serve", "--listen-all"}, ":4433", ":4434", ":8080"},
		{[]string{"serve", "--tcp-addr", ":9000"}, "127.0.0.1:4433", ":9000", "127.0.0.1:8080"},
		{[]string{"serve", "--jwt-secret", secret, "--api-key", "k"}, ":4433", ":4434", ":8080"},
	} {
		c := parse(t, tt.args...)
		if c.Serve.QUICAddr != tt.quic || c.Serve.TCPAddr != tt.tcp || c.Serve.APIAddr != tt.api {
			t.Errorf("%v: listens on %s %s %s, want %s %s %s", tt.args,
				c.Serve.QUICAddr, c.Serve.TCPAddr, c.Serve.APIAddr, tt.quic, tt.tcp, tt.api)
		}
	}
}
