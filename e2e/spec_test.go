package e2e

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/quicpush/quicpush/wire"
)

// Tests of statements in docs/protocol.md that a client written from the
// document alone relies on, each on every transport where it matters.

// largestAuth returns the largest well-formed Auth frame (wire.MaxAuthFrame
// bytes, the limit before AuthOK in section 9): a 10-byte non-minimal
// version, a valid token of the longest length, a 10-byte non-minimal offset
// and the longest epoch. extra bytes are appended after the fields, where a
// decoder ignores them, so that the frame grows past the limit without
// becoming malformed.
func largestAuth(t *testing.T, user string, extra int) []byte {
	t.Helper()
	tok := longestToken(t, user)
	body := []byte{0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00} // version 1 in 10 bytes
	body = binary.AppendUvarint(body, uint64(len(tok)))
	body = append(body, tok...)
	body = append(body, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00) // offset 0 in 10 bytes
	body = binary.AppendUvarint(body, wire.MaxRoomLen)
	body = append(body, strings.Repeat("e", wire.MaxRoomLen)...)
	body = append(body, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00) // joins 0 in 10 bytes (revision 5)
	body = append(body, make([]byte, extra)...)
	return wire.AppendFrame(nil, wire.OpAuth, 1, body)
}

// longestToken returns a valid token for user of exactly wire.MaxTokenLen
// bytes, padded with a claim the edge ignores. Base64url skips some lengths,
// so a second padding claim of one more byte shifts the length by one.
func longestToken(t *testing.T, user string) string {
	t.Helper()
	for _, q := range []string{"", "q", "qq"} {
		claims := jwt.MapClaims{"sub": user, "exp": time.Now().Add(time.Hour).Unix(), "q": q}
		for pad := wire.MaxTokenLen * 3 / 4; pad > 0; pad -= 3 {
			claims["pad"] = strings.Repeat("x", pad)
			tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(testSecret)
			if err != nil {
				t.Fatal(err)
			}
			if len(tok) == wire.MaxTokenLen {
				return tok
			}
			if len(tok) < wire.MaxTokenLen {
				break
			}
		}
	}
	t.Fatal("no token of the longest length")
	return ""
}

// TestSpecAuthFrameLimit checks the limit before AuthOK at its exact
// boundary: an Auth of wire.MaxAuthFrame bytes (8,490) is answered with
// AuthOK, one byte more with 3502, on every transport.
func TestSpecAuthFrameLimit(t *testing.T) {
	if wire.MaxAuthFrame != 8490 {
		t.Fatalf("MaxAuthFrame %d: docs/protocol.md section 9 says 8,490", wire.MaxAuthFrame)
	}
	srv := startServer(t, nil)
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			largest := largestAuth(t, "big-"+kind, 0)
			if len(largest) != wire.MaxAuthFrame {
				t.Fatalf("largest auth is %d bytes, want %d", len(largest), wire.MaxAuthFrame)
			}
			c := dialRaw(t, srv, kind)
			if err := c.write(largest); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, wire.OpAuthOK)

			over := largestAuth(t, "over-"+kind, 1)
			if len(over) != wire.MaxAuthFrame+1 {
				t.Fatalf("auth is %d bytes, want %d", len(over), wire.MaxAuthFrame+1)
			}
			c = dialRaw(t, srv, kind)
			if err := c.write(over); err != nil {
				t.Fatal(err)
			}
			expectDisconnect(t, c, wire.CodeFrameTooLarge)
		})
	}
}

// TestSpecSeqZeroAnswered checks that a request with seq 0 is answered like
// any other, its reply carrying seq 0 (section 5.1).
func TestSpecSeqZeroAnswered(t *testing.T) {
	srv := startServer(t, nil)
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			c := dialRaw(t, srv, kind)
			if err := c.write(wire.AppendAuth(nil, 0, &wire.Auth{Version: wire.Version, Token: token(t, "zero", "z")})); err != nil {
				t.Fatal(err)
			}
			if h, _ := expectFrame(t, c, wire.OpAuthOK); h.Seq != 0 {
				t.Fatalf("auth_ok seq %d", h.Seq)
			}
			if err := c.write(wire.AppendFrame(nil, wire.OpPing, 0, nil)); err != nil {
				t.Fatal(err)
			}
			if h, _ := expectFrame(t, c, wire.OpPong); h.Seq != 0 {
				t.Fatalf("pong seq %d", h.Seq)
			}
			join(t, c, 0, "z")
			if err := c.write(wire.AppendRoom(nil, wire.OpLeave, 0, "z")); err != nil {
				t.Fatal(err)
			}
			if h, _ := expectFrame(t, c, wire.OpLeaveOK); h.Seq != 0 {
				t.Fatalf("leave_ok seq %d", h.Seq)
			}
		})
	}
}

// TestSpecClientSendsServerOps checks what the edge does with each op a
// client may or may not send after AuthOK (section 5): Pong is taken as
// liveness and not answered, Refresh is answered with RefreshOK even before
// any TokenExpiring, and every op only a server sends closes with 3501.
func TestSpecClientSendsServerOps(t *testing.T) {
	srv := startServer(t, nil)
	for _, kind := range transports {
		t.Run(kind, func(t *testing.T) {
			c := dialRaw(t, srv, kind)
			authenticate(t, c, token(t, "ops", "r"))
			// Pong: ignored, so the next frame is the Ping's answer.
			if err := c.write(wire.AppendFrame(nil, wire.OpPong, 5, nil)); err != nil {
				t.Fatal(err)
			}
			if err := c.write(wire.AppendFrame(nil, wire.OpPing, 6, nil)); err != nil {
				t.Fatal(err)
			}
			if h, _ := expectFrame(t, c, wire.OpPong); h.Seq != 6 {
				t.Fatalf("pong seq %d, want 6 (the Pong sent must be ignored)", h.Seq)
			}
			if err := c.write(wire.AppendRefresh(nil, 7, &wire.Refresh{Token: token(t, "ops", "r")})); err != nil {
				t.Fatal(err)
			}
			h, body := expectFrame(t, c, wire.OpRefreshOK)
			var ok wire.RefreshOK
			if err := ok.Decode(body); err != nil || h.Seq != 7 || ok.ExpiresInMs == 0 {
				t.Fatalf("refresh_ok %+v seq %d err %v", ok, h.Seq, err)
			}
		})
		serverOps := map[string][]byte{
			"auth_ok":        wire.AppendAuthOK(nil, 8, &wire.AuthOK{ConnKey: "k", User: "u"}),
			"join_ok":        wire.AppendRoom(nil, wire.OpJoinOK, 8, "r"),
			"leave_ok":       wire.AppendRoom(nil, wire.OpLeaveOK, 8, "r"),
			"push":           wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "r", ID: "m"}),
			"error":          wire.AppendError(nil, 8, &wire.Error{Code: wire.ErrCodeBadRequest, Message: "x"}),
			"disconnect":     wire.AppendDisconnect(nil, &wire.Disconnect{Code: wire.CodeShutdown, Reason: "x"}),
			"token_expiring": wire.AppendTokenExpiring(nil, &wire.TokenExpiring{ExpiresInMs: 1}),
			"refresh_ok":     wire.AppendRefreshOK(nil, 8, &wire.RefreshOK{ExpiresInMs: 1}),
		}
		for name, frame := range serverOps {
			t.Run(kind+"/"+name, func(t *testing.T) {
				c := dialRaw(t, srv, kind)
				authenticate(t, c, token(t, "ops", "r"))
				if err := c.write(frame); err != nil {
					t.Fatal(err)
				}
				expectDisconnect(t, c, wire.CodeProtocolError)
			})
		}
	}
}

// TestSpecFreshStreamReply checks the reply to an Auth and a Join without a
// position, for a user and a room that have never had a message (section
// 11): recovery 0, offset 0 and an epoch, which the client takes as its
// position.
func TestSpecFreshStreamReply(t *testing.T) {
	srv := startServer(t, nil)
	c := dialRaw(t, srv, "tcp")
	if a := authenticate(t, c, token(t, "fresh", "fresh-room")); a.Recovery != wire.RecoveryNone || a.Offset != 0 || a.Epoch == "" {
		t.Fatalf("auth_ok of a fresh user: %+v, want recovery none, offset 0 and an epoch", a)
	}
	if err := c.write(wire.AppendJoin(nil, 2, &wire.Join{Room: "fresh-room"})); err != nil {
		t.Fatal(err)
	}
	_, body := expectFrame(t, c, wire.OpJoinOK)
	var ok wire.JoinOK
	if err := ok.Decode(body); err != nil {
		t.Fatal(err)
	}
	if ok.Recovery != wire.RecoveryNone || ok.Offset != 0 || ok.Epoch == "" {
		t.Fatalf("join_ok of a fresh room: %+v, want recovery none, offset 0 and an epoch", ok)
	}
}

// TestSpecTCPEndsAfterDisconnect checks that on framed TCP, plain or TLS,
// the edge ends its side right after the Disconnect frame (TLS close_notify,
// then TCP FIN: section 2.3), so a client that keeps its side open reads the
// end of the stream at once instead of after the close grace period.
func TestSpecTCPEndsAfterDisconnect(t *testing.T) {
	srv := startServer(t, nil) // CloseTimeout 1 s
	for _, kind := range []string{"tcp", "tls"} {
		t.Run(kind, func(t *testing.T) {
			c := dialRaw(t, srv, kind)
			authenticate(t, c, token(t, "fin"))
			// A second Auth is a protocol error.
			if err := c.write(wire.AppendAuth(nil, 2, &wire.Auth{Version: wire.Version, Token: token(t, "fin")})); err != nil {
				t.Fatal(err)
			}
			expectFrame(t, c, wire.OpDisconnect)
			start := time.Now()
			if _, _, err := c.next(); err == nil {
				t.Fatal("a frame after Disconnect")
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Fatalf("the stream ended %v after Disconnect; the edge must end its side at once", d)
			}
		})
	}
}
