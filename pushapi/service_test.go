package pushapi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	pushv1 "github.com/quicpush/quicpush/gen/quicpush/push/v1"
	"github.com/quicpush/quicpush/gen/quicpush/push/v1/pushv1connect"
	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
)

// The Service's methods have the client's signatures, so tests call it in
// process through the client interface too.
var _ pushv1connect.PushServiceClient = (*Service)(nil)

func TestValidation(t *testing.T) {
	t.Parallel()
	const maxData, maxTargets = 100, 3
	noEphemeral, err := namespace.Parse("pos/:ephemeral=off")
	if err != nil {
		t.Fatal(err)
	}
	ts := runServer(t, Config{MaxDataBytes: maxData, MaxTargets: maxTargets,
		Namespaces: &namespace.Set{Namespaces: []namespace.Namespace{noEphemeral}}})
	remote := ts.client(protocols[0], "Bearer "+testKey)

	keys := func(keys ...string) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Keys: keys, Text: "x"}))
			return err
		}
	}
	users := func(users ...string) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.PushUsers(ctx, connect.NewRequest(&pushv1.PushUsersRequest{Users: users, Text: "x"}))
			return err
		}
	}
	room := func(room string, data []byte, text string) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Data: data, Text: text}))
			return err
		}
	}
	ephemeral := func(room string) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: room, Text: "x", Ephemeral: true}))
			return err
		}
	}
	broadcast := func(data []byte, text string) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.Broadcast(ctx, connect.NewRequest(&pushv1.BroadcastRequest{Data: data, Text: text}))
			return err
		}
	}
	disconnect := func(r *pushv1.DisconnectRequest) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.Disconnect(ctx, connect.NewRequest(r))
			return err
		}
	}
	online := func(top uint32, rooms ...string) func(context.Context, pushv1connect.PushServiceClient) error {
		return func(ctx context.Context, c pushv1connect.PushServiceClient) error {
			_, err := c.Online(ctx, connect.NewRequest(&pushv1.OnlineRequest{Rooms: rooms, Top: top}))
			return err
		}
	}
	long := strings.Repeat("r", 255)

	tests := []struct {
		name  string
		call  func(context.Context, pushv1connect.PushServiceClient) error
		err   error  // nil: the call succeeds
		field string // the message starts with it
		local bool   // in process only: the client cannot encode the request
	}{
		{name: "no payload", call: room("r", nil, ""), err: ErrPayload, field: "data, text"},
		{name: "data and text", call: room("r", []byte("x"), "x"), err: ErrPayload, field: "data, text"},
		{name: "data too large", call: room("r", make([]byte, maxData+1), ""), err: ErrPayloadTooLarge, field: "data"},
		{name: "text too large", call: room("r", nil, strings.Repeat("x", maxData+1)), err: ErrPayloadTooLarge, field: "text"},
		{name: "data at limit", call: room("r", make([]byte, maxData), "")},
		{name: "text at limit", call: room("r", nil, strings.Repeat("x", maxData))},
		{name: "broadcast without payload", call: broadcast(nil, ""), err: ErrPayload, field: "data, text"},
		{name: "broadcast too large", call: broadcast(make([]byte, maxData+1), ""), err: ErrPayloadTooLarge, field: "data"},

		{name: "no room", call: room("", nil, "x"), err: ErrRequired, field: "room"},
		{name: "room too long", call: room(long+"r", nil, "x"), err: ErrNameLength, field: "room"},
		{name: "room at limit", call: room(long, nil, "x")},
		{name: "room with newline", call: room("a\nb", nil, "x"), err: ErrNameInvalid, field: "room"},
		{name: "room with NUL", call: room("a\x00", nil, "x"), err: ErrNameInvalid, field: "room"},
		{name: "room with DEL", call: room("a\x7f", nil, "x"), err: ErrNameInvalid, field: "room"},
		{name: "room with C1 control", call: room("a\u0085", nil, "x"), err: ErrNameInvalid, field: "room"},
		{name: "room not UTF-8", call: room("a\xff", nil, "x"), err: ErrNameInvalid, field: "room", local: true},
		{name: "room in Unicode", call: room("café 🎉 #1", nil, "x")},
		{name: "ephemeral to a namespace without them", call: ephemeral("pos/1"), err: ErrNoEphemeral, field: "ephemeral"},
		{name: "ephemeral elsewhere", call: ephemeral("po")},
		{name: "reliable to a namespace without ephemeral", call: room("pos/1", nil, "x")},

		{name: "no keys", call: keys(), err: ErrRequired, field: "keys"},
		{name: "too many keys", call: keys("a", "b", "c", "d"), err: ErrTooMany, field: "keys"},
		{name: "keys at limit", call: keys("a", "b", "c")},
		{name: "empty key", call: keys("a", ""), err: ErrNameLength, field: "keys[1]"},
		{name: "key too long", call: keys(long + "k"), err: ErrNameLength, field: "keys[0]"},
		{name: "key with tab", call: keys("a\tb"), err: ErrNameInvalid, field: "keys[0]"},

		{name: "no users", call: users(), err: ErrRequired, field: "users"},
		{name: "too many users", call: users("a", "b", "c", "d"), err: ErrTooMany, field: "users"},
		{name: "user with control", call: users("ok", "\x1b[31m"), err: ErrNameInvalid, field: "users[1]"},

		{name: "disconnect nobody", call: disconnect(&pushv1.DisconnectRequest{Reason: "x"}), err: ErrRequired, field: "keys, users"},
		{name: "disconnect too many keys", call: disconnect(&pushv1.DisconnectRequest{Keys: []string{"a", "b", "c", "d"}}), err: ErrTooMany, field: "keys"},
		{name: "disconnect too many users", call: disconnect(&pushv1.DisconnectRequest{Users: []string{"a", "b", "c", "d"}}), err: ErrTooMany, field: "users"},
		{name: "disconnect empty user", call: disconnect(&pushv1.DisconnectRequest{Users: []string{""}}), err: ErrNameLength, field: "users[0]"},
		{name: "disconnect reason too long", call: disconnect(&pushv1.DisconnectRequest{Keys: []string{"k"}, Reason: strings.Repeat("x", 124)}), err: ErrReasonTooLong, field: "reason"},
		{name: "disconnect reason at limit", call: disconnect(&pushv1.DisconnectRequest{Keys: []string{"k"}, Reason: strings.Repeat("x", 123)})},

		{name: "online top too large", call: online(101), err: ErrTopTooLarge, field: "top"},
		{name: "online top at limit", call: online(100)},
		{name: "online no rooms", call: online(0)},
		{name: "online too many rooms", call: online(0, "a", "b", "c", "d"), err: ErrTooMany, field: "rooms"},
		{name: "online empty room", call: online(0, "a", ""), err: ErrNameLength, field: "rooms[1]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.call(t.Context(), ts.svc)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("in process: %v", err)
				}
			} else {
				if !errors.Is(err, tt.err) {
					t.Errorf("in process: got %v, want %v", err, tt.err)
				}
				if connect.CodeOf(err) != connect.CodeInvalidArgument {
					t.Errorf("in process: code %v, want invalid_argument", connect.CodeOf(err))
				}
			}
			if tt.local {
				return
			}
			err = tt.call(t.Context(), remote)
			if tt.err == nil {
				if err != nil {
					t.Fatalf("remote: %v", err)
				}
				return
			}
			var cerr *connect.Error
			if !errors.As(err, &cerr) || cerr.Code() != connect.CodeInvalidArgument {
				t.Fatalf("remote: got %v, want invalid_argument", err)
			}
			if msg := cerr.Message(); !strings.HasPrefix(msg, tt.field+": ") || !strings.Contains(msg, tt.err.Error()) {
				t.Errorf("remote: message %q, want %q first and %q in it", msg, tt.field, tt.err)
			}
		})
	}
}

// TestValidationPublishesNothing checks that no invalid request reaches the
// bus: only the valid cases of a mixed batch are published.
func TestValidationPublishesNothing(t *testing.T) {
	t.Parallel()
	ts := runServer(t, Config{})
	ctx := t.Context()
	_, _ = ts.svc.PushRoom(ctx, connect.NewRequest(&pushv1.PushRoomRequest{Room: "r"}))
	_, _ = ts.svc.PushKeys(ctx, connect.NewRequest(&pushv1.PushKeysRequest{Text: "x"}))
	_, _ = ts.svc.Disconnect(ctx, connect.NewRequest(&pushv1.DisconnectRequest{}))
	if n := len(ts.pub.published()); n != 0 {
		t.Errorf("published %d messages, want 0", n)
	}
}

func TestPublishFailure(t *testing.T) {
	t.Parallel()
	busErr := errors.New("kafka: broker 10.1.2.3:9092: NOT_ENOUGH_REPLICAS")
	tests := []struct {
		name string
		fn   func(ctx context.Context, m *push.Message) error
		ctx  func(context.Context) context.Context
		code connect.Code
		// publishTimeout is Config.PublishTimeout (zero: the default).
		publishTimeout time.Duration
	}{
		{
			name: "bus error",
			fn:   func(context.Context, *push.Message) error { return busErr },
			code: connect.CodeUnavailable,
		},
		{
			name: "bus timeout",
			fn: func(context.Context, *push.Message) error {
				return fmt.Errorf("produce: %w", context.DeadlineExceeded)
			},
			// The bus timing out on its own is the bus being unavailable;
			// only the caller's deadline makes DeadlineExceeded.
			code: connect.CodeUnavailable,
		},
		{
			name: "bus hangs past PublishTimeout",
			fn: func(ctx context.Context, _ *push.Message) error {
				<-ctx.Done()
				return ctx.Err()
			},
			publishTimeout: 20 * time.Millisecond,
			code:           connect.CodeUnavailable,
		},
		{
			name: "caller deadline",
			fn: func(ctx context.Context, _ *push.Message) error {
				<-ctx.Done()
				return ctx.Err()
			},
			ctx: func(ctx context.Context) context.Context {
				ctx, cancel := context.WithDeadline(ctx, testNow) // long past
				_ = cancel                                        // released with the parent at the end of the test
				return ctx
			},
			code: connect.CodeDeadlineExceeded,
		},
		{
			name: "caller gone",
			fn: func(ctx context.Context, _ *push.Message) error {
				<-ctx.Done()
				return fmt.Errorf("produce: %w", ctx.Err())
			},
			ctx: func(ctx context.Context) context.Context {
				ctx, cancel := context.WithCancel(ctx)
				cancel()
				return ctx
			},
			code: connect.CodeCanceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pub := &fakePublisher{fn: tt.fn}
			ts := runServer(t, Config{Publisher: pub, PublishTimeout: tt.publishTimeout})
			ctx := t.Context()
			if tt.ctx != nil {
				ctx = tt.ctx(ctx)
			}
			for _, c := range pushCalls {
				id, err := c.do(ctx, ts.svc)
				if id != "" || connect.CodeOf(err) != tt.code || !errors.Is(err, ErrNotAccepted) {
					t.Errorf("%s: got id %q, error %v; want code %v and ErrNotAccepted", c.name, id, err, tt.code)
				}
				if strings.Contains(err.Error(), "broker") {
					t.Errorf("%s: error %q leaks the bus error", c.name, err)
				}
			}
			if n := len(pub.published()); n != 0 {
				t.Errorf("published %d messages, want 0", n)
			}
		})
	}

	// Over the network, on each protocol.
	for _, p := range protocols {
		t.Run("remote/"+p.name, func(t *testing.T) {
			t.Parallel()
			ts := runServer(t, Config{Publisher: &fakePublisher{fn: tests[0].fn}})
			for _, c := range pushCalls {
				id, err := c.do(t.Context(), ts.client(p, "Bearer "+testKey))
				if id != "" || connect.CodeOf(err) != connect.CodeUnavailable {
					t.Errorf("%s: got id %q, error %v; want unavailable", c.name, id, err)
				}
				if err != nil && strings.Contains(err.Error(), "broker") {
					t.Errorf("%s: error %q leaks the bus error", c.name, err)
				}
			}
		})
	}
}

// TestDeadlinePropagates checks that the caller's timeout reaches Publish and
// that a publisher that honours it yields DeadlineExceeded.
func TestDeadlinePropagates(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			hadDeadline := make(chan bool, 1)
			pub := &fakePublisher{fn: func(ctx context.Context, _ *push.Message) error {
				_, ok := ctx.Deadline()
				hadDeadline <- ok
				<-ctx.Done()
				return ctx.Err()
			}}
			ts := runServer(t, Config{Publisher: pub})
			ctx, cancel := context.WithTimeout(t.Context(), 200e6) // 200 ms
			defer cancel()
			id, err := pushCalls[2].do(ctx, ts.client(p, "Bearer "+testKey))
			if id != "" || connect.CodeOf(err) != connect.CodeDeadlineExceeded {
				t.Errorf("got id %q, error %v; want deadline_exceeded", id, err)
			}
			if !<-hadDeadline {
				t.Error("Publish saw no deadline")
			}
		})
	}
}

func TestOnline(t *testing.T) {
	t.Parallel()
	snapshot := push.Online{
		Total: 100,
		Rooms: map[string]int64{"a": 10, "b": 5, "unasked": 1},
		Top:   []push.RoomCount{{Room: "x", Count: 50}, {Room: "a", Count: 10}, {Room: "b", Count: 5}},
	}
	tests := []struct {
		name  string
		rooms []string
		top   uint32
		want  *pushv1.OnlineResponse
	}{
		{
			name: "total only",
			want: &pushv1.OnlineResponse{Total: 100},
		},
		{
			name:  "rooms",
			rooms: []string{"a", "missing"},
			want:  &pushv1.OnlineResponse{Total: 100, Rooms: map[string]int64{"a": 10, "missing": 0}},
		},
		{
			name: "top truncated",
			top:  2,
			want: &pushv1.OnlineResponse{Total: 100, Top: []*pushv1.RoomCount{{Room: "x", Count: 50}, {Room: "a", Count: 10}}},
		},
		{
			name: "top larger than known",
			top:  10,
			want: &pushv1.OnlineResponse{Total: 100, Top: []*pushv1.RoomCount{
				{Room: "x", Count: 50}, {Room: "a", Count: 10}, {Room: "b", Count: 5},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := runServer(t, Config{})
			ts.online.online = snapshot
			r, err := ts.svc.Online(t.Context(), connect.NewRequest(&pushv1.OnlineRequest{Rooms: tt.rooms, Top: tt.top}))
			if err != nil {
				t.Fatalf("Online: %v", err)
			}
			var wantTop []push.RoomCount
			for _, rc := range tt.want.GetTop() {
				wantTop = append(wantTop, push.RoomCount{Room: rc.GetRoom(), Count: rc.GetCount()})
			}
			wantRooms := tt.want.GetRooms()
			if wantRooms == nil {
				wantRooms = map[string]int64{}
			}
			checkOnline(t, r.Msg, tt.want.GetTotal(), wantRooms, wantTop)
			if ts.online.top != int(tt.top) || len(ts.online.rooms) != len(tt.rooms) {
				t.Errorf("online counts asked for rooms %v top %d", ts.online.rooms, ts.online.top)
			}
		})
	}

	t.Run("online counts failure", func(t *testing.T) {
		t.Parallel()
		ts := runServer(t, Config{})
		ts.online.err = errors.New("redis: dial tcp 10.1.2.3:6379: connection refused")
		_, err := ts.svc.Online(t.Context(), connect.NewRequest(&pushv1.OnlineRequest{}))
		if connect.CodeOf(err) != connect.CodeUnavailable || !errors.Is(err, ErrOnlineUnavailable) {
			t.Errorf("got %v, want unavailable", err)
		}
		if strings.Contains(err.Error(), "redis") {
			t.Errorf("error %q leaks the store error", err)
		}
	})
}

func TestNew(t *testing.T) {
	t.Parallel()
	pub, online := &fakePublisher{}, &fakeOnline{}
	keys := []string{"k"}
	tests := []struct {
		name string
		cfg  Config
		err  error
	}{
		{"valid", Config{Publisher: pub, Online: online, APIKeys: keys}, nil},
		{"insecure", Config{Publisher: pub, Online: online, Insecure: true}, nil},
		{"limits", Config{Publisher: pub, Online: online, APIKeys: keys, MaxDataBytes: 63 << 10, MaxTargets: 100_000}, nil},
		{"no publisher", Config{Online: online, APIKeys: keys}, ErrNoPublisher},
		{"no online counts", Config{Publisher: pub, APIKeys: keys}, ErrNoOnline},
		{"no keys", Config{Publisher: pub, Online: online}, ErrNoAPIKeys},
		{"empty key list", Config{Publisher: pub, Online: online, APIKeys: []string{}}, ErrNoAPIKeys},
		{"empty key", Config{Publisher: pub, Online: online, APIKeys: []string{"k", ""}}, ErrEmptyAPIKey},
		{"negative data limit", Config{Publisher: pub, Online: online, APIKeys: keys, MaxDataBytes: -1}, ErrBadLimit},
		{"data limit above frame", Config{Publisher: pub, Online: online, APIKeys: keys, MaxDataBytes: 64 << 10}, ErrBadLimit},
		{"negative target limit", Config{Publisher: pub, Online: online, APIKeys: keys, MaxTargets: -1}, ErrBadLimit},
		{"target limit too large", Config{Publisher: pub, Online: online, APIKeys: keys, MaxTargets: 100_001}, ErrBadLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, err := New(tt.cfg)
			if !errors.Is(err, tt.err) {
				t.Fatalf("New: %v, want %v", err, tt.err)
			}
			if err == nil && s.Handler() == nil {
				t.Error("nil handler")
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		s, err := New(Config{Publisher: pub, Online: online, APIKeys: keys})
		if err != nil {
			t.Fatal(err)
		}
		if s.maxData != DefaultMaxDataBytes || s.maxTargets != DefaultMaxTargets || s.log == nil || s.now == nil {
			t.Errorf("defaults not applied: maxData %d, maxTargets %d", s.maxData, s.maxTargets)
		}
	})

	t.Run("registerer", func(t *testing.T) {
		t.Parallel()
		reg := prometheus.NewRegistry()
		cfg := Config{Publisher: pub, Online: online, APIKeys: keys, Registerer: reg}
		if _, err := New(cfg); err != nil {
			t.Fatal(err)
		}
		if _, err := New(cfg); err == nil {
			t.Error("a second Service registered the same metrics")
		}
		// Without a Registerer, any number of services coexist.
		cfg.Registerer = nil
		for range 2 {
			if _, err := New(cfg); err != nil {
				t.Fatal(err)
			}
		}
	})
}
