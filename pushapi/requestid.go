package pushapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// RequestIDHeader names the header that carries a call's request id: a
// caller may send one (its own trace or correlation id), and every answer
// carries the id the call was logged with, so that a backend's log line and
// the push API's can be matched.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds a request id taken from a caller.
const maxRequestIDLen = 128

// requestIDKey is the context key of the request id.
type requestIDKey struct{}

// RequestID returns the request id of a push API call's context, or "" for
// a context that is not a call's.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// withRequestID gives every request an id before anything else sees it: the
// caller's X-Request-Id when it is sane (see saneRequestID), otherwise a new
// one in the message id format (sortable by time, unique without shared
// state). The id is in the request's context, where the logger finds it
// (requestIDHandler), and in the response's X-Request-Id header, which
// Connect, gRPC (as response metadata) and gRPC-Web callers all see.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(RequestIDHeader)
		if !saneRequestID(id) {
			id = newID(time.Now())
		}
		w.Header().Set(RequestIDHeader, id)
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// saneRequestID accepts 1 to 128 characters of letters, digits and
// "-_.:/+=" (UUIDs, ULIDs, W3C trace ids, base64): a caller's id goes into
// log lines as it is, so nothing that could forge a line (control
// characters, quotes, spaces) or flood one is kept.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}

// requestIDHandler adds request_id to every record logged with a call's
// context, so that every line the push API logs about a call (the request
// line, a failed publish, a failed store) names it.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
