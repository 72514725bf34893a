package pushapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// TestRequestID: over every protocol, a call answers with the caller's sane
// X-Request-Id, or with a new id when the caller sent none or one that could
// forge a log line; a refused call too. The request log line carries the id
// the caller was given, and no line holds the API key.
func TestRequestID(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			var logs lockedBuffer
			ts := runServer(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
			for _, tt := range []struct {
				name, sent, auth string
				keep, ok         bool
			}{
				{"caller's id", "4bf92f3577b34da6a3ce929d0e0e4736", "Bearer " + testKey, true, true},
				{"none", "", "Bearer " + testKey, false, true},
				{"forged line", "x\" level=ERROR msg=\"forged", "Bearer " + testKey, false, true},
				{"too long", strings.Repeat("a", maxRequestIDLen+1), "Bearer " + testKey, false, true},
				{"refused call", "refused-1", "Bearer wrong", true, false},
			} {
				c := ts.client(p, tt.auth)
				req := connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"})
				if tt.sent != "" {
					req.Header().Set(RequestIDHeader, tt.sent)
				}
				resp, err := c.PushRoom(t.Context(), req)
				var got string
				switch {
				case tt.ok && err == nil:
					got = resp.Header().Get(RequestIDHeader)
				case !tt.ok && err != nil:
					var ce *connect.Error
					if !errors.As(err, &ce) {
						t.Fatalf("%s: %v is not a connect error", tt.name, err)
					}
					got = ce.Meta().Get(RequestIDHeader)
				default:
					t.Fatalf("%s: err %v", tt.name, err)
				}
				switch {
				case tt.keep && got != tt.sent:
					t.Errorf("%s: answered id %q, want the caller's %q", tt.name, got, tt.sent)
				case !tt.keep && (len(got) != idLen || got == tt.sent):
					t.Errorf("%s: answered id %q, want a new %d-character id", tt.name, got, idLen)
				}
				if !requestLogged(t, logs.String(), got) {
					t.Errorf("%s: no request line with request_id %q in:\n%s", tt.name, got, logs.String())
				}
			}
			if strings.Contains(logs.String(), testKey) || strings.Contains(logs.String(), "wrong") {
				t.Errorf("an API key is in the log:\n%s", logs.String())
			}
		})
	}
}

// requestLogged reports whether logs (JSON lines) hold a "request" line
// with request_id id.
func requestLogged(t *testing.T, logs, id string) bool {
	t.Helper()
	for line := range strings.Lines(logs) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "request" && rec["request_id"] == id {
			return true
		}
	}
	return false
}

// TestRequestIDOnEveryLine: a line logged with a call's context outside the
// request line (here a failed publish) names the call's request id too.
func TestRequestIDOnEveryLine(t *testing.T) {
	t.Parallel()
	var logs lockedBuffer
	ts := runServer(t, Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ts.pub.fn = func(context.Context, *push.Message) error { return errors.New("bus down") }
	req := connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"})
	req.Header().Set(RequestIDHeader, "publish-fails-1")
	if _, err := ts.client(protocols[0], "Bearer "+testKey).PushRoom(t.Context(), req); err == nil {
		t.Fatal("PushRoom succeeded with a failing bus")
	}
	if !strings.Contains(logs.String(), `"msg":"publish failed"`) || !strings.Contains(logs.String(), `"request_id":"publish-fails-1"`) {
		t.Fatalf("no publish failure with the request id in:\n%s", logs.String())
	}
}
