package edge

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/wire"
)

// session is one client connection, whatever its transport. This file is
// its protocol side, run by the session's reader goroutine: the handshake,
// the requests, the token's expiry. Its write side (queue, flush, close) is
// session_write.go; resuming from a position is resume.go.
type session struct {
	edge *Edge
	t    transport
	// authBy is when the handshake times out.
	authBy time.Time

	// Set once by the reader goroutine during the handshake.
	key   string
	ident auth.Identity
	shard *shard
	// in is owned by the reader goroutine.
	in      inbound
	resumes resumeBudget
	// hooked is what the connect hook added (proxy.go); nil without it.
	hooked *hooked

	mu        sync.Mutex
	queue     [][]byte // frames waiting for the flusher, shared and immutable
	spare     [][]byte // the flusher's last batch, reused to avoid allocation
	queued    int      // bytes in queue
	holding   bool     // a resume is under way: frames go to held (resume.go)
	held      [][]byte
	heldBytes int
	// taken wakes a replay waiting for the flusher to take what it queued
	// (resume.go); made by the first replay, nil until then.
	taken     chan struct{}
	flushing  bool // a flusher goroutine is running
	state     uint8
	code      wire.Code
	expiry    *time.Timer
	expires   time.Time // the token's expiry, moved by Refresh
	closeOnce sync.Once
	// cutShort: a cut dropped the queue and bounded the flusher's write;
	// flushDone, set by the cut, is closed when the flusher has finished
	// its last write, which finish waits for before closing the transport.
	cutShort  bool
	flushDone chan struct{}
	// writeBy is the write deadline last set; flushes move it only when it
	// comes within three quarters of WriteTimeout, which keeps a timer
	// update off most writes. Owned by the flusher.
	writeBy int64

	// The datagram path of ephemeral pushes (datagram.go), under mu: frames
	// waiting for the datagram sender (nil while idle), whether a sender
	// runs, and whether the connection carries datagrams (dgUnknown until
	// the first ephemeral push asks).
	dgrams    [][]byte
	dgSending bool
	dgState   uint8

	// Membership and the reader's rarely used state, after the write side:
	// the fan-out touches mu and the queue of every member, so those stay
	// near the start of the struct and share as few cache lines as they can.
	// member serializes changes of membership: the reader's handshake,
	// Join and Leave, the Subscribe and Unsubscribe orders (serverrooms.go)
	// and unregister; so a session never runs two resumes (hold and
	// release) at once. rooms, server, serverReady and gone are under it.
	member memberLock
	rooms  map[string]struct{}
	// server is the connection's server-side rooms: the user's at Auth and
	// those subscribed since. Any Join of them is allowed.
	server map[string]struct{}
	// serverReady: the Joins announced in Auth are handled, and
	// subscriptions put the connection in rooms at once. Written by the
	// reader only.
	serverReady bool
	// gone: unregistered; orders change nothing any more.
	gone bool
	// joinsLeft is how many of the Joins announced in Auth are still to
	// come. Owned by the reader.
	joinsLeft uint64
	// orders waiting for the session's order goroutine, which runs while
	// ordering (serverrooms.go).
	ordersMu sync.Mutex
	orders   []order
	ordering bool
	// presenceGets is the connection's budget of PresenceGet
	// (presence_client.go).
	presenceGets resumeBudget
}

// newSession starts a session whose Auth frame must arrive by deadline: the
// handshake timeout counts from accept, across TLS, QUIC and upgrades.
func newSession(e *Edge, t transport, deadline time.Time) *session {
	return &session{edge: e, t: t, authBy: deadline, member: make(memberLock, 1)}
}

// serve runs the handshake on the accepting goroutine, then hands the
// connection to a reader goroutine of its own. The handshake's deep call
// chains (TLS, the WebSocket upgrade, token verification, the HTTP/3 request
// of WebTransport) grow a stack that an idle connection would otherwise keep;
// the reader starts small and the accepting goroutine's stack is freed. It
// reports whether the handshake passed.
func (s *session) serve() bool {
	e := s.edge
	e.metrics.handshakes.WithLabelValues(s.t.kind()).Inc()
	if !s.handshake() {
		s.drain()
		s.finish()
		return false
	}
	s.count0RTT()
	e.live.Add(1)
	go s.readLoop()
	return true
}

// readLoop reads frames until the connection ends. It owns the session's
// end: when it returns the session is unregistered and its transport closed.
func (s *session) readLoop() {
	defer s.edge.live.Done()
	defer s.finish()
	cfg := &s.edge.cfg
	idle := 2 * cfg.PingInterval
	if s.joinsLeft == 0 {
		s.enterServerRooms()
	}
	for {
		// Under s.mu, and only while open: closing sets a short deadline of
		// its own after marking the session closing, and this one must
		// never overwrite it (the session would then linger for the whole
		// idle period instead of CloseTimeout).
		s.mu.Lock()
		if s.state == stateOpen {
			_ = s.t.setReadDeadline(time.Now().Add(idle))
		}
		s.mu.Unlock()
		h, body, err := s.t.readFrame()
		if err != nil {
			if s.closing() {
				return
			}
			s.failRead(err, wire.CodeHeartbeatTimeout)
			s.drain()
			return
		}
		if d := s.in.over(s.edge.clock.unixNano()/int64(time.Second), wire.HeaderSize+len(body), cfg.MaxFramesPerSec, cfg.MaxBytesPerSec); d.code != 0 {
			s.edge.metrics.limited.WithLabelValues("inbound_rate", s.t.kind()).Inc()
			s.close(d)
			s.drain()
			return
		}
		if !s.handle(h, body) {
			s.drain()
			return
		}
		if h.Len > 0 {
			// Inbound frames are rare; an idle connection keeps no read buffer.
			s.t.releaseRead()
		}
	}
}

// finish unregisters the session and closes its transport.
func (s *session) finish() {
	if s.shard != nil {
		s.member.Lock()
		s.edge.hub.unregister(s)
		s.gone = true
		s.member.Unlock()
	}
	s.mu.Lock()
	code := s.code
	done := s.flushDone
	s.mu.Unlock()
	if done != nil {
		// A cut session's flusher may still be writing its Disconnect frame
		// (finishCut); closing now would break it off. Its writes end by
		// two CloseTimeouts after the cut.
		t := time.NewTimer(2 * s.edge.cfg.CloseTimeout)
		select {
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	s.hardClose(code)
}

// handshake reads the Auth frame, verifies its token, registers the session
// (and records its route in a cluster), then replies AuthOK, resuming the
// user's stream when the edge keeps history. False means the session is
// closing.
func (s *session) handshake() bool {
	e := s.edge
	seq, a, ok := s.readAuth()
	if !ok {
		return false
	}
	id, ok := s.authenticate(a.Token)
	if !ok {
		return false
	}
	s.ident = id
	s.key = e.newKey()
	s.joinsLeft = a.Joins
	// Subscribe orders wait until AuthOK is queued.
	s.member.Lock()
	defer s.member.Unlock()
	resume := e.cfg.History != nil
	if resume {
		// Nothing may reach the client before AuthOK: hold what arrives
		// for the user (or for everyone) until the user's stream is read.
		s.hold()
	}
	if d := e.hub.register(s); d.code != 0 {
		s.close(d)
		return false
	}
	if err := e.hub.recordConnected(s); err != nil {
		e.cfg.Logger.Warn("route not recorded, refusing the connection", "key", s.key, "err", err)
		s.close(disconnectNoRoute)
		return false
	}
	s.loadServerRooms()
	s.replyAuth(seq, a, resume)
	s.mu.Lock()
	s.expires = id.Expires
	s.watchExpiry(id.Expires)
	s.mu.Unlock()
	return true
}

// readAuth reads the first frame, which must be a well-formed Auth of this
// protocol version, by the handshake deadline.
func (s *session) readAuth() (uint32, wire.Auth, bool) {
	cfg := &s.edge.cfg
	_ = s.t.setReadDeadline(s.authBy)
	// Until Auth passes, no frame bigger than the largest Auth is read: an
	// unauthenticated client cannot make the edge hold a full-size buffer.
	s.t.setMaxFrame(min(cfg.MaxFrame, wire.MaxAuthFrame))
	var a wire.Auth
	h, body, err := s.t.readFrame()
	if err != nil {
		s.failRead(err, wire.CodeHandshakeTimeout)
		return 0, a, false
	}
	if h.Op != wire.OpAuth {
		s.close(protocolError("expected auth, got " + h.Op.String()))
		return 0, a, false
	}
	if err := a.Decode(body); err != nil {
		s.close(protocolError(err.Error()))
		return 0, a, false
	}
	s.t.releaseRead()
	s.t.setMaxFrame(cfg.MaxFrame)
	if a.Version != wire.Version {
		s.close(disconnectBadVersion)
		return 0, a, false
	}
	return h.Seq, a, true
}

// verify checks the Auth frame's token.
func (s *session) verify(token string) (auth.Identity, bool) {
	id, err := s.edge.cfg.Auth.Verify(token)
	if err != nil {
		s.edge.metrics.authFailures.Inc()
		if errors.Is(err, auth.ErrExpired) {
			s.close(disconnectTokenExpired)
		} else {
			s.close(disconnectInvalidToken)
		}
		return id, false
	}
	return id, true
}

// replyAuth queues AuthOK; with history, the user's stream is read at the
// client's position and what it missed follows the reply.
func (s *session) replyAuth(seq uint32, a wire.Auth, resume bool) {
	cfg := &s.edge.cfg
	ok := wire.AuthOK{
		ConnKey:        s.key,
		User:           s.ident.User,
		PingIntervalMs: uint64(cfg.PingInterval / time.Millisecond),
		MaxFrame:       uint64(cfg.MaxFrame),
		Revision:       wire.Revision,
	}
	if !resume {
		s.enqueue(wire.AppendAuthOK(nil, seq, &ok))
		return
	}
	from := history.Position{Offset: a.Offset, Epoch: a.Epoch}
	if !from.IsZero() {
		// The connection's first resume: always within its budget.
		s.resumes.allow(time.Now().UnixNano(), cfg.ResumesPerSec, cfg.MaxRooms+1)
	}
	rec, top, rp := s.edge.resume(wire.PushDirect, "", history.UserStream(s.ident.User), from)
	ok.Recovery, ok.Offset, ok.Epoch = rec, top.Offset, top.Epoch
	if s.reply(wire.AppendAuthOK(nil, seq, &ok), rp) {
		s.release(upTo(wire.PushDirect, "", top))
	}
}

// watchExpiry arms the token's timer: TokenExpiring RefreshAhead before exp
// (a client of revision 3 answers with Refresh), then at exp the close with
// 3004 unless a Refresh moved exp. s.mu is held.
func (s *session) watchExpiry(exp time.Time) {
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	if exp.IsZero() || s.state != stateOpen {
		return
	}
	ahead := s.edge.cfg.RefreshAhead
	// A token with less than RefreshAhead left gets the warning at once.
	warnAt := max(0, time.Until(exp)-ahead)
	if ahead <= 0 {
		s.expiry = time.AfterFunc(time.Until(exp), func() { s.close(disconnectTokenExpired) })
		return
	}
	s.expiry = time.AfterFunc(warnAt, func() {
		s.enqueue(wire.AppendTokenExpiring(nil, &wire.TokenExpiring{ExpiresInMs: uint64(max(0, time.Until(exp).Milliseconds()))}))
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state != stateOpen || !s.expires.Equal(exp) {
			return // refreshed meanwhile, or closing
		}
		s.expiry = time.AfterFunc(time.Until(exp), func() { s.close(disconnectTokenExpired) })
	})
}

// refresh serves Refresh: a valid token of the same user replaces the
// connection's rooms and expiry; anything else is answered with Error 105
// and changes nothing (the old token still expires when it does).
func (s *session) refresh(seq uint32, body []byte) bool {
	var r wire.Refresh
	if err := r.Decode(body); err != nil {
		s.close(protocolError(err.Error()))
		return false
	}
	id, err := s.edge.cfg.Auth.Verify(r.Token)
	viaHook := s.hookSees(err)
	var added *hooked
	if viaHook {
		// A connection the connect hook authenticated refreshes through
		// it: the backend sees the new credentials.
		var d disconnect
		if id, added, d = s.askConnect(context.Background(), r.Token, id, err == nil); d.code != 0 {
			s.replyError(seq, wire.ErrCodeTokenRejected, "token rejected")
			return true
		}
		err = nil
	}
	switch {
	case err != nil:
		s.edge.metrics.authFailures.Inc()
		s.replyError(seq, wire.ErrCodeTokenRejected, "token rejected")
		return true
	case id.User != s.ident.User:
		s.replyError(seq, wire.ErrCodeTokenRejected, "token is for another user")
		return true
	}
	// The reader goroutine owns ident; rooms already joined stay joined,
	// and those the connect hook granted stay granted.
	s.ident.Rooms = id.Rooms
	if viaHook {
		s.hooked = added
	} else if hr := s.hookRooms(); len(hr) > 0 {
		s.ident.Rooms = append(slices.Clip(id.Rooms), hr...)
	}
	s.mu.Lock()
	s.expires = id.Expires
	s.watchExpiry(id.Expires)
	s.mu.Unlock()
	left := uint64(0)
	if !id.Expires.IsZero() {
		left = uint64(max(0, time.Until(id.Expires).Milliseconds()))
	}
	s.enqueue(wire.AppendRefreshOK(nil, seq, &wire.RefreshOK{ExpiresInMs: left}))
	return true
}

// handle serves one frame after the handshake. It returns false when the
// session must end.
func (s *session) handle(h wire.Header, body []byte) bool {
	if !s.confirmed(h.Op) {
		s.hardClose(0) // the connection ended before its handshake did
		return false
	}
	if !s.serverReady && (h.Op != wire.OpJoin || s.joinsLeft == 0) {
		// The announced Joins are over, or the client sent none.
		s.enterServerRooms()
	}
	switch h.Op {
	case wire.OpPing:
		s.enqueue(wire.AppendFrame(nil, wire.OpPong, h.Seq, nil))
	case wire.OpPong:
		// Accepted as liveness; the edge does not ping on its own.
	case wire.OpJoin:
		var j wire.Join
		if err := j.Decode(body); err != nil {
			s.close(protocolError(err.Error()))
			return false
		}
		s.member.Lock()
		ok := s.join(h.Seq, &j)
		s.member.Unlock()
		if !ok {
			return false
		}
		if !s.serverReady {
			if s.joinsLeft--; s.joinsLeft == 0 {
				s.enterServerRooms()
			}
		}
	case wire.OpLeave:
		var r wire.RoomReply
		if err := r.Decode(body); err != nil {
			s.close(protocolError(err.Error()))
			return false
		}
		s.member.Lock()
		s.leave(h.Seq, r.Room)
		s.member.Unlock()
	case wire.OpAuth:
		s.close(disconnectAuthenticated)
		return false
	case wire.OpRefresh:
		return s.refresh(h.Seq, body)
	case wire.OpPresenceGet:
		return s.presenceGet(h.Seq, body)
	default:
		s.close(protocolError("unexpected op " + h.Op.String()))
		return false
	}
	return true
}

// join serves Join: the room is joined (and, with history, resumed at the
// client's position) unless its namespace's join rule (the token, the join
// hook, or the server only), the room limit or the route store refuses it,
// which the client learns from an Error. One of the connection's server-side
// rooms is open whatever the rule. False means the session is closing (the
// join hook disconnected it). s.member is held.
func (s *session) join(seq uint32, j *wire.Join) bool {
	room := j.Room
	if room == "" {
		s.replyError(seq, wire.ErrCodeBadRequest, "empty room name")
		return true
	}
	hook, ok, why := s.joinRule(room)
	if !ok {
		s.replyError(seq, wire.ErrCodeForbidden, why)
		return true
	}
	if _, ok := s.rooms[room]; ok {
		// Already a member: the client's position stands (what is queued
		// for it is newer), so the reply names none.
		s.enqueue(wire.AppendJoinOK(nil, seq, &wire.JoinOK{Room: room}))
		return true
	}
	if len(s.rooms) >= s.edge.cfg.MaxRooms {
		s.replyError(seq, wire.ErrCodeTooManyRooms, "room limit reached")
		return true
	}
	// The hook is asked last, so that a join the edge refuses anyway costs
	// the backend nothing.
	if hook && !s.askJoin(seq, room) {
		return !s.closing()
	}
	e := s.edge
	from := history.Position{Offset: j.Offset, Epoch: j.Epoch}
	if e.cfg.History != nil && !from.IsZero() && !s.resumes.allow(time.Now().UnixNano(), e.cfg.ResumesPerSec, e.cfg.MaxRooms+1) {
		// Each resume may read up to RecoveryLimit messages of history
		// and send them: a client must not turn Leave and Join into a
		// stream of them. 104 asks it to retry with backoff.
		e.metrics.limited.WithLabelValues("resumes_per_conn", s.t.kind()).Inc()
		s.replyError(seq, wire.ErrCodeInternal, "too many resumes, retry")
		return true
	}
	err := s.enter(room, from, func(rec wire.Recovery, top history.Position) []byte {
		return wire.AppendJoinOK(nil, seq, &wire.JoinOK{Room: room, Recovery: rec, Offset: top.Offset, Epoch: top.Epoch})
	})
	if err != nil {
		e.cfg.Logger.Warn("join failed: room not routed here", "room", room, "err", err)
		s.replyError(seq, wire.ErrCodeInternal, "room unavailable, retry")
	}
	return true
}

// enter puts the connection in room, as a Join and a subscription do: it
// holds what arrives for the room, joins it in the hub, reads the room's
// stream at from (zero: its top) and queues the reply encode builds from
// the result and the stream's position, followed by what the client missed.
// Without history the reply has no position. On hub.join's error nothing is
// queued and the room is not entered. s.member is held.
func (s *session) enter(room string, from history.Position, encode func(wire.Recovery, history.Position) []byte) error {
	e := s.edge
	resume := e.cfg.History != nil
	if resume {
		s.hold()
	}
	if err := e.hub.join(s, room); err != nil {
		if resume {
			s.release(nil)
		}
		return err
	}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{}, 1)
	}
	s.rooms[room] = struct{}{}
	if !resume {
		s.enqueue(encode(wire.RecoveryNone, history.Position{}))
		return nil
	}
	rec, top, rp := e.resume(wire.PushRoom, room, history.RoomStream(room), from)
	if s.reply(encode(rec, top), rp) {
		s.release(upTo(wire.PushRoom, room, top))
	}
	return nil
}

// joinRule says whether a Join of room is open to the connection (ok), and
// whether the join hook decides it (hook); why is the refusal's message.
// s.member is held.
func (s *session) joinRule(room string) (hook, ok bool, why string) {
	if s.isServerRoom(room) {
		return false, true, ""
	}
	p := s.edge.cfg.Proxy
	switch s.edge.cfg.Namespaces.For(room).Join {
	case namespace.JoinPublic:
		return false, true, ""
	case namespace.JoinServer:
		return false, false, "only the server puts connections in room " + room
	case namespace.JoinProxy:
		return true, true, "" // Listen refuses the rule without a Proxy
	}
	if p != nil && p.JoinDecides(room) {
		return true, true, ""
	}
	if !s.ident.CanJoin(room) {
		return false, false, "token does not allow room " + room
	}
	return false, true, ""
}

// leave serves Leave. s.member is held.
func (s *session) leave(seq uint32, room string) {
	if _, ok := s.rooms[room]; !ok {
		s.replyError(seq, wire.ErrCodeNotJoined, "not in room "+room)
		return
	}
	delete(s.rooms, room)
	s.edge.hub.leave(s, room)
	s.enqueue(wire.AppendRoom(nil, wire.OpLeaveOK, seq, room))
}

func (s *session) replyError(seq uint32, code wire.Code, msg string) {
	s.enqueue(wire.AppendError(nil, seq, &wire.Error{Code: code, Message: msg}))
}

// failRead chooses the disconnect for a read error: a clean end of stream
// (between frames) needs no frame, a timeout gets timeoutCode; bad bytes, an
// end inside a frame or a reset stream get a protocol code.
func (s *session) failRead(err error, timeoutCode wire.Code) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.hardClose(0)
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.close(timedOut(timeoutCode))
	case errors.Is(err, wire.ErrTooLarge):
		s.edge.metrics.badFrames.Inc()
		s.close(disconnect{wire.CodeFrameTooLarge, err.Error()})
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, errWebSocketProtocol), errors.Is(err, errStreamReset):
		s.edge.metrics.badFrames.Inc()
		s.close(protocolError(err.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		// The client ended its side inside a frame: not a clean leave.
		s.edge.metrics.badFrames.Inc()
		s.close(protocolError("stream ended inside a frame"))
	default:
		// Transport failures (a reset, a QUIC error) leave nobody to tell.
		s.hardClose(wire.CodeServerError)
	}
}

// drain reads and discards until the client hangs up or CloseTimeout passes,
// so the last frame is not lost to a reset caused by unread input. It
// discards at most MaxFrame bytes (what a client may have had in flight):
// past that it stops reading and waits out CloseTimeout, so a client that
// floods on after its close has its writes blocked by flow control instead
// of being read at line rate.
func (s *session) drain() {
	if !s.closing() {
		return
	}
	deadline := time.Now().Add(s.edge.cfg.CloseTimeout)
	_ = s.t.setReadDeadline(deadline)
	var buf [512]byte
	r := s.t.rawReader()
	for budget := s.edge.cfg.MaxFrame; budget > 0; {
		n, err := r.Read(buf[:min(len(buf), budget)])
		if err != nil {
			return
		}
		budget -= n
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.edge.ctx.Done():
	}
}
