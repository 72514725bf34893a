package e2e

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/gobwas/ws"
	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/edge"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// TestDisconnectAPI closes connections by key and by user with the code the
// backend chose: reconnect allowed (3006) or kicked (3504).
func TestDisconnectAPI(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			byKey := dialRaw(t, srv, kind)
			ok := authenticate(t, byKey, token(t, "dk-"+kind))
			byUser := dialRaw(t, srv, kind)
			authenticate(t, byUser, token(t, "du-"+kind))
			ctx := context.Background()
			if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Keys: []string{ok.ConnKey}, Reconnect: true, Reason: "rebalance"})); err != nil {
				t.Fatal(err)
			}
			expectDisconnect(t, byKey, wire.CodeServerDisconnect)
			if _, err := api.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{"du-" + kind}, Reason: "banned"})); err != nil {
				t.Fatal(err)
			}
			expectDisconnect(t, byUser, wire.CodeKicked)
		})
	}
}

// TestShutdownDrains checks that a draining server tells every client to
// reconnect elsewhere (3000) and refuses new connections.
func TestShutdownDrains(t *testing.T) {
	srv := startServer(t, nil)
	conns := map[string]rawConn{}
	for _, kind := range transports {
		c := dialRaw(t, srv, kind)
		authenticate(t, c, token(t, "drain-"+kind))
		conns[kind] = c
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- srv.Shutdown(ctx)
	}()
	for kind, c := range conns {
		t.Run(kind, func(t *testing.T) { expectDisconnect(t, c, wire.CodeShutdown) })
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(6 * time.Second):
		buf := make([]byte, 1<<22)
		t.Fatalf("shutdown still running after 6s\n%s", buf[:runtime.Stack(buf, true)])
	}
	if c, err := net.DialTimeout("tcp", srv.tcp, time.Second); err == nil {
		c.Close()
		t.Fatal("TCP port still accepts after shutdown")
	}
}

// TestTLSOnTheTCPPort checks that the TCP port also speaks framed TLS and
// secure WebSocket, sniffed from the first byte.
func TestTLSOnTheTCPPort(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()

	framed := dialRaw(t, srv, "tls")
	authenticate(t, framed, token(t, "tls-user", "secure"))
	join(t, framed, 2, "secure")

	secureWS := dialRaw(t, srv, "wss")
	authenticate(t, secureWS, token(t, "wss-user", "secure"))
	join(t, secureWS, 2, "secure")

	id := pushRoom(t, api, "secure", "over tls")
	for name, c := range map[string]rawConn{"tls": framed, "wss": secureWS} {
		if p := expectPush(t, c); p.ID != id || string(p.Data) != "over tls" {
			t.Fatalf("%s: %+v", name, p)
		}
	}
	on, err := srv.Edge.Online(context.Background(), []string{"secure"}, 0)
	if err != nil || on.Rooms["secure"] != 2 {
		t.Fatalf("online %+v %v", on, err)
	}
}

// TestWebSocketRejects checks upgrades to unknown paths are refused.
func TestWebSocketRejects(t *testing.T) {
	srv := startServer(t, nil)
	d := ws.Dialer{Protocols: []string{wire.WebSocketProtocol}, Timeout: 5 * time.Second}
	if _, _, _, err := d.Dial(context.Background(), "ws://"+srv.tcp+"/elsewhere"); err == nil {
		t.Fatal("upgrade to an unknown path accepted")
	}
}

// TestOriginAllowList checks that browsers from other origins are refused
// on WebSocket and WebTransport (403), while listed origins and native
// clients (no Origin header) connect.
func TestOriginAllowList(t *testing.T) {
	check, err := edge.AllowOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.CheckOrigin = check })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	wsDial := func(origin string) error {
		d := ws.Dialer{Protocols: []string{wire.WebSocketProtocol}, Timeout: 5 * time.Second}
		if origin != "" {
			d.Header = ws.HandshakeHeaderHTTP(http.Header{"Origin": []string{origin}})
		}
		conn, _, _, err := d.Dial(ctx, "ws://"+srv.tcp+"/ws")
		if err == nil {
			conn.Close()
		}
		return err
	}
	if err := wsDial("https://evil.example"); err == nil {
		t.Error("WebSocket from another origin was upgraded")
	}
	if err := wsDial("https://app.example.com"); err != nil {
		t.Errorf("WebSocket from the listed origin: %v", err)
	}
	if err := wsDial(""); err != nil {
		t.Errorf("WebSocket without Origin: %v", err)
	}
	wtDial := func(origin string) (int, error) {
		tr := &webtransport.Transport{TLSClientConfig: clientTLS("h3"), QUICConfig: &quic.Config{EnableDatagrams: true, EnableStreamResetPartialDelivery: true}}
		defer tr.Close()
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		rsp, sess, err := tr.Dial(ctx, "https://"+srv.quic+"/wt", h)
		if sess != nil {
			_ = sess.CloseWithError(0, "")
		}
		if rsp != nil {
			return rsp.StatusCode, err
		}
		return 0, err
	}
	if code, _ := wtDial("https://evil.example"); code != http.StatusForbidden {
		t.Errorf("WebTransport from another origin: status %d, want 403", code)
	}
	if _, err := wtDial("https://app.example.com"); err != nil {
		t.Errorf("WebTransport from the listed origin: %v", err)
	}
}
