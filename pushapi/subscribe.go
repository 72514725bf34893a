package pushapi

import (
	"context"
	"fmt"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/internal/push"
)

// ServerRoomsWriter remembers the rooms Subscribe gives users, so that every
// connection a user opens later is put in them (docs/protocol.md section
// 6.8): serverrooms.Memory in one process, store.ServerRooms on Redis in a
// cluster. The edges read what it writes when a user connects.
type ServerRoomsWriter interface {
	// Add gives room to users, and keeps their rooms for the store's TTL
	// from now.
	Add(ctx context.Context, room string, users []string) error
	// Remove takes room from users.
	Remove(ctx context.Context, room string, users []string) error
}

// Subscribe implements pushv1connect.PushServiceHandler. The users' rooms are
// written before the order is published: a connection that authenticates in
// between reads the room at its Auth, and one online already gets the order.
func (s *Service) Subscribe(ctx context.Context, req *connect.Request[pushv1.SubscribeRequest]) (*connect.Response[pushv1.SubscribeResponse], error) {
	r := req.Msg
	id, recs, err := s.subscription(ctx, "Subscribe", r, push.KindSubscribe, r.GetRoom(), r.GetUsers(), r.GetKeys())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pushv1.SubscribeResponse{MessageId: id, BusRecords: recs}), nil
}

// Unsubscribe implements pushv1connect.PushServiceHandler. The users' rooms
// are forgotten first, so that no connection opened after the call is put
// back in the room.
func (s *Service) Unsubscribe(ctx context.Context, req *connect.Request[pushv1.UnsubscribeRequest]) (*connect.Response[pushv1.UnsubscribeResponse], error) {
	r := req.Msg
	id, recs, err := s.subscription(ctx, "Unsubscribe", r, push.KindUnsubscribe, r.GetRoom(), r.GetUsers(), r.GetKeys())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&pushv1.UnsubscribeResponse{MessageId: id, BusRecords: recs}), nil
}

// subscription serves Subscribe and Unsubscribe (kind): it checks the
// request, writes the users' server-side rooms, then publishes the order for
// the connections online, once per idempotency key (the replies of the two
// methods are alike: an idempotent reply is kept as a SubscribeResponse).
func (s *Service) subscription(ctx context.Context, method string, r idempotentRequest, kind push.Kind, room string, users, keys []string) (string, []*pushv1.BusRecord, error) {
	if err := s.validateSubscription(room, users, keys); err != nil {
		return "", nil, err
	}
	resp, err := once(ctx, s, method, r, func() (*pushv1.SubscribeResponse, error) {
		if err := s.rememberRooms(ctx, kind == push.KindSubscribe, room, users); err != nil {
			return nil, err
		}
		id, recs, err := s.publish(ctx, &push.Message{Kind: kind, Room: room, Users: users, Keys: keys})
		if err != nil {
			return nil, err
		}
		return &pushv1.SubscribeResponse{MessageId: id, BusRecords: busRecords(recs)}, nil
	})
	if err != nil {
		return "", nil, err
	}
	return resp.GetMessageId(), resp.GetBusRecords(), nil
}

// validateSubscription checks a Subscribe or Unsubscribe: a room named as
// PushRoom's, and at least one user or key, each list as PushUsers' and
// PushKeys'.
func (s *Service) validateSubscription(room string, users, keys []string) error {
	if err := validateName("room", room); err != nil {
		return err
	}
	if len(users) == 0 && len(keys) == 0 {
		return invalid("users, keys", fmt.Errorf("at least one user or key: %w", ErrRequired))
	}
	if err := validateNames("users", users, false, s.maxTargets); err != nil {
		return err
	}
	return validateNames("keys", keys, false, s.maxTargets)
}

// rememberRooms adds room to users' server-side rooms (or removes it).
func (s *Service) rememberRooms(ctx context.Context, add bool, room string, users []string) error {
	if s.serverRooms == nil || len(users) == 0 {
		return nil
	}
	var err error
	if add {
		err = s.serverRooms.Add(ctx, room, users)
	} else {
		err = s.serverRooms.Remove(ctx, room, users)
	}
	if err != nil {
		code := connect.CodeUnavailable
		if c, ok := contextCode(ctx, err); ok && ctx.Err() != nil {
			code = c
		}
		s.log.WarnContext(ctx, "server rooms not written", "room", room, "code", code.String(), "error", err)
		return connect.NewError(code, ErrServerRoomsUnavailable)
	}
	return nil
}
