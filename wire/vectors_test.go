package wire_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/quicpush/quicpush/wire"
)

// The vectors in docs/protocol-vectors.json are generated from the specs below
// by `go test ./wire -run Vectors -update` and checked by the same tests on
// every run, so the file and the codec cannot drift apart. TestVectorsLiteral
// pins a few of them to hex written out by hand, which proves the generator.

var update = flag.Bool("update", false, "rewrite ../docs/protocol-vectors.json from the specs in vectors_test.go")

const vectorsPath = "../docs/protocol-vectors.json"

// vectorFile is the layout of docs/protocol-vectors.json.
type vectorFile struct {
	Description string            `json:"description"`
	Version     int               `json:"version"`
	Revision    int               `json:"revision"`
	Notes       []string          `json:"notes"`
	Limits      vectorLimits      `json:"limits"`
	Ops         orderedNumbers    `json:"ops"`
	Codes       orderedNumbers    `json:"codes"`
	CodeRanges  map[string][2]int `json:"code_ranges"`
	Frames      []frameVector     `json:"frames"`
	Streams     []streamVector    `json:"streams"`
	Invalid     []invalidVector   `json:"invalid"`
}

type vectorLimits struct {
	HeaderSize  int `json:"header_size"`
	MaxFrame    int `json:"max_frame"`
	MaxRoomLen  int `json:"max_room_len"`
	MaxTokenLen int `json:"max_token_len"`
	// MaxAuthFrame is the limit on a frame before AuthOK.
	MaxAuthFrame int `json:"max_auth_frame"`
}

// frameVector is one frame: encoding Fields with Op and Seq gives Hex, and
// decoding Hex gives Fields. DecodeOnly vectors are not what an encoder
// writes (trailing bytes, a non-minimal uvarint) but must decode to Fields.
type frameVector struct {
	Name       string          `json:"name"`
	Note       string          `json:"note,omitempty"`
	Op         string          `json:"op"`
	Seq        uint32          `json:"seq"`
	DecodeOnly bool            `json:"decode_only,omitempty"`
	Fields     json.RawMessage `json:"fields"`
	Hex        string          `json:"hex"`
}

// streamVector is a byte stream that splits into the named frames in order,
// followed by IncompleteTail bytes of a frame that has not fully arrived.
type streamVector struct {
	Name           string   `json:"name"`
	Note           string   `json:"note,omitempty"`
	Frames         []string `json:"frames"`
	IncompleteTail int      `json:"incomplete_tail"`
	Hex            string   `json:"hex"`
}

// invalidVector is a frame that a receiver with the given limit must reject,
// either when it parses the header or when it decodes the body.
type invalidVector struct {
	Name     string `json:"name"`
	Note     string `json:"note,omitempty"`
	MaxFrame int    `json:"max_frame"`
	Error    string `json:"error"`
	Hex      string `json:"hex"`
}

// orderedNumbers is a JSON object of name -> number written in table order
// (encoding/json would sort the keys of a map).
type orderedNumbers []namedNumber

type namedNumber struct {
	Name  string
	Value int
}

func (o orderedNumbers) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, n := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(n.Name)
		fmt.Fprintf(&b, "%s:%d", k, n.Value)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o *orderedNumbers) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("want an object: %v", err)
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var v int
		if err := dec.Decode(&v); err != nil {
			return err
		}
		*o = append(*o, namedNumber{t.(string), v})
	}
	_, err := dec.Token()
	return err
}

// Decoded fields of each op, as they appear in the vectors. Offsets are
// decimal strings because they are uint64 and a JSON number loses precision
// above 2^53 in JavaScript.

type authFields struct {
	Version uint64 `json:"version"`
	Token   string `json:"token"`
	Offset  uint64 `json:"offset,string"`
	Epoch   string `json:"epoch"`
	// Joins (revision 5) is left out of the vectors when zero.
	Joins uint64 `json:"joins,omitempty"`
}

type authOKFields struct {
	ConnKey        string `json:"conn_key"`
	User           string `json:"user"`
	PingIntervalMs uint64 `json:"ping_interval_ms"`
	MaxFrame       uint64 `json:"max_frame"`
	Recovery       uint8  `json:"recovery"`
	Offset         uint64 `json:"offset,string"`
	Epoch          string `json:"epoch"`
	// Revision (revision 5) is left out of the vectors when zero.
	Revision uint64 `json:"revision,omitempty"`
}

type joinOKFields struct {
	Room     string `json:"room"`
	Recovery uint8  `json:"recovery"`
	Offset   uint64 `json:"offset,string"`
	Epoch    string `json:"epoch"`
}

type emptyFields struct{}

type joinFields struct {
	Room   string `json:"room"`
	Offset uint64 `json:"offset,string"`
	Epoch  string `json:"epoch"`
}

type roomFields struct {
	Room string `json:"room"`
}

type pushFields struct {
	Kind    uint8  `json:"kind"`
	Room    string `json:"room"`
	ID      string `json:"id"`
	Offset  uint64 `json:"offset,string"`
	Epoch   string `json:"epoch"`
	DataHex string `json:"data_hex"`
	// Flags (revision 4) is a decimal string like offsets: unknown bits are
	// kept, so any uint64 may appear.
	Flags uint64 `json:"flags,string"`
}

type errorFields struct {
	Code    uint16 `json:"code"`
	Message string `json:"message"`
}

type expiresFields struct {
	ExpiresInMs uint64 `json:"expires_in_ms"`
}

type refreshFields struct {
	Token string `json:"token"`
}

// memberFields is one member of join_leave and presence_ok (revision 5); info
// is the member's JSON object as text, empty for none.
type memberFields struct {
	User    string `json:"user"`
	ConnKey string `json:"conn_key"`
	Info    string `json:"info"`
}

type joinLeaveFields struct {
	Room    string         `json:"room"`
	Joined  []memberFields `json:"joined"`
	Left    []memberFields `json:"left"`
	Omitted uint64         `json:"omitted"`
}

type presenceOKFields struct {
	Room     string         `json:"room"`
	Conns    uint64         `json:"conns"`
	Users    uint64         `json:"users"`
	Complete bool           `json:"complete"`
	Members  []memberFields `json:"members"`
}

func toMembers(fs []memberFields) []wire.Member {
	var ms []wire.Member
	for _, f := range fs {
		m := wire.Member{User: f.User, ConnKey: f.ConnKey}
		if f.Info != "" {
			m.Info = []byte(f.Info)
		}
		ms = append(ms, m)
	}
	return ms
}

func fromMembers(ms []wire.Member) []memberFields {
	fs := []memberFields{}
	for _, m := range ms {
		fs = append(fs, memberFields{m.User, m.ConnKey, string(m.Info)})
	}
	return fs
}

type disconnectFields struct {
	Code   uint16 `json:"code"`
	Reason string `json:"reason"`
}

// fields is implemented by the decoded-field types above.
type fields interface {
	appendFrame(dst []byte, op wire.Op, seq uint32) ([]byte, error)
	decode(body []byte) error
}

// newFields returns empty fields for op, or nil for an op the codec does not know.
func newFields(op wire.Op) fields {
	switch op {
	case wire.OpAuth:
		return &authFields{}
	case wire.OpAuthOK:
		return &authOKFields{}
	case wire.OpPing, wire.OpPong:
		return &emptyFields{}
	case wire.OpJoin:
		return &joinFields{}
	case wire.OpJoinOK, wire.OpSubscribed:
		return &joinOKFields{}
	case wire.OpLeave, wire.OpLeaveOK, wire.OpUnsubscribed, wire.OpPresenceGet:
		return &roomFields{}
	case wire.OpJoinLeave:
		return &joinLeaveFields{}
	case wire.OpPresenceOK:
		return &presenceOKFields{}
	case wire.OpPush:
		return &pushFields{}
	case wire.OpError:
		return &errorFields{}
	case wire.OpDisconnect:
		return &disconnectFields{}
	case wire.OpTokenExpiring, wire.OpRefreshOK:
		return &expiresFields{}
	case wire.OpRefresh:
		return &refreshFields{}
	}
	return nil
}

func (f *authFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendAuth(dst, seq, &wire.Auth{Version: f.Version, Token: f.Token, Offset: f.Offset, Epoch: f.Epoch, Joins: f.Joins}), nil
}

func (f *authFields) decode(body []byte) error {
	var m wire.Auth
	err := m.Decode(body)
	*f = authFields{m.Version, m.Token, m.Offset, m.Epoch, m.Joins}
	return err
}

func (f *authOKFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendAuthOK(dst, seq, &wire.AuthOK{
		ConnKey: f.ConnKey, User: f.User, PingIntervalMs: f.PingIntervalMs, MaxFrame: f.MaxFrame,
		Recovery: wire.Recovery(f.Recovery), Offset: f.Offset, Epoch: f.Epoch, Revision: f.Revision,
	}), nil
}

func (f *authOKFields) decode(body []byte) error {
	var m wire.AuthOK
	err := m.Decode(body)
	*f = authOKFields{m.ConnKey, m.User, m.PingIntervalMs, m.MaxFrame, uint8(m.Recovery), m.Offset, m.Epoch, m.Revision}
	return err
}

// joinOKFields serve JoinOK and Subscribed (revision 5), whose bodies are alike.
func (f *joinOKFields) appendFrame(dst []byte, op wire.Op, seq uint32) ([]byte, error) {
	m := wire.JoinOK{Room: f.Room, Recovery: wire.Recovery(f.Recovery), Offset: f.Offset, Epoch: f.Epoch}
	if op == wire.OpSubscribed {
		if seq != 0 {
			return nil, errors.New("subscribed frames carry seq 0")
		}
		sm := wire.Subscribed(m)
		return wire.AppendSubscribed(dst, &sm), nil
	}
	return wire.AppendJoinOK(dst, seq, &m), nil
}

func (f *joinOKFields) decode(body []byte) error {
	var m wire.JoinOK
	err := m.Decode(body)
	*f = joinOKFields{m.Room, uint8(m.Recovery), m.Offset, m.Epoch}
	return err
}

func (f *joinLeaveFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	if seq != 0 {
		return nil, errors.New("join_leave frames carry seq 0")
	}
	return wire.AppendJoinLeave(dst, &wire.JoinLeave{Room: f.Room, Joined: toMembers(f.Joined), Left: toMembers(f.Left), Omitted: f.Omitted}), nil
}

func (f *joinLeaveFields) decode(body []byte) error {
	var m wire.JoinLeave
	err := m.Decode(body)
	*f = joinLeaveFields{m.Room, fromMembers(m.Joined), fromMembers(m.Left), m.Omitted}
	return err
}

func (f *presenceOKFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendPresenceOK(dst, seq, &wire.PresenceOK{
		Room: f.Room, Conns: f.Conns, Users: f.Users, Complete: f.Complete, Members: toMembers(f.Members),
	}), nil
}

func (f *presenceOKFields) decode(body []byte) error {
	var m wire.PresenceOK
	err := m.Decode(body)
	*f = presenceOKFields{m.Room, m.Conns, m.Users, m.Complete, fromMembers(m.Members)}
	return err
}

func (f *emptyFields) appendFrame(dst []byte, op wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendFrame(dst, op, seq, nil), nil
}

// decode accepts any body: Ping and Pong have no fields, so every byte is trailing.
func (f *emptyFields) decode([]byte) error { return nil }

func (f *joinFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendJoin(dst, seq, &wire.Join{Room: f.Room, Offset: f.Offset, Epoch: f.Epoch}), nil
}

func (f *joinFields) decode(body []byte) error {
	var m wire.Join
	err := m.Decode(body)
	*f = joinFields{m.Room, m.Offset, m.Epoch}
	return err
}

func (f *roomFields) appendFrame(dst []byte, op wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendRoom(dst, op, seq, f.Room), nil
}

func (f *roomFields) decode(body []byte) error {
	var m wire.RoomReply
	err := m.Decode(body)
	f.Room = m.Room
	return err
}

func (f *pushFields) push() (*wire.Push, error) {
	data, err := hex.DecodeString(f.DataHex)
	if err != nil {
		return nil, err
	}
	return &wire.Push{
		Kind: wire.PushKind(f.Kind), Room: f.Room, ID: f.ID, Offset: f.Offset, Epoch: f.Epoch, Data: data,
		Flags: wire.PushFlags(f.Flags),
	}, nil
}

func (f *pushFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	if seq != 0 {
		return nil, errors.New("push frames carry seq 0")
	}
	m, err := f.push()
	if err != nil {
		return nil, err
	}
	return wire.AppendPush(dst, m), nil
}

func (f *pushFields) decode(body []byte) error {
	var m wire.Push
	err := m.Decode(body)
	*f = pushFields{uint8(m.Kind), m.Room, m.ID, m.Offset, m.Epoch, hex.EncodeToString(m.Data), uint64(m.Flags)}
	return err
}

func (f *errorFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendError(dst, seq, &wire.Error{Code: wire.Code(f.Code), Message: f.Message}), nil
}

func (f *errorFields) decode(body []byte) error {
	var m wire.Error
	err := m.Decode(body)
	*f = errorFields{uint16(m.Code), m.Message}
	return err
}

func (f *disconnectFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	if seq != 0 {
		return nil, errors.New("disconnect frames carry seq 0")
	}
	return wire.AppendDisconnect(dst, &wire.Disconnect{Code: wire.Code(f.Code), Reason: f.Reason}), nil
}

func (f *disconnectFields) decode(body []byte) error {
	var m wire.Disconnect
	err := m.Decode(body)
	*f = disconnectFields{uint16(m.Code), m.Reason}
	return err
}

func (f *expiresFields) appendFrame(dst []byte, op wire.Op, seq uint32) ([]byte, error) {
	if op == wire.OpTokenExpiring {
		if seq != 0 {
			return nil, errors.New("token_expiring frames carry seq 0")
		}
		return wire.AppendTokenExpiring(dst, &wire.TokenExpiring{ExpiresInMs: f.ExpiresInMs}), nil
	}
	return wire.AppendRefreshOK(dst, seq, &wire.RefreshOK{ExpiresInMs: f.ExpiresInMs}), nil
}

func (f *expiresFields) decode(body []byte) error {
	var m wire.TokenExpiring // RefreshOK has the same body
	err := m.Decode(body)
	f.ExpiresInMs = m.ExpiresInMs
	return err
}

func (f *refreshFields) appendFrame(dst []byte, _ wire.Op, seq uint32) ([]byte, error) {
	return wire.AppendRefresh(dst, seq, &wire.Refresh{Token: f.Token}), nil
}

func (f *refreshFields) decode(body []byte) error {
	var m wire.Refresh
	err := m.Decode(body)
	f.Token = m.Token
	return err
}

// opByName maps Op.String() back to the op.
func opByName(name string) (wire.Op, bool) {
	for op := wire.Op(0); op < 0xff; op++ {
		if op.Known() && op.String() == name {
			return op, true
		}
	}
	return 0, false
}

// Specs from which the vectors are generated.

type frameSpec struct {
	name   string
	note   string
	op     wire.Op
	seq    uint32
	fields fields
	// raw, when set, is the frame for a decode-only vector.
	raw []byte
}

type streamSpec struct {
	name   string
	note   string
	frames []string
	// tail is appended after the frames: the start of a frame still in flight.
	tail []byte
}

type invalidSpec struct {
	name     string
	note     string
	maxFrame int
	err      error
	raw      []byte
}

// rawFrame builds a frame from hex fragments of its body, with a correct length.
func rawFrame(op wire.Op, seq uint32, body ...string) []byte {
	b, err := hex.DecodeString(strings.Join(body, ""))
	if err != nil {
		panic(err)
	}
	return wire.AppendFrame(nil, op, seq, b)
}

// rawHex decodes hex fragments into bytes, for frames whose length lies.
func rawHex(parts ...string) []byte {
	b, err := hex.DecodeString(strings.Join(parts, ""))
	if err != nil {
		panic(err)
	}
	return b
}

func seqBytes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return hex.EncodeToString(b)
}

const sampleToken = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c2VyLTEiLCJleHAiOjE4OTM0NTYwMDAsInJvb21zIjpbIm5ld3MiLCJjaGF0LyoiXX0.sig"

func frameSpecs() []frameSpec {
	jsonHex := func(s string) string { return hex.EncodeToString([]byte(s)) }
	return []frameSpec{
		{name: "auth", op: wire.OpAuth, seq: 1,
			fields: &authFields{Version: 1, Token: sampleToken}},
		{name: "auth_ok", op: wire.OpAuthOK, seq: 1,
			fields: &authOKFields{ConnKey: "c1f0a9", User: "user-1", PingIntervalMs: 25000, MaxFrame: 65536}},
		{name: "auth_with_position", note: "revision 2: the last position seen in the user's stream", op: wire.OpAuth, seq: 1,
			fields: &authFields{Version: 1, Token: sampleToken, Offset: 300, Epoch: "e7"}},
		{name: "auth_ok_recovered", note: "revision 2: the user's missed messages follow, up to offset 420",
			op: wire.OpAuthOK, seq: 1,
			fields: &authOKFields{ConnKey: "c1f0a9", User: "user-1", PingIntervalMs: 25000, MaxFrame: 65536, Recovery: 1, Offset: 420, Epoch: "e7"}},
		{name: "auth_ok_position", note: "revision 2: no position asked; the user's stream stands at offset 420",
			op: wire.OpAuthOK, seq: 1,
			fields: &authOKFields{ConnKey: "c1f0a9", User: "user-1", PingIntervalMs: 25000, MaxFrame: 65536, Offset: 420, Epoch: "e7"}},
		{name: "ping", note: "seq 7: 00000005 03 00000007, no body", op: wire.OpPing, seq: 7,
			fields: &emptyFields{}},
		{name: "pong", op: wire.OpPong, seq: 7, fields: &emptyFields{}},
		{name: "ping_seq_max", op: wire.OpPing, seq: 0xffffffff, fields: &emptyFields{}},
		{name: "join", note: "no position: offset 0, epoch empty", op: wire.OpJoin, seq: 2,
			fields: &joinFields{Room: "news"}},
		{name: "join_with_position", op: wire.OpJoin, seq: 3,
			fields: &joinFields{Room: "chat/42", Offset: 1234, Epoch: "e7"}},
		{name: "join_offset_max", note: "offset 2^64-1 takes 10 uvarint bytes", op: wire.OpJoin, seq: 9,
			fields: &joinFields{Room: "chat/42", Offset: 1<<64 - 1, Epoch: "e7"}},
		{name: "join_ok", note: "no position: the room keeps no history", op: wire.OpJoinOK, seq: 2, fields: &joinOKFields{Room: "news"}},
		{name: "join_ok_position", note: "revision 2: no position asked; the room stands at offset 1234",
			op: wire.OpJoinOK, seq: 2, fields: &joinOKFields{Room: "news", Offset: 1234, Epoch: "e7"}},
		{name: "join_ok_recovered", note: "revision 2: the missed messages up to offset 1300 follow, then live ones",
			op: wire.OpJoinOK, seq: 3, fields: &joinOKFields{Room: "chat/42", Recovery: 1, Offset: 1300, Epoch: "e7"}},
		{name: "join_ok_not_recovered", note: "revision 2: the missed messages are gone; live ones follow offset 9000 of a new epoch",
			op: wire.OpJoinOK, seq: 3, fields: &joinOKFields{Room: "chat/42", Recovery: 2, Offset: 9000, Epoch: "f3"}},
		{name: "leave", op: wire.OpLeave, seq: 4, fields: &roomFields{Room: "news"}},
		{name: "leave_ok", op: wire.OpLeaveOK, seq: 4, fields: &roomFields{Room: "news"}},
		{name: "push_direct", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 0, ID: "m-1", DataHex: jsonHex(`{"hello":"user-1"}`)}},
		{name: "push_room", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 1, Room: "news", ID: "m-2", Offset: 42, Epoch: "e7", DataHex: jsonHex(`{"test":1}`)}},
		{name: "push_broadcast", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 2, ID: "m-3", DataHex: jsonHex("maintenance at 02:00")}},
		{name: "push_room_non_ascii", note: "room names are UTF-8 bytes; the length counts bytes, not characters",
			op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 1, Room: "чат/日本", ID: "m-4", Offset: 1, Epoch: "e7", DataHex: jsonHex("ok")}},
		{name: "push_data_200", note: "data length 200 is the uvarint c8 01", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 1, Room: "news", ID: "m-5", Offset: 43, Epoch: "e7", DataHex: seqBytes(200)}},
		{name: "push_offset_300", note: "offset 300 is the uvarint ac 02", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 1, Room: "r", ID: "m", Offset: 300, DataHex: jsonHex("x")}},
		{name: "push_offset_large", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 1, Room: "r", ID: "m", Offset: 1 << 35, Epoch: "e", DataHex: jsonHex("x")}},
		{name: "push_empty_data", op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 2, ID: "m-6"}},
		{name: "push_ephemeral_room", note: "revision 4: flags 1 (ephemeral) after data; no position. Also a valid datagram",
			op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 1, Room: "pos", ID: "m-7", DataHex: jsonHex(`{"x":1,"y":2}`), Flags: uint64(wire.PushEphemeral)}},
		{name: "push_ephemeral_direct", note: "revision 4: an ephemeral push to this connection or user",
			op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 0, ID: "m-8", DataHex: jsonHex("typing"), Flags: uint64(wire.PushEphemeral)}},
		{name: "push_flags_unknown_bits", note: "flags 129 (uvarint 81 01): bit 0 ephemeral, bit 7 unknown and kept, never an error",
			op: wire.OpPush, seq: 0,
			fields: &pushFields{Kind: 2, ID: "m-9", DataHex: jsonHex("x"), Flags: 129}},
		{name: "error", op: wire.OpError, seq: 5,
			fields: &errorFields{Code: uint16(wire.ErrCodeForbidden), Message: "room not allowed"}},
		{name: "error_short", op: wire.OpError, seq: 5,
			fields: &errorFields{Code: uint16(wire.ErrCodeForbidden), Message: "no"}},
		{name: "token_expiring", note: "revision 3: the token expires in 30 s; answer with Refresh", op: wire.OpTokenExpiring, seq: 0,
			fields: &expiresFields{ExpiresInMs: 30000}},
		{name: "refresh", note: "revision 3", op: wire.OpRefresh, seq: 6, fields: &refreshFields{Token: sampleToken}},
		{name: "refresh_ok", note: "revision 3: the new token expires in an hour", op: wire.OpRefreshOK, seq: 6,
			fields: &expiresFields{ExpiresInMs: 3600000}},
		{name: "disconnect", op: wire.OpDisconnect, seq: 0,
			fields: &disconnectFields{Code: uint16(wire.CodeShutdown), Reason: "bye"}},
		{name: "disconnect_no_reason", op: wire.OpDisconnect, seq: 0,
			fields: &disconnectFields{Code: uint16(wire.CodeKicked)}},
		{name: "disconnect_long_reason", note: "reason and Error message have no limit of their own but the frame's; 300 bytes is the uvarint ac 02",
			op: wire.OpDisconnect, seq: 0,
			fields: &disconnectFields{Code: uint16(wire.CodeProtocolError), Reason: strings.Repeat("r", 300)}},
		{name: "error_long_message", note: "an Error message may be longer than 255 bytes",
			op: wire.OpError, seq: 5,
			fields: &errorFields{Code: uint16(wire.ErrCodeBadRequest), Message: strings.Repeat("m", 300)}},
		{name: "ping_seq_zero", note: "a request with seq 0 is answered like any other; its reply has seq 0",
			op: wire.OpPing, seq: 0, fields: &emptyFields{}},

		{name: "auth_with_joins", note: "revision 5: 2 Joins follow Auth; the position group is written as zeros because a field follows it",
			op: wire.OpAuth, seq: 1, fields: &authFields{Version: 1, Token: "t", Joins: 2}},
		{name: "auth_with_position_and_joins", note: "revision 5", op: wire.OpAuth, seq: 1,
			fields: &authFields{Version: 1, Token: "t", Offset: 300, Epoch: "e7", Joins: 1}},
		{name: "auth_ok_revision", note: "revision 5: the edge's revision after the position group, which is then written even when all zero",
			op: wire.OpAuthOK, seq: 1,
			fields: &authOKFields{ConnKey: "c1f0a9", User: "user-1", PingIntervalMs: 25000, MaxFrame: 65536, Revision: 5}},
		{name: "auth_ok_recovered_revision", note: "revision 5", op: wire.OpAuthOK, seq: 1,
			fields: &authOKFields{ConnKey: "c1f0a9", User: "user-1", PingIntervalMs: 25000, MaxFrame: 65536, Recovery: 1, Offset: 420, Epoch: "e7", Revision: 5}},
		{name: "subscribed", note: "revision 5: the backend put the connection in a room standing at offset 1234",
			op: wire.OpSubscribed, seq: 0, fields: &joinOKFields{Room: "team/7", Offset: 1234, Epoch: "e7"}},
		{name: "subscribed_no_position", note: "revision 5: the room keeps no history, or the connection was in it already",
			op: wire.OpSubscribed, seq: 0, fields: &joinOKFields{Room: "team/7"}},
		{name: "unsubscribed", note: "revision 5", op: wire.OpUnsubscribed, seq: 0, fields: &roomFields{Room: "team/7"}},
		{name: "join_leave", note: "revision 5: one connection joined with info, one left, 3 more changes left out",
			op: wire.OpJoinLeave, seq: 0, fields: &joinLeaveFields{Room: "chat/1",
				Joined: []memberFields{{User: "u1", ConnKey: "e1-a", Info: `{"name":"Ann"}`}},
				Left:   []memberFields{{User: "u2", ConnKey: "e2-b"}}, Omitted: 3}},
		{name: "join_leave_empty_lists", note: "revision 5: only counts of what changed", op: wire.OpJoinLeave, seq: 0,
			fields: &joinLeaveFields{Room: "chat/1", Joined: []memberFields{}, Left: []memberFields{}, Omitted: 250}},
		{name: "presence_get", note: "revision 5: only to an edge whose AuthOK announced revision 5 or later",
			op: wire.OpPresenceGet, seq: 8, fields: &roomFields{Room: "chat/1"}},
		{name: "presence_ok", note: "revision 5: 3 connections of 2 users, all listed", op: wire.OpPresenceOK, seq: 8,
			fields: &presenceOKFields{Room: "chat/1", Conns: 3, Users: 2, Complete: true, Members: []memberFields{
				{User: "u1", ConnKey: "e1-a", Info: `{"name":"Ann"}`}, {User: "u1", ConnKey: "e2-c"}, {User: "u2", ConnKey: "e2-b"}}}},
		{name: "presence_ok_counts_only", note: "revision 5: a room past the list limit: counts, no members",
			op: wire.OpPresenceOK, seq: 9, fields: &presenceOKFields{Room: "big", Conns: 120000, Users: 100000, Members: []memberFields{}}},

		// Decode-only: what a later revision or a lenient encoder may send.
		{name: "join_trailing_bytes", note: "bytes after the known fields are ignored",
			op: wire.OpJoin, seq: 2, fields: &joinFields{Room: "news"},
			raw: rawFrame(wire.OpJoin, 2, "046e657773", "00", "00", "01ff02")},
		{name: "push_trailing_bytes", note: "revision 4: the first byte after data is flags (0a: bits 1 and 3, unknown, kept); bytes after flags are ignored",
			op: wire.OpPush, seq: 0, fields: &pushFields{Kind: 1, Room: "r", ID: "m", Offset: 5, DataHex: "78", Flags: 0x0a},
			raw: rawFrame(wire.OpPush, 0, "01", "0172", "016d", "05", "00", "0178", "0a0b0c")},
		{name: "ping_with_body", note: "Ping and Pong have no fields; a body is ignored",
			op: wire.OpPing, seq: 8, fields: &emptyFields{},
			raw: rawFrame(wire.OpPing, 8, "0102")},
		{name: "auth_nonminimal_uvarint", note: "version 1 written as 81 00; encoders write minimal uvarints, decoders accept both",
			op: wire.OpAuth, seq: 1, fields: &authFields{Version: 1, Token: "t"},
			raw: rawFrame(wire.OpAuth, 1, "8100", "0174")},
		{name: "leave_nonminimal_length", note: "a str length written as 84 00 (4); decoders accept non-minimal uvarints anywhere",
			op: wire.OpLeave, seq: 4, fields: &roomFields{Room: "news"},
			raw: rawFrame(wire.OpLeave, 4, "8400", "6e657773")},
		{name: "join_nonminimal_offset", note: "offset 1 written in 10 bytes, the longest uvarint",
			op: wire.OpJoin, seq: 2, fields: &joinFields{Room: "news", Offset: 1, Epoch: "e7"},
			raw: rawFrame(wire.OpJoin, 2, "046e657773", "81808080808080808000", "026537")},
	}
}

func streamSpecs() []streamSpec {
	return []streamSpec{
		{name: "server_session", note: "what a client reads after Auth: replies, pushes, heartbeats and the last frame",
			frames: []string{"auth_ok", "join_ok", "push_room", "push_data_200", "pong", "push_broadcast", "disconnect"}},
		{name: "client_session", frames: []string{"auth", "join", "join_with_position", "ping", "leave"}},
		{name: "empty_bodies", frames: []string{"ping", "pong", "ping_seq_max"}},
		{name: "batch_of_pushes", note: "one write or WebSocket message carrying several pushes",
			frames: []string{"push_room", "push_room_non_ascii", "push_offset_300", "push_offset_large", "push_empty_data", "push_direct"}},
		{name: "revision_5_server_frames", note: "revision 5: frames a client of an earlier revision skips by their length",
			frames: []string{"auth_ok_revision", "subscribed", "push_room", "join_leave", "unsubscribed", "presence_ok"}},
		{name: "ephemeral_on_stream", note: "revision 4: an ephemeral push that did not fit a datagram, between reliable ones",
			frames: []string{"push_room", "push_ephemeral_room", "push_data_200"}},
		{name: "incomplete_header_tail", note: "the stream ends 5 bytes into a header: wait for more bytes",
			frames: []string{"push_room", "pong"}, tail: rawHex("0000001109")},
		{name: "incomplete_body_tail", note: "the stream ends inside a body: wait for more bytes",
			frames: []string{"join_ok"}, tail: rawHex("0000000f09000000000101")},
	}
}

func invalidSpecs() []invalidSpec {
	const maxFrame = wire.DefaultMaxFrame
	return []invalidSpec{
		{name: "length_zero", note: "length 0 is below the 5 bytes of op and seq", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawHex("00000000", "03", "00000007")},
		{name: "length_below_header", note: "length 4 is below the 5 bytes of op and seq", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawHex("00000004", "03", "00000007")},
		{name: "frame_over_default_limit", note: "length 65533 makes a 65537-byte frame; reject on the header alone",
			maxFrame: maxFrame, err: wire.ErrTooLarge, raw: rawHex("0000fffd", "09", "00000000")},
		{name: "frame_over_small_limit", note: "a valid 18-byte push with a 16-byte limit",
			maxFrame: 16, err: wire.ErrTooLarge, raw: rawFrame(wire.OpPush, 0, "01", "0172", "016d", "05", "00", "0178", "")},
		{name: "length_high_bit", note: "length ffffffff: watch for signed 32-bit arithmetic", maxFrame: maxFrame, err: wire.ErrTooLarge,
			raw: rawHex("ffffffff", "09", "00000000")},
		{name: "auth_missing_token", note: "body ends after the version", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpAuth, 1, "01")},
		{name: "auth_truncated_string_length", note: "the token length uvarint 80 has its continuation bit set at the end of the body",
			maxFrame: maxFrame, err: wire.ErrMalformed, raw: rawFrame(wire.OpAuth, 1, "01", "80")},
		{name: "join_string_beyond_body", note: "room length 10, 4 bytes left", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoin, 2, "0a", "6e657773")},
		{name: "join_room_too_long", note: "room names are at most 255 bytes", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoin, 2, "8002", strings.Repeat("61", 256), "00", "00")},
		{name: "join_missing_epoch", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoin, 2, "046e657773", "00")},
		{name: "join_uvarint_overflow_10th_byte", note: "the 10th uvarint byte may only be 00 or 01",
			maxFrame: maxFrame, err: wire.ErrMalformed, raw: rawFrame(wire.OpJoin, 2, "0172", "ffffffffffffffffff02", "00")},
		{name: "join_uvarint_too_long", note: "an 11-byte uvarint", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoin, 2, "0172", "8080808080808080808000", "00")},
		{name: "auth_token_too_long", note: "tokens are at most 8192 bytes", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpAuth, 1, "01", "8140", strings.Repeat("74", 8193))},
		{name: "room_reply_empty_body", maxFrame: maxFrame, err: wire.ErrMalformed, raw: rawFrame(wire.OpJoinOK, 2)},
		{name: "join_ok_bad_recovery", note: "recovery is 0, 1 or 2", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoinOK, 2, "046e657773", "03", "05", "00")},
		{name: "join_ok_partial_position", note: "a revision-2 group is whole or absent", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoinOK, 2, "046e657773", "01", "05")},
		{name: "auth_partial_position", note: "an offset without its epoch", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpAuth, 1, "01", "0174", "05")},
		{name: "push_empty_body", maxFrame: maxFrame, err: wire.ErrMalformed, raw: rawFrame(wire.OpPush, 0)},
		{name: "push_bad_kind", note: "kinds are 0, 1 and 2", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpPush, 0, "03", "0172", "016d", "05", "00", "0178")},
		{name: "push_data_beyond_body", note: "data length 5, 1 byte left", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpPush, 0, "01", "0172", "016d", "05", "00", "0578")},
		{name: "push_flags_truncated", note: "revision 4: the flags uvarint 80 has its continuation bit set at the end of the body",
			maxFrame: maxFrame, err: wire.ErrMalformed, raw: rawFrame(wire.OpPush, 0, "01", "0172", "016d", "05", "00", "0178", "80")},
		{name: "push_missing_data", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpPush, 0, "01", "0172", "016d", "05", "00")},
		{name: "error_short_code", note: "the code is a 2-byte u16", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpError, 5, "00")},
		{name: "disconnect_missing_reason", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpDisconnect, 0, "0bb8")},
		{name: "join_leave_count_beyond_body", note: "revision 5: 200 joined members announced, 4 bytes left; reject before allocating",
			maxFrame: maxFrame, err: wire.ErrMalformed, raw: rawFrame(wire.OpJoinLeave, 0, "0172", "c801", "01610162")},
		{name: "join_leave_missing_omitted", note: "revision 5", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoinLeave, 0, "0172", "00", "00")},
		{name: "join_leave_info_too_long", note: "revision 5: info is at most 1024 bytes", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpJoinLeave, 0, "0172", "01", "0161", "0162", "8108", strings.Repeat("7b", 1025), "00", "00")},
		{name: "presence_ok_bad_complete", note: "revision 5: complete is 0 or 1", maxFrame: maxFrame, err: wire.ErrMalformed,
			raw: rawFrame(wire.OpPresenceOK, 8, "0172", "01", "01", "02", "00")},
	}
}

func errName(err error) string {
	switch {
	case errors.Is(err, wire.ErrTooLarge):
		return "too_large"
	case errors.Is(err, wire.ErrMalformed):
		return "malformed"
	}
	return ""
}

func errByName(name string) error {
	switch name {
	case "too_large":
		return wire.ErrTooLarge
	case "malformed":
		return wire.ErrMalformed
	}
	return nil
}

var allCodes = []wire.Code{
	wire.CodeShutdown, wire.CodeServerError, wire.CodeHeartbeatTimeout, wire.CodeSlowConsumer,
	wire.CodeTokenExpired, wire.CodeHandshakeTimeout, wire.CodeServerDisconnect, wire.CodeConnectionLimit,
	wire.CodeRateLimited,
	wire.CodeInvalidToken, wire.CodeProtocolError, wire.CodeFrameTooLarge, wire.CodeUnsupportedVersion,
	wire.CodeKicked,
	wire.ErrCodeBadRequest, wire.ErrCodeForbidden, wire.ErrCodeTooManyRooms, wire.ErrCodeNotJoined,
	wire.ErrCodeInternal, wire.ErrCodeTokenRejected,
}

// codeNames are the names of allCodes in the vectors, in the same order.
var codeNames = []string{
	"shutdown", "server_error", "heartbeat_timeout", "slow_consumer",
	"token_expired", "handshake_timeout", "server_disconnect", "connection_limit",
	"rate_limited",
	"invalid_token", "protocol_error", "frame_too_large", "unsupported_version",
	"kicked",
	"bad_request", "forbidden", "too_many_rooms", "not_joined",
	"internal", "token_rejected",
}

func buildVectors(t *testing.T) *vectorFile {
	t.Helper()
	vf := &vectorFile{
		Description: "Byte-level test vectors of the quicpush client protocol, version 1 (docs/protocol.md). " +
			"Generated by `go test ./wire -run Vectors -update`; do not edit by hand.",
		Version:  wire.Version,
		Revision: wire.Revision,
		Notes: []string{
			"hex is the whole frame: u32 length, u8 op, u32 seq, body.",
			"frames: encoding fields with op and seq gives hex, and decoding hex gives fields; decode_only vectors are only decoded.",
			"offset is a uint64 written as a decimal string, since JSON numbers lose precision above 2^53.",
			"data_hex is the push payload in hex; strings are UTF-8.",
			"revision 5 appends joins to Auth and revision to AuthOK (each after the position group, which is then written in full), and adds subscribed, unsubscribed, join_leave, presence_get and presence_ok; members' info is JSON text.",
			"revision 4 appends flags to Push (a uvarint after data, bit 0 = ephemeral, left out when zero, read as zero when absent) and sends ephemeral pushes in datagrams, each one whole Push frame.",
			"revision 3 adds token_expiring, refresh and refresh_ok (refreshing a live connection's token) and request error 105.",
			"revision 2 appends a position group (Auth: offset, epoch; AuthOK and JoinOK: recovery, offset, epoch), left out when all zero and read as zeros when absent.",
			"streams: hex splits into the named frames in order, then incomplete_tail bytes of an unfinished frame remain.",
			"invalid: a receiver with limit max_frame must reject hex with the error kind (malformed or too_large).",
		},
		Limits: vectorLimits{
			HeaderSize: wire.HeaderSize, MaxFrame: wire.DefaultMaxFrame,
			MaxRoomLen: wire.MaxRoomLen, MaxTokenLen: wire.MaxTokenLen, MaxAuthFrame: wire.MaxAuthFrame,
		},
		CodeRanges: map[string][2]int{
			"reconnect":      {int(wire.CodeShutdown), int(wire.CodeReconnectMaxRange)},
			"stop":           {int(wire.CodeInvalidToken), 3999},
			"request_errors": {int(wire.ErrCodeBadRequest), int(wire.ErrCodeTokenRejected)},
		},
	}
	for op := wire.Op(0); op < 0xff; op++ {
		if op.Known() {
			vf.Ops = append(vf.Ops, namedNumber{op.String(), int(op)})
		}
	}
	for i, c := range allCodes {
		vf.Codes = append(vf.Codes, namedNumber{codeNames[i], int(c)})
	}

	byName := map[string][]byte{}
	for _, s := range frameSpecs() {
		b := s.raw
		if b == nil {
			var err error
			if b, err = s.fields.appendFrame(nil, s.op, s.seq); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		fj, err := json.Marshal(s.fields)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := byName[s.name]; dup {
			t.Fatalf("duplicate vector %s", s.name)
		}
		byName[s.name] = b
		vf.Frames = append(vf.Frames, frameVector{
			Name: s.name, Note: s.note, Op: s.op.String(), Seq: s.seq, DecodeOnly: s.raw != nil,
			Fields: fj, Hex: hex.EncodeToString(b),
		})
	}
	for _, s := range streamSpecs() {
		var b []byte
		for _, n := range s.frames {
			f, ok := byName[n]
			if !ok {
				t.Fatalf("stream %s: no frame %s", s.name, n)
			}
			b = append(b, f...)
		}
		b = append(b, s.tail...)
		vf.Streams = append(vf.Streams, streamVector{
			Name: s.name, Note: s.note, Frames: s.frames, IncompleteTail: len(s.tail), Hex: hex.EncodeToString(b),
		})
	}
	for _, s := range invalidSpecs() {
		vf.Invalid = append(vf.Invalid, invalidVector{
			Name: s.name, Note: s.note, MaxFrame: s.maxFrame, Error: errName(s.err), Hex: hex.EncodeToString(s.raw),
		})
	}
	return vf
}

func marshalVectors(vf *vectorFile) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(vf); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// loadVectors reads the checked-in vectors (TestVectorsUpToDate, which runs
// first, rewrites them with -update).
func loadVectors(t testing.TB) *vectorFile {
	t.Helper()
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatalf("%s: %v", vectorsPath, err)
	}
	return &vf
}

func TestVectorsUpToDate(t *testing.T) {
	want, err := marshalVectors(buildVectors(t))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(vectorsPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date: run go test ./wire -run Vectors -update", vectorsPath)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// checkFrame checks that b is exactly the frame of vector v: header, fields,
// and, unless v is decode-only, that encoding the fields gives b.
func checkFrame(t *testing.T, v *frameVector, h wire.Header, body []byte) {
	t.Helper()
	op, ok := opByName(v.Op)
	if !ok {
		t.Fatalf("%s: unknown op %q", v.Name, v.Op)
	}
	if h.Op != op || h.Seq != v.Seq || h.Len != len(body) {
		t.Fatalf("%s: header %+v (body %d bytes), want op %v seq %d", v.Name, h, len(body), op, v.Seq)
	}
	want := newFields(op)
	if err := json.Unmarshal(v.Fields, want); err != nil {
		t.Fatalf("%s: fields: %v", v.Name, err)
	}
	got := newFields(op)
	if err := got.decode(body); err != nil {
		t.Fatalf("%s: decode: %v", v.Name, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: decoded %+v, want %+v", v.Name, got, want)
	}
}

func TestVectorsFrames(t *testing.T) {
	vf := loadVectors(t)
	if vf.Version != wire.Version {
		t.Fatalf("version %d, codec speaks %d", vf.Version, wire.Version)
	}
	if len(vf.Frames) == 0 {
		t.Fatal("no frame vectors")
	}
	seenOps := map[string]bool{}
	for i := range vf.Frames {
		v := &vf.Frames[i]
		t.Run(v.Name, func(t *testing.T) {
			seenOps[v.Op] = true
			b := mustHex(t, v.Hex)
			op, ok := opByName(v.Op)
			if !ok {
				t.Fatalf("unknown op %q", v.Op)
			}
			if !v.DecodeOnly {
				f := newFields(op)
				if err := json.Unmarshal(v.Fields, f); err != nil {
					t.Fatal(err)
				}
				enc, err := f.appendFrame([]byte("prefix"), op, v.Seq)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(enc, []byte("prefix")) {
					t.Fatal("encoder clobbered the bytes before the frame")
				}
				if got := hex.EncodeToString(enc[len("prefix"):]); got != v.Hex {
					t.Fatalf("encoded\n %s\nwant\n %s", got, v.Hex)
				}
			}
			h, body, rest, ok, err := wire.Split(b, wire.DefaultMaxFrame)
			if err != nil || !ok || len(rest) != 0 {
				t.Fatalf("Split: ok=%v err=%v rest=%x", ok, err, rest)
			}
			checkFrame(t, v, h, body)

			fr := wire.NewFrameReader(bytes.NewReader(b), 0)
			h, body, err = fr.ReadFrame()
			if err != nil {
				t.Fatalf("ReadFrame: %v", err)
			}
			checkFrame(t, v, h, body)
			if _, _, err := fr.ReadFrame(); !errors.Is(err, io.EOF) {
				t.Fatalf("ReadFrame after the frame: %v, want io.EOF", err)
			}
		})
	}
	for op := wire.Op(0); op < 0xff; op++ {
		if op.Known() && !seenOps[op.String()] {
			t.Errorf("no vector for op %v", op)
		}
	}
}

func TestVectorsTables(t *testing.T) {
	vf := loadVectors(t)
	for _, n := range vf.Ops {
		op := wire.Op(n.Value)
		if !op.Known() || op.String() != n.Name {
			t.Errorf("ops: %s = %d, codec says %v", n.Name, n.Value, op)
		}
	}
	if len(vf.Codes) != len(allCodes) {
		t.Errorf("codes: %d entries, want %d", len(vf.Codes), len(allCodes))
	}
	for i, n := range vf.Codes {
		if i < len(allCodes) && (n.Name != codeNames[i] || n.Value != int(allCodes[i])) {
			t.Errorf("codes: %s = %d, want %s = %d", n.Name, n.Value, codeNames[i], allCodes[i])
		}
	}
	if vf.Limits.HeaderSize != wire.HeaderSize || vf.Limits.MaxFrame != wire.DefaultMaxFrame ||
		vf.Limits.MaxRoomLen != wire.MaxRoomLen || vf.Limits.MaxTokenLen != wire.MaxTokenLen ||
		vf.Limits.MaxAuthFrame != wire.MaxAuthFrame {
		t.Errorf("limits %+v disagree with the codec", vf.Limits)
	}
}

// oneByteReader returns at most one byte per Read, so every frame crosses
// read boundaries.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestVectorsStreams(t *testing.T) {
	vf := loadVectors(t)
	frames := map[string]*frameVector{}
	for i := range vf.Frames {
		frames[vf.Frames[i].Name] = &vf.Frames[i]
	}
	for _, s := range vf.Streams {
		t.Run(s.Name, func(t *testing.T) {
			b := mustHex(t, s.Hex)

			t.Run("Split", func(t *testing.T) {
				rest := b
				for _, name := range s.Frames {
					v := frames[name]
					if v == nil {
						t.Fatalf("no frame vector %s", name)
					}
					var h wire.Header
					var body []byte
					var ok bool
					var err error
					before := rest
					h, body, rest, ok, err = wire.Split(rest, wire.DefaultMaxFrame)
					if err != nil || !ok {
						t.Fatalf("%s: ok=%v err=%v", name, ok, err)
					}
					if got := hex.EncodeToString(before[:len(before)-len(rest)]); got != v.Hex {
						t.Fatalf("%s: split off %s, want %s", name, got, v.Hex)
					}
					checkFrame(t, v, h, body)
				}
				if len(rest) != s.IncompleteTail {
					t.Fatalf("%d bytes left, want %d", len(rest), s.IncompleteTail)
				}
				if _, _, r, ok, err := wire.Split(rest, wire.DefaultMaxFrame); ok || err != nil || len(r) != len(rest) {
					t.Fatalf("Split of the tail: ok=%v err=%v", ok, err)
				}
			})

			t.Run("FrameReader", func(t *testing.T) {
				fr := wire.NewFrameReader(&oneByteReader{b}, wire.DefaultMaxFrame)
				for _, name := range s.Frames {
					h, body, err := fr.ReadFrame()
					if err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					checkFrame(t, frames[name], h, body)
				}
				_, _, err := fr.ReadFrame()
				want := io.EOF
				if s.IncompleteTail > 0 {
					want = io.ErrUnexpectedEOF
				}
				if !errors.Is(err, want) {
					t.Fatalf("at the end: %v, want %v", err, want)
				}
			})
		})
	}
}

// decodeInvalid runs b through Split and, when the header passes, the op's
// decoder; it returns the first error.
func decodeInvalid(b []byte, maxFrame int) error {
	h, body, _, ok, err := wire.Split(b, maxFrame)
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("incomplete frame")
	}
	f := newFields(h.Op)
	if f == nil {
		return fmt.Errorf("unknown op %v", h.Op)
	}
	return f.decode(body)
}

func TestVectorsInvalid(t *testing.T) {
	vf := loadVectors(t)
	for _, v := range vf.Invalid {
		t.Run(v.Name, func(t *testing.T) {
			want := errByName(v.Error)
			if want == nil {
				t.Fatalf("unknown error kind %q", v.Error)
			}
			b := mustHex(t, v.Hex)
			if err := decodeInvalid(b, v.MaxFrame); !errors.Is(err, want) {
				t.Fatalf("Split and decode: %v, want %v", err, want)
			}
			// The same through a stream: either the header or the body fails.
			fr := wire.NewFrameReader(&oneByteReader{b}, v.MaxFrame)
			h, body, err := fr.ReadFrame()
			if err == nil {
				err = newFields(h.Op).decode(body)
			}
			if !errors.Is(err, want) {
				t.Fatalf("FrameReader and decode: %v, want %v", err, want)
			}
		})
	}
}

// TestVectorsLiteral pins vectors to hex written out by hand from the
// specification, so a bug shared by the encoder and the generator cannot hide.
func TestVectorsLiteral(t *testing.T) {
	literal := map[string]string{
		// length 5 (op + seq), op 03, seq 7, no body.
		"ping": "00000005" + "03" + "00000007",
		"pong": "00000005" + "04" + "00000007",
		// length 12, op 05, seq 2; room "news" (04 6e657773), offset 0, epoch "".
		"join": "0000000c" + "05" + "00000002" + "046e657773" + "00" + "00",
		// length 15, op 09, seq 0; kind 1, room "r", id "m", offset 300 (ac 02),
		// epoch "", data "x".
		"push_offset_300": "0000000f" + "09" + "00000000" + "01" + "0172" + "016d" + "ac02" + "00" + "0178",
		// length 10, op 0a, seq 5; code 101 (0065), message "no".
		"error_short": "0000000a" + "0a" + "00000005" + "0065" + "026e6f",
		// length 11, op 0b, seq 0; code 3000 (0bb8), reason "bye".
		"disconnect": "0000000b" + "0b" + "00000000" + "0bb8" + "03627965",
		// length 26, op 05, seq 9; room "chat/42", offset 2^64-1 in 10 bytes, epoch "e7".
		"join_offset_max": "0000001a" + "05" + "00000009" + "07636861742f3432" + "ffffffffffffffffff01" + "026537",
		// length 10, op 08, seq 4; room "news".
		"leave_ok": "0000000a" + "08" + "00000004" + "046e657773",
	}
	vf := loadVectors(t)
	found := 0
	for _, v := range vf.Frames {
		want, ok := literal[v.Name]
		if !ok {
			continue
		}
		found++
		if v.Hex != want {
			t.Errorf("%s: vector %s, hand-written %s", v.Name, v.Hex, want)
		}
	}
	if found != len(literal) {
		t.Errorf("found %d of %d hand-checked vectors", found, len(literal))
	}

	// A push whose data length needs two uvarint bytes (200 = c8 01).
	data := make([]byte, 200)
	got := wire.AppendPush(nil, &wire.Push{Kind: wire.PushBroadcast, Data: data})
	want := "000000d4" + "09" + "00000000" + "02" + "00" + "00" + "00" + "00" + "c801" + strings.Repeat("00", 200)
	if hex.EncodeToString(got) != want {
		t.Errorf("push with 200 bytes: %x", got)
	}
}
