package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/golang-jwt/jwt/v5"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/server"
	"github.com/quicpush/quicpush/wire"
)

// TestBadInputClosesCleanly sends each kind of bad input on each transport
// and checks the documented disconnect code arrives before the close, while
// a well-behaved client on the same server keeps receiving every push in
// order.
func TestBadInputClosesCleanly(t *testing.T) {
	srv := startServer(t, nil)
	api := srv.apiClient()

	// The witness: a good client that must see every push of a steady stream.
	good := dialRaw(t, srv, "tcp")
	authenticate(t, good, token(t, "witness", "steady"))
	join(t, good, 2, "steady")
	var sent atomic.Int64
	stop := make(chan struct{})
	pushed := make(chan []string, 1)
	go func() {
		var ids []string
		defer func() { pushed <- ids }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
			rsp, err := api.PushRoom(context.Background(), connect.NewRequest(&pushv1.PushRoomRequest{Room: "steady", Text: "tick"}))
			if err != nil {
				t.Errorf("push during bad input: %v", err)
				return
			}
			ids = append(ids, rsp.Msg.MessageId)
			sent.Add(1)
		}
	}()

	expired, err := auth.IssueHS256(testSecret, "late", nil, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := auth.IssueHS256([]byte("another-secret-of-thirty-two-by!"), "mallory", []string{"*"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	oversize := binary.BigEndian.AppendUint32(nil, 1<<20)
	oversize = append(oversize, byte(wire.OpJoin), 0, 0, 0, 1)
	// A token signed with a key of another algorithm, and one claiming none.
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrongAlg, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "mallory", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"mallory","exp":4102444800,"rooms":["*"]}`)) + "."
	// Random bytes that start like a frame (a first byte of 0 selects the
	// framed protocol on the TCP port).
	random := make([]byte, 512)
	_, _ = rand.Read(random)
	random[0] = 0
	var flood []byte
	for i := range 300 {
		flood = wire.AppendFrame(flood, wire.OpPing, uint32(i+1), nil)
	}

	cases := []struct {
		name  string
		auth  bool   // authenticate first
		send  []byte // then send this
		token string
		code  wire.Code
		or    wire.Code // another acceptable code
	}{
		{name: "random bytes", send: random, code: wire.CodeFrameTooLarge, or: wire.CodeProtocolError},
		{name: "random bytes after auth", auth: true, send: random, code: wire.CodeFrameTooLarge, or: wire.CodeProtocolError},
		{name: "alg none token", send: wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: algNone}), code: wire.CodeInvalidToken},
		{name: "wrong alg token", send: wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: wrongAlg}), code: wire.CodeInvalidToken},
		{name: "frame flood", auth: true, send: flood, code: wire.CodeRateLimited},
		{name: "refresh before auth", send: wire.AppendRefresh(nil, 1, &wire.Refresh{Token: "x"}), code: wire.CodeProtocolError},
		{name: "garbage token", send: wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: "not-a-jwt"}), code: wire.CodeInvalidToken},
		{name: "forged token", send: wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: forged}), code: wire.CodeInvalidToken},
		{name: "expired token", send: wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: expired}), code: wire.CodeTokenExpired},
		{name: "wrong version", send: wire.AppendAuth(nil, 1, &wire.Auth{Version: 2, Token: "x"}), code: wire.CodeUnsupportedVersion},
		{name: "op before auth", send: wire.AppendJoin(nil, 1, &wire.Join{Room: "steady"}), code: wire.CodeProtocolError},
		{name: "auth twice", auth: true, send: wire.AppendAuth(nil, 5, &wire.Auth{Version: 1, Token: "x"}), code: wire.CodeProtocolError},
		{name: "unknown op", auth: true, send: wire.AppendFrame(nil, 0x7f, 5, []byte("??")), code: wire.CodeProtocolError},
		{name: "server-only op", auth: true, send: wire.AppendFrame(nil, wire.OpPush, 5, nil), code: wire.CodeProtocolError},
		{name: "malformed body", auth: true, send: wire.AppendFrame(nil, wire.OpJoin, 5, []byte{0xff}), code: wire.CodeProtocolError},
		{name: "length below header", auth: true, send: []byte{0, 0, 0, 1, 3, 0, 0, 0, 0}, code: wire.CodeProtocolError},
		{name: "oversize frame", auth: true, send: oversize, code: wire.CodeFrameTooLarge},
		{name: "oversize before auth", send: oversize, code: wire.CodeFrameTooLarge},
	}
	t.Run("cases", func(t *testing.T) {
		for _, kind := range transports {
			for _, tc := range cases {
				t.Run(kind+"/"+tc.name, func(t *testing.T) {
					t.Parallel()
					c := dialRaw(t, srv, kind)
					if tc.auth {
						authenticate(t, c, token(t, "bad-"+kind, "steady"))
					}
					if err := c.write(tc.send); err != nil {
						t.Fatal(err)
					}
					start := time.Now()
					code := readDisconnect(t, c)
					if code != tc.code && (tc.or == 0 || code != tc.or) {
						t.Fatalf("disconnect %d, want %d", code, tc.code)
					}
					if d := time.Since(start); d > 5*time.Second {
						t.Fatalf("disconnect after %v", d)
					}
					if ws, ok := c.(*wsRaw); ok && (ws.closed == nil || uint16(*ws.closed) != uint16(code)) {
						t.Fatalf("websocket close code %v, want %d", ws.closed, code)
					}
				})
			}
		}
	})
	t.Run("slow and cut", func(t *testing.T) {
		for _, kind := range transports {
			// One byte at a time, too slowly: the handshake timeout (2 s in
			// these tests) ends it with 3005.
			t.Run(kind+"/one byte per 300ms", func(t *testing.T) {
				t.Parallel()
				c := dialRaw(t, srv, kind)
				auth := wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: token(t, "slow")})
				go func() {
					for _, b := range auth {
						if c.write([]byte{b}) != nil {
							return
						}
						time.Sleep(300 * time.Millisecond)
					}
				}()
				start := time.Now()
				want := wire.CodeHandshakeTimeout
				if kind == "ws" {
					// Each byte is a WebSocket message of its own: a frame
					// split across messages is a protocol error at once.
					want = wire.CodeProtocolError
				}
				if code := readDisconnect(t, c); code != want {
					t.Fatalf("disconnect %d, want %d", code, want)
				}
				if d := time.Since(start); d > 4*time.Second {
					t.Fatalf("cut after %v, want the 2 s handshake timeout", d)
				}
			})
			if kind == "ws" {
				// Slowloris on the upgrade itself: the handshake timeout
				// closes the TCP connection (no protocol yet, no frame).
				t.Run("ws/slow upgrade", func(t *testing.T) {
					t.Parallel()
					conn, err := net.Dial("tcp", srv.tcp)
					if err != nil {
						t.Fatal(err)
					}
					defer conn.Close()
					go func() {
						for _, b := range []byte("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n") {
							if _, err := conn.Write([]byte{b}); err != nil {
								return
							}
							time.Sleep(200 * time.Millisecond)
						}
					}()
					start := time.Now()
					_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
					if _, err := io.ReadAll(conn); err != nil {
						t.Fatalf("read: %v", err)
					}
					if d := time.Since(start); d < time.Second || d > 4*time.Second {
						t.Fatalf("closed after %v, want the 2 s handshake timeout", d)
					}
				})
			}
			// Half a frame, then the client goes away: the edge just closes.
			t.Run(kind+"/truncated frame then gone", func(t *testing.T) {
				t.Parallel()
				c := dialRaw(t, srv, kind)
				authenticate(t, c, token(t, "cut"))
				frame := wire.AppendJoin(nil, 2, &wire.Join{Room: "steady"})
				if err := c.write(frame[:len(frame)/2]); err != nil {
					t.Fatal(err)
				}
				c.close()
			})
		}
	})
	t.Run("after", func(t *testing.T) {
		close(stop)
		ids := <-pushed
		if len(ids) < 10 {
			t.Fatalf("only %d pushes during the bad input", len(ids))
		}
		for i, id := range ids {
			if p := expectPush(t, good); p.ID != id {
				t.Fatalf("witness push %d is %s, want %s", i, p.ID, id)
			}
		}
		if n := len(srv.Edge.Snapshot().Conns); n != 1 {
			waitFor(t, "bad connections to be gone", func() bool { return len(srv.Edge.Snapshot().Conns) == 1 })
		}
	})
}

// readDisconnect reads until the server's Disconnect frame and returns its
// code, then checks the connection ends.
func readDisconnect(t *testing.T, c rawConn) wire.Code {
	t.Helper()
	for {
		h, body, err := c.next()
		if err != nil {
			if got, ok := transportCode(c, err); ok {
				return got
			}
			t.Fatalf("connection ended without a disconnect: %v", err)
		}
		if h.Op != wire.OpDisconnect {
			continue
		}
		var d wire.Disconnect
		if err := d.Decode(body); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.next(); err == nil {
			t.Fatal("frames after disconnect")
		}
		return d.Code
	}
}

// TestRequestErrorsKeepTheConnection checks that refused requests answer
// with an Error frame and the connection stays usable.
func TestRequestErrorsKeepTheConnection(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.MaxRooms = 2 })
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv, kind)
			authenticate(t, c, token(t, "limited-"+kind, "ok-*"))
			expectError := func(seq uint32, code wire.Code) {
				t.Helper()
				h, body := expectFrame(t, c, wire.OpError)
				var e wire.Error
				if err := e.Decode(body); err != nil || e.Code != code || h.Seq != seq {
					t.Fatalf("error %+v seq %d, want code %d seq %d", e, h.Seq, code, seq)
				}
			}
			send := func(b []byte) {
				t.Helper()
				if err := c.write(b); err != nil {
					t.Fatal(err)
				}
			}
			send(wire.AppendJoin(nil, 2, &wire.Join{Room: "secret"}))
			expectError(2, wire.ErrCodeForbidden)
			send(wire.AppendJoin(nil, 3, &wire.Join{Room: ""}))
			expectError(3, wire.ErrCodeBadRequest)
			send(wire.AppendRoom(nil, wire.OpLeave, 4, "ok-never-joined"))
			expectError(4, wire.ErrCodeNotJoined)
			join(t, c, 5, "ok-1")
			join(t, c, 6, "ok-2")
			send(wire.AppendJoin(nil, 7, &wire.Join{Room: "ok-3"}))
			expectError(7, wire.ErrCodeTooManyRooms)
			join(t, c, 8, "ok-1") // joining again is idempotent
			send(wire.AppendFrame(nil, wire.OpPing, 9, nil))
			expectFrame(t, c, wire.OpPong)
		})
	}
}

// TestHandshakeTimeout checks that a client that connects and says nothing
// is told so and closed within the handshake timeout.
func TestHandshakeTimeout(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.HandshakeTimeout = 300 * time.Millisecond })
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv, kind)
			start := time.Now()
			if kind != "ws" {
				// A QUIC stream exists for the server only once bytes flow,
				// and the TCP port knows a framed client by its first byte:
				// send half a header. (A connection that sends nothing at all
				// is closed at the same deadline, without a frame, since the
				// edge cannot know which framing it would understand.)
				if err := c.write([]byte{0, 0}); err != nil {
					t.Fatal(err)
				}
			}
			expectDisconnect(t, c, wire.CodeHandshakeTimeout)
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("closed after %v", d)
			}
		})
	}
}

// TestHeartbeatTimeout checks that a silent authenticated client is cut with
// the heartbeat code after twice the ping interval.
func TestHeartbeatTimeout(t *testing.T) {
	srv := startServer(t, func(c *server.SingleConfig) { c.Edge.PingInterval = 200 * time.Millisecond })
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			c := dialRaw(t, srv, kind)
			ok := authenticate(t, c, token(t, "quiet-"+kind))
			if ok.PingIntervalMs != 200 {
				t.Fatalf("ping interval %d ms announced", ok.PingIntervalMs)
			}
			expectDisconnect(t, c, wire.CodeHeartbeatTimeout)
		})
	}
}

// TestSlowConsumerIsCut fills the queue of a client that never reads and
// checks it is cut with the slow-consumer code while a reading client in
// the same room gets every message.
func TestSlowConsumerIsCut(t *testing.T) {
	srv := startServer(t, nil) // default 1 MiB queue per connection
	api := srv.apiClient()
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			room := "flood-" + kind
			slow := dialRaw(t, srv, kind)
			authenticate(t, slow, token(t, "slow", room))
			join(t, slow, 2, room)
			fast := dialRaw(t, srv, "tcp")
			authenticate(t, fast, token(t, "fast", room))
			join(t, fast, 2, room)

			before := metricValue(t, srv, "quicpush_edge_slow_consumers_total")
			payload := make([]byte, 50<<10)
			const n, window = 200, 4
			var got atomic.Int64
			readErr := make(chan error, 1)
			go func() {
				for got.Load() < n {
					if _, _, err := fast.next(); err != nil {
						readErr <- err
						return
					}
					got.Add(1)
				}
				readErr <- nil
			}()
			// The reading client stays within a few messages of the pushes,
			// as a healthy client does; the other one never reads.
			for i := range n {
				waitFor(t, "reading client to keep up", func() bool { return got.Load() >= int64(i-window) })
				if _, err := api.PushRoom(context.Background(), connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Data: payload})); err != nil {
					t.Fatal(err)
				}
			}
			if err := <-readErr; err != nil {
				t.Fatalf("reading client failed after %d of %d: %v", got.Load(), n, err)
			}
			waitFor(t, "slow consumer cut", func() bool { return metricValue(t, srv, "quicpush_edge_slow_consumers_total") > before })
			waitFor(t, "slow connection gone", func() bool {
				on, _ := srv.Edge.Online(context.Background(), []string{room}, 0)
				return on.Rooms[room] == 1
			})
		})
	}
}
