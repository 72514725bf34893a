package edge

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/quicpush/quicpush/history"
	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/wire"
)

// Session states. A session is open until closeWith moves it to closing
// (the Disconnect frame is queued as the last frame), then closed once the
// transport is gone.
const (
	stateOpen uint8 = iota
	stateClosing
	stateClosed
)

// session is one client connection, whatever its transport.
type session struct {
	edge *Edge
	t    transport
	// authBy is when the handshake times out.
	authBy time.Time

	// Set once by the reader goroutine during the handshake.
	key   string
	ident auth.Identity
	shard *shard
	// rooms and in are owned by the reader goroutine.
	rooms map[string]struct{}
	in    inbound

	mu        sync.Mutex
	queue     [][]byte // frames waiting for the flusher, shared and immutable
	spare     [][]byte // the flusher's last batch, reused to avoid allocation
	queued    int      // bytes in queue
	holding   bool     // a resume is under way: frames go to held (resume.go)
	held      [][]byte
	heldBytes int
	flushing  bool // a flusher goroutine is running
	state     uint8
	code      wire.Code
	expiry    *time.Timer
	expires   time.Time // the token's expiry, moved by Refresh
	closeOnce sync.Once
	// writeBy is the write deadline last set; flushes move it only when it
	// comes within three quarters of WriteTimeout, which keeps a timer
	// update off most writes. Owned by the flusher.
	writeBy int64
}

// armWriteDeadline keeps the write deadline between 3/4 and all of
// WriteTimeout ahead of now.
func (s *session) armWriteDeadline() {
	timeout := int64(s.edge.cfg.WriteTimeout)
	now := coarse.Load() + int64(clockTick)
	if s.writeBy-now >= timeout*3/4 {
		return
	}
	s.writeBy = now + timeout
	_ = s.t.setWriteDeadline(time.Unix(0, s.writeBy))
}

// newSession starts a session whose Auth frame must arrive by deadline: the
// handshake timeout counts from accept, across TLS, QUIC and upgrades.
func newSession(e *Edge, t transport, deadline time.Time) *session {
	return &session{edge: e, t: t, authBy: deadline}
}

// enqueue queues an encoded frame (or several) for the client. It never
// blocks: a session over its byte budget is cut as a slow consumer.
func (s *session) enqueue(b []byte) bool {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false
	}
	if s.queued+s.heldBytes+len(b) > s.edge.cfg.MaxQueueBytes {
		s.mu.Unlock()
		s.edge.metrics.slowConsumers.Inc()
		s.closeWith(wire.CodeSlowConsumer, "write queue full", true)
		return false
	}
	if s.holding {
		s.held = append(s.held, b)
		s.heldBytes += len(b)
		s.mu.Unlock()
		return true
	}
	s.queueLocked(b)
	s.kickLocked()
	s.mu.Unlock()
	return true
}

// queueLocked appends b to the queue; s.mu is held.
func (s *session) queueLocked(b []byte) {
	s.queue = append(s.queue, b)
	s.queued += len(b)
}

// kickLocked starts a flusher unless one runs; s.mu is held.
func (s *session) kickLocked() {
	if !s.flushing && len(s.queue) > 0 {
		s.flushing = true
		s.edge.flushers.run(s)
	}
}

// flush drains the queue into batched writes until it is empty. It runs in
// its own goroutine only while there is something to write.
func (s *session) flush() {
	s.mu.Lock()
	for {
		if len(s.queue) == 0 {
			// Keep two small slices (the queue and the flusher's batch) so
			// steady traffic allocates nothing; drop big ones so an idle
			// connection costs little.
			if cap(s.queue) > 8 {
				s.queue = nil
			}
			if cap(s.spare) > 8 {
				s.spare = nil
			}
			s.flushing = false
			closing := s.state == stateClosing
			code := s.code
			s.mu.Unlock()
			if closing {
				s.t.closeWrite(code, code.String())
			}
			return
		}
		batch := s.queue
		s.queue, s.spare = s.spare[:0], nil
		s.queued = 0
		s.mu.Unlock()

		s.armWriteDeadline()
		err := s.t.writeBatch(batch)
		clear(batch)

		s.mu.Lock()
		s.spare = batch[:0]
		if err != nil {
			s.flushing = false
			s.queue, s.queued = nil, 0
			code := s.code
			if s.state == stateOpen {
				code = wire.CodeServerError
			}
			s.state = stateClosed
			s.mu.Unlock()
			s.edge.cfg.Logger.Debug("write failed", "key", s.key, "err", err)
			s.hardClose(code)
			return
		}
	}
}

// closeWith queues a Disconnect frame as the session's last frame and lets the
// flusher end the connection after it. drop discards frames still queued (a
// slow consumer would never read them); otherwise they go out first.
func (s *session) closeWith(code wire.Code, reason string, drop bool) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.state = stateClosing
	s.code = code
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if drop {
		clear(s.queue)
		s.queue = s.queue[:0]
	}
	s.queue = append(s.queue, wire.AppendDisconnect(nil, &wire.Disconnect{Code: code, Reason: reason}))
	if !s.flushing {
		s.flushing = true
		s.edge.flushers.run(s)
	}
	s.mu.Unlock()
	s.edge.metrics.disconnects.WithLabelValues(codeLabel(code)).Inc()

	// The client gets CloseTimeout to read the last frame and hang up; a
	// flusher stuck on a client that stopped reading is cut by the deadline.
	deadline := time.Now().Add(s.edge.cfg.CloseTimeout)
	_ = s.t.setReadDeadline(deadline)
	if drop {
		// The flusher may be blocked on this client: cut it short. writeBy
		// is the flusher's, but the flusher no longer needs it: every later
		// write ends the session.
		_ = s.t.setWriteDeadline(deadline)
	}
}

// hardClose closes the transport now. It is idempotent.
func (s *session) hardClose(code wire.Code) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.state = stateClosed
		if s.expiry != nil {
			s.expiry.Stop()
		}
		s.mu.Unlock()
		s.t.close(code, code.String())
	})
}

// serve runs the handshake on the accepting goroutine, then hands the
// connection to a reader goroutine of its own. The handshake's deep call
// chains (TLS, the WebSocket upgrade, token verification, the HTTP/3 request
// of WebTransport) grow a stack that an idle connection would otherwise keep;
// the reader starts small and the accepting goroutine's stack is freed.
func (s *session) serve() {
	e := s.edge
	e.metrics.handshakes.WithLabelValues(s.t.kind()).Inc()
	if !s.handshake() {
		s.drain()
		s.finish()
		return
	}
	e.live.Add(1)
	go s.readLoop()
}

// readLoop reads frames until the connection ends. It owns the session's
// end: when it returns the session is unregistered and its transport closed.
func (s *session) readLoop() {
	defer s.edge.live.Done()
	defer s.finish()
	idle := 2 * s.edge.cfg.PingInterval
	for {
		// Under s.mu, and only while open: closeWith sets a short deadline
		// of its own after marking the session closing, and this one must
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
		if s.in.over(coarse.Load()/int64(time.Second), wire.HeaderSize+len(body), s.edge.cfg.MaxFramesPerSec, s.edge.cfg.MaxBytesPerSec) {
			s.edge.metrics.limited.WithLabelValues("inbound_rate", s.t.kind()).Inc()
			s.closeWith(wire.CodeRateLimited, "too many frames", false)
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
		s.edge.unregister(s)
	}
	s.mu.Lock()
	code := s.code
	s.mu.Unlock()
	s.hardClose(code)
}

// handshake reads and verifies the Auth frame.
func (s *session) handshake() bool {
	e := s.edge
	_ = s.t.setReadDeadline(s.authBy)
	// Until Auth passes, no frame bigger than the largest Auth is read: an
	// unauthenticated client cannot make the edge hold a full-size buffer.
	s.t.setMaxFrame(min(e.cfg.MaxFrame, wire.MaxAuthFrame))
	h, body, err := s.t.readFrame()
	if err != nil {
		s.failRead(err, wire.CodeHandshakeTimeout)
		return false
	}
	if h.Op != wire.OpAuth {
		s.closeWith(wire.CodeProtocolError, "expected auth, got "+h.Op.String(), false)
		return false
	}
	var a wire.Auth
	if err := a.Decode(body); err != nil {
		s.closeWith(wire.CodeProtocolError, err.Error(), false)
		return false
	}
	s.t.releaseRead()
	s.t.setMaxFrame(e.cfg.MaxFrame)
	if a.Version != wire.Version {
		s.closeWith(wire.CodeUnsupportedVersion, "protocol version 1 only", false)
		return false
	}
	id, err := e.cfg.Auth.Verify(a.Token)
	if err != nil {
		e.metrics.authFailures.Inc()
		if errors.Is(err, auth.ErrExpired) {
			s.closeWith(wire.CodeTokenExpired, "token expired", false)
		} else {
			s.closeWith(wire.CodeInvalidToken, "invalid token", false)
		}
		return false
	}
	s.ident = id
	s.key = e.newKey()
	resume := e.cfg.History != nil
	if resume {
		// Nothing may reach the client before AuthOK: hold what arrives
		// for the user (or for everyone) until the user's stream is read.
		s.hold()
	}
	switch code := e.register(s); code {
	case 0:
	case wire.CodeConnectionLimit:
		s.closeWith(code, "too many connections for this user", false)
		return false
	default:
		s.closeWith(code, "edge is draining", false)
		return false
	}
	if p := e.cfg.Routes; p != nil {
		// AuthOK promises that pushes to the user reach this connection.
		ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
		err := p.Connected(ctx, s.key, id.User)
		cancel()
		if err != nil {
			e.metrics.routeErrors.Inc()
			e.cfg.Logger.Warn("route not recorded, refusing the connection", "key", s.key, "err", err)
			s.closeWith(wire.CodeServerError, "route store unavailable, reconnect", false)
			return false
		}
	}
	ok := wire.AuthOK{
		ConnKey:        s.key,
		User:           id.User,
		PingIntervalMs: uint64(e.cfg.PingInterval / time.Millisecond),
		MaxFrame:       uint64(e.cfg.MaxFrame),
	}
	if resume {
		from := history.Position{Offset: a.Offset, Epoch: a.Epoch}
		rec, top, replay := e.resume(wire.PushDirect, "", history.UserStream(id.User), from)
		ok.Recovery, ok.Offset, ok.Epoch = rec, top.Offset, top.Epoch
		s.release(wire.AppendAuthOK(nil, h.Seq, &ok), replay, upTo(wire.PushDirect, "", top))
	} else {
		s.enqueue(wire.AppendAuthOK(nil, h.Seq, &ok))
	}
	s.mu.Lock()
	s.expires = id.Expires
	s.watchExpiry(id.Expires)
	s.mu.Unlock()
	return true
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
		s.expiry = time.AfterFunc(time.Until(exp), func() {
			s.closeWith(wire.CodeTokenExpired, "token expired", false)
		})
		return
	}
	s.expiry = time.AfterFunc(warnAt, func() {
		s.enqueue(wire.AppendTokenExpiring(nil, &wire.TokenExpiring{ExpiresInMs: uint64(max(0, time.Until(exp).Milliseconds()))}))
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.state != stateOpen || !s.expires.Equal(exp) {
			return // refreshed meanwhile, or closing
		}
		s.expiry = time.AfterFunc(time.Until(exp), func() {
			s.closeWith(wire.CodeTokenExpired, "token expired", false)
		})
	})
}

// refresh serves Refresh: a valid token of the same user replaces the
// connection's rooms and expiry; anything else is answered with Error 105
// and changes nothing (the old token still expires when it does).
func (s *session) refresh(seq uint32, body []byte) bool {
	var r wire.Refresh
	if err := r.Decode(body); err != nil {
		s.closeWith(wire.CodeProtocolError, err.Error(), false)
		return false
	}
	id, err := s.edge.cfg.Auth.Verify(r.Token)
	switch {
	case err != nil:
		s.edge.metrics.authFailures.Inc()
		s.replyError(seq, wire.ErrCodeTokenRejected, "token rejected")
		return true
	case id.User != s.ident.User:
		s.replyError(seq, wire.ErrCodeTokenRejected, "token is for another user")
		return true
	}
	// The reader goroutine owns ident; rooms already joined stay joined.
	s.ident.Rooms = id.Rooms
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
	e := s.edge
	switch h.Op {
	case wire.OpPing:
		s.enqueue(wire.AppendFrame(nil, wire.OpPong, h.Seq, nil))
	case wire.OpPong:
		// Accepted as liveness; the edge does not ping on its own.
	case wire.OpJoin:
		var j wire.Join
		if err := j.Decode(body); err != nil {
			s.closeWith(wire.CodeProtocolError, err.Error(), false)
			return false
		}
		s.join(h.Seq, &j)
	case wire.OpLeave:
		var r wire.RoomReply
		if err := r.Decode(body); err != nil {
			s.closeWith(wire.CodeProtocolError, err.Error(), false)
			return false
		}
		if _, ok := s.rooms[r.Room]; !ok {
			s.replyError(h.Seq, wire.ErrCodeNotJoined, "not in room "+r.Room)
			return true
		}
		delete(s.rooms, r.Room)
		e.leave(s, r.Room)
		s.enqueue(wire.AppendRoom(nil, wire.OpLeaveOK, h.Seq, r.Room))
	case wire.OpAuth:
		s.closeWith(wire.CodeProtocolError, "already authenticated", false)
		return false
	case wire.OpRefresh:
		return s.refresh(h.Seq, body)
	default:
		s.closeWith(wire.CodeProtocolError, "unexpected op "+h.Op.String(), false)
		return false
	}
	return true
}

func (s *session) join(seq uint32, j *wire.Join) {
	room := j.Room
	switch {
	case room == "":
		s.replyError(seq, wire.ErrCodeBadRequest, "empty room name")
		return
	case !s.ident.CanJoin(room):
		s.replyError(seq, wire.ErrCodeForbidden, "token does not allow room "+room)
		return
	}
	if _, ok := s.rooms[room]; ok {
		// Already a member: the client's position stands (what is queued
		// for it is newer), so the reply names none.
		s.enqueue(wire.AppendJoinOK(nil, seq, &wire.JoinOK{Room: room}))
		return
	}
	if len(s.rooms) >= s.edge.cfg.MaxRooms {
		s.replyError(seq, wire.ErrCodeTooManyRooms, "room limit reached")
		return
	}
	e := s.edge
	resume := e.cfg.History != nil
	if resume {
		s.hold()
	}
	if err := e.join(s, room); err != nil {
		if resume {
			s.release(nil, nil, nil)
		}
		e.cfg.Logger.Warn("join failed: room not routed here", "room", room, "err", err)
		s.replyError(seq, wire.ErrCodeInternal, "room unavailable, retry")
		return
	}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{}, 1)
	}
	s.rooms[room] = struct{}{}
	if !resume {
		s.enqueue(wire.AppendJoinOK(nil, seq, &wire.JoinOK{Room: room}))
		return
	}
	from := history.Position{Offset: j.Offset, Epoch: j.Epoch}
	rec, top, replay := e.resume(wire.PushRoom, room, history.RoomStream(room), from)
	reply := wire.AppendJoinOK(nil, seq, &wire.JoinOK{Room: room, Recovery: rec, Offset: top.Offset, Epoch: top.Epoch})
	s.release(reply, replay, upTo(wire.PushRoom, room, top))
}

func (s *session) replyError(seq uint32, code wire.Code, msg string) {
	s.enqueue(wire.AppendError(nil, seq, &wire.Error{Code: code, Message: msg}))
}

func (s *session) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state != stateOpen
}

// failRead chooses the disconnect for a read error: a clean end of stream
// needs no frame, a timeout gets timeoutCode, bad bytes a protocol code.
func (s *session) failRead(err error, timeoutCode wire.Code) {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		s.hardClose(0)
	case errors.Is(err, os.ErrDeadlineExceeded):
		s.closeWith(timeoutCode, timeoutCode.String(), false)
	case errors.Is(err, wire.ErrTooLarge):
		s.edge.metrics.badFrames.Inc()
		s.closeWith(wire.CodeFrameTooLarge, err.Error(), false)
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, errWebSocketProtocol):
		s.edge.metrics.badFrames.Inc()
		s.closeWith(wire.CodeProtocolError, err.Error(), false)
	default:
		// Transport failures (a reset, a QUIC error) leave nobody to tell.
		s.hardClose(wire.CodeServerError)
	}
}

// drain reads and discards until the client hangs up or CloseTimeout passes,
// so the last frame is not lost to a reset caused by unread input.
func (s *session) drain() {
	if !s.closing() {
		return
	}
	_ = s.t.setReadDeadline(time.Now().Add(s.edge.cfg.CloseTimeout))
	var buf [512]byte
	r := s.t.rawReader()
	for {
		if _, err := r.Read(buf[:]); err != nil {
			return
		}
	}
}
