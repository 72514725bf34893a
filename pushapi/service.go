package pushapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/bus"
	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/internal/tracing"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/wire"
)

// HistoryReader reads streams' positions and recent messages: the same
// history.Store core writes (history.Memory in one process, store.History in
// a cluster).
type HistoryReader interface {
	Top(ctx context.Context, stream string) (history.Position, error)
	Since(ctx context.Context, stream string, from history.Position, limit int) (history.Result, error)
}

// OnlineCounter answers online counts, summed over all edges: the Edge
// itself in one process, store.OnlineCounts on Redis in a cluster.
type OnlineCounter interface {
	// Online returns the total number of connections, the count of each of
	// rooms, and the top most populated rooms, largest first (none when top
	// is zero).
	Online(ctx context.Context, rooms []string, top int) (push.Online, error)
}

// Defaults and bounds of Config limits.
const (
	// DefaultMaxDataBytes is the default largest payload: 60 KiB, which
	// leaves room in the edge's 64 KiB frame for the header, room, message id
	// and stream position.
	DefaultMaxDataBytes = 60 << 10
	// DefaultMaxTargets is the default largest number of keys, users or
	// rooms in one call.
	DefaultMaxTargets = 1000

	// maxDataBytes is the largest Config.MaxDataBytes: a push frame carries
	// at most about 600 bytes besides the payload (a 255-byte room, a
	// 255-byte epoch, the id, the offset and the header).
	maxDataBytes = wire.DefaultMaxFrame - 1<<10
	// maxTargets is the largest Config.MaxTargets, to keep a single call's
	// message bounded (100,000 names of 255 bytes is 25 MB).
	maxTargets = 100_000
)

// Config configures a Service. Publisher, Online and APIKeys (or Insecure)
// are required; every other field has a working zero value.
type Config struct {
	// Publisher takes accepted messages: a bus.Memory in one process, a
	// bus.KafkaPublisher in a cluster. Required.
	Publisher bus.Publisher
	// Online answers the Online method. Required.
	Online OnlineCounter
	// History serves the History method and the stream positions in push
	// replies. Nil means History answers Unimplemented and replies carry no
	// position.
	History HistoryReader
	// Presence serves the Presence and PresenceStats methods. Nil means
	// they answer Unimplemented.
	Presence PresenceReader
	// Namespaces holds the per-namespace options of rooms
	// (docs/namespaces.md); the service checks that an ephemeral push's room
	// takes them. Nil gives every room the defaults.
	Namespaces *namespace.Set
	// Tracer records a span for each push (docs/tracing.md) and continues
	// the trace a backend's call carries (a traceparent header). Nil means
	// no tracing.
	Tracer trace.TracerProvider
	// ServerRooms remembers the rooms Subscribe gives users, for the
	// connections they open later. Nil means nothing is remembered: only
	// the connections online at the time of the call are put in the room.
	ServerRooms ServerRoomsWriter
	// Idempotency remembers replies to calls with an idempotency key. Nil
	// means a MemoryIdempotency: enough for one process, not for several
	// API processes behind one address.
	Idempotency IdempotencyStore
	// IdempotencyWindow is how long an idempotency key is remembered. Zero
	// means DefaultIdempotencyWindow (10 minutes).
	IdempotencyWindow time.Duration
	// RateLimit bounds each API key's calls per second (burst: twice that);
	// past it calls fail with ResourceExhausted. Zero means
	// DefaultRateLimit; negative means unlimited.
	RateLimit float64

	// APIKeys are the keys backends send as `Authorization: Bearer <key>`.
	// Any listed key is accepted, which lets operators rotate keys without
	// downtime. Empty means New fails, unless Insecure is set.
	//
	// An entry is the key itself, or "sha256:" and the 64 hex digits of the
	// key's SHA-256, so that configuration need not hold the key (make one
	// with `printf %s "$KEY" | sha256sum`). Either form may be limited by a
	// scope prefix:
	//   - "push:" allows PushKeys, PushUsers, PushRoom, Broadcast,
	//     Disconnect, Subscribe and Unsubscribe;
	//   - "read:" allows Online, History, Presence and PresenceStats;
	//   - no prefix allows every method.
	// For example "read:sha256:9f86d0…". A call outside its key's scope
	// fails with connect.CodePermissionDenied (ErrPermissionDenied). A key
	// that itself begins with "push:", "read:" or "sha256:" must therefore
	// be given with a prefix (or hashed); New refuses malformed entries
	// (ErrBadAPIKey) without quoting them.
	APIKeys []string
	// Insecure serves the PushService without authentication when APIKeys
	// is empty; with keys set it has no effect. Only for development and
	// tests.
	Insecure bool

	// MaxDataBytes is the largest payload (data or text) in bytes. Zero
	// means DefaultMaxDataBytes (60 KiB); at most 63 KiB, since a push must
	// fit in the edge's 64 KiB frame.
	MaxDataBytes int
	// MaxTargets is the largest number of keys, users or rooms in one call.
	// Zero means DefaultMaxTargets (1000); at most 100,000.
	MaxTargets int

	// Logger receives request and bus errors; each line about a call carries
	// its request_id (see [RequestIDHeader]). Nil means discard.
	Logger *slog.Logger
	// Registerer receives the Prometheus collectors. Nil means the metrics
	// are kept but not registered.
	Registerer prometheus.Registerer
	// Now is the clock that stamps messages. Nil means time.Now.
	Now func() time.Time
	// PublishTimeout bounds how long a push waits for the bus to accept it
	// (a full in-process bus, a slow broker) before it fails with
	// Unavailable. Zero means DefaultPublishTimeout; a shorter caller
	// deadline wins.
	PublishTimeout time.Duration
}

// DefaultPublishTimeout is the default Config.PublishTimeout.
const DefaultPublishTimeout = 5 * time.Second

// Service implements the PushService. Create it with New; it is safe for
// concurrent use.
type Service struct {
	pub            bus.Publisher
	online         OnlineCounter
	history        HistoryReader
	presence       PresenceReader
	serverRooms    ServerRoomsWriter
	tracer         trace.Tracer
	tracerProvider trace.TracerProvider
	tracing        bool
	idem           IdempotencyStore
	idemWindow     time.Duration
	rateLimit      float64
	maxData        int
	namespaces     *namespace.Set
	maxTargets     int
	log            *slog.Logger
	now            func() time.Time
	pubTimeout     time.Duration
	metrics        *metrics
	handler        http.Handler
}

var _ pushv1connect.PushServiceHandler = (*Service)(nil)

// New validates cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Publisher == nil {
		return nil, ErrNoPublisher
	}
	if cfg.Online == nil {
		return nil, ErrNoOnline
	}
	if len(cfg.APIKeys) == 0 && !cfg.Insecure {
		return nil, ErrNoAPIKeys
	}
	var auth *authenticator
	if len(cfg.APIKeys) > 0 {
		var err error
		if auth, err = newAuthenticator(cfg.APIKeys); err != nil {
			return nil, fmt.Errorf("pushapi: %w", err)
		}
	}
	s := &Service{
		pub:            cfg.Publisher,
		online:         cfg.Online,
		history:        cfg.History,
		presence:       cfg.Presence,
		serverRooms:    cfg.ServerRooms,
		namespaces:     cfg.Namespaces,
		tracer:         tracing.Provider(cfg.Tracer).Tracer("github.com/quicpush/quicpush/pushapi"),
		tracing:        cfg.Tracer != nil,
		tracerProvider: cfg.Tracer,
		idem:           cfg.Idempotency,
		idemWindow:     cfg.IdempotencyWindow,
		rateLimit:      cfg.RateLimit,
		maxData:        cfg.MaxDataBytes,
		maxTargets:     cfg.MaxTargets,
		log:            cfg.Logger,
		now:            cfg.Now,
		pubTimeout:     cfg.PublishTimeout,
	}
	if s.pubTimeout <= 0 {
		s.pubTimeout = DefaultPublishTimeout
	}
	if s.idem == nil {
		s.idem = NewMemoryIdempotency()
	}
	if s.idemWindow <= 0 {
		s.idemWindow = DefaultIdempotencyWindow
	}
	if s.rateLimit == 0 {
		s.rateLimit = DefaultRateLimit
	}
	if s.maxData == 0 {
		s.maxData = DefaultMaxDataBytes
	}
	if s.maxData < 0 || s.maxData > maxDataBytes {
		return nil, fmt.Errorf("%w: MaxDataBytes %d not in 1..%d", ErrBadLimit, cfg.MaxDataBytes, maxDataBytes)
	}
	if s.maxTargets == 0 {
		s.maxTargets = DefaultMaxTargets
	}
	if s.maxTargets < 0 || s.maxTargets > maxTargets {
		return nil, fmt.Errorf("%w: MaxTargets %d not in 1..%d", ErrBadLimit, cfg.MaxTargets, maxTargets)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = slog.New(requestIDHandler{s.log.Handler()})
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.metrics, err = newMetrics(cfg.Registerer); err != nil {
		return nil, fmt.Errorf("pushapi: registering metrics: %w", err)
	}
	s.handler = s.newMux(auth)
	return s, nil
}

// PushKeys implements pushv1connect.PushServiceHandler.
func (s *Service) PushKeys(ctx context.Context, req *connect.Request[pushv1.PushKeysRequest]) (*connect.Response[pushv1.PushKeysResponse], error) {
	r := req.Msg
	if err := validateNames("keys", r.GetKeys(), true, s.maxTargets); err != nil {
		return nil, err
	}
	data, err := validatePayload(r.GetData(), r.GetText(), s.maxData)
	if err != nil {
		return nil, err
	}
	resp, err := once(ctx, s, "PushKeys", r, func() (*pushv1.PushKeysResponse, error) {
		id, recs, err := s.publish(ctx, &push.Message{Kind: push.KindKeys, Keys: r.GetKeys(), Data: data, Ephemeral: r.GetEphemeral()})
		if err != nil {
			return nil, err
		}
		return &pushv1.PushKeysResponse{MessageId: id, BusRecords: busRecords(recs)}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// PushUsers implements pushv1connect.PushServiceHandler.
func (s *Service) PushUsers(ctx context.Context, req *connect.Request[pushv1.PushUsersRequest]) (*connect.Response[pushv1.PushUsersResponse], error) {
	r := req.Msg
	if err := validateNames("users", r.GetUsers(), true, s.maxTargets); err != nil {
		return nil, err
	}
	data, err := validatePayload(r.GetData(), r.GetText(), s.maxData)
	if err != nil {
		return nil, err
	}
	resp, err := once(ctx, s, "PushUsers", r, func() (*pushv1.PushUsersResponse, error) {
		users := r.GetUsers()
		id, recs, err := s.publish(ctx, &push.Message{Kind: push.KindUsers, Users: users, Data: data, Ephemeral: r.GetEphemeral()})
		if err != nil {
			return nil, err
		}
		out := &pushv1.PushUsersResponse{MessageId: id, BusRecords: busRecords(recs)}
		if !r.GetEphemeral() { // an ephemeral push has no position
			out.Positions = s.userPositions(ctx, users, recs)
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// PushRoom implements pushv1connect.PushServiceHandler.
func (s *Service) PushRoom(ctx context.Context, req *connect.Request[pushv1.PushRoomRequest]) (*connect.Response[pushv1.PushRoomResponse], error) {
	r := req.Msg
	if err := validateName("room", r.GetRoom()); err != nil {
		return nil, err
	}
	if r.GetEphemeral() && s.namespaces.For(r.GetRoom()).NoEphemeral {
		return nil, invalid("ephemeral", ErrNoEphemeral)
	}
	data, err := validatePayload(r.GetData(), r.GetText(), s.maxData)
	if err != nil {
		return nil, err
	}
	resp, err := once(ctx, s, "PushRoom", r, func() (*pushv1.PushRoomResponse, error) {
		id, recs, err := s.publish(ctx, &push.Message{Kind: push.KindRoom, Room: r.GetRoom(), Data: data, Ephemeral: r.GetEphemeral()})
		if err != nil {
			return nil, err
		}
		out := &pushv1.PushRoomResponse{MessageId: id, BusRecords: busRecords(recs)}
		if len(recs) == 1 && !r.GetEphemeral() { // an ephemeral push has no position
			out.Position = s.position(ctx, history.RoomStream(r.GetRoom()), recs[0])
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// Broadcast implements pushv1connect.PushServiceHandler.
func (s *Service) Broadcast(ctx context.Context, req *connect.Request[pushv1.BroadcastRequest]) (*connect.Response[pushv1.BroadcastResponse], error) {
	r := req.Msg
	data, err := validatePayload(r.GetData(), r.GetText(), s.maxData)
	if err != nil {
		return nil, err
	}
	resp, err := once(ctx, s, "Broadcast", r, func() (*pushv1.BroadcastResponse, error) {
		id, recs, err := s.publish(ctx, &push.Message{Kind: push.KindBroadcast, Data: data, Rate: int(r.GetRate()), Ephemeral: r.GetEphemeral()})
		if err != nil {
			return nil, err
		}
		return &pushv1.BroadcastResponse{MessageId: id, BusRecords: busRecords(recs)}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// Disconnect implements pushv1connect.PushServiceHandler.
func (s *Service) Disconnect(ctx context.Context, req *connect.Request[pushv1.DisconnectRequest]) (*connect.Response[pushv1.DisconnectResponse], error) {
	r := req.Msg
	if len(r.GetKeys()) == 0 && len(r.GetUsers()) == 0 {
		return nil, invalid("keys, users", fmt.Errorf("at least one key or user: %w", ErrRequired))
	}
	if err := validateNames("keys", r.GetKeys(), false, s.maxTargets); err != nil {
		return nil, err
	}
	if err := validateNames("users", r.GetUsers(), false, s.maxTargets); err != nil {
		return nil, err
	}
	if err := validateReason(r.GetReason()); err != nil {
		return nil, err
	}
	code := wire.CodeKicked
	if r.GetReconnect() {
		code = wire.CodeServerDisconnect
	}
	resp, err := once(ctx, s, "Disconnect", r, func() (*pushv1.DisconnectResponse, error) {
		id, recs, err := s.publish(ctx, &push.Message{
			Kind:   push.KindDisconnect,
			Keys:   r.GetKeys(),
			Users:  r.GetUsers(),
			Code:   uint16(code),
			Reason: r.GetReason(),
		})
		if err != nil {
			return nil, err
		}
		return &pushv1.DisconnectResponse{MessageId: id, BusRecords: busRecords(recs)}, nil
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(resp), nil
}

// Online implements pushv1connect.PushServiceHandler.
func (s *Service) Online(ctx context.Context, req *connect.Request[pushv1.OnlineRequest]) (*connect.Response[pushv1.OnlineResponse], error) {
	r := req.Msg
	if err := validateNames("rooms", r.GetRooms(), false, s.maxTargets); err != nil {
		return nil, err
	}
	if err := validateTop(r.GetTop()); err != nil {
		return nil, err
	}
	n := int(r.GetTop())
	on, err := s.online.Online(ctx, r.GetRooms(), n)
	if err != nil {
		code := connect.CodeUnavailable
		if c, ok := contextCode(ctx, err); ok {
			code = c
		}
		s.log.WarnContext(ctx, "online counts failed", "code", code.String(), "error", err)
		return nil, connect.NewError(code, ErrOnlineUnavailable)
	}
	resp := &pushv1.OnlineResponse{
		Total: on.Total,
		Rooms: make(map[string]int64, len(r.GetRooms())),
	}
	// Every room asked for is answered, even if the store left it out.
	for _, room := range r.GetRooms() {
		resp.Rooms[room] = on.Rooms[room]
	}
	if len(on.Top) > n {
		on.Top = on.Top[:n]
	}
	if len(on.Top) > 0 {
		resp.Top = make([]*pushv1.RoomCount, len(on.Top))
		for i, rc := range on.Top {
			resp.Top[i] = &pushv1.RoomCount{Room: rc.Room, Count: rc.Count}
		}
	}
	return connect.NewResponse(resp), nil
}

// publish stamps m with an id and the time, and returns the id and the bus
// records once the bus accepted m. It never reports success unless Publish
// returned nil.
func (s *Service) publish(ctx context.Context, m *push.Message) (string, []push.BusRecord, error) {
	m.Accepted = s.now()
	m.ID = newID(m.Accepted)
	if s.tracing {
		var span trace.Span
		ctx, span = s.tracer.Start(ctx, "quicpush.push", trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithAttributes(attribute.String("quicpush.message_id", m.ID), attribute.String("quicpush.kind", m.Kind.String()),
				attribute.String("quicpush.room", m.Room), attribute.Int("quicpush.users", len(m.Users)), attribute.Int("quicpush.keys", len(m.Keys))))
		defer span.End()
		m.TraceParent = tracing.Inject(ctx)
	}
	pubCtx, cancel := context.WithTimeout(ctx, s.pubTimeout)
	defer cancel()
	placed, err := s.pub.Publish(pubCtx, m)
	if err != nil {
		// Our own timeout is the bus being unavailable, not the caller's
		// deadline: only the caller's context decides those codes.
		code := connect.CodeUnavailable
		if c, ok := contextCode(ctx, err); ok && ctx.Err() != nil {
			code = c
		}
		s.log.WarnContext(ctx, "publish failed", "kind", m.Kind.String(), "id", m.ID, "code", code.String(), "error", err)
		// The bus error stays in the log: it may name brokers or hosts.
		return "", nil, connect.NewError(code, ErrNotAccepted)
	}
	s.metrics.accepted.WithLabelValues(m.Kind.String()).Inc()
	return m.ID, placed, nil
}

func busRecords(placed []push.BusRecord) []*pushv1.BusRecord {
	recs := make([]*pushv1.BusRecord, len(placed))
	for i, r := range placed {
		recs[i] = &pushv1.BusRecord{Partition: r.Partition, Offset: r.Offset}
	}
	return recs
}

// contextCode maps an error caused by the call's own context (its deadline
// passed or the caller went away) to the matching code.
func contextCode(ctx context.Context, err error) (connect.Code, bool) {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return connect.CodeDeadlineExceeded, true
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return connect.CodeCanceled, true
	}
	return 0, false
}
