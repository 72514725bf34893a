package netlab

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/internal/devcert"
)

// TestQUICSurvivesRebind carries a real QUIC connection through the relay
// and rebinds the client's source port twice mid-stream: the server
// validates the new address and the stream goes on, the point of QUIC on a
// phone behind a NAT.
func TestQUICSurvivesRebind(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cert, err := devcert.Generate(devcert.Hosts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"netlab-test"},
		MinVersion:   tls.VersionTLS13,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	r := newUDPRelay(t, UDPConfig{Target: ln.Addr().String(), Path: Path{
		Up:   Link{Delay: 5 * time.Millisecond},
		Down: Link{Delay: 5 * time.Millisecond},
	}})

	// The server echoes one stream and reports the client's address as it
	// sees it after each message.
	serverErr := make(chan error, 1)
	remotes := make(chan net.Addr, 100)
	go func() {
		conn, err := ln.Accept(ctx)
		if err != nil {
			serverErr <- err
			return
		}
		defer func() { _ = conn.CloseWithError(0, "") }()
		str, err := conn.AcceptStream(ctx)
		if err != nil {
			serverErr <- err
			return
		}
		buf := make([]byte, 16)
		for {
			if _, err := io.ReadFull(str, buf); err != nil {
				serverErr <- err
				return
			}
			remotes <- conn.RemoteAddr()
			if _, err := str.Write(buf); err != nil {
				serverErr <- err
				return
			}
		}
	}()

	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	conn, err := quic.DialAddr(ctx, r.Addr().String(), &tls.Config{
		RootCAs:    pool,
		ServerName: "localhost",
		NextProtos: []string{"netlab-test"},
		MinVersion: tls.VersionTLS13,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.CloseWithError(0, "") }()
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The client's socket is bound to the wildcard address: take its
	// address as the relay sees it.
	clients := r.Clients()
	if len(clients) != 1 {
		t.Fatalf("the relay sees %v, want one client", clients)
	}
	client := clients[0]

	seen := map[string]bool{}
	buf := make([]byte, 16)
	for i := range 60 {
		if i == 20 || i == 40 {
			if _, err := r.Rebind(client); err != nil {
				t.Fatal(err)
			}
		}
		msg := fmt.Appendf(nil, "message %08d", i)
		if _, err := str.Write(msg); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		_ = str.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(str, buf); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if string(buf) != string(msg) {
			t.Fatalf("echo %d = %q, want %q", i, buf, msg)
		}
		select {
		case a := <-remotes:
			seen[a.String()] = true
		case err := <-serverErr:
			t.Fatalf("server: %v", err)
		}
	}
	up, _ := r.Upstream(client)
	t.Logf("the server saw the client at %v; now %v", seen, up)
	if !seen[up.String()] {
		t.Errorf("the server never saw the client's last address %v: %v", up, seen)
	}
	if len(seen) != 3 {
		t.Errorf("the server saw %d client addresses, want 3: the connection migrated at each rebind", len(seen))
	}
	if conn.Context().Err() != nil {
		t.Errorf("the connection ended: %v", context.Cause(conn.Context()))
	}
}
