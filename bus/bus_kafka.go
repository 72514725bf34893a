package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/internal/pushpb"
)

// Defaults of KafkaConfig.
const (
	DefaultTopic          = "quicpush.push"
	DefaultGroup          = "quicpush-core"
	DefaultPartitions     = 8
	DefaultSessionTimeout = 6 * time.Second
)

// KafkaConfig configures the Kafka side of the bus, shared by the producer
// (KafkaPublisher, in the push API) and the consumer (KafkaSource, in core).
type KafkaConfig struct {
	// Brokers are the seed brokers, "host:port". Required.
	Brokers []string
	// Topic holds accepted messages. Empty means DefaultTopic.
	Topic string
	// Partitions and ReplicationFactor are used when the topic does not
	// exist yet and is created on start. Zero means DefaultPartitions and
	// the broker's default replication factor (-1).
	Partitions        int
	ReplicationFactor int
	// NoCreateTopic leaves the topic's creation to the operator: start fails
	// while it does not exist.
	NoCreateTopic bool
	// ClientID names this process to the brokers. Empty means "quicpush".
	ClientID string
	// Logger receives the bus's logs. Nil means discard.
	Logger *slog.Logger
}

func (c KafkaConfig) withDefaults() (KafkaConfig, error) {
	if len(c.Brokers) == 0 {
		return c, errors.New("bus: KafkaConfig.Brokers is required")
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.Partitions <= 0 {
		c.Partitions = DefaultPartitions
	}
	if c.ReplicationFactor <= 0 {
		c.ReplicationFactor = -1
	}
	if c.ClientID == "" {
		c.ClientID = "quicpush"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// metadataMinAge lets the clients see a new topic, or a broker back from a
// restart, within half a second rather than franz-go's default 5s.
const metadataMinAge = 500 * time.Millisecond

// ensureTopic creates the topic if it is missing (unless NoCreateTopic) and
// returns its partition count.
func ensureTopic(ctx context.Context, cl *kgo.Client, cfg KafkaConfig) (int, error) {
	adm := kadm.NewClient(cl)
	for {
		details, err := adm.ListTopics(ctx, cfg.Topic)
		if err == nil {
			if td, ok := details[cfg.Topic]; ok && td.Err == nil && len(td.Partitions) > 0 {
				return len(td.Partitions), nil
			}
			if cfg.NoCreateTopic {
				return 0, fmt.Errorf("bus: topic %q does not exist", cfg.Topic)
			}
			resp, err := adm.CreateTopic(ctx, int32(cfg.Partitions), int16(cfg.ReplicationFactor), nil, cfg.Topic)
			if err == nil && resp.Err == nil {
				cfg.Logger.Info("created topic", "topic", cfg.Topic, "partitions", resp.NumPartitions)
				return int(resp.NumPartitions), nil
			}
			if err == nil && errors.Is(resp.Err, kerr.TopicAlreadyExists) {
				continue // created meanwhile by another process: read it
			}
			if err == nil {
				err = resp.Err
			}
			cfg.Logger.Warn("creating topic failed, retrying", "topic", cfg.Topic, "err", err)
		} else {
			cfg.Logger.Warn("listing topics failed, retrying", "err", err)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("bus: waiting for topic %q: %w", cfg.Topic, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// KafkaPublisher is the push API's side of the Kafka bus: an idempotent
// producer whose every record needs all in-sync replicas' acknowledgement.
//
// Records are keyed so that one room's and one user's messages stay in order:
// a room message is one record keyed by the room; a message to many users or
// connection keys is split into one record per partition, each carrying the
// targets that hash to it, so every user's messages land on one partition.
type KafkaPublisher struct {
	cfg  KafkaConfig
	cl   *kgo.Client
	part kgo.TopicPartitioner

	mu         sync.RWMutex
	partitions int

	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
}

// NewKafkaPublisher connects to the brokers, creates the topic when needed
// (within ctx) and starts refreshing its partition count.
func NewKafkaPublisher(ctx context.Context, cfg KafkaConfig) (*KafkaPublisher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.MetadataMinAge(metadataMinAge),
		kgo.DefaultProduceTopic(cfg.Topic),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		// A push waits for its record: lingering would only add latency,
		// and concurrent pushes still share produce requests.
		kgo.ProducerLinger(0),
		kgo.WithLogger(kgoLogger{cfg.Logger}),
	)
	if err != nil {
		return nil, fmt.Errorf("bus: kafka producer: %w", err)
	}
	n, err := ensureTopic(ctx, cl, cfg)
	if err != nil {
		cl.Close()
		return nil, err
	}
	p := &KafkaPublisher{
		cfg:        cfg,
		cl:         cl,
		part:       kgo.StickyKeyPartitioner(nil).ForTopic(cfg.Topic),
		partitions: n,
		done:       make(chan struct{}),
	}
	rctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go p.refresh(rctx)
	return p, nil
}

// refresh follows the topic's partition count, which an operator may raise.
func (p *KafkaPublisher) refresh(ctx context.Context) {
	defer close(p.done)
	adm := kadm.NewClient(p.cl)
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		details, err := adm.ListTopics(ctx, p.cfg.Topic)
		if err != nil {
			continue
		}
		if td, ok := details[p.cfg.Topic]; ok && td.Err == nil && len(td.Partitions) > 0 {
			p.mu.Lock()
			if p.partitions != len(td.Partitions) {
				p.cfg.Logger.Info("topic partitions changed", "from", p.partitions, "to", len(td.Partitions))
				p.partitions = len(td.Partitions)
			}
			p.mu.Unlock()
		}
	}
}

// traceHeader is the record header carrying a traced push's W3C trace
// context, the name OpenTelemetry's Kafka instrumentations use.
const traceHeader = "traceparent"

// Publish writes m and returns once every record of it was acknowledged by
// all in-sync replicas, or with an error when any record failed or ctx ended
// first. On error some records of a split message may have been written:
// the caller retries, and clients drop repeated ids.
func (p *KafkaPublisher) Publish(ctx context.Context, m *push.Message) ([]push.BusRecord, error) {
	p.mu.RLock()
	n := p.partitions
	p.mu.RUnlock()
	parts := splitByPartition(m, n, func(key string) int32 {
		return int32(p.part.Partition(&kgo.Record{Key: []byte(key)}, n))
	})
	recs := make([]*kgo.Record, len(parts))
	for i, part := range parts {
		v, err := pushpb.Marshal(part.msg)
		if err != nil {
			return nil, fmt.Errorf("bus: encoding message: %w", err)
		}
		recs[i] = &kgo.Record{Key: []byte(part.key), Value: v, Partition: part.partition}
		if m.TraceParent != "" {
			recs[i].Headers = []kgo.RecordHeader{{Key: traceHeader, Value: []byte(m.TraceParent)}}
		}
	}
	// ProduceSync would wait for a record the client cannot yet give up on
	// (sent, not answered) past ctx; the caller's deadline is the contract.
	type result struct {
		i   int
		err error
	}
	results := make(chan result, len(recs))
	for i, r := range recs {
		p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) { results <- result{i, err} })
	}
	out := make([]push.BusRecord, len(recs))
	for range recs {
		select {
		case res := <-results:
			if res.err != nil {
				return nil, fmt.Errorf("bus: producing to %s: %w", p.cfg.Topic, res.err)
			}
			r := recs[res.i]
			out[res.i] = push.BusRecord{Partition: r.Partition, Offset: r.Offset}
			if len(parts) > 1 && m.Kind == push.KindUsers {
				out[res.i].Users = parts[res.i].msg.Users
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("bus: producing to %s: %w", p.cfg.Topic, ctx.Err())
		}
	}
	return out, nil
}

// Close flushes nothing (every Publish waited for its records) and
// disconnects. It may be called more than once.
func (p *KafkaPublisher) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		<-p.done
		p.cl.Close()
	})
	return nil
}

// part is one record of a message: the message (or the share of its targets
// on one partition), its record key and its partition.
type part struct {
	msg       *push.Message
	key       string
	partition int32
}

// Record keys. A room's or user's key decides its partition, so its messages
// stay in order; the prefixes keep a room and a user of the same name apart.
func roomKey(room string) string { return "r/" + room }
func userKey(user string) string { return "u/" + user }
func connKey(key string) string  { return "k/" + key }

const broadcastKey = "*"

// splitByPartition cuts m into one part per partition its targets hash to.
// Room and broadcast messages are one part; users and keys are grouped by
// the partition of each one's key, in order of first appearance.
func splitByPartition(m *push.Message, partitions int, partitionOf func(key string) int32) []part {
	switch m.Kind {
	case push.KindRoom:
		k := roomKey(m.Room)
		return []part{{msg: m, key: k, partition: partitionOf(k)}}
	case push.KindBroadcast:
		return []part{{msg: m, key: broadcastKey, partition: partitionOf(broadcastKey)}}
	}
	type group struct {
		keys, users []string
		key         string
	}
	groups := make(map[int32]*group, min(partitions, len(m.Keys)+len(m.Users)))
	var order []int32
	add := func(recordKey string, to func(*group)) {
		p := partitionOf(recordKey)
		g := groups[p]
		if g == nil {
			g = &group{key: recordKey}
			groups[p] = g
			order = append(order, p)
		}
		to(g)
	}
	for _, u := range m.Users {
		add(userKey(u), func(g *group) { g.users = append(g.users, u) })
	}
	for _, k := range m.Keys {
		add(connKey(k), func(g *group) { g.keys = append(g.keys, k) })
	}
	if len(order) == 1 {
		return []part{{msg: m, key: groups[order[0]].key, partition: order[0]}}
	}
	parts := make([]part, 0, len(order))
	for _, p := range order {
		g := groups[p]
		mm := *m
		mm.Users, mm.Keys = g.users, g.keys
		parts = append(parts, part{msg: &mm, key: g.key, partition: p})
	}
	return parts
}

// KafkaSource is core's side of the Kafka bus: a consumer group member that
// hands messages to core and commits their offsets only after core reported
// them delivered to the edges (at-least-once to the edges). It blocks
// rebalances while a polled batch is in flight, so partitions never change
// hands between a poll and its commit.
type KafkaSource struct {
	cfg     KafkaConfig
	cl      *kgo.Client
	metrics *busMetrics

	// pending are the records polled and not yet reported delivered;
	// owned by core's loop.
	pending []*kgo.Record
	closed  bool
}

// KafkaSourceConfig configures a KafkaSource.
type KafkaSourceConfig struct {
	KafkaConfig
	// Group is the consumer group: cores in one group split the partitions.
	// Empty means DefaultGroup.
	Group string
	// SessionTimeout is how long the group waits for a silent member (a
	// killed core) before giving its partitions to the others. Zero means
	// DefaultSessionTimeout (6s, the brokers' default minimum).
	SessionTimeout time.Duration
	// CommitInterval is how often delivered offsets are committed; a killed
	// core's successor redelivers at most this much. Zero means 1s.
	CommitInterval time.Duration
	// Registerer receives the consumer's metrics (lag per partition,
	// undecodable records). Nil means none are registered.
	Registerer prometheus.Registerer
}

// NewKafkaSource joins the consumer group. The topic is created when
// needed, within ctx.
func NewKafkaSource(ctx context.Context, cfg KafkaSourceConfig) (*KafkaSource, error) {
	kc, err := cfg.KafkaConfig.withDefaults()
	if err != nil {
		return nil, err
	}
	cfg.KafkaConfig = kc
	if cfg.Group == "" {
		cfg.Group = DefaultGroup
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	if cfg.CommitInterval <= 0 {
		cfg.CommitInterval = time.Second
	}
	m, err := newBusMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s := &KafkaSource{cfg: kc, metrics: m}
	opts := []kgo.Opt{
		kgo.SeedBrokers(kc.Brokers...),
		kgo.ClientID(kc.ClientID),
		kgo.MetadataMinAge(metadataMinAge),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(kc.Topic),
		kgo.BlockRebalanceOnPoll(),
		kgo.AutoCommitMarks(),
		kgo.AutoCommitInterval(cfg.CommitInterval),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(max(cfg.SessionTimeout/6, 100*time.Millisecond)),
		// A new group starts at the beginning: nothing accepted before the
		// first core started is skipped.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.WithLogger(kgoLogger{kc.Logger}),
		// Committing on revoke is what the default callback does; this one
		// also forgets the lag of partitions that moved away.
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
			if err := cl.CommitMarkedOffsets(ctx); err != nil {
				kc.Logger.Warn("commit on revoke failed", "err", err)
			}
			s.metrics.forget(revoked[kc.Topic])
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			s.metrics.forget(lost[kc.Topic])
		}),
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: kafka consumer: %w", err)
	}
	if _, err := ensureTopic(ctx, cl, kc); err != nil {
		cl.Close()
		return nil, err
	}
	s.cl = cl
	return s, nil
}

// Poll waits for records and appends up to limit decoded messages to buf. A
// record that does not decode is logged, counted and skipped (its offset is
// committed with the batch): retrying it could never succeed.
func (s *KafkaSource) Poll(ctx context.Context, buf []*push.Message, limit int) ([]*push.Message, error) {
	for {
		fetches := s.cl.PollRecords(ctx, limit-len(buf))
		if fetches.IsClientClosed() {
			return buf, ErrClosed
		}
		if err := ctx.Err(); err != nil && fetches.NumRecords() == 0 {
			return buf, err
		}
		buf = s.take(fetches, buf)
		if len(buf) > 0 {
			return buf, nil
		}
		// Nothing deliverable (errors, undecodable records): commit the
		// skipped records and let a rebalance through before waiting again.
		s.Delivered()
	}
}

// TryPoll appends the messages already fetched, up to limit in all.
func (s *KafkaSource) TryPoll(buf []*push.Message, limit int) []*push.Message {
	if len(buf) >= limit {
		return buf
	}
	//lint:ignore SA1012 a nil context asks franz-go for what is buffered, without waiting
	fetches := s.cl.PollRecords(nil, limit-len(buf)) //nolint:staticcheck // SA1012: nil on purpose, see the line above
	return s.take(fetches, buf)
}

func (s *KafkaSource) take(fetches kgo.Fetches, buf []*push.Message) []*push.Message {
	fetches.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, kgo.ErrClientClosed) {
			return
		}
		s.cfg.Logger.Warn("fetch failed", "topic", topic, "partition", partition, "err", err)
	})
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if n := len(p.Records); n > 0 {
			s.metrics.lag.WithLabelValues(strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - p.Records[n-1].Offset - 1))
		}
	})
	fetches.EachRecord(func(r *kgo.Record) {
		s.pending = append(s.pending, r)
		m, err := pushpb.Unmarshal(r.Value)
		if err != nil {
			s.cfg.Logger.Error("undecodable record skipped", "partition", r.Partition, "offset", r.Offset, "err", err)
			s.metrics.badRecords.Inc()
			return
		}
		m.Offset = uint64(r.Offset) + 1
		for _, h := range r.Headers {
			if h.Key == traceHeader {
				m.TraceParent = string(h.Value)
			}
		}
		buf = append(buf, m)
	})
	return buf
}

// Delivered reports that every message polled so far reached the edges:
// their offsets may be committed and the group may rebalance.
func (s *KafkaSource) Delivered() {
	if len(s.pending) > 0 {
		s.cl.MarkCommitRecords(s.pending...)
		clear(s.pending)
		s.pending = s.pending[:0]
	}
	s.cl.AllowRebalance()
}

// Shutdown commits what was reported delivered (within ctx), leaves the
// group and disconnects. Messages polled and not delivered are not
// committed: the partition's next owner delivers them. Like Close, it runs
// on core's goroutine once core's loop has returned, and only the first call
// does anything.
func (s *KafkaSource) Shutdown(ctx context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.cl.CommitMarkedOffsets(ctx)
	if err != nil {
		err = fmt.Errorf("bus: committing offsets: %w", err)
	}
	s.cl.CloseAllowingRebalance()
	return err
}

// closeCommitBudget bounds the commit of a Close.
const closeCommitBudget = 2 * time.Second

// Close is Shutdown with a short budget for the commit: what it cannot
// commit in time is delivered again by the partitions' next owner.
func (s *KafkaSource) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeCommitBudget)
	defer cancel()
	return s.Shutdown(ctx)
}

// kgoLogger routes franz-go's logs to slog, one level lower than franz-go
// rates them: its info is routine for a service.
type kgoLogger struct{ l *slog.Logger }

func (k kgoLogger) Level() kgo.LogLevel {
	switch {
	case k.l.Enabled(context.Background(), slog.LevelDebug):
		return kgo.LogLevelInfo
	case k.l.Enabled(context.Background(), slog.LevelInfo):
		return kgo.LogLevelWarn
	default:
		return kgo.LogLevelError
	}
}

func (k kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	lvl := slog.LevelDebug
	switch level {
	case kgo.LogLevelError:
		lvl = slog.LevelError
	case kgo.LogLevelWarn:
		lvl = slog.LevelWarn
	case kgo.LogLevelInfo:
		lvl = slog.LevelDebug
	}
	k.l.Log(context.Background(), lvl, "kafka: "+msg, slices.Clone(keyvals)...)
}

// Ping checks that a broker answers, for readiness checks.
func (p *KafkaPublisher) Ping(ctx context.Context) error { return p.cl.Ping(ctx) }

// Ping checks that a broker answers, for readiness checks.
func (s *KafkaSource) Ping(ctx context.Context) error { return s.cl.Ping(ctx) }
