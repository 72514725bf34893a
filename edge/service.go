package edge

import (
	"context"
	"errors"
	"io"
	"net/http"

	"connectrpc.com/connect"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/gen/quicpush/edge/v1/edgev1connect"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/internal/pushpb"
)

// ServiceHandler returns the internal EdgeService that core calls in a
// cluster, with the path to mount it at. Serve it with HTTP/2 without TLS
// (h2c) on an address only the cluster reaches: it takes messages from
// anyone who can connect.
func (e *Edge) ServiceHandler(opts ...connect.HandlerOption) (string, http.Handler) {
	return edgev1connect.NewEdgeServiceHandler(&edgeService{e: e}, opts...)
}

// Service is the EdgeService implementation ServiceHandler serves, for a
// process that answers the calls the edge alone cannot (Figures and Drain
// need the process's registry and its registry entry: server/edge.go) and
// serves the result itself. Those two answer Unimplemented here.
func (e *Edge) Service() edgev1connect.EdgeServiceHandler { return &edgeService{e: e} }

type edgeService struct {
	edgev1connect.UnimplementedEdgeServiceHandler
	e *Edge
}

// Deliver hands each batch to the sessions and acknowledges it: the messages
// are queued for their receivers (never waiting on a client), so an
// acknowledged batch survives this stream, though not this process.
func (s *edgeService) Deliver(ctx context.Context, stream *connect.BidiStream[edgev1.DeliverRequest, edgev1.DeliverResponse]) error {
	var msgs []*push.Message
	for {
		req, err := stream.Receive()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		msgs = msgs[:0]
		for _, pm := range req.GetMessages() {
			m, err := pushpb.FromProto(pm)
			if err != nil {
				// Retrying cannot fix it; the rest of the batch still goes.
				s.e.cfg.Logger.Error("invalid message from core dropped", "id", pm.GetId(), "err", err)
				continue
			}
			msgs = append(msgs, m)
		}
		if len(msgs) > 0 {
			s.e.Deliver(msgs)
		}
		clear(msgs)
		if err := stream.Send(&edgev1.DeliverResponse{BatchId: req.GetBatchId()}); err != nil {
			return err
		}
	}
}

// Stats reports this edge's own online counts.
func (s *edgeService) Stats(ctx context.Context, req *connect.Request[edgev1.StatsRequest]) (*connect.Response[edgev1.StatsResponse], error) {
	top := int(min(req.Msg.GetTop(), 1000))
	on, err := s.e.Online(ctx, req.Msg.GetRooms(), top)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	resp := &edgev1.StatsResponse{Total: on.Total, Rooms: on.Rooms}
	for _, rc := range on.Top {
		resp.Top = append(resp.Top, &edgev1.RoomCount{Room: rc.Room, Count: rc.Count})
	}
	return connect.NewResponse(resp), nil
}
