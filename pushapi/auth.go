package pushapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
)

// keyScope is the set of methods an API key may call.
type keyScope int

const (
	// scopePush: PushKeys, PushUsers, PushRoom, Broadcast, Disconnect,
	// Subscribe and Unsubscribe.
	scopePush keyScope = 1 << iota
	// scopeRead: Online, History, Presence and PresenceStats.
	scopeRead
	// scopeOther: methods in neither group (none today, any added later),
	// which only unscoped keys may call.
	scopeOther

	scopeAll = scopePush | scopeRead | scopeOther
)

// Prefixes of Config.APIKeys entries.
const (
	prefixPush   = "push:"
	prefixRead   = "read:"
	prefixSHA256 = "sha256:"
)

// methodScopes is the scope each PushService procedure needs.
var methodScopes = map[string]keyScope{
	pushv1connect.PushServicePushKeysProcedure:      scopePush,
	pushv1connect.PushServicePushUsersProcedure:     scopePush,
	pushv1connect.PushServicePushRoomProcedure:      scopePush,
	pushv1connect.PushServiceBroadcastProcedure:     scopePush,
	pushv1connect.PushServiceDisconnectProcedure:    scopePush,
	pushv1connect.PushServiceSubscribeProcedure:     scopePush,
	pushv1connect.PushServiceUnsubscribeProcedure:   scopePush,
	pushv1connect.PushServiceOnlineProcedure:        scopeRead,
	pushv1connect.PushServiceHistoryProcedure:       scopeRead,
	pushv1connect.PushServicePresenceProcedure:      scopeRead,
	pushv1connect.PushServicePresenceStatsProcedure: scopeRead,
}

func scopeOf(procedure string) keyScope {
	if s, ok := methodScopes[procedure]; ok {
		return s
	}
	return scopeOther
}

// apiKey is a configured key: the SHA-256 of the key and what it may call.
type apiKey struct {
	digest [sha256.Size]byte
	scope  keyScope
}

// parseAPIKey reads one Config.APIKeys entry: an optional scope prefix
// (push: or read:), then the key itself or sha256:<64 hex digits>. Errors
// never quote the entry.
func parseAPIKey(s string) (apiKey, error) {
	k := apiKey{scope: scopeAll}
	if rest, ok := strings.CutPrefix(s, prefixPush); ok {
		k.scope, s = scopePush, rest
	} else if rest, ok := strings.CutPrefix(s, prefixRead); ok {
		k.scope, s = scopeRead, rest
	}
	if k.scope != scopeAll && (strings.HasPrefix(s, prefixPush) || strings.HasPrefix(s, prefixRead)) {
		return k, fmt.Errorf("%w: two scope prefixes", ErrBadAPIKey)
	}
	if hexDigest, ok := strings.CutPrefix(s, prefixSHA256); ok {
		if len(hexDigest) != 2*sha256.Size {
			return k, fmt.Errorf("%w: sha256: wants %d hex digits, got %d characters", ErrBadAPIKey, 2*sha256.Size, len(hexDigest))
		}
		if _, err := hex.Decode(k.digest[:], []byte(hexDigest)); err != nil {
			return k, fmt.Errorf("%w: sha256: not hex", ErrBadAPIKey)
		}
		return k, nil
	}
	if s == "" {
		return k, ErrEmptyAPIKey
	}
	k.digest = sha256.Sum256([]byte(s))
	return k, nil
}

// authenticator is the interceptor that checks API keys. Keys are kept as
// SHA-256 digests (configured as such, or hashed at start): comparing
// digests in constant time hides both the length and the content of the
// configured keys, and every key is compared on every call so the time
// taken does not reveal which key matched.
type authenticator struct {
	keys []apiKey
}

func newAuthenticator(keys []string) (*authenticator, error) {
	a := &authenticator{keys: make([]apiKey, len(keys))}
	for i, k := range keys {
		var err error
		if a.keys[i], err = parseAPIKey(k); err != nil {
			return nil, fmt.Errorf("APIKeys[%d]: %w", i, err)
		}
	}
	return a, nil
}

// check reports whether h holds `Authorization: Bearer <key>` with a known
// key allowed to call procedure; protocol is the caller's RPC protocol.
// On success it returns the key's digest, which scopes idempotency keys.
func (a *authenticator) check(h http.Header, procedure, protocol string) ([]byte, error) {
	key, ok := bearer(h.Get("Authorization"))
	if !ok {
		return nil, unauthenticated(protocol)
	}
	d := sha256.Sum256([]byte(key))
	match, scope := 0, 0
	for i := range a.keys {
		eq := subtle.ConstantTimeCompare(d[:], a.keys[i].digest[:])
		match |= eq
		// A key listed twice with two scopes gets both.
		scope |= subtle.ConstantTimeSelect(eq, int(a.keys[i].scope), 0)
	}
	if match != 1 {
		return nil, unauthenticated(protocol)
	}
	if need := scopeOf(procedure); keyScope(scope)&need == 0 {
		return nil, permissionDenied(procedure, need)
	}
	return d[:], nil
}

func permissionDenied(procedure string, need keyScope) error {
	method := methodName(procedure)
	var err error
	switch need {
	case scopePush:
		err = fmt.Errorf("%w: %s needs a push: or unscoped key", ErrPermissionDenied, method)
	case scopeRead:
		err = fmt.Errorf("%w: %s needs a read: or unscoped key", ErrPermissionDenied, method)
	default:
		err = fmt.Errorf("%w: %s needs an unscoped key", ErrPermissionDenied, method)
	}
	return connect.NewError(connect.CodePermissionDenied, err)
}

// bearer extracts the token of a Bearer authorization header. The scheme is
// case-insensitive (RFC 9110, section 11.1).
func bearer(v string) (string, bool) {
	const scheme = "Bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	return strings.TrimLeft(v[len(scheme):], " "), true
}

func unauthenticated(protocol string) error {
	err := connect.NewError(connect.CodeUnauthenticated, ErrUnauthenticated)
	if protocol == connect.ProtocolConnect {
		// The Connect protocol answers with HTTP 401, which must name the
		// scheme (RFC 9110, section 15.5.2). gRPC and gRPC-Web would send it
		// as a trailer, where HTTP forbids this header.
		err.Meta().Set("WWW-Authenticate", `Bearer realm="quicpush"`)
	}
	return err
}

func (a *authenticator) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		digest, err := a.check(req.Header(), req.Spec().Procedure, req.Peer().Protocol)
		if err != nil {
			return nil, err
		}
		return next(context.WithValue(ctx, apiKeyCtx{}, digest), req)
	}
}

func (*authenticator) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authenticator) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if _, err := a.check(conn.RequestHeader(), conn.Spec().Procedure, conn.Peer().Protocol); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
