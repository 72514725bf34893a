package bus

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
)

// GroupState is the cores' consumer group as the brokers see it, for the
// admin page: who consumes, and how far behind each partition is.
type GroupState struct {
	// State is the group's state (Stable, PreparingRebalance, Empty, ...).
	State string
	// Members are the cores in the group.
	Members []GroupMember
	// Lag is each partition's lag, by partition.
	Lag []PartitionLag
}

// GroupMember is one consumer of the group.
type GroupMember struct {
	ID   string // the member id the brokers assigned
	Host string // where it connects from
	// Partitions is how many partitions it was assigned.
	Partitions int
}

// PartitionLag is how many records of a partition the group has not
// committed yet; -1 when unknown (no commit yet, or an error).
type PartitionLag struct {
	Partition int32
	Lag       int64
}

// Group describes a consumer group (the cores'; empty means DefaultGroup)
// and computes its lag on the publisher's topic.
func (p *KafkaPublisher) Group(ctx context.Context, group string) (GroupState, error) {
	if group == "" {
		group = DefaultGroup
	}
	lags, err := kadm.NewClient(p.cl).Lag(ctx, group)
	if err != nil {
		return GroupState{}, fmt.Errorf("bus: group lag: %w", err)
	}
	l, ok := lags[group]
	if !ok {
		return GroupState{}, fmt.Errorf("bus: group lag: group %q not described", group)
	}
	if err := l.Error(); err != nil {
		return GroupState{}, fmt.Errorf("bus: group lag: %w", err)
	}
	st := GroupState{State: l.State}
	for _, m := range l.Members {
		gm := GroupMember{ID: m.MemberID, Host: m.ClientHost}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				gm.Partitions += len(t.Partitions)
			}
		}
		st.Members = append(st.Members, gm)
	}
	for part, ml := range l.Lag[p.cfg.Topic] {
		st.Lag = append(st.Lag, PartitionLag{Partition: part, Lag: ml.Lag})
	}
	slices.SortFunc(st.Lag, func(a, b PartitionLag) int { return int(a.Partition - b.Partition) })
	return st, nil
}
