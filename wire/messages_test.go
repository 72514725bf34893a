package wire_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/quicpush/quicpush/wire"
)

// message is a decodable message value; roundTrip cases pair one with its encoder.
type message interface{ Decode([]byte) error }

type roundTrip struct {
	name   string
	op     wire.Op
	seq    uint32
	encode func(dst []byte) []byte
	msg    message
	// zero returns an empty message of the same type to decode into.
	zero func() message
	// group is the encoding of an all-zero revision-2 group, for messages
	// that have one: encoders leave it out, so bytes appended to such a body
	// are read as the group, and trailing bytes go after it.
	group []byte
	// required is the body's length without its revision-2 group, or -1
	// when the message has none or encodes it.
	required func(body []byte) int
	// Messages with two optional parts (Auth and AuthOK: the revision-2
	// group, then a revision-5 field) set these instead of group and
	// required: pad gives the bytes that complete a body with zeros, so
	// that trailing bytes follow every field; decodable the lengths of
	// proper prefixes that decode (where an optional part starts).
	pad       []byte
	decodable map[int]bool
}

// twoOptional fills pad and decodable for a body of full bytes whose length
// is base without either optional part, group the size of the all-zero
// revision-2 group, and last the size of the revision-5 field (0 when left
// out).
func twoOptional(tc roundTrip, full, base, group, last int) roundTrip {
	tc.decodable = map[int]bool{}
	switch {
	case last > 0:
		tc.decodable[base] = true
		tc.decodable[full-last] = true
	case full > base:
		tc.decodable[base] = true
		tc.pad = []byte{0}
	default:
		tc.pad = append(make([]byte, group), 0)
	}
	return tc
}

func roundTrips() []roundTrip {
	var cases []roundTrip
	auths := []wire.Auth{{}, {Version: 1, Token: "t"}, {Version: 1 << 40, Token: strings.Repeat("x", wire.MaxTokenLen)},
		{Version: 1, Token: "t", Offset: 300, Epoch: "ep"}, {Version: 1, Token: "t", Epoch: "only-epoch"},
		{Version: 1, Token: "t", Offset: 1<<64 - 1, Epoch: strings.Repeat("e", wire.MaxRoomLen)},
		{Version: 1, Token: "t", Joins: 3}, {Version: 1, Token: "t", Offset: 7, Epoch: "e", Joins: 300}}
	for _, m := range auths {
		base := m
		base.Offset, base.Epoch, base.Joins = 0, "", 0
		full, last := len(wire.AppendAuth(nil, 1, &m))-wire.HeaderSize, 0
		if m.Joins != 0 {
			last = len(binary.AppendUvarint(nil, m.Joins))
		}
		cases = append(cases, twoOptional(roundTrip{name: "auth", op: wire.OpAuth, seq: 1,
			encode: func(dst []byte) []byte { return wire.AppendAuth(dst, 1, &m) },
			msg:    &m, zero: func() message { return new(wire.Auth) }},
			full, len(wire.AppendAuth(nil, 1, &base))-wire.HeaderSize, 2, last))
	}
	authOKs := []wire.AuthOK{{}, {ConnKey: "k", User: "u", PingIntervalMs: 25000, MaxFrame: 65536},
		{ConnKey: strings.Repeat("k", wire.MaxRoomLen), User: strings.Repeat("ü", 127), PingIntervalMs: 1<<64 - 1},
		{ConnKey: "k", User: "u", PingIntervalMs: 25000, MaxFrame: 65536, Recovery: wire.RecoveryRecovered, Offset: 9, Epoch: "e"},
		{ConnKey: "k", User: "u", Recovery: wire.RecoveryNotRecovered, Offset: 1<<64 - 1, Epoch: strings.Repeat("e", wire.MaxRoomLen)},
		{ConnKey: "k", User: "u", Revision: 5}, {ConnKey: "k", User: "u", Recovery: wire.RecoveryRecovered, Offset: 9, Epoch: "e", Revision: 1<<64 - 1}}
	for _, m := range authOKs {
		base := m
		base.Recovery, base.Offset, base.Epoch, base.Revision = 0, 0, "", 0
		full, last := len(wire.AppendAuthOK(nil, 0xffffffff, &m))-wire.HeaderSize, 0
		if m.Revision != 0 {
			last = len(binary.AppendUvarint(nil, m.Revision))
		}
		cases = append(cases, twoOptional(roundTrip{name: "auth_ok", op: wire.OpAuthOK, seq: 0xffffffff,
			encode: func(dst []byte) []byte { return wire.AppendAuthOK(dst, 0xffffffff, &m) },
			msg:    &m, zero: func() message { return new(wire.AuthOK) }},
			full, len(wire.AppendAuthOK(nil, 0xffffffff, &base))-wire.HeaderSize, 3, last))
	}
	joinOKs := []wire.JoinOK{{}, {Room: "news"}, {Room: "news", Recovery: wire.RecoveryNone, Offset: 5, Epoch: "e"},
		{Room: "r", Recovery: wire.RecoveryRecovered, Offset: 300, Epoch: "ep"}, {Room: "r", Recovery: wire.RecoveryNotRecovered}}
	for _, m := range joinOKs {
		base := wire.JoinOK{Room: m.Room}
		cases = append(cases, roundTrip{name: "join_ok", op: wire.OpJoinOK, seq: 3,
			encode: func(dst []byte) []byte { return wire.AppendJoinOK(dst, 3, &m) },
			msg:    &m, zero: func() message { return new(wire.JoinOK) },
			group: []byte{0, 0, 0}, required: bodyLen(wire.AppendJoinOK(nil, 3, &base))})
	}
	joins := []wire.Join{{}, {Room: "news"}, {Room: "a", Offset: 127, Epoch: "e"}, {Room: "a", Offset: 128},
		{Room: strings.Repeat("r", wire.MaxRoomLen), Offset: 1<<64 - 1, Epoch: strings.Repeat("e", wire.MaxRoomLen)}}
	for _, m := range joins {
		cases = append(cases, roundTrip{name: "join", op: wire.OpJoin, seq: 2,
			encode: func(dst []byte) []byte { return wire.AppendJoin(dst, 2, &m) },
			msg:    &m, zero: func() message { return new(wire.Join) }})
	}
	for _, m := range []wire.Subscribed{{Room: "team/7"}, {Room: "r", Offset: 5, Epoch: "e"}} {
		base := wire.JoinOK{Room: m.Room}
		cases = append(cases, roundTrip{name: "subscribed", op: wire.OpSubscribed, seq: 0,
			encode: func(dst []byte) []byte { return wire.AppendSubscribed(dst, &m) },
			msg:    &m, zero: func() message { return new(wire.Subscribed) },
			group: []byte{0, 0, 0}, required: bodyLen(wire.AppendJoinOK(nil, 0, &base))})
	}
	info := []byte(`{"name":"Ann"}`)
	jls := []wire.JoinLeave{{Room: "r"}, {Room: "chat", Joined: []wire.Member{{User: "u", ConnKey: "k", Info: info}},
		Left: []wire.Member{{User: "v", ConnKey: "k2"}, {User: strings.Repeat("u", wire.MaxRoomLen), ConnKey: "k3",
			Info: bytes.Repeat([]byte("i"), wire.MaxInfoLen)}}, Omitted: 1<<64 - 1}}
	for _, m := range jls {
		cases = append(cases, roundTrip{name: "join_leave", op: wire.OpJoinLeave, seq: 0,
			encode: func(dst []byte) []byte { return wire.AppendJoinLeave(dst, &m) },
			msg:    &m, zero: func() message { return new(wire.JoinLeave) }})
	}
	pos := []wire.PresenceOK{{Room: "r"}, {Room: "chat", Conns: 3, Users: 2, Complete: true,
		Members: []wire.Member{{User: "u", ConnKey: "k", Info: info}, {User: "u", ConnKey: "k2"}}}}
	for _, m := range pos {
		cases = append(cases, roundTrip{name: "presence_ok", op: wire.OpPresenceOK, seq: 8,
			encode: func(dst []byte) []byte { return wire.AppendPresenceOK(dst, 8, &m) },
			msg:    &m, zero: func() message { return new(wire.PresenceOK) }})
	}
	for _, op := range []wire.Op{wire.OpLeave, wire.OpLeaveOK, wire.OpUnsubscribed, wire.OpPresenceGet} {
		for _, room := range []string{"", "news", "房间", strings.Repeat("r", wire.MaxRoomLen)} {
			m := wire.RoomReply{Room: room}
			cases = append(cases, roundTrip{name: op.String(), op: op, seq: 3,
				encode: func(dst []byte) []byte { return wire.AppendRoom(dst, op, 3, room) },
				msg:    &m, zero: func() message { return new(wire.RoomReply) }})
		}
	}
	for _, m := range pushes() {
		cases = append(cases, roundTrip{name: "push", op: wire.OpPush, seq: 0,
			encode: func(dst []byte) []byte { return wire.AppendPush(dst, &m) },
			msg:    &m, zero: func() message { return new(wire.Push) },
			// Revision 4 flags: left out when zero, like a revision-2 group.
			group: []byte{0}, required: func(body []byte) int {
				if m.Flags == 0 {
					return -1 // left out: no shorter body decodes
				}
				return len(body) - len(binary.AppendUvarint(nil, uint64(m.Flags)))
			}})
	}
	errs := []wire.Error{{}, {Code: wire.ErrCodeForbidden, Message: "room not allowed"},
		{Code: 0xffff, Message: strings.Repeat("m", 1000)}}
	for _, m := range errs {
		cases = append(cases, roundTrip{name: "error", op: wire.OpError, seq: 5,
			encode: func(dst []byte) []byte { return wire.AppendError(dst, 5, &m) },
			msg:    &m, zero: func() message { return new(wire.Error) }})
	}
	for _, m := range []wire.TokenExpiring{{}, {ExpiresInMs: 30000}, {ExpiresInMs: 1<<64 - 1}} {
		cases = append(cases, roundTrip{name: "token_expiring", op: wire.OpTokenExpiring, seq: 0,
			encode: func(dst []byte) []byte { return wire.AppendTokenExpiring(dst, &m) },
			msg:    &m, zero: func() message { return new(wire.TokenExpiring) }})
	}
	for _, m := range []wire.Refresh{{}, {Token: "t"}, {Token: strings.Repeat("x", wire.MaxTokenLen)}} {
		cases = append(cases, roundTrip{name: "refresh", op: wire.OpRefresh, seq: 9,
			encode: func(dst []byte) []byte { return wire.AppendRefresh(dst, 9, &m) },
			msg:    &m, zero: func() message { return new(wire.Refresh) }})
	}
	for _, m := range []wire.RefreshOK{{}, {ExpiresInMs: 3600000}} {
		cases = append(cases, roundTrip{name: "refresh_ok", op: wire.OpRefreshOK, seq: 9,
			encode: func(dst []byte) []byte { return wire.AppendRefreshOK(dst, 9, &m) },
			msg:    &m, zero: func() message { return new(wire.RefreshOK) }})
	}
	discs := []wire.Disconnect{{}, {Code: wire.CodeShutdown, Reason: "draining"}, {Code: wire.CodeKicked, Reason: strings.Repeat("r", 300)}}
	for _, m := range discs {
		cases = append(cases, roundTrip{name: "disconnect", op: wire.OpDisconnect, seq: 0,
			encode: func(dst []byte) []byte { return wire.AppendDisconnect(dst, &m) },
			msg:    &m, zero: func() message { return new(wire.Disconnect) }})
	}
	return cases
}

// bodyLen returns, for a frame, a function giving that frame's body length
// when the body it is asked about carries a revision-2 group, else -1.
func bodyLen(frame []byte) func([]byte) int {
	n := len(frame) - wire.HeaderSize
	return func(body []byte) int {
		if len(body) == n {
			return -1 // the group was left out: no shorter body decodes
		}
		return n
	}
}

func pushes() []wire.Push {
	return []wire.Push{
		{Data: []byte{}},
		{Kind: wire.PushDirect, ID: "m-1", Data: []byte(`{"a":1}`)},
		{Kind: wire.PushRoom, Room: "news", ID: "m-2", Offset: 42, Epoch: "e7", Data: []byte("x")},
		{Kind: wire.PushRoom, Room: "чат", ID: "m-3", Offset: 300, Epoch: "e7", Data: make([]byte, 200)},
		{Kind: wire.PushBroadcast, ID: "m-4", Offset: 1<<64 - 1, Data: make([]byte, 16384)},
		{Kind: wire.PushRoom, Room: strings.Repeat("r", wire.MaxRoomLen), ID: strings.Repeat("i", wire.MaxRoomLen),
			Epoch: strings.Repeat("e", wire.MaxRoomLen), Data: []byte{0}},
		{Kind: wire.PushRoom, Room: "pos", ID: "m-5", Data: []byte(`{"x":1}`), Flags: wire.PushEphemeral},
		{Kind: wire.PushDirect, ID: "m-6", Data: []byte{}, Flags: 1<<64 - 1},
	}
}

func TestMessagesRoundTrip(t *testing.T) {
	for _, tc := range roundTrips() {
		t.Run(tc.name, func(t *testing.T) {
			prefix := []byte{0xde, 0xad}
			b := tc.encode(bytes.Clone(prefix))
			if !bytes.Equal(b[:2], prefix) {
				t.Fatal("encoder clobbered the bytes before the frame")
			}
			frame := b[2:]
			h, body, rest, ok, err := wire.Split(frame, len(frame))
			if err != nil || !ok || len(rest) != 0 {
				t.Fatalf("Split: ok=%v err=%v rest=%d", ok, err, len(rest))
			}
			if h.Op != tc.op || h.Seq != tc.seq {
				t.Fatalf("header %+v, want op %v seq %d", h, tc.op, tc.seq)
			}
			got := tc.zero()
			if err := got.Decode(body); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("decoded %+v, want %+v", got, tc.msg)
			}

			// Forward compatibility: bytes appended after the known fields
			// are ignored (after the revision-2 group, zero if left out).
			long := bytes.Clone(body)
			required := -1
			if tc.decodable != nil {
				long = append(long, tc.pad...)
			} else if tc.required != nil {
				required = tc.required(body)
				if required < 0 {
					long = append(long, tc.group...)
				}
			}
			extended := tc.zero()
			if err := extended.Decode(append(long, 0x01, 0xff, 0x80)); err != nil {
				t.Fatalf("with trailing bytes: %v", err)
			}
			if !reflect.DeepEqual(extended, tc.msg) {
				t.Fatalf("with trailing bytes: %+v, want %+v", extended, tc.msg)
			}

			// Every field is required, so every proper prefix of the body
			// fails, except the one that ends where an optional group
			// starts.
			for n := range len(body) {
				err := tc.zero().Decode(body[:n])
				if n == required || tc.decodable[n] {
					if err != nil {
						t.Fatalf("%d of %d body bytes (the group left out): %v", n, len(body), err)
					}
					continue
				}
				if !errors.Is(err, wire.ErrMalformed) {
					t.Fatalf("%d of %d body bytes: %v, want ErrMalformed", n, len(body), err)
				}
			}
		})
	}
}

// TestDecodeOverwrites checks that decoding into a used message replaces every field.
func TestDecodeOverwrites(t *testing.T) {
	m := wire.Push{Kind: wire.PushRoom, Room: "old", ID: "old", Offset: 9, Epoch: "old", Data: []byte("old")}
	b := wire.AppendPush(nil, &wire.Push{Kind: wire.PushBroadcast, ID: "new", Data: []byte{}})
	if err := m.Decode(b[wire.HeaderSize:]); err != nil {
		t.Fatal(err)
	}
	want := wire.Push{Kind: wire.PushBroadcast, ID: "new", Data: []byte{}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("%+v, want %+v", m, want)
	}
}

// TestPushDataAliases checks the documented aliasing: Data points into the
// body, and its capacity ends with it so an append cannot overwrite what follows.
func TestPushDataAliases(t *testing.T) {
	b := wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: "r", ID: "i", Data: []byte("abc")})
	b = append(b, "next"...)
	body := b[wire.HeaderSize : len(b)-4]
	var m wire.Push
	if err := m.Decode(body); err != nil {
		t.Fatal(err)
	}
	if &m.Data[0] != &body[len(body)-3] {
		t.Fatal("Data does not alias the body")
	}
	if cap(m.Data) != len(m.Data) {
		t.Fatalf("Data has capacity %d beyond its length %d", cap(m.Data), len(m.Data))
	}
	_ = append(m.Data, 'X')
	if string(b[len(b)-4:]) != "next" {
		t.Fatal("appending to Data overwrote the bytes after the body")
	}
}

func TestDecodeLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		frame []byte
		msg   message
		ok    bool
	}{
		{"token at limit", wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: long(wire.MaxTokenLen)}), new(wire.Auth), true},
		{"token over limit", wire.AppendAuth(nil, 1, &wire.Auth{Version: 1, Token: long(wire.MaxTokenLen + 1)}), new(wire.Auth), false},
		{"room at limit", wire.AppendJoin(nil, 1, &wire.Join{Room: long(wire.MaxRoomLen)}), new(wire.Join), true},
		{"room over limit", wire.AppendJoin(nil, 1, &wire.Join{Room: long(wire.MaxRoomLen + 1)}), new(wire.Join), false},
		{"epoch over limit", wire.AppendJoin(nil, 1, &wire.Join{Room: "r", Epoch: long(wire.MaxRoomLen + 1)}), new(wire.Join), false},
		{"reply room over limit", wire.AppendRoom(nil, wire.OpJoinOK, 1, long(wire.MaxRoomLen+1)), new(wire.RoomReply), false},
		{"conn key over limit", wire.AppendAuthOK(nil, 1, &wire.AuthOK{ConnKey: long(wire.MaxRoomLen + 1)}), new(wire.AuthOK), false},
		{"user at limit", wire.AppendAuthOK(nil, 1, &wire.AuthOK{User: long(wire.MaxRoomLen)}), new(wire.AuthOK), true},
		{"user over limit", wire.AppendAuthOK(nil, 1, &wire.AuthOK{User: long(wire.MaxRoomLen + 1)}), new(wire.AuthOK), false},
		{"push room over limit", wire.AppendPush(nil, &wire.Push{Kind: wire.PushRoom, Room: long(wire.MaxRoomLen + 1)}), new(wire.Push), false},
		{"push id over limit", wire.AppendPush(nil, &wire.Push{ID: long(wire.MaxRoomLen + 1)}), new(wire.Push), false},
		{"push epoch over limit", wire.AppendPush(nil, &wire.Push{Epoch: long(wire.MaxRoomLen + 1)}), new(wire.Push), false},
		{"push kind 2", wire.AppendPush(nil, &wire.Push{Kind: wire.PushBroadcast}), new(wire.Push), true},
		{"push kind 3", wire.AppendPush(nil, &wire.Push{Kind: 3}), new(wire.Push), false},
		{"push kind 255", wire.AppendPush(nil, &wire.Push{Kind: 255}), new(wire.Push), false},
		{"long error message", wire.AppendError(nil, 1, &wire.Error{Message: long(60000)}), new(wire.Error), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.msg.Decode(tt.frame[wire.HeaderSize:])
			if tt.ok && err != nil {
				t.Fatal(err)
			}
			if !tt.ok && !errors.Is(err, wire.ErrMalformed) {
				t.Fatalf("err %v, want ErrMalformed", err)
			}
		})
	}
}

func TestPushSize(t *testing.T) {
	ps := pushes()
	for _, n := range []int{0, 1, 127, 128, 16383, 16384} {
		ps = append(ps, wire.Push{Kind: wire.PushRoom, Room: "r", ID: "id", Data: make([]byte, n)})
	}
	for _, off := range []uint64{0, 127, 128, 1<<14 - 1, 1 << 14, 1 << 21, 1 << 35, 1 << 63, 1<<64 - 1} {
		ps = append(ps, wire.Push{Kind: wire.PushRoom, Room: "r", ID: "id", Offset: off})
	}
	for _, m := range ps {
		if got, want := wire.PushSize(&m), len(wire.AppendPush(nil, &m)); got != want {
			t.Errorf("PushSize %d, AppendPush wrote %d (offset %d, %d data bytes)", got, want, m.Offset, len(m.Data))
		}
	}
}

// TestAppendPushNoAlloc pins the property the edge relies on: encoding a
// push into a buffer sized with PushSize does not allocate.
func TestAppendPushNoAlloc(t *testing.T) {
	m := &wire.Push{Kind: wire.PushRoom, Room: "news", ID: "m-1", Offset: 300, Epoch: "e7", Data: make([]byte, 512)}
	buf := make([]byte, 0, wire.PushSize(m))
	allocs := testing.AllocsPerRun(100, func() {
		buf = wire.AppendPush(buf[:0], m)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func TestCodeReconnect(t *testing.T) {
	tests := []struct {
		code      wire.Code
		reconnect bool
	}{
		{0, true}, // a transport closed without a code
		{wire.ErrCodeBadRequest, true},
		{2999, true},
		{wire.CodeShutdown, true},
		{wire.CodeServerError, true},
		{wire.CodeHeartbeatTimeout, true},
		{wire.CodeSlowConsumer, true},
		{wire.CodeTokenExpired, true},
		{wire.CodeHandshakeTimeout, true},
		{wire.CodeServerDisconnect, true},
		{wire.CodeConnectionLimit, true},
		{wire.CodeReconnectMaxRange, true},
		{wire.CodeInvalidToken, false},
		{wire.CodeProtocolError, false},
		{wire.CodeFrameTooLarge, false},
		{wire.CodeUnsupportedVersion, false},
		{wire.CodeKicked, false},
		{3777, false},
		{3999, false},
		{4000, true},
		{0xffff, true},
	}
	for _, tt := range tests {
		if got := tt.code.Reconnect(); got != tt.reconnect {
			t.Errorf("Code(%d).Reconnect() = %v, want %v", tt.code, got, tt.reconnect)
		}
	}
	for c := wire.Code(3000); c < 4000; c++ {
		if want := c < 3500; c.Reconnect() != want {
			t.Fatalf("Code(%d).Reconnect() = %v", c, c.Reconnect())
		}
	}
}

func TestCodeString(t *testing.T) {
	seen := map[string]wire.Code{}
	for _, c := range allCodes {
		s := c.String()
		if strings.HasPrefix(s, "code ") {
			t.Errorf("Code(%d) has no name", c)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("codes %d and %d are both %q", prev, c, s)
		}
		seen[s] = c
	}
	if got := wire.Code(3998).String(); got != "code 3998" {
		t.Errorf("unknown code: %q", got)
	}
	if got := wire.CodeShutdown.String(); got != "shutdown" {
		t.Errorf("CodeShutdown: %q", got)
	}
}

func TestOpString(t *testing.T) {
	want := map[wire.Op]string{
		wire.OpAuth: "auth", wire.OpAuthOK: "auth_ok", wire.OpPing: "ping", wire.OpPong: "pong",
		wire.OpJoin: "join", wire.OpJoinOK: "join_ok", wire.OpLeave: "leave", wire.OpLeaveOK: "leave_ok",
		wire.OpPush: "push", wire.OpError: "error", wire.OpDisconnect: "disconnect",
		wire.OpTokenExpiring: "token_expiring", wire.OpRefresh: "refresh", wire.OpRefreshOK: "refresh_ok",
		wire.OpSubscribed: "subscribed", wire.OpUnsubscribed: "unsubscribed", wire.OpJoinLeave: "join_leave",
		wire.OpPresenceGet: "presence_get", wire.OpPresenceOK: "presence_ok",
	}
	for op := range 256 {
		op := wire.Op(op)
		name, known := want[op]
		if op.Known() != known {
			t.Errorf("Op(%d).Known() = %v", op, op.Known())
		}
		if !known {
			name = fmt.Sprintf("op(%d)", uint8(op))
		}
		if op.String() != name {
			t.Errorf("Op(%d).String() = %q, want %q", op, op.String(), name)
		}
	}
}

// TestErrorAndDisconnectTextLimit checks what docs/protocol.md says of the
// Error message and the Disconnect reason: no limit of their own, only the
// frame's, so the longest that fits a frame of DefaultMaxFrame bytes (65,522
// bytes after the header, the code and a 3-byte length) decodes.
func TestErrorAndDisconnectTextLimit(t *testing.T) {
	text := strings.Repeat("x", wire.DefaultMaxFrame-wire.HeaderSize-2-3)
	frames := [][]byte{
		wire.AppendError(nil, 1, &wire.Error{Code: wire.ErrCodeBadRequest, Message: text}),
		wire.AppendDisconnect(nil, &wire.Disconnect{Code: wire.CodeProtocolError, Reason: text}),
	}
	for _, f := range frames {
		if len(f) != wire.DefaultMaxFrame {
			t.Fatalf("frame of %d bytes, want %d", len(f), wire.DefaultMaxFrame)
		}
		h, body, _, ok, err := wire.Split(f, wire.DefaultMaxFrame)
		if !ok || err != nil {
			t.Fatalf("split: ok %v err %v", ok, err)
		}
		var got string
		switch h.Op {
		case wire.OpError:
			var e wire.Error
			err, got = e.Decode(body), e.Message
		case wire.OpDisconnect:
			var d wire.Disconnect
			err, got = d.Decode(body), d.Reason
		}
		if err != nil || got != text {
			t.Fatalf("%v: %d bytes decoded, err %v", h.Op, len(got), err)
		}
	}
}
