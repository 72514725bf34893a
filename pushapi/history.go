package pushapi

import (
	"context"
	"errors"
	"sync"

	"connectrpc.com/connect"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
)

// History limits.
const (
	defaultHistoryLimit = 100
	maxHistoryLimit     = 1000
)

// ErrNoHistory means the server runs without history (connect.CodeUnimplemented).
var ErrNoHistory = errors.New("history is not enabled on this server")

// History implements pushv1connect.PushServiceHandler.
func (s *Service) History(ctx context.Context, req *connect.Request[pushv1.HistoryRequest]) (*connect.Response[pushv1.HistoryResponse], error) {
	r := req.Msg
	var stream string
	switch t := r.GetStream().(type) {
	case *pushv1.HistoryRequest_Room:
		if err := validateName("room", t.Room); err != nil {
			return nil, err
		}
		stream = history.RoomStream(t.Room)
	case *pushv1.HistoryRequest_User:
		if err := validateName("user", t.User); err != nil {
			return nil, err
		}
		stream = history.UserStream(t.User)
	default:
		return nil, invalid("room, user", ErrRequired)
	}
	limit := int(r.GetLimit())
	switch {
	case limit == 0:
		limit = defaultHistoryLimit
	case limit > maxHistoryLimit:
		return nil, invalid("limit", errors.New("at most 1000"))
	}
	if s.history == nil {
		return nil, connect.NewError(connect.CodeUnimplemented, ErrNoHistory)
	}
	from := history.Position{Offset: r.GetSince().GetOffset(), Epoch: r.GetSince().GetEpoch()}
	res, err := s.history.Since(ctx, stream, from, limit)
	if err != nil {
		s.log.WarnContext(ctx, "history read failed", "error", err)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("history unavailable"))
	}
	out := &pushv1.HistoryResponse{
		Top:       &pushv1.StreamPosition{Offset: res.Top.Offset, Epoch: res.Top.Epoch},
		Truncated: res.Truncated,
		More:      res.More,
	}
	for _, e := range res.Entries {
		out.Messages = append(out.Messages, &pushv1.HistoryMessage{
			MessageId:      e.ID,
			Position:       &pushv1.StreamPosition{Offset: e.Offset, Epoch: res.Top.Epoch},
			Data:           e.Data,
			AcceptedUnixMs: e.Accepted.UnixMilli(),
		})
	}
	return connect.NewResponse(out), nil
}

// position is the position of a message stored at rec in stream: the bus
// offset plus one, in the stream's epoch (which reading the stream starts,
// if it has none yet, so core appends in the same epoch). Nil when the
// stream keeps no history or history cannot be read: the push itself was
// accepted, and its reply says so regardless.
func (s *Service) position(ctx context.Context, stream string, rec push.BusRecord) *pushv1.StreamPosition {
	if s.history == nil {
		return nil
	}
	top, err := s.history.Top(ctx, stream)
	if err != nil {
		s.log.WarnContext(ctx, "no position in the reply: history unavailable", "error", err)
		return nil
	}
	if top.Epoch == "" {
		return nil
	}
	return &pushv1.StreamPosition{Offset: uint64(rec.Offset) + 1, Epoch: top.Epoch}
}

// userPositions gives each user of a PushUsers call the position of the
// record that carried them, reading up to 16 streams at a time.
func (s *Service) userPositions(ctx context.Context, users []string, recs []push.BusRecord) []*pushv1.UserPosition {
	if s.history == nil || len(recs) == 0 {
		return nil
	}
	recOf := make(map[string]push.BusRecord, len(users))
	for _, r := range recs {
		if r.Users == nil {
			for _, u := range users {
				recOf[u] = r
			}
			continue
		}
		for _, u := range r.Users {
			recOf[u] = r
		}
	}
	out := make([]*pushv1.UserPosition, len(users))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, u := range users {
		rec, ok := recOf[u]
		if !ok {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if p := s.position(ctx, history.UserStream(u), rec); p != nil {
				out[i] = &pushv1.UserPosition{User: u, Position: p}
			}
		})
	}
	wg.Wait()
	kept := out[:0]
	for _, p := range out {
		if p != nil {
			kept = append(kept, p)
		}
	}
	return kept
}
