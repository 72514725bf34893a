package bus

import (
	"context"
	"errors"

	"github.com/quicpush/quicpush/internal/push"
)

// ErrClosed is returned by Publish once the bus is closed, and by Poll once
// its client is closed.
var ErrClosed = errors.New("bus: closed")

// Publisher hands messages to the bus: the push API's side.
type Publisher interface {
	// Publish returns nil only once the bus durably accepted m (for Kafka:
	// acknowledged by all in-sync replicas), with where it stored m: one
	// record per partition m's targets were spread over. Any error means m
	// was not accepted, not even in part. Publish must not modify m or keep
	// ctx.
	Publish(ctx context.Context, m *push.Message) ([]push.BusRecord, error)
}

// Source is where core reads accepted messages from. Its calls come from one
// goroutine, core's loop.
type Source interface {
	// Poll waits for at least one message and appends up to limit to buf.
	// It returns ctx's error when ctx ends first, and ErrClosed once the
	// source is closed.
	Poll(ctx context.Context, buf []*push.Message, limit int) ([]*push.Message, error)
	// TryPoll appends what is already available, up to limit in all.
	TryPoll(buf []*push.Message, limit int) []*push.Message
}

// Committer is a Source that wants to hear when the messages it returned
// reached the edges, to commit them (Kafka). The in-process bus is not one.
type Committer interface {
	// Delivered reports that every message polled so far was handed off.
	Delivered()
}

var (
	_ Publisher = (*Memory)(nil)
	_ Source    = (*Memory)(nil)
	_ Publisher = (*KafkaPublisher)(nil)
	_ Source    = (*KafkaSource)(nil)
	_ Committer = (*KafkaSource)(nil)
)
