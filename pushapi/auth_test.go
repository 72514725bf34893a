package pushapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
)

func sha256Hex(key string) string {
	d := sha256.Sum256([]byte(key))
	return hex.EncodeToString(d[:])
}

func TestParseAPIKey(t *testing.T) {
	t.Parallel()
	digest := sha256Hex("k")
	tests := []struct {
		entry string
		key   string // the bearer key it accepts
		scope keyScope
		err   error
	}{
		{entry: "k", key: "k", scope: scopeAll},
		{entry: "push:k", key: "k", scope: scopePush},
		{entry: "read:k", key: "k", scope: scopeRead},
		{entry: "sha256:" + digest, key: "k", scope: scopeAll},
		{entry: "sha256:" + strings.ToUpper(digest), key: "k", scope: scopeAll},
		{entry: "push:sha256:" + digest, key: "k", scope: scopePush},
		{entry: "read:sha256:" + digest, key: "k", scope: scopeRead},
		// A key that begins like a prefix is given with one.
		{entry: "read:sha256:" + sha256Hex("push:x"), key: "push:x", scope: scopeRead},
		{entry: "Push:k", key: "Push:k", scope: scopeAll}, // prefixes are case-sensitive
		{entry: "", err: ErrEmptyAPIKey},
		{entry: "push:", err: ErrEmptyAPIKey},
		{entry: "read:", err: ErrEmptyAPIKey},
		{entry: "push:read:k", err: ErrBadAPIKey},
		{entry: "read:push:k", err: ErrBadAPIKey},
		{entry: "sha256:", err: ErrBadAPIKey},
		{entry: "sha256:" + digest[:63], err: ErrBadAPIKey},
		{entry: "sha256:" + digest + "0", err: ErrBadAPIKey},
		{entry: "sha256:" + strings.Repeat("g", 64), err: ErrBadAPIKey},
		{entry: "read:sha256:xyz", err: ErrBadAPIKey},
	}
	for _, tt := range tests {
		k, err := parseAPIKey(tt.entry)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%q: err = %v, want %v", tt.entry, err, tt.err)
			}
			if len(tt.entry) > 8 && err != nil && strings.Contains(err.Error(), tt.entry[len(tt.entry)-8:]) {
				t.Errorf("%q: error quotes the entry: %v", tt.entry, err)
			}
			continue
		}
		if err != nil || k.scope != tt.scope || k.digest != sha256.Sum256([]byte(tt.key)) {
			t.Errorf("%q: %+v, %v; want key %q scope %b", tt.entry, k, err, tt.key, tt.scope)
		}
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	t.Parallel()
	for _, entry := range []string{"push:", "sha256:abc", "read:push:x"} {
		_, err := New(Config{Publisher: &fakePublisher{}, Online: &fakeOnline{}, APIKeys: []string{"good", entry}})
		if err == nil {
			t.Errorf("%q accepted", entry)
			continue
		}
		if !strings.Contains(err.Error(), "APIKeys[1]") {
			t.Errorf("%q: error does not say which entry: %v", entry, err)
		}
	}
}

// methodCalls are one call of every PushService method.
var methodCalls = map[string]func(context.Context, pushv1connect.PushServiceClient) error{
	"PushKeys": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: []string{"k"}, Text: "x"}))
		return err
	},
	"PushUsers": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.PushUsers(ctx, connect.NewRequest(&pushv1.PushUsersRequest{Users: []string{"u"}, Text: "x"}))
		return err
	},
	"PushRoom": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x"}))
		return err
	},
	"Broadcast": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Text: "x"}))
		return err
	},
	"Disconnect": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{Users: []string{"u"}}))
		return err
	},
	"Online": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.Online(ctx, connect.NewRequest(&pushv1.OnlineRequest{Rooms: []string{"r"}}))
		return err
	},
	"History": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.History(ctx, connect.NewRequest(&pushv1.HistoryRequest{Stream: &pushv1.HistoryRequest_Room{Room: "r"}}))
		return err
	},
	"Presence": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.Presence(ctx, connect.NewRequest(&pushv1.PresenceRequest{Room: "r"}))
		return err
	},
	"PresenceStats": func(ctx context.Context, c pushv1connect.PushServiceClient) error {
		_, err := c.PresenceStats(ctx, connect.NewRequest(&pushv1.PresenceStatsRequest{Room: "r"}))
		return err
	},
}

// TestScopes calls every method with every kind of key, over every
// protocol: a key outside its scope gets PermissionDenied and publishes
// nothing; an unknown key stays Unauthenticated whatever the method.
func TestScopes(t *testing.T) {
	t.Parallel()
	const (
		pushKey = "push-only-key"
		readKey = "read-only-key"
		fullKey = "full-key"
		bothKey = "listed-twice-key"
	)
	keys := []string{
		"push:" + pushKey,
		"read:sha256:" + sha256Hex(readKey),
		"sha256:" + sha256Hex(fullKey),
		"push:" + bothKey, "read:" + bothKey,
	}
	pushMethods := map[string]bool{"PushKeys": true, "PushUsers": true, "PushRoom": true, "Broadcast": true, "Disconnect": true}
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			h := history.NewMemory(history.Policies{})
			t.Cleanup(func() { _ = h.Close() })
			ts := runServer(t, Config{APIKeys: keys, History: h, Presence: &fakePresence{}})
			published := 0
			for method, call := range methodCalls {
				for key, allowed := range map[string]bool{
					pushKey: pushMethods[method],
					readKey: !pushMethods[method],
					fullKey: true,
					bothKey: true,
				} {
					err := call(t.Context(), ts.client(p, "Bearer "+key))
					if allowed {
						if err != nil {
							t.Errorf("%s with %s: %v", method, key, err)
						} else if pushMethods[method] {
							published++
						}
						continue
					}
					if connect.CodeOf(err) != connect.CodePermissionDenied || !errors.Is(err, ErrPermissionDenied) && !strings.Contains(err.Error(), ErrPermissionDenied.Error()) {
						t.Errorf("%s with %s: %v, want PermissionDenied", method, key, err)
						continue
					}
					want := "read:"
					if pushMethods[method] {
						want = "push:"
					}
					if msg := err.Error(); !strings.Contains(msg, method) || !strings.Contains(msg, want) {
						t.Errorf("%s with %s: message %q does not name the method and scope", method, key, msg)
					}
				}
				// The hash itself is not a key, nor is an unknown key
				// allowed anything: Unauthenticated, not PermissionDenied.
				for _, bad := range []string{sha256Hex(readKey), "sha256:" + sha256Hex(fullKey), "push:" + pushKey, "wrong"} {
					if err := call(t.Context(), ts.client(p, "Bearer "+bad)); connect.CodeOf(err) != connect.CodeUnauthenticated {
						t.Errorf("%s with %q: %v, want Unauthenticated", method, bad, err)
					}
				}
			}
			if n := len(ts.pub.published()); n != published {
				t.Errorf("%d published, want %d", n, published)
			}
		})
	}
}

// TestScopeOfUnknownMethod: a method in neither group needs an unscoped key.
func TestScopeOfUnknownMethod(t *testing.T) {
	t.Parallel()
	for procedure := range methodScopes {
		if !strings.HasPrefix(procedure, "/"+pushv1connect.PushServiceName+"/") {
			t.Errorf("%s is not a PushService procedure", procedure)
		}
	}
	if n := pushv1.File_quicpush_push_v1_push_proto.Services().ByName("PushService").Methods().Len(); n != len(methodScopes) {
		t.Errorf("the PushService has %d methods, methodScopes %d: give the new one a scope", n, len(methodScopes))
	}
	if scopeOf("/quicpush.push.v1.PushService/Future") != scopeOther {
		t.Error("unknown method not limited to unscoped keys")
	}
	a, err := newAuthenticator([]string{"push:p", "read:r", "all"})
	if err != nil {
		t.Fatal(err)
	}
	for key, ok := range map[string]bool{"p": false, "r": false, "all": true} {
		h := map[string][]string{"Authorization": {"Bearer " + key}}
		_, err := a.check(h, "/quicpush.push.v1.PushService/Future", connect.ProtocolConnect)
		if (err == nil) != ok {
			t.Errorf("key %s: %v", key, err)
		}
	}
}

// TestHashedKeyIdempotency: a key configured hashed scopes idempotency keys
// as the same key configured plain does.
func TestHashedKeyIdempotency(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{APIKeys: []string{"sha256:" + sha256Hex(testKey), "push:" + otherTestKey}})
	c, other := ts.client(protocols[0], "Bearer "+testKey), ts.client(protocols[0], "Bearer "+otherTestKey)
	req := func() *connect.Request[pushv1.PushRoomRequest] {
		return connect.NewRequest(&pushv1.PushRoomRequest{Room: "r", Text: "x", IdempotencyKey: "once"})
	}
	first, err := c.PushRoom(t.Context(), req())
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.PushRoom(t.Context(), req())
	if err != nil || again.Msg.GetMessageId() != first.Msg.GetMessageId() {
		t.Fatalf("retry: %v, ids %s %s", err, first.Msg.GetMessageId(), again.Msg.GetMessageId())
	}
	third, err := other.PushRoom(t.Context(), req())
	if err != nil || third.Msg.GetMessageId() == first.Msg.GetMessageId() {
		t.Fatalf("another key shared the idempotency key: %v", err)
	}
	if n := len(ts.pub.published()); n != 2 {
		t.Fatalf("%d published, want 2", n)
	}
}

// lockedBuffer is a log sink for a server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestKeysNotLogged captures a server's debug log through failed, denied
// and successful calls, and a failing bus: neither a key, nor a configured
// key's digest, nor a wrong key a caller sent appears in it.
func TestKeysNotLogged(t *testing.T) {
	t.Parallel()
	const (
		plainKey = "plain-secret-key-0123456789"
		hashKey  = "hashed-secret-key-0123456789"
		readKey  = "read-secret-key-0123456789"
		wrongKey = "wrong-secret-key-0123456789"
	)
	var logs lockedBuffer
	for _, format := range []string{"text", "json"} {
		var h slog.Handler = slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})
		if format == "json" {
			h = slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})
		}
		ts := runServer(t, Config{
			APIKeys: []string{plainKey, "sha256:" + sha256Hex(hashKey), "read:" + readKey},
			Logger:  slog.New(h),
		})
		for _, p := range protocols {
			for _, auth := range []string{"Bearer " + wrongKey, wrongKey, "Basic " + plainKey, "Bearer " + readKey} {
				if err := methodCalls["PushRoom"](t.Context(), ts.client(p, auth)); err == nil {
					t.Fatalf("%s: call with %q succeeded", p.name, auth)
				}
			}
			for _, key := range []string{plainKey, hashKey} {
				if err := methodCalls["PushRoom"](t.Context(), ts.client(p, "Bearer "+key)); err != nil {
					t.Fatal(err)
				}
			}
			if err := methodCalls["Online"](t.Context(), ts.client(p, "Bearer "+readKey)); err != nil {
				t.Fatal(err)
			}
		}
		// A failing bus logs its error: still no key.
		ts.pub.fn = func(context.Context, *push.Message) error { return errors.New("bus down") }
		if err := methodCalls["PushRoom"](t.Context(), ts.client(protocols[0], "Bearer "+plainKey)); err == nil {
			t.Fatal("publish did not fail")
		}
	}
	out := logs.String()
	if !strings.Contains(out, "PushRoom") || !strings.Contains(out, "publish failed") {
		t.Fatalf("the calls were not logged; the test checks nothing:\n%s", out)
	}
	for _, secret := range []string{plainKey, hashKey, readKey, wrongKey, sha256Hex(plainKey), sha256Hex(hashKey), sha256Hex(readKey), sha256Hex(wrongKey)} {
		if strings.Contains(out, secret) || strings.Contains(out, secret[:12]) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
}
