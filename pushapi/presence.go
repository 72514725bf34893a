package pushapi

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// PresenceReader answers who is in a room, over all edges: the Edge itself
// in one process, store.Presence on Redis in a cluster.
type PresenceReader interface {
	// Presence returns the room's users after the user after (from the
	// first when empty), at most limit of them, ordered by user, and the
	// room's counts. A room held as counts only has Listed false and no
	// users.
	Presence(ctx context.Context, room, after string, limit int) (push.Presence, error)
	// PresenceStats returns the room's connections and distinct users.
	PresenceStats(ctx context.Context, room string) (push.PresenceStats, error)
}

// Presence limits.
const (
	// DefaultPresenceLimit is the users of a Presence page when the request
	// leaves limit at 0.
	DefaultPresenceLimit = 100
	// MaxPresenceLimit is the largest PresenceRequest.limit: with 255-byte
	// user ids, keys and 1 KiB infos, a page stays within a few MB.
	MaxPresenceLimit = 1000
	// maxCursorLen is the longest PresenceRequest.cursor: the base64 of a
	// 255-byte user id is 340 bytes.
	maxCursorLen = 512
)

// Presence errors.
var (
	// ErrNoPresence means the server runs without presence
	// (connect.CodeUnimplemented).
	ErrNoPresence = errors.New("presence is not enabled on this server")
	// ErrPresenceUnavailable means the presence store failed to answer
	// (connect.CodeUnavailable).
	ErrPresenceUnavailable = errors.New("presence unavailable")
	// ErrLimitTooLarge means Presence asked for more than MaxPresenceLimit
	// users.
	ErrLimitTooLarge = errors.New("limit too large")
	// ErrBadCursor means a Presence cursor is not one the service issued.
	ErrBadCursor = errors.New("malformed cursor: pass next_cursor of the previous page")
)

// Presence implements pushv1connect.PushServiceHandler.
func (s *Service) Presence(ctx context.Context, req *connect.Request[pushv1.PresenceRequest]) (*connect.Response[pushv1.PresenceResponse], error) {
	r := req.Msg
	if err := validateName("room", r.GetRoom()); err != nil {
		return nil, err
	}
	limit := int(r.GetLimit())
	switch {
	case limit == 0:
		limit = DefaultPresenceLimit
	case limit > MaxPresenceLimit:
		return nil, invalid("limit", fmt.Errorf("%d, at most %d: %w", limit, MaxPresenceLimit, ErrLimitTooLarge))
	}
	after, err := decodeCursor(r.GetCursor())
	if err != nil {
		return nil, invalid("cursor", err)
	}
	if s.presence == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, ErrNoPresence)
	}
	p, err := s.presence.Presence(ctx, r.GetRoom(), after, limit)
	if err != nil {
		return nil, s.presenceFailed(ctx, err)
	}
	resp := &pushv1.PresenceResponse{
		Listed:      p.Listed,
		Truncated:   p.More,
		Connections: p.Stats.Conns,
		UserCount:   p.Stats.Users,
		Users:       make([]*pushv1.PresenceUser, len(p.Users)),
	}
	for i, u := range p.Users {
		pu := &pushv1.PresenceUser{User: u.User, Connections: make([]*pushv1.PresenceConnection, len(u.Conns))}
		for j, c := range u.Conns {
			pu.Connections[j] = &pushv1.PresenceConnection{Key: c.Key, Edge: c.Edge, Info: c.Info}
		}
		resp.Users[i] = pu
	}
	if p.More && len(p.Users) > 0 {
		resp.NextCursor = encodeCursor(p.Users[len(p.Users)-1].User)
	}
	return connect.NewResponse(resp), nil
}

// PresenceStats implements pushv1connect.PushServiceHandler.
func (s *Service) PresenceStats(ctx context.Context, req *connect.Request[pushv1.PresenceStatsRequest]) (*connect.Response[pushv1.PresenceStatsResponse], error) {
	if err := validateName("room", req.Msg.GetRoom()); err != nil {
		return nil, err
	}
	if s.presence == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, ErrNoPresence)
	}
	st, err := s.presence.PresenceStats(ctx, req.Msg.GetRoom())
	if err != nil {
		return nil, s.presenceFailed(ctx, err)
	}
	return connect.NewResponse(&pushv1.PresenceStatsResponse{
		Connections: st.Conns,
		Users:       st.Users,
		UsersExact:  st.UsersExact,
	}), nil
}

// presenceFailed logs a failed presence read and returns its API error.
func (s *Service) presenceFailed(ctx context.Context, err error) error {
	code := connect.CodeUnavailable
	if c, ok := contextCode(ctx, err); ok {
		code = c
	}
	s.log.WarnContext(ctx, "presence failed", "code", code.String(), "error", err)
	return connect.NewError(code, ErrPresenceUnavailable)
}

// A cursor is the last user of the previous page, base64url-encoded: opaque
// to callers, and free of the characters user ids may hold.
func encodeCursor(user string) string { return base64.RawURLEncoding.EncodeToString([]byte(user)) }

func decodeCursor(c string) (string, error) {
	if len(c) > maxCursorLen {
		return "", fmt.Errorf("%d bytes, at most %d: %w", len(c), maxCursorLen, ErrBadCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", ErrBadCursor
	}
	return string(b), nil
}
