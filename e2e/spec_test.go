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
// boundary: an Auth of wire.MaxAuthFrame bytes (8,480) is answered with
// AuthOK, one byte more with 3502, on every transport.
func TestSpecAuthFrameLimit(t *testing.T) {
	if wire.MaxAuthFrame != 8480 {
		t.Fatalf("MaxAuthFrame %d: docs/protocol.md section 9 says 8,480", wire.MaxAuthFrame)
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
