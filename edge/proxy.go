package edge

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/proxy"
	"github.com/quicpush/quicpush/wire"
)

// hooked is what the connect hook added to a connection: kept apart from
// the session (a pointer, nil without the hook) so that a connection the
// hook never saw pays 8 bytes for it.
type hooked struct {
	// rooms are the hook's room patterns, kept across Refresh, which
	// replaces the token's.
	rooms []string
	// info is the hook's opaque JSON, sent to the join hook.
	info json.RawMessage
}

// authenticate checks the Auth frame's credentials: the JWT alone without a
// connect hook; with one, the hook authenticates a client whose token is
// empty or not a verified JWT (and, in "always" mode, enriches one whose is).
// False means the session is closing.
func (s *session) authenticate(token string) (auth.Identity, bool) {
	e := s.edge
	p := e.cfg.Proxy
	if p == nil || !p.ConnectEnabled() {
		return s.verify(token)
	}
	id, err := auth.Identity{}, auth.ErrInvalid
	if token != "" {
		id, err = e.cfg.Auth.Verify(token)
	}
	switch {
	case errors.Is(err, auth.ErrExpired):
		// An expired JWT is not a credential for the hook: the client
		// fetches a fresh one.
		e.metrics.authFailures.Inc()
		s.close(disconnectTokenExpired)
		return id, false
	case err == nil && !p.ConnectAlways():
		return id, true
	}
	req := proxy.ConnectRequest{Token: token, IP: hostOf(s.t.remoteAddr()), Transport: s.t.kind(), Edge: e.cfg.ID}
	if err == nil {
		req.User, req.Rooms = id.User, id.Rooms
	}
	// The hook's answer counts against the handshake timeout too.
	ctx, cancel := context.WithDeadline(context.Background(), s.authBy)
	r, herr := p.Connect(ctx, req)
	cancel()
	if herr != nil {
		e.cfg.Logger.Warn("connect hook failed, refusing the connection", "transport", s.t.kind(), "err", herr)
		s.close(disconnectProxyFailed)
		return id, false
	}
	if r.Disconnect.Code != 0 {
		e.metrics.authFailures.Inc()
		s.close(disconnect{wire.Code(r.Disconnect.Code), r.Disconnect.Reason})
		return id, false
	}
	if err != nil {
		id = auth.Identity{User: r.User}
	}
	id.Rooms = append(slices.Clip(id.Rooms), r.Rooms...)
	if !r.Expires.IsZero() && (id.Expires.IsZero() || r.Expires.Before(id.Expires)) {
		id.Expires = r.Expires
	}
	if len(r.Rooms) > 0 || len(r.Info) > 0 {
		s.hooked = &hooked{rooms: r.Rooms, info: r.Info}
	}
	return id, true
}

// askJoin lets the join hook decide a join of room; false means the join is
// refused (the client has its Error, or the session is closing: see
// s.closing).
func (s *session) askJoin(seq uint32, room string) bool {
	e := s.edge
	req := proxy.JoinRequest{User: s.ident.User, ConnKey: s.key, Room: room, Transport: s.t.kind(), Edge: e.cfg.ID}
	if s.hooked != nil {
		req.Info = s.hooked.info
	}
	r, err := e.cfg.Proxy.Join(context.Background(), req)
	switch {
	case err != nil:
		e.cfg.Logger.Warn("join hook failed", "room", room, "err", err)
		s.replyError(seq, wire.ErrCodeInternal, "join hook unavailable, retry")
		return false
	case r.Disconnect.Code != 0:
		s.close(disconnect{wire.Code(r.Disconnect.Code), r.Disconnect.Reason})
		return false
	case !r.Allow:
		reason := r.Reason
		if reason == "" {
			reason = "not allowed to join " + room
		}
		s.replyError(seq, wire.ErrCodeForbidden, reason)
		return false
	}
	return true
}

// hookRooms are the connect hook's room patterns, nil without them.
func (s *session) hookRooms() []string {
	if s.hooked == nil {
		return nil
	}
	return s.hooked.rooms
}

// hostOf is addr's host without the port.
func hostOf(addr net.Addr) string {
	if ip, ok := ipOf(addr); ok {
		return ip.String()
	}
	return ""
}
