package pushapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"connectrpc.com/connect"
)

// authenticator is the interceptor that checks API keys. Keys are kept as
// SHA-256 digests: comparing digests in constant time hides both the length
// and the content of the configured keys, and every key is compared on every
// call so the time taken does not reveal which key matched.
type authenticator struct {
	digests [][sha256.Size]byte
}

func newAuthenticator(keys []string) *authenticator {
	a := &authenticator{digests: make([][sha256.Size]byte, len(keys))}
	for i, k := range keys {
		a.digests[i] = sha256.Sum256([]byte(k))
	}
	return a
}

// check reports whether h holds `Authorization: Bearer <key>` with a known key.
// protocol is the caller's RPC protocol.
// On success it returns the key's digest, which scopes idempotency keys.
func (a *authenticator) check(h http.Header, protocol string) ([]byte, error) {
	key, ok := bearer(h.Get("Authorization"))
	if !ok {
		return nil, unauthenticated(protocol)
	}
	d := sha256.Sum256([]byte(key))
	match := 0
	for i := range a.digests {
		match |= subtle.ConstantTimeCompare(d[:], a.digests[i][:])
	}
	if match != 1 {
		return nil, unauthenticated(protocol)
	}
	return d[:], nil
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
		digest, err := a.check(req.Header(), req.Peer().Protocol)
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
		if _, err := a.check(conn.RequestHeader(), conn.Peer().Protocol); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
