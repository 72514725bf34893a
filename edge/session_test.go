package edge

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// dialFake starts a session on a fake transport, as an accept loop would,
// with the handshake deadline counting from now.
func dialFake(e *Edge) (*session, *fakeTransport) {
	ft := newFakeTransport()
	s := newSession(e, ft, time.Now().Add(e.cfg.HandshakeTimeout))
	go s.serve()
	return s, ft
}

// authenticate sends Auth with token and checks the AuthOK.
func authenticate(t *testing.T, ft *fakeTransport, token string) {
	t.Helper()
	ft.send(wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: token}))
	synctest.Wait()
	if ops := ft.ops(t); len(ops) != 1 || ops[0] != wire.OpAuthOK {
		t.Fatalf("frames after Auth %v, want AuthOK", ops)
	}
}

// expectDisconnect checks that the last frame is a Disconnect with code,
// then that the session ends after CloseTimeout when the client does not
// hang up.
func expectDisconnect(t *testing.T, e *Edge, ft *fakeTransport, code wire.Code) {
	t.Helper()
	if d := ft.lastDisconnect(t); d.Code != code || d.Reason != code.String() {
		t.Fatalf("disconnect %d %q, want %d %q", d.Code, d.Reason, code, code.String())
	}
	if ft.isClosed() {
		t.Fatal("closed at once: the client gets CloseTimeout to read the Disconnect")
	}
	time.Sleep(e.cfg.CloseTimeout)
	synctest.Wait()
	if !ft.isClosed() {
		t.Fatal("not closed after CloseTimeout")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		_, ft := dialFake(e)
		time.Sleep(e.cfg.HandshakeTimeout - time.Millisecond)
		synctest.Wait()
		if len(ft.written()) != 0 {
			t.Fatalf("frames before the handshake timeout: %v", ft.ops(t))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		expectDisconnect(t, e, ft, wire.CodeHandshakeTimeout)
	})
}

// A client silent for twice the ping interval is disconnected with 3002;
// each frame it sends restarts the wait.
func TestHeartbeatTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, nil)
		defer e.Close()
		s, ft := dialFake(e)
		authenticate(t, ft, "u")
		idle := 2 * e.cfg.PingInterval
		time.Sleep(idle - time.Second)
		ft.send(wire.AppendFrame(nil, wire.OpPing, 2, nil))
		time.Sleep(idle - time.Second)
		synctest.Wait()
		if ops := ft.ops(t); len(ops) != 2 || ops[1] != wire.OpPong {
			t.Fatalf("frames %v, want AuthOK, Pong and no Disconnect", ops)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		expectDisconnect(t, e, ft, wire.CodeHeartbeatTimeout)
		if e.hub.lookup(s.key) != nil {
			t.Fatal("ended session still registered")
		}
	})
}

// A token is warned about RefreshAhead before it expires, and the session
// closed with 3004 when it does.
func TestTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) {
			c.PingInterval = time.Hour
			c.RefreshAhead = 30 * time.Second
		})
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "u/2m")
		time.Sleep(90*time.Second - time.Millisecond)
		synctest.Wait()
		if len(ft.frames(t)) != 1 {
			t.Fatalf("frames %v before the warning", ft.ops(t))
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		fs := ft.frames(t)
		if len(fs) != 2 || fs[1].op != wire.OpTokenExpiring {
			t.Fatalf("frames %v, want AuthOK, TokenExpiring", ft.ops(t))
		}
		var w wire.TokenExpiring
		if err := w.Decode(fs[1].body); err != nil || w.ExpiresInMs != 30000 {
			t.Fatalf("TokenExpiring %+v (%v), want 30000 ms left", w, err)
		}
		time.Sleep(30 * time.Second)
		synctest.Wait()
		if d := ft.lastDisconnect(t); d.Code != wire.CodeTokenExpired || d.Reason != "token expired" {
			t.Fatalf("disconnect %d %q, want 3004", d.Code, d.Reason)
		}
	})
}

// A Refresh after the warning moves the expiry: the old one passes quietly.
func TestRefreshMovesExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := offlineEdge(t, func(c *Config) {
			c.PingInterval = time.Hour
			c.RefreshAhead = 30 * time.Second
		})
		defer e.Close()
		_, ft := dialFake(e)
		authenticate(t, ft, "u/1m")
		time.Sleep(31 * time.Second)
		ft.send(wire.AppendRefresh(nil, 2, &wire.Refresh{Token: "u/10m"}))
		time.Sleep(time.Minute)
		synctest.Wait()
		want := []wire.Op{wire.OpAuthOK, wire.OpTokenExpiring, wire.OpRefreshOK}
		if ops := ft.ops(t); len(ops) != len(want) || ops[2] != wire.OpRefreshOK {
			t.Fatalf("frames %v, want %v", ops, want)
		}
		ft.send(wire.AppendRefresh(nil, 3, &wire.Refresh{Token: "bad"}))
		synctest.Wait()
		fs := ft.frames(t)
		var er wire.Error
		if last := fs[len(fs)-1]; last.op != wire.OpError || er.Decode(last.body) != nil || er.Code != wire.ErrCodeTokenRejected {
			t.Fatalf("frames %v, want Error 105 for a bad token", ft.ops(t))
		}
		time.Sleep(9 * time.Minute)
		synctest.Wait()
		if d := ft.lastDisconnect(t); d.Code != wire.CodeTokenExpired {
			t.Fatalf("disconnect %d at the refreshed expiry, want 3004", d.Code)
		}
	})
}

// What the handshake refuses, and with which disconnect.
func TestHandshakeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		frame  []byte
		tune   func(*Config)
		code   wire.Code
		reason string
	}{
		{"not auth", wire.AppendFrame(nil, wire.OpPing, 1, nil), nil, wire.CodeProtocolError, "expected auth, got ping"},
		{"version", wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version + 1, Token: "u"}), nil, wire.CodeUnsupportedVersion, "protocol version 1 only"},
		{"invalid token", wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "bad"}), nil, wire.CodeInvalidToken, "invalid token"},
		{"expired token", wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "expired"}), nil, wire.CodeTokenExpired, "token expired"},
		{"route store down", wire.AppendAuth(nil, 1, &wire.Auth{Version: wire.Version, Token: "u"}),
			func(c *Config) { c.Routes = &recorder{err: errRouteDown} }, wire.CodeServerError, "route store unavailable, reconnect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				e := offlineEdge(t, tc.tune)
				defer e.Close()
				_, ft := dialFake(e)
				ft.send(tc.frame)
				synctest.Wait()
				if d := ft.lastDisconnect(t); d.Code != tc.code || d.Reason != tc.reason {
					t.Fatalf("disconnect %d %q, want %d %q", d.Code, d.Reason, tc.code, tc.reason)
				}
				if n := len(ft.frames(t)); n != 1 {
					t.Fatalf("%d frames, want the Disconnect alone", n)
				}
				close(ft.in) // the client hangs up
				synctest.Wait()
				if !ft.isClosed() || len(e.Snapshot().Conns) != 0 {
					t.Fatal("refused session not closed and unregistered")
				}
			})
		})
	}
}
