package bus

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/quicpush/quicpush/internal/push"
)

func fakeKafka(t *testing.T) []string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()
}

func TestSplitByPartition(t *testing.T) {
	// A fake partitioner: the key's last byte decides.
	partOf := func(key string) int32 { return int32(key[len(key)-1]-'0') % 3 }
	m := &push.Message{ID: "x", Kind: push.KindUsers, Users: []string{"u1", "u2", "u4", "u3"}, Data: []byte("d")}
	parts := splitByPartition(m, 3, partOf)
	got := map[int32][]string{}
	for _, p := range parts {
		got[p.partition] = p.msg.Users
		if p.msg.ID != "x" || string(p.msg.Data) != "d" {
			t.Errorf("part lost the message's fields: %+v", p.msg)
		}
	}
	want := map[int32][]string{1: {"u1", "u4"}, 2: {"u2"}, 0: {"u3"}}
	for p, users := range want {
		if !slices.Equal(got[p], users) {
			t.Errorf("partition %d: %v, want %v", p, got[p], users)
		}
	}
	if len(m.Users) != 4 {
		t.Error("the original message was modified")
	}
	// One partition: the message itself, not a copy.
	one := &push.Message{ID: "y", Kind: push.KindKeys, Keys: []string{"e.1", "e.4"}}
	if parts := splitByPartition(one, 3, partOf); len(parts) != 1 || parts[0].msg != one {
		t.Errorf("keys on one partition split into %d parts", len(parts))
	}
	room := &push.Message{ID: "z", Kind: push.KindRoom, Room: "r"}
	if parts := splitByPartition(room, 3, partOf); len(parts) != 1 || parts[0].key != "r/r" {
		t.Errorf("room message parts %+v", parts)
	}
}

// TestKafkaAtLeastOnce publishes through KafkaPublisher and consumes with
// KafkaSource on kfake: what a source polled but never reported delivered
// comes back to the next member of the group; what it reported delivered
// does not.
func TestKafkaAtLeastOnce(t *testing.T) {
	brokers := fakeKafka(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	kc := KafkaConfig{Brokers: brokers, Topic: "t", Partitions: 1}
	pub, err := NewKafkaPublisher(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for i := range 10 {
		recs, err := pub.Publish(ctx, &push.Message{ID: fmt.Sprint(i), Kind: push.KindRoom, Room: "r", Data: []byte{byte(i)}})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Partition != 0 || recs[0].Offset != int64(i) {
			t.Fatalf("message %d stored at %+v", i, recs)
		}
	}
	sc := KafkaSourceConfig{KafkaConfig: kc, Group: "g", CommitInterval: 100 * time.Millisecond}

	poll := func(src *KafkaSource, n int) []string {
		var ids []string
		for len(ids) < n {
			msgs, err := src.Poll(ctx, nil, n-len(ids))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range msgs {
				ids = append(ids, m.ID)
			}
		}
		return ids
	}

	// The first member delivers 4 messages and stops.
	src, err := NewKafkaSource(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	if ids := poll(src, 4); !slices.Equal(ids, []string{"0", "1", "2", "3"}) {
		t.Fatalf("first poll: %v", ids)
	}
	src.Delivered()
	// Then polls 3 more and dies before delivering them.
	if ids := poll(src, 3); !slices.Equal(ids, []string{"4", "5", "6"}) {
		t.Fatalf("second poll: %v", ids)
	}
	if err := src.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// The next member starts after the delivered ones, with the undelivered
	// ones again.
	src2, err := NewKafkaSource(ctx, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src2.Shutdown(ctx) }()
	if ids := poll(src2, 6); !slices.Equal(ids, []string{"4", "5", "6", "7", "8", "9"}) {
		t.Fatalf("after the restart: %v, want 4..9", ids)
	}
}

// TestKafkaPublishFailsFast checks that with the broker gone a push fails
// within its deadline instead of hanging, and reports no record.
func TestKafkaPublishFailsFast(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	pub, err := NewKafkaPublisher(ctx, KafkaConfig{Brokers: c.ListenAddrs(), Topic: "t", Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if _, err := pub.Publish(ctx, &push.Message{ID: "1", Kind: push.KindRoom, Room: "r"}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	pctx, pcancel := context.WithTimeout(ctx, time.Second)
	defer pcancel()
	start := time.Now()
	recs, err := pub.Publish(pctx, &push.Message{ID: "2", Kind: push.KindRoom, Room: "r"})
	if err == nil {
		t.Fatalf("publish with the broker gone succeeded: %v", recs)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("publish failed after %v, want within its 1s deadline", d)
	}
}
