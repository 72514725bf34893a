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
	// The hook's answer counts against the handshake timeout too.
	ctx, cancel := context.WithDeadline(context.Background(), s.authBy)
	id, h, d := s.askConnect(ctx, token, id, err == nil)
	cancel()
	if d.code != 0 {
		if d != disconnectProxyFailed {
			e.metrics.authFailures.Inc()
		}
		s.close(d)
		return id, false
	}
	s.hooked = h
	return id, true
}

// hookSees reports whether the connect hook is asked about a token whose
// verification ended with err.
func (s *session) hookSees(err error) bool {
	p := s.edge.cfg.Proxy
	return p != nil && p.ConnectEnabled() && !errors.Is(err, auth.ErrExpired) && (err != nil || p.ConnectAlways())
}

// askConnect asks the connect hook about token (id is its JWT's identity
// when verified) and returns the identity the answer makes, with what the
// hook added (nil if nothing), or the disconnect that refuses it.
func (s *session) askConnect(ctx context.Context, token string, id auth.Identity, verified bool) (auth.Identity, *hooked, disconnect) {
	e := s.edge
	req := proxy.ConnectRequest{Token: token, IP: hostOf(s.t.remoteAddr()), Transport: s.t.kind(), Edge: e.cfg.ID}
	if verified {
		req.User, req.Rooms = id.User, id.Rooms
	}
	r, err := e.cfg.Proxy.Connect(ctx, req)
	if err != nil {
		// The proxy package logs the backend's failures once per call (and
		// not at all while its breaker is open): no line per client here.
		e.cfg.Logger.Debug("connect hook failed", "transport", s.t.kind(), "err", err)
		return id, nil, disconnectProxyFailed
	}
	if r.Disconnect.Code != 0 {
		return id, nil, disconnect{wire.Code(r.Disconnect.Code), r.Disconnect.Reason}
	}
	if !verified {
		id = auth.Identity{User: r.User}
	}
	id.Rooms = append(slices.Clip(id.Rooms), r.Rooms...)
	if len(r.Info) > 0 && len(r.Info) <= auth.MaxInfoLen && r.Info[0] == '{' {
		// Shown with the connection in Presence, as a token's info claim
		// would be; the hook's wins over the token's.
		id.Info = string(r.Info)
	}
	if !r.Expires.IsZero() && (id.Expires.IsZero() || r.Expires.Before(id.Expires)) {
		id.Expires = r.Expires
	}
	var h *hooked
	if len(r.Rooms) > 0 || len(r.Info) > 0 {
		h = &hooked{rooms: r.Rooms, info: r.Info}
	}
	return id, h, disconnect{}
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
		e.cfg.Logger.Debug("join hook failed", "room", room, "err", err)
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
