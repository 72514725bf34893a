package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"connectrpc.com/connect"

	edgev1 "github.com/quicpush/quicpush/gen/quicpush/edge/v1"
	"github.com/quicpush/quicpush/gen/quicpush/edge/v1/edgev1connect"
	"github.com/quicpush/quicpush/store"
)

// errLinkBroken is returned for batches whose stream ended before their
// acknowledgement.
var errLinkBroken = errors.New("core: edge stream ended")

// edgeLink is core's Deliver stream to one edge. Batches go out one at a time
// (core's loop is sequential) and each waits for its acknowledgement; a
// broken stream is replaced on the next batch.
type edgeLink struct {
	info   store.EdgeInfo
	client edgev1connect.EdgeServiceClient
	log    *slog.Logger

	// mu serializes batches on the link.
	mu     sync.Mutex
	stream *linkStream
	nextID uint64
}

// linkStream is one open stream and what its reader saw.
type linkStream struct {
	bidi   *connect.BidiStreamForClient[edgev1.DeliverRequest, edgev1.DeliverResponse]
	cancel context.CancelFunc

	mu    sync.Mutex
	acked uint64
	err   error         // set when the stream ended
	wake  chan struct{} // closed and replaced on every change
}

func newEdgeLink(info store.EdgeInfo, hc *http.Client, log *slog.Logger) *edgeLink {
	return &edgeLink{
		info:   info,
		client: edgev1connect.NewEdgeServiceClient(hc, info.URL, connect.WithGRPC()),
		log:    log,
	}
}

// deliver sends one batch and waits for the edge to acknowledge it.
func (l *edgeLink) deliver(ctx context.Context, msgs []*edgev1.Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stream == nil {
		l.stream = l.open()
	}
	s := l.stream
	l.nextID++
	id := l.nextID
	if err := s.bidi.Send(&edgev1.DeliverRequest{BatchId: id, Messages: msgs}); err != nil {
		l.reset()
		return fmt.Errorf("core: sending to edge %s: %w", l.info.ID, err)
	}
	for {
		s.mu.Lock()
		acked, err, wake := s.acked, s.err, s.wake
		s.mu.Unlock()
		if acked >= id {
			return nil
		}
		if err != nil {
			l.reset()
			return fmt.Errorf("core: edge %s: %w", l.info.ID, err)
		}
		select {
		case <-wake:
		case <-ctx.Done():
			// The acknowledgement may still come, but ids must stay in step
			// with what the edge saw: start a fresh stream next time.
			l.reset()
			return ctx.Err()
		}
	}
}

// open starts a stream and its acknowledgement reader.
func (l *edgeLink) open() *linkStream {
	ctx, cancel := context.WithCancel(context.Background())
	s := &linkStream{bidi: l.client.Deliver(ctx), cancel: cancel, wake: make(chan struct{})}
	l.nextID = 0
	go func() {
		for {
			resp, err := s.bidi.Receive()
			s.mu.Lock()
			if err != nil {
				s.err = errors.Join(errLinkBroken, err)
			} else if resp.GetBatchId() > s.acked {
				s.acked = resp.GetBatchId()
			}
			close(s.wake)
			s.wake = make(chan struct{})
			s.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return s
}

// reset drops the current stream; l.mu is held.
func (l *edgeLink) reset() {
	if l.stream != nil {
		l.stream.close()
		l.stream = nil
	}
}

func (s *linkStream) close() {
	_ = s.bidi.CloseRequest()
	s.cancel()
}

// close ends the link's stream.
func (l *edgeLink) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reset()
}
