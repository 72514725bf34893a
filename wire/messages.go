package wire

import (
	"encoding/binary"
	"fmt"
)

// Bodies are sequences of fields: u8, u16 (big endian), uvarint, str/bytes
// (uvarint length then the bytes). A decoder reads the fields it knows and
// ignores any bytes after them, so a later minor revision can append fields
// without breaking version-1 peers. Fields appended by revision 2 (stream
// positions in Auth, AuthOK and JoinOK) form one group per body: encoders
// leave the group out when all its fields are zero, and decoders read zeros
// when the body ends before it.

// Recovery says what became of a client's request to resume a stream.
type Recovery uint8

// Recovery results, in AuthOK (the user's stream) and JoinOK (the room's).
const (
	// RecoveryNone: no position was given (or the stream keeps no history).
	// The reply's position is where the client now stands.
	RecoveryNone Recovery = 0
	// RecoveryRecovered: every message after the client's position follows
	// the reply, in order, then live ones: no gap, no repeat.
	RecoveryRecovered Recovery = 1
	// RecoveryNotRecovered: messages after the client's position are gone
	// (trimmed, expired, another epoch, or more than the edge replays). None
	// is replayed; live ones follow the reply's position.
	RecoveryNotRecovered Recovery = 2
)

func (r Recovery) String() string {
	switch r {
	case RecoveryNone:
		return "none"
	case RecoveryRecovered:
		return "recovered"
	case RecoveryNotRecovered:
		return "not recovered"
	}
	return fmt.Sprintf("recovery(%d)", uint8(r))
}

// Auth is the first frame a client sends.
type Auth struct {
	Version uint64
	Token   string
	// Offset and Epoch are the last position the client saw in its user's
	// stream (direct pushes); zero and empty mean none. Revision 2.
	Offset uint64
	Epoch  string
	// Joins is how many Join frames the client sends right after Auth (its
	// rooms, rejoined with their positions). The edge puts the user back in
	// its server-side rooms only after them, so that a room the client
	// rejoins is resumed from its position instead of entered afresh.
	// Revision 5; zero for earlier clients.
	Joins uint64
}

// AuthOK answers Auth.
type AuthOK struct {
	// ConnKey identifies this connection for PushKeys and Disconnect.
	ConnKey string
	// User is the user id taken from the token.
	User string
	// PingIntervalMs is how often the client must send Ping (or any frame).
	PingIntervalMs uint64
	// MaxFrame is the largest frame the edge accepts from the client.
	MaxFrame uint64
	// Recovery, Offset and Epoch answer Auth's position for the user's
	// stream: what became of it, and the stream's position when the edge
	// read it. Revision 2.
	Recovery Recovery
	Offset   uint64
	Epoch    string
	// Revision is the protocol revision the edge speaks; zero from edges
	// before revision 5. A client sends ops of a revision only to an edge
	// that announced it.
	Revision uint64
}

// JoinOK answers Join.
type JoinOK struct {
	Room string
	// Recovery, Offset and Epoch answer Join's position: what became of it,
	// and the room stream's position when the edge read it. Revision 2.
	Recovery Recovery
	Offset   uint64
	Epoch    string
}

// Join asks to join a room. Offset and Epoch name the last position the client
// saw in the room; zero and empty mean none.
type Join struct {
	Room   string
	Offset uint64
	Epoch  string
}

// Subscribed tells the client that the application's backend put the
// connection in a room (revision 5). The position group is JoinOK's: the
// room's position when the edge entered it (recovery none), or nothing when
// the connection was in the room already.
type Subscribed JoinOK

// Member is one connection in a room: an entry of JoinLeave and PresenceOK
// (revision 5).
type Member struct {
	User    string
	ConnKey string
	// Info is the JSON object the token's info claim or the connect hook
	// attached to the connection, at most MaxInfoLen bytes; empty for none.
	Info []byte
}

// JoinLeave lists the connections that joined and left a room since the
// previous notice (revision 5).
type JoinLeave struct {
	Room   string
	Joined []Member
	Left   []Member
	// Omitted counts the joins and leaves left out of the lists: a notice
	// carries at most a bounded number of each.
	Omitted uint64
}

// PresenceOK answers PresenceGet (revision 5): the room's counts across the
// cluster and its members, as many as the frame holds.
type PresenceOK struct {
	Room  string
	Conns uint64
	Users uint64
	// Complete says Members lists every member; false when the room is
	// larger than the edge lists or than one frame holds.
	Complete bool
	Members  []Member
}

// RoomReply is the body of Leave, LeaveOK, Unsubscribed and PresenceGet (or
// of a JoinOK without a position): a room name.
type RoomReply struct {
	Room string
}

// PushKind says how a pushed message was addressed.
type PushKind uint8

// Push kinds.
const (
	PushDirect    PushKind = 0 // to this connection's key or user
	PushRoom      PushKind = 1 // to a room this connection joined
	PushBroadcast PushKind = 2 // to every connection
)

// PushFlags are the optional flags of a Push (revision 4), appended after its
// data. Zero, the value of every push of an earlier revision, is written as
// nothing at all, so reliable pushes are unchanged on the wire.
type PushFlags uint64

// Push flags.
const (
	// PushEphemeral marks superseded state: the push has no position, is
	// never replayed, may be dropped, may overtake reliable pushes, and may
	// arrive in a datagram instead of on the stream (docs/protocol.md,
	// "Datagrams").
	PushEphemeral PushFlags = 1 << 0
)

// Push is a message delivered to the client.
type Push struct {
	Kind PushKind
	// Room is set for PushRoom.
	Room string
	// ID is the message id the push API returned, unique per message.
	ID string
	// Offset and Epoch are the message's stream position; zero and empty when
	// the message has none.
	Offset uint64
	Epoch  string
	Data   []byte
	// Flags (revision 4) are zero for a reliable push. A decoder keeps
	// unknown bits: they are for later revisions to define.
	Flags PushFlags
}

// Ephemeral reports whether the push carries PushEphemeral.
func (m *Push) Ephemeral() bool { return m.Flags&PushEphemeral != 0 }

// TokenExpiring tells the client its token expires soon (revision 3).
type TokenExpiring struct {
	// ExpiresInMs is the time left, in milliseconds, when the edge sent it.
	ExpiresInMs uint64
}

// Refresh carries a fresh token for a live connection (revision 3).
type Refresh struct {
	Token string
}

// RefreshOK answers Refresh (revision 3).
type RefreshOK struct {
	// ExpiresInMs is the new token's time left, in milliseconds.
	ExpiresInMs uint64
}

// Error answers a request that failed; the connection stays open.
type Error struct {
	Code    Code
	Message string
}

// Disconnect is the last frame the server sends before it closes.
type Disconnect struct {
	Code   Code
	Reason string
}

// AppendAuth appends a whole Auth frame.
func AppendAuth(dst []byte, seq uint32, m *Auth) []byte {
	dst, start := beginFrame(dst, OpAuth, seq)
	dst = binary.AppendUvarint(dst, m.Version)
	dst = appendStr(dst, m.Token)
	if m.Offset != 0 || m.Epoch != "" || m.Joins != 0 {
		dst = binary.AppendUvarint(dst, m.Offset)
		dst = appendStr(dst, m.Epoch)
	}
	if m.Joins != 0 {
		dst = binary.AppendUvarint(dst, m.Joins)
	}
	return endFrame(dst, start)
}

// AppendAuthOK appends a whole AuthOK frame.
func AppendAuthOK(dst []byte, seq uint32, m *AuthOK) []byte {
	dst, start := beginFrame(dst, OpAuthOK, seq)
	dst = appendStr(dst, m.ConnKey)
	dst = appendStr(dst, m.User)
	dst = binary.AppendUvarint(dst, m.PingIntervalMs)
	dst = binary.AppendUvarint(dst, m.MaxFrame)
	if m.Revision == 0 {
		dst = appendPosition(dst, m.Recovery, m.Offset, m.Epoch)
		return endFrame(dst, start)
	}
	// A field after the position group needs the group written in full.
	dst = append(dst, byte(m.Recovery))
	dst = binary.AppendUvarint(dst, m.Offset)
	dst = appendStr(dst, m.Epoch)
	dst = binary.AppendUvarint(dst, m.Revision)
	return endFrame(dst, start)
}

// AppendJoinOK appends a whole JoinOK frame.
func AppendJoinOK(dst []byte, seq uint32, m *JoinOK) []byte {
	return appendRoomAt(dst, OpJoinOK, seq, m)
}

// AppendSubscribed appends a whole Subscribed frame (seq 0).
func AppendSubscribed(dst []byte, m *Subscribed) []byte {
	return appendRoomAt(dst, OpSubscribed, 0, (*JoinOK)(m))
}

// appendRoomAt appends a frame of op whose body is a room and its position
// group: JoinOK's and Subscribed's.
func appendRoomAt(dst []byte, op Op, seq uint32, m *JoinOK) []byte {
	dst, start := beginFrame(dst, op, seq)
	dst = appendStr(dst, m.Room)
	dst = appendPosition(dst, m.Recovery, m.Offset, m.Epoch)
	return endFrame(dst, start)
}

// AppendJoinLeave appends a whole JoinLeave frame (seq 0).
func AppendJoinLeave(dst []byte, m *JoinLeave) []byte {
	dst, start := beginFrame(dst, OpJoinLeave, 0)
	dst = appendStr(dst, m.Room)
	dst = appendMembers(dst, m.Joined)
	dst = appendMembers(dst, m.Left)
	dst = binary.AppendUvarint(dst, m.Omitted)
	return endFrame(dst, start)
}

// AppendPresenceOK appends a whole PresenceOK frame answering request seq.
func AppendPresenceOK(dst []byte, seq uint32, m *PresenceOK) []byte {
	dst, start := beginFrame(dst, OpPresenceOK, seq)
	dst = appendStr(dst, m.Room)
	dst = binary.AppendUvarint(dst, m.Conns)
	dst = binary.AppendUvarint(dst, m.Users)
	complete := byte(0)
	if m.Complete {
		complete = 1
	}
	dst = append(dst, complete)
	dst = appendMembers(dst, m.Members)
	return endFrame(dst, start)
}

// MemberSize is the encoded size of m in a member list, so that a sender can
// fill a frame up to its limit.
func MemberSize(m *Member) int {
	return strSize(m.User) + strSize(m.ConnKey) + uvarintSize(uint64(len(m.Info))) + len(m.Info)
}

func appendMembers(dst []byte, ms []Member) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(ms)))
	for i := range ms {
		dst = appendStr(dst, ms[i].User)
		dst = appendStr(dst, ms[i].ConnKey)
		dst = binary.AppendUvarint(dst, uint64(len(ms[i].Info)))
		dst = append(dst, ms[i].Info...)
	}
	return dst
}

// appendPosition appends the revision-2 group of AuthOK and JoinOK, unless
// it is all zero.
func appendPosition(dst []byte, r Recovery, offset uint64, epoch string) []byte {
	if r == RecoveryNone && offset == 0 && epoch == "" {
		return dst
	}
	dst = append(dst, byte(r))
	dst = binary.AppendUvarint(dst, offset)
	return appendStr(dst, epoch)
}

// AppendJoin appends a whole Join frame.
func AppendJoin(dst []byte, seq uint32, m *Join) []byte {
	dst, start := beginFrame(dst, OpJoin, seq)
	dst = appendStr(dst, m.Room)
	dst = binary.AppendUvarint(dst, m.Offset)
	dst = appendStr(dst, m.Epoch)
	return endFrame(dst, start)
}

// AppendRoom appends a whole frame of op (Leave or LeaveOK, or a JoinOK
// without a position) naming room.
func AppendRoom(dst []byte, op Op, seq uint32, room string) []byte {
	dst, start := beginFrame(dst, op, seq)
	dst = appendStr(dst, room)
	return endFrame(dst, start)
}

// AppendPush appends a whole Push frame. Server pushes carry seq 0.
func AppendPush(dst []byte, m *Push) []byte {
	dst, start := beginFrame(dst, OpPush, 0)
	dst = append(dst, byte(m.Kind))
	dst = appendStr(dst, m.Room)
	dst = appendStr(dst, m.ID)
	dst = binary.AppendUvarint(dst, m.Offset)
	dst = appendStr(dst, m.Epoch)
	dst = binary.AppendUvarint(dst, uint64(len(m.Data)))
	dst = append(dst, m.Data...)
	if m.Flags != 0 {
		dst = binary.AppendUvarint(dst, uint64(m.Flags))
	}
	return endFrame(dst, start)
}

// PushSize returns the size of the frame AppendPush would write, so a batch
// can be encoded into one exactly sized buffer.
func PushSize(m *Push) int {
	n := HeaderSize + 1 + strSize(m.Room) + strSize(m.ID) + uvarintSize(m.Offset) +
		strSize(m.Epoch) + uvarintSize(uint64(len(m.Data))) + len(m.Data)
	if m.Flags != 0 {
		n += uvarintSize(uint64(m.Flags))
	}
	return n
}

// AppendTokenExpiring appends a whole TokenExpiring frame (seq 0).
func AppendTokenExpiring(dst []byte, m *TokenExpiring) []byte {
	dst, start := beginFrame(dst, OpTokenExpiring, 0)
	dst = binary.AppendUvarint(dst, m.ExpiresInMs)
	return endFrame(dst, start)
}

// AppendRefresh appends a whole Refresh frame.
func AppendRefresh(dst []byte, seq uint32, m *Refresh) []byte {
	dst, start := beginFrame(dst, OpRefresh, seq)
	dst = appendStr(dst, m.Token)
	return endFrame(dst, start)
}

// AppendRefreshOK appends a whole RefreshOK frame answering request seq.
func AppendRefreshOK(dst []byte, seq uint32, m *RefreshOK) []byte {
	dst, start := beginFrame(dst, OpRefreshOK, seq)
	dst = binary.AppendUvarint(dst, m.ExpiresInMs)
	return endFrame(dst, start)
}

// AppendError appends a whole Error frame answering request seq.
func AppendError(dst []byte, seq uint32, m *Error) []byte {
	dst, start := beginFrame(dst, OpError, seq)
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Code))
	dst = appendStr(dst, m.Message)
	return endFrame(dst, start)
}

// AppendDisconnect appends a whole Disconnect frame.
func AppendDisconnect(dst []byte, m *Disconnect) []byte {
	dst, start := beginFrame(dst, OpDisconnect, 0)
	dst = binary.BigEndian.AppendUint16(dst, uint16(m.Code))
	dst = appendStr(dst, m.Reason)
	return endFrame(dst, start)
}

// Decode parses an Auth body.
func (m *Auth) Decode(body []byte) error {
	d := decoder{b: body}
	m.Version = d.uvarint()
	m.Token = d.str(MaxTokenLen)
	m.Offset, m.Epoch, m.Joins = 0, "", 0
	if d.more() {
		m.Offset = d.uvarint()
		m.Epoch = d.str(MaxRoomLen)
	}
	if d.more() {
		m.Joins = d.uvarint()
	}
	return d.done("auth")
}

// Decode parses an AuthOK body.
func (m *AuthOK) Decode(body []byte) error {
	d := decoder{b: body}
	m.ConnKey = d.str(MaxRoomLen)
	m.User = d.str(MaxRoomLen)
	m.PingIntervalMs = d.uvarint()
	m.MaxFrame = d.uvarint()
	m.Recovery, m.Offset, m.Epoch = d.position()
	m.Revision = 0
	if d.more() {
		m.Revision = d.uvarint()
	}
	return d.done("auth_ok")
}

// Decode parses a JoinOK body.
func (m *JoinOK) Decode(body []byte) error {
	d := decoder{b: body}
	m.Room = d.str(MaxRoomLen)
	m.Recovery, m.Offset, m.Epoch = d.position()
	return d.done("join_ok")
}

// Decode parses a Subscribed body, JoinOK's layout.
func (m *Subscribed) Decode(body []byte) error {
	d := decoder{b: body}
	m.Room = d.str(MaxRoomLen)
	m.Recovery, m.Offset, m.Epoch = d.position()
	return d.done("subscribed")
}

// Decode parses a JoinLeave body. The members' Info aliases body.
func (m *JoinLeave) Decode(body []byte) error {
	d := decoder{b: body}
	m.Room = d.str(MaxRoomLen)
	m.Joined = d.members(m.Joined[:0])
	m.Left = d.members(m.Left[:0])
	m.Omitted = d.uvarint()
	return d.done("join_leave")
}

// Decode parses a PresenceOK body. The members' Info aliases body.
func (m *PresenceOK) Decode(body []byte) error {
	d := decoder{b: body}
	m.Room = d.str(MaxRoomLen)
	m.Conns = d.uvarint()
	m.Users = d.uvarint()
	c := d.u8()
	if d.err == nil && c > 1 {
		d.err = fmt.Errorf("%w: complete %d", ErrMalformed, c)
	}
	m.Complete = c == 1
	m.Members = d.members(m.Members[:0])
	return d.done("presence_ok")
}

// Decode parses a Join body.
func (m *Join) Decode(body []byte) error {
	d := decoder{b: body}
	m.Room = d.str(MaxRoomLen)
	m.Offset = d.uvarint()
	m.Epoch = d.str(MaxRoomLen)
	return d.done("join")
}

// Decode parses the body of Leave or LeaveOK (or the room of a JoinOK).
func (m *RoomReply) Decode(body []byte) error {
	d := decoder{b: body}
	m.Room = d.str(MaxRoomLen)
	return d.done("room")
}

// Decode parses a Push body. Data aliases body.
func (m *Push) Decode(body []byte) error {
	d := decoder{b: body}
	m.Kind = PushKind(d.u8())
	m.Room = d.str(MaxRoomLen)
	m.ID = d.str(MaxRoomLen)
	m.Offset = d.uvarint()
	m.Epoch = d.str(MaxRoomLen)
	m.Data = d.bytes(len(body))
	m.Flags = 0
	if d.more() {
		m.Flags = PushFlags(d.uvarint())
	}
	if d.err == nil && m.Kind > PushBroadcast {
		d.err = fmt.Errorf("%w: push kind %d", ErrMalformed, m.Kind)
	}
	return d.done("push")
}

// Decode parses a TokenExpiring body.
func (m *TokenExpiring) Decode(body []byte) error {
	d := decoder{b: body}
	m.ExpiresInMs = d.uvarint()
	return d.done("token_expiring")
}

// Decode parses a Refresh body.
func (m *Refresh) Decode(body []byte) error {
	d := decoder{b: body}
	m.Token = d.str(MaxTokenLen)
	return d.done("refresh")
}

// Decode parses a RefreshOK body.
func (m *RefreshOK) Decode(body []byte) error {
	d := decoder{b: body}
	m.ExpiresInMs = d.uvarint()
	return d.done("refresh_ok")
}

// Decode parses an Error body.
func (m *Error) Decode(body []byte) error {
	d := decoder{b: body}
	m.Code = Code(d.u16())
	m.Message = d.str(len(body))
	return d.done("error")
}

// Decode parses a Disconnect body.
func (m *Disconnect) Decode(body []byte) error {
	d := decoder{b: body}
	m.Code = Code(d.u16())
	m.Reason = d.str(len(body))
	return d.done("disconnect")
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func strSize(s string) int { return uvarintSize(uint64(len(s))) + len(s) }

func uvarintSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// decoder reads fields in order and remembers the first error, so message
// decoders read straight through and check once.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: truncated or invalid %s", ErrMalformed, what)
	}
	d.b = nil
}

func (d *decoder) u8() uint8 {
	if len(d.b) < 1 {
		d.fail("u8")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) u16() uint16 {
	if len(d.b) < 2 {
		d.fail("u16")
		return 0
	}
	v := binary.BigEndian.Uint16(d.b)
	d.b = d.b[2:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(limit int) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) || n > uint64(limit) {
		d.fail("length")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str(limit int) string { return string(d.bytes(limit)) }

// more reports whether bytes are left: an optional group follows.
func (d *decoder) more() bool { return d.err == nil && len(d.b) > 0 }

// members reads a member list into dst. The count is checked against the
// bytes left (a member takes at least three) before anything is allocated,
// so a forged count cannot make the decoder reserve memory it was not sent.
func (d *decoder) members(dst []Member) []Member {
	n := d.uvarint()
	if d.err != nil {
		return dst
	}
	if n > uint64(len(d.b)/3) {
		d.fail("member count")
		return dst
	}
	if dst == nil && n > 0 {
		dst = make([]Member, 0, n)
	}
	for range n {
		var mb Member
		mb.User = d.str(MaxRoomLen)
		mb.ConnKey = d.str(MaxRoomLen)
		mb.Info = d.bytes(MaxInfoLen)
		if d.err != nil {
			return dst
		}
		if len(mb.Info) == 0 {
			mb.Info = nil
		}
		dst = append(dst, mb)
	}
	return dst
}

// position reads the optional revision-2 group of AuthOK and JoinOK.
func (d *decoder) position() (Recovery, uint64, string) {
	if !d.more() {
		return RecoveryNone, 0, ""
	}
	r := Recovery(d.u8())
	off := d.uvarint()
	ep := d.str(MaxRoomLen)
	if d.err == nil && r > RecoveryNotRecovered {
		d.err = fmt.Errorf("%w: recovery %d", ErrMalformed, r)
	}
	return r, off, ep
}

func (d *decoder) done(what string) error {
	if d.err != nil {
		return fmt.Errorf("%s: %w", what, d.err)
	}
	return nil
}
