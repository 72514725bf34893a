package edge

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/wire"
)

// A storm of QUIC handshakes completing together is accepted whole: quic-go
// refuses (CONNECTION_REFUSED) a connection that becomes ready while its
// accept queue of 32 is full, so the edge must take them off it as fast as
// they come, never waiting on one connection's handshake in between.
func TestQUICHandshakeStormNoneRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 256 QUIC connections")
	}
	// One P, as an edge pinned to one core has: the accept loop then
	// waits its turn behind every runnable handshake.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e := testEdge(t, nil)
	tok := testEdgeToken(t)
	const n = 256
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{wire.ALPN}}
	// A running edge, its accept loop waiting, before the storm: one
	// connection through, then a moment for every goroutine to park.
	c, err := quic.DialAddr(ctx, e.QUICAddr().String(), tlsConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := authOverQUIC(c, tok); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	start := make(chan struct{})
	var wg sync.WaitGroup
	var (
		mu       sync.Mutex
		failed   int
		firstErr error
	)
	conns := make(chan *quic.Conn, n)
	for range n {
		wg.Go(func() {
			<-start
			c, err := quic.DialAddr(ctx, e.QUICAddr().String(), tlsConf, &quic.Config{HandshakeIdleTimeout: 20 * time.Second})
			if err == nil {
				conns <- c
				err = authOverQUIC(c, tok)
			}
			if err != nil {
				mu.Lock()
				if failed++; firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	close(conns)
	_ = c.CloseWithError(0, "")
	for c := range conns {
		_ = c.CloseWithError(0, "")
	}
	if failed > 0 {
		t.Fatalf("%d of %d QUIC connections failed; first: %v", failed, n, firstErr)
	}
}

// authOverQUIC opens the session's stream on c and waits for AuthOK.
func authOverQUIC(c *quic.Conn, tok string) error {
	str, err := c.OpenStream()
	if err != nil {
		return err
	}
	if _, err := str.Write(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: tok})); err != nil {
		return err
	}
	_ = str.SetReadDeadline(time.Now().Add(20 * time.Second))
	h, _, err := wire.NewFrameReader(str, 0).ReadFrame()
	if err != nil {
		return err
	}
	if h.Op != wire.OpAuthOK {
		return fmt.Errorf("edge: %v, want AuthOK", h.Op)
	}
	return nil
}

// Close tells raw QUIC clients, with the connection's close code, that the
// edge is gone: without it a client would wait for its heartbeat to fail.
func TestCloseClosesQUICWithCode(t *testing.T) {
	e := testEdge(t, nil)
	tok := testEdgeToken(t)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tlsConf := &tls.Config{InsecureSkipVerify: true, NextProtos: []string{wire.ALPN}}
	c, err := quic.DialAddr(ctx, e.QUICAddr().String(), tlsConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.CloseWithError(0, "") }()
	if err := authOverQUIC(c, tok); err != nil {
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Context().Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the client heard nothing within 3s of Close")
	}
	var ae *quic.ApplicationError
	if err := context.Cause(c.Context()); !errors.As(err, &ae) || ae.ErrorCode != quic.ApplicationErrorCode(wire.CodeShutdown) {
		t.Fatalf("connection ended with %v, want application error %d", err, wire.CodeShutdown)
	}
}
