package quicpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// Message is a message pushed by the edge.
type Message struct {
	// Kind says how the message was addressed: to this connection or user,
	// to a room, or to everyone.
	Kind wire.PushKind
	// Room is the room of a wire.PushRoom message.
	Room string
	// ID is the message id the push API returned, unique per message.
	ID string
	// Offset and Epoch are the message's position in its room's stream; zero
	// and empty when it has none. The client rejoins a room from the last
	// position it saw, so the edge can replay what a reconnect missed.
	Offset uint64
	Epoch  string
	// Data is the payload. It belongs to the receiver.
	Data []byte
	// Ephemeral marks superseded state (datagram.go): it has no position,
	// may have come in a datagram, may overtake reliable messages, and one
	// lost is never replayed.
	Ephemeral bool
}

// JSON decodes the payload into v with encoding/json: for a backend that
// pushed JSON (the push API's JSON-valued data, or JSON in text).
func (m *Message) JSON(v any) error {
	if err := json.Unmarshal(m.Data, v); err != nil {
		return fmt.Errorf("quicpush: message %s: %w", m.ID, err)
	}
	return nil
}

// Client is a connection to a quicpush edge that survives network failures:
// it reconnects and rejoins its rooms until it is closed or an edge refuses it
// with a code that forbids reconnecting. Its methods are safe for concurrent
// use.
type Client struct {
	// edges holds each edge's endpoints in preference order, the edges in
	// the order given to New.
	edges   [][]endpoint
	opts    options
	params  dialParams
	backoff backoff
	log     *slog.Logger

	// ctx is cancelled by Close; it bounds every dial, backoff and token
	// call of the background loop.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	started bool  // a Connect is in progress or its loop runs
	stopErr error // why the last Connect or loop failed; nil while started
	conn    *conn // the live connection, nil while down
	rooms   map[string]*roomState
	// user is the last position seen in the user's stream (direct pushes),
	// sent in Auth on every connect to resume it.
	user position
	// dups counts pushes dropped as repeats of at-least-once delivery.
	dups atomic.Int64
	// migrateMu serializes Migrate; migrations counts its successes.
	// migrating and migrateAgain (under mu) fold NetworkChanged calls.
	migrateMu    sync.Mutex
	migrations   atomic.Int64
	migrating    bool
	migrateAgain bool
	// changed is closed and replaced on every change of the fields above,
	// waking Join and other waiters to look again.
	changed chan struct{}

	// Goroutine accounting for Close, which waits for the client's
	// goroutines except those running a handler, so handlers may call it.
	gmu       sync.Mutex
	gcond     *sync.Cond
	running   int
	inHandler int

	dg datagramState // datagram.go
}

// position is a place in a stream: see docs/protocol.md, section 11.
type position struct {
	offset uint64
	epoch  string
}

// advance applies a positioned push to p and reports whether the push is
// new: one of p's epoch at or below p's offset is a repeat of at-least-once
// delivery.
func (p *position) advance(offset uint64, epoch string) bool {
	if epoch == "" && offset == 0 {
		return true // belongs to no stream
	}
	if epoch == p.epoch && offset <= p.offset {
		return false
	}
	p.offset, p.epoch = offset, epoch
	return true
}

// roomState is a room the client means to be in. It is rejoined on every new
// connection until Leave, or until the edge refuses it.
type roomState struct {
	name   string
	offset uint64 // last position seen, sent when rejoining
	epoch  string
	conn   *conn // the connection the edge confirmed the room on
	sentOn *conn // the connection a Join for the room awaits an answer on
	err    error // the edge refused the room, which is forgotten
	left   bool  // Leave (or Unsubscribed) forgot the room
	server bool  // the application's backend put the client in it (subscription.go)
	tries  int   // Joins the edge failed to serve in a row (error 104)
}

// New returns a client of the given edges. Each element of endpoints is one
// edge: its endpoint URLs separated by white space, in order of preference
// (say QUIC, then TCP for networks that drop UDP), as in
// "quic://10.0.0.1:4433 tcp://10.0.0.1:4434". A URL is one of
// "quic://host:port", "webtransport://host:port/path" (or
// "https://host:port/path"), "tcp://host:port", "tls://host:port",
// "ws://host:port/path" and "wss://host:port/path". An element that holds no
// URL or a URL that does not parse is an error naming the element.
//
// Connect tries the edges in the order given, each edge's endpoints in
// order, and a reconnect does the same from the edge it starts with: the edge
// of the lost connection, unless that connection ended because its edge is
// draining (wire.CodeShutdown) or without a disconnect code (a network
// failure, a dead edge, a missed heartbeat). Then the reconnect starts with
// the next edge in the list, wrapping around, so the lost edge is tried last.
// New does not connect; call Connect.
func New(endpoints []string, opts ...Option) (*Client, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	edges, err := parseEdges(endpoints, o.dialTimeout)
	if err != nil {
		return nil, err
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		edges:   edges,
		opts:    o,
		params:  newDialParams(&o),
		backoff: backoff{min: o.backoffMin, max: o.backoffMax},
		log:     log,
		ctx:     ctx,
		cancel:  cancel,
		rooms:   make(map[string]*roomState),
		changed: make(chan struct{}),
	}
	c.gcond = sync.NewCond(&c.gmu)
	return c, nil
}

// Connect connects for the first time: it tries the edges in the order given
// to New, each edge's endpoints in order and each endpoint within its dial
// timeout, and returns once one has authenticated the client, or with an
// error when none did. ctx bounds only this first connect. After it succeeds
// a background loop sends heartbeats and reconnects with backoff, rejoining
// the rooms and moving to another edge as New describes, until Close or a
// disconnect code that forbids reconnecting (reported to OnDisconnect);
// Connect may then be called again.
//
// An edge that refuses the token (or disconnects with another code that
// forbids reconnecting) makes Connect return that *Error at once; one that
// refuses with a code that allows a retry (it is draining, say) is skipped
// for the next edge. When every endpoint fails the error wraps ErrUnreachable
// and each failure.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	switch {
	case c.closed:
		c.mu.Unlock()
		return ErrClosed
	case c.started:
		c.mu.Unlock()
		return ErrAlreadyConnected
	}
	c.started, c.stopErr = true, nil
	c.mu.Unlock()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(c.ctx, cancel)()
	cn, err := c.dial(ctx, false, 0)
	if err != nil {
		c.mu.Lock()
		closed := c.closed
		c.started, c.stopErr = false, err
		c.broadcast()
		c.mu.Unlock()
		if closed {
			return ErrClosed
		}
		return err
	}
	if !c.install(cn) || !c.startReader(cn, true) {
		return ErrClosed
	}
	c.connected(cn, false)
	return nil
}

// Close closes the connection and stops the client for good. It waits for the
// client's goroutines to end, except one that is running a handler (so that a
// handler may call Close), and no handler starts after it returns. Pending
// Join and Leave calls return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.conn
	c.conn = nil
	c.broadcast()
	c.mu.Unlock()

	c.cancel()
	if cn != nil {
		cn.shut(0, "client closed", 0)
	}
	c.gmu.Lock()
	for c.running > c.inHandler {
		c.gcond.Wait()
	}
	c.gmu.Unlock()
	return nil
}

// Join joins room and waits for the edge to confirm. The room is remembered
// and rejoined after every reconnect, from the last position seen, until
// Leave. Called while the client is reconnecting (or before Connect) it waits
// for the next connection; called on a client that has stopped it returns the
// error that stopped it, and the next Connect joins the room. A refusal by the
// edge returns *Error (for example wire.ErrCodeForbidden) and forgets the
// room; wire.ErrCodeInternal is no refusal but a failure of the edge, and the
// Join is sent again with backoff until it succeeds (or ctx ends, below).
//
// When ctx ends (or the request timeout passes) first, Join returns the
// context's error but the room stays remembered and is joined in the
// background; Leave forgets it. Join must not be called from an OnMessage
// handler: the answer is read by the goroutine running the handler.
func (c *Client) Join(ctx context.Context, room string) error {
	if err := checkRoom(room); err != nil {
		return err
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	r := c.rooms[room]
	if r == nil {
		r = &roomState{name: room}
		c.rooms[room] = r
	}
	if cn := c.conn; cn != nil && r.conn != cn && r.sentOn != cn {
		c.joinLocked(cn, r)
	} else {
		// Joined already, being joined, or joined by the next connection.
		c.mu.Unlock()
	}
	return c.wait(ctx, func() (bool, error) {
		switch {
		case c.closed:
			return true, ErrClosed
		case r.err != nil:
			return true, r.err
		case r.left:
			return true, ErrLeft
		case r.conn != nil && r.conn == c.conn:
			return true, nil
		case !c.started && c.stopErr != nil:
			return true, c.stopErr
		}
		return false, nil
	})
}

// Leave leaves room. The client forgets the room at once, so it is not
// rejoined whatever the outcome; if the room is joined on the live
// connection, Leave waits for the edge to confirm. Leaving a room the client
// is not in returns *Error with wire.ErrCodeNotJoined. Like Join, Leave must
// not be called from an OnMessage handler.
func (c *Client) Leave(ctx context.Context, room string) error {
	if err := checkRoom(room); err != nil {
		return err
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	r := c.rooms[room]
	if r == nil {
		c.mu.Unlock()
		return &Error{Code: wire.ErrCodeNotJoined, Message: "not joined"}
	}
	delete(c.rooms, room)
	cn := c.conn
	joined := cn != nil && (r.conn == cn || r.sentOn == cn)
	r.left, r.conn, r.sentOn = true, nil, nil
	c.broadcast()
	if !joined {
		c.mu.Unlock()
		return nil
	}
	reply := make(chan error, 1)
	fn := func(op wire.Op, body []byte, err error) {
		switch {
		case err != nil, op == wire.OpLeaveOK:
			reply <- nil // a lost connection takes the room with it
		case op == wire.OpError:
			reply <- decodeError(body)
		default:
			reply <- fmt.Errorf("%w: %v answering leave", wire.ErrMalformed, op)
		}
	}
	// Hand over from c.mu to the write lock so that no rejoin or Join of the
	// room can be written between the decision above and this Leave.
	cn.wmu.Lock()
	c.mu.Unlock()
	err := cn.sendLocked(func(b []byte, seq uint32) []byte {
		return wire.AppendRoom(b, wire.OpLeave, seq, room)
	}, fn)
	cn.wmu.Unlock()
	if errors.Is(err, errConnLost) {
		return nil
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// Transport returns the transport name of the live connection ("quic",
// "webtransport", "tcp", "tls", "ws" or "wss"), or "" while disconnected.
func (c *Client) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ""
	}
	return c.conn.name
}

// Endpoint returns the endpoint URL of the live connection, as given to New,
// or "" while disconnected. With Transport and ConnKey (whose prefix names the
// edge on a quicpush cluster) it tells which edge the client is on.
func (c *Client) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ""
	}
	return c.conn.url
}

// ConnKey returns the edge's key of the live connection, or "" while
// disconnected.
func (c *Client) ConnKey() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ""
	}
	return c.conn.key
}

// User returns the user id the edge took from the token, or "" while
// disconnected.
func (c *Client) User() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return ""
	}
	return c.conn.user
}

// dial makes one connect attempt: it gets a token and tries every edge, from
// edge first on and wrapping around, each edge's endpoints in order. A
// refusal that forbids reconnecting ends the attempt at once, since every
// edge would see the same token. Any other refusal (a draining or overloaded
// edge) moves on to the next edge: the refusal is the edge's, so its other
// transports would get the same answer. tracked says whether the caller is
// one of the client's goroutines (for the handler accounting of Close).
func (c *Client) dial(ctx context.Context, tracked bool, first int) (*conn, error) {
	token, err := c.token(ctx, tracked)
	if err != nil {
		return nil, err
	}
	var errs []error
	for n := range c.edges {
		edge := (first + n) % len(c.edges)
		for i := range c.edges[edge] {
			ep := &c.edges[edge][i]
			cn, err := c.dialEndpoint(ctx, edge, ep, token)
			if err == nil {
				return cn, nil
			}
			c.log.Debug("quicpush: endpoint failed", "edge", edge, "endpoint", ep.url, "err", err)
			if ctx.Err() != nil {
				return nil, fmt.Errorf("quicpush: connect: %w", ctx.Err())
			}
			var refused *Error
			if errors.As(err, &refused) && !refused.Code.Reconnect() {
				return nil, refused
			}
			errs = append(errs, fmt.Errorf("%s: %w", ep.url, err))
			if refused != nil {
				break
			}
		}
	}
	return nil, fmt.Errorf("%w: %w", ErrUnreachable, errors.Join(errs...))
}

// nextEdge returns the edge to start the reconnect with after cn ended with
// code. A draining edge (wire.CodeShutdown) asks its clients to move, and
// one lost without a disconnect code (protocol section 6.5: a network
// failure) may be dead, so both are tried last; other codes concern the
// session, not the edge, which stays first.
func (c *Client) nextEdge(cn *conn, code wire.Code) int {
	if code == wire.CodeShutdown || !isDisconnectCode(uint64(code)) {
		return (cn.edge + 1) % len(c.edges)
	}
	return cn.edge
}

func (c *Client) token(ctx context.Context, tracked bool) (string, error) {
	f := c.opts.tokenFunc
	if f == nil {
		return c.opts.token, nil
	}
	var tok string
	var err = ErrClosed
	c.callHandler(tracked, func() { tok, err = f(ctx) })
	if err != nil {
		return "", fmt.Errorf("quicpush: token: %w", err)
	}
	if len(tok) > wire.MaxTokenLen {
		return "", fmt.Errorf("quicpush: token is %d bytes, limit %d", len(tok), wire.MaxTokenLen)
	}
	return tok, nil
}

// dialEndpoint connects to ep, an endpoint of edge, and authenticates, all
// within the endpoint's dial timeout.
func (c *Client) dialEndpoint(ctx context.Context, edge int, ep *endpoint, token string) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, ep.timeout)
	defer cancel()
	start := time.Now()
	t, err := ep.dial(ctx, ep, c.params)
	if err != nil {
		return nil, err
	}
	// Transports' reads take no context: closing the transport is what
	// bounds the wait for AuthOK.
	stop := context.AfterFunc(ctx, func() { t.close(0, "") })
	c.mu.Lock()
	auth := wire.Auth{Version: wire.Version, Token: token, Offset: c.user.offset, Epoch: c.user.epoch}
	rejoins := c.rejoinsLocked()
	// The edge puts the connection in the user's server-side rooms once it
	// has handled these Joins, so that those among them resume from their
	// positions rather than start afresh (protocol section 6.1).
	auth.Joins = uint64(len(rejoins))
	c.mu.Unlock()
	ok, err := sayHello(ctx, t, &auth, rejoins)
	if !stop() {
		err = fmt.Errorf("auth: %w", ctx.Err())
	}
	if err != nil {
		t.close(0, "")
		return nil, err
	}
	cn := newConn(t, edge, ep, &ok, start)
	cn.adoptRejoins(rejoins)
	return cn, nil
}

// authenticate writes hello, Auth and the frames sent right behind it, and
// reads the answer: AuthOK, or a Disconnect (or a transport close code)
// returned as *Error.
func authenticate(t transport, hello []byte) (wire.AuthOK, error) {
	var ok wire.AuthOK
	if err := t.writeFrame(hello); err != nil {
		return ok, err
	}
	h, body, err := t.readFrame()
	if err != nil {
		var ce *closeError
		if errors.As(err, &ce) {
			return ok, &Error{Code: ce.code, Message: ce.reason}
		}
		return ok, err
	}
	switch h.Op {
	case wire.OpAuthOK:
		err = ok.Decode(body)
	case wire.OpDisconnect:
		var d wire.Disconnect
		if err = d.Decode(body); err == nil {
			err = &Error{Code: d.Code, Message: d.Reason}
		}
	case wire.OpError:
		err = decodeError(body)
	default:
		err = fmt.Errorf("%w: %v before auth_ok", wire.ErrMalformed, h.Op)
	}
	return ok, err
}

// install makes cn the live connection and writes a Join for every
// remembered room on it that was not sent behind Auth, before any other
// request, so that a Leave racing with the reconnect is written after the
// rejoin, not overtaken by it.
func (c *Client) install(cn *conn) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.shut(0, "client closed", 0)
		return false
	}
	c.conn = cn
	if cn.resumed != wire.RecoveryRecovered && (cn.resumed != wire.RecoveryNone || cn.userPos != (position{})) {
		// Where the subscription starts. (Recovered keeps the client's own
		// position: the replayed messages, read after this, move it on.)
		c.user = cn.userPos
	}
	sent, stale := c.claimRejoinsLocked(cn)
	joins := make([]wire.Join, 0, len(c.rooms))
	fns := make([]replyFunc, 0, len(c.rooms))
	for _, r := range c.rooms {
		r.conn, r.sentOn = nil, cn
		if sent[r] {
			continue
		}
		joins = append(joins, wire.Join{Room: r.name, Offset: r.offset, Epoch: r.epoch})
		fns = append(fns, c.joinReply(cn, r))
	}
	c.broadcast()
	cn.wmu.Lock()
	c.mu.Unlock()
	defer cn.wmu.Unlock()
	for _, room := range stale {
		if cn.sendLocked(func(b []byte, seq uint32) []byte { return wire.AppendRoom(b, wire.OpLeave, seq, room) }, nil) != nil {
			return true // the connection is gone
		}
	}
	for i := range joins {
		j := &joins[i]
		err := cn.sendLocked(func(b []byte, seq uint32) []byte { return wire.AppendJoin(b, seq, j) }, fns[i])
		if err != nil {
			break // the connection is gone; the next one rejoins
		}
	}
	return true
}

// startReader starts the reader goroutine of cn and, for the first connect,
// the loop that keeps the session alive.
func (c *Client) startReader(cn *conn, withLoop bool) bool {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		cn.shut(0, "client closed", 0)
		cn.failPending() // its callbacks take c.mu
		return false
	}
	c.goLocked(func() { c.read(cn) })
	c.startDatagramReaderLocked(cn)
	if withLoop {
		c.goLocked(func() { c.run(cn) })
	}
	c.mu.Unlock()
	return true
}

// joinLocked writes a Join for r on cn. c.mu is held and is released.
func (c *Client) joinLocked(cn *conn, r *roomState) {
	j := wire.Join{Room: r.name, Offset: r.offset, Epoch: r.epoch}
	r.sentOn = cn
	fn := c.joinReply(cn, r)
	cn.wmu.Lock()
	c.mu.Unlock()
	defer cn.wmu.Unlock()
	_ = cn.sendLocked(func(b []byte, seq uint32) []byte { return wire.AppendJoin(b, seq, &j) }, fn)
}

// joinReply returns the handler of the answer to a Join of r sent on cn.
func (c *Client) joinReply(cn *conn, r *roomState) replyFunc {
	return func(op wire.Op, body []byte, err error) {
		var refused error
		if err == nil && op == wire.OpError {
			refused = decodeError(body)
		}
		// The events go out after c.mu is released (defers run last in,
		// first out): a handler may call the client.
		var ev *RecoveryEvent
		var unsub *SubscriptionEvent
		defer func() {
			if ev != nil {
				c.fireRecovery(*ev)
			}
			if unsub != nil {
				c.fireSubscription(*unsub)
			}
		}()
		c.mu.Lock()
		defer c.mu.Unlock()
		if r.sentOn != cn {
			return // left meanwhile
		}
		r.sentOn = nil
		switch {
		case err != nil:
			// The connection ended; the next one rejoins.
		case isTransient(refused):
			// The edge could not serve the Join this time (its route or
			// history store, say): the room stays, and is asked for again
			// on the same connection after a backoff.
			r.tries++
			c.log.Warn("quicpush: join failed, retrying", "room", r.name, "err", refused, "attempt", r.tries)
			time.AfterFunc(c.backoff.delay(r.tries), func() {
				c.mu.Lock()
				if c.closed || c.conn != cn || c.rooms[r.name] != r || r.conn == cn || r.sentOn != nil {
					c.mu.Unlock()
					return // gone, left, or being joined another way
				}
				c.joinLocked(cn, r)
			})
		case refused != nil:
			r.err = refused
			if c.rooms[r.name] == r {
				delete(c.rooms, r.name)
				if r.server {
					// The backend took the user out of the room while the
					// client was away: the same news as an Unsubscribed.
					unsub = &SubscriptionEvent{Room: r.name}
				}
			}
			c.log.Warn("quicpush: join refused", "room", r.name, "server_side", r.server, "err", refused)
			r.server = false
		case op == wire.OpJoinOK:
			var ok wire.JoinOK
			if err := ok.Decode(body); err != nil {
				cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
				break // the next connection rejoins
			}
			r.conn, r.tries = cn, 0
			ev = r.applyPosition(ok.Recovery, ok.Offset, ok.Epoch)
		default:
			cn.shut(0, fmt.Sprintf("protocol error: %v answering join", op), wire.CodeProtocolError)
		}
		c.broadcast()
	}
}

// isTransient reports whether the edge refused a request only for now
// (wire.ErrCodeInternal): asking again later may succeed.
func isTransient(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == wire.ErrCodeInternal
}

// read is the reader goroutine of cn: it dispatches every frame until the
// transport fails or the edge disconnects.
func (c *Client) read(cn *conn) {
	defer close(cn.done)
	defer cn.failPending()
	if cn.resumed != wire.RecoveryNone {
		// Before the replayed messages this reader is about to deliver.
		c.fireRecovery(RecoveryEvent{Recovered: cn.resumed == wire.RecoveryRecovered, Offset: cn.userPos.offset, Epoch: cn.userPos.epoch})
	}
	for {
		h, body, err := cn.t.readFrame()
		if err != nil {
			c.readFailed(cn, err)
			return
		}
		cn.lastRead.Store(cn.since())
		switch h.Op {
		case wire.OpPush:
			var p wire.Push
			if err := p.Decode(body); err != nil {
				cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
				return
			}
			c.deliver(&p)
		case wire.OpPing:
			seq := h.Seq
			_ = cn.send(func(b []byte, _ uint32) []byte { return wire.AppendFrame(b, wire.OpPong, seq, nil) }, nil)
		case wire.OpPong:
			// Liveness only, recorded above.
		case wire.OpTokenExpiring:
			c.refreshToken(cn)
		case wire.OpSubscribed:
			if !c.subscribed(cn, body) {
				return
			}
		case wire.OpUnsubscribed:
			if !c.unsubscribed(cn, body) {
				return
			}
		case wire.OpJoinLeave:
			if !c.joinLeave(cn, body) {
				return
			}
		case wire.OpJoinOK, wire.OpLeaveOK, wire.OpRefreshOK, wire.OpPresenceOK, wire.OpError:
			if fn := cn.take(h.Seq); fn != nil {
				fn(h.Op, body, nil)
			} else {
				c.log.Debug("quicpush: answer to no pending request", "op", h.Op, "seq", h.Seq)
			}
		case wire.OpDisconnect:
			var d wire.Disconnect
			if err := d.Decode(body); err != nil {
				cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
				return
			}
			cn.shut(d.Code, d.Reason, 0)
			return
		default:
			// Ops of a later minor revision, or misplaced ones: skipped.
			c.log.Debug("quicpush: skipping frame", "op", h.Op, "seq", h.Seq)
		}
	}
}

// readFailed records why the reader of cn stopped, unless a shut already did.
// A malformed frame from the edge is reported with code 0, not as
// wire.CodeProtocolError, which would tell the client itself not to reconnect.
func (c *Client) readFailed(cn *conn, err error) {
	var ce *closeError
	switch {
	case errors.As(err, &ce):
		cn.shut(ce.code, ce.reason, 0)
	case errors.Is(err, wire.ErrMalformed), errors.Is(err, wire.ErrTooLarge):
		cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
	case errors.Is(err, io.EOF):
		cn.shut(0, "connection closed by the server", 0)
	default:
		cn.shut(0, err.Error(), 0)
	}
}

// refreshToken answers the edge's TokenExpiring: with WithTokenFunc it gets
// a fresh token and sends it (Refresh), off the reader goroutine; with a
// fixed token there is nothing to send, and the edge closes the connection
// with 3004 at expiry, after which the client reconnects as usual.
func (c *Client) refreshToken(cn *conn) {
	if c.opts.tokenFunc == nil {
		c.log.Info("quicpush: token expiring; a fixed token cannot be refreshed")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.goLocked(func() {
		ctx, cancel := c.requestContext(c.ctx)
		defer cancel()
		tok, err := c.token(ctx, true)
		if err != nil {
			c.log.Warn("quicpush: token refresh failed", "err", err)
			return
		}
		done := make(chan error, 1)
		err = cn.send(func(b []byte, seq uint32) []byte { return wire.AppendRefresh(b, seq, &wire.Refresh{Token: tok}) },
			func(op wire.Op, body []byte, err error) {
				switch {
				case err != nil:
				case op == wire.OpError:
					err = decodeError(body)
				case op != wire.OpRefreshOK:
					err = fmt.Errorf("%w: %v answering refresh", wire.ErrMalformed, op)
				}
				done <- err
			})
		if err == nil {
			select {
			case err = <-done:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			c.log.Warn("quicpush: token refresh refused", "err", err)
			return
		}
		c.log.Debug("quicpush: token refreshed")
	})
}

// fireRecovery hands ev to the OnRecovery handler.
func (c *Client) fireRecovery(ev RecoveryEvent) {
	if c.opts.onRecovery == nil {
		return
	}
	c.callHandler(true, func() { c.opts.onRecovery(ev) })
}

// Duplicates is the number of pushes the client dropped as repeats: at-least-
// once delivery can send a message twice around a failure, and one whose
// position the client already passed never reaches OnMessage.
func (c *Client) Duplicates() int64 { return c.dups.Load() }

// Position returns the last position the client holds in room's stream
// (offset 0 and "" when none), the one it resumes from after a reconnect.
func (c *Client) Position(room string) (offset uint64, epoch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.rooms[room]; r != nil {
		return r.offset, r.epoch
	}
	return 0, ""
}

// UserPosition returns the last position the client holds in its user's
// stream (direct pushes addressed to the user).
func (c *Client) UserPosition() (offset uint64, epoch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user.offset, c.user.epoch
}

// deliver records a room message's position and hands the message to the
// OnMessage handler.
func (c *Client) deliver(p *wire.Push) {
	if (p.Offset != 0 || p.Epoch != "") && !p.Ephemeral() {
		fresh := true
		c.mu.Lock()
		switch p.Kind {
		case wire.PushRoom:
			if r := c.rooms[p.Room]; r != nil {
				pos := position{r.offset, r.epoch}
				fresh = pos.advance(p.Offset, p.Epoch)
				r.offset, r.epoch = pos.offset, pos.epoch
			}
		case wire.PushDirect:
			fresh = c.user.advance(p.Offset, p.Epoch)
		}
		c.mu.Unlock()
		if !fresh {
			c.dups.Add(1)
			return
		}
	}
	if c.opts.onMessage == nil {
		return
	}
	m := Message{Kind: p.Kind, Room: p.Room, ID: p.ID, Offset: p.Offset, Epoch: p.Epoch, Data: bytes.Clone(p.Data), Ephemeral: p.Ephemeral()}
	c.callHandler(true, func() {
		c.dg.handler.Lock()
		defer c.dg.handler.Unlock()
		c.opts.onMessage(m)
	})
}

// run is the background loop: heartbeats on the live connection, then, when
// it ends, reconnects with backoff, until Close or a code that forbids
// reconnecting.
func (c *Client) run(cn *conn) {
	attempt := 0
	for {
		c.heartbeat(cn)
		if c.ctx.Err() != nil {
			return
		}
		code, reason := cn.why()
		c.dropConn(cn)
		if time.Since(cn.start) >= c.backoff.max || code == wire.CodeShutdown {
			// That connection was healthy, or its edge is draining and
			// asks for a reconnect now: the first delay is the shortest
			// (still jittered, so the edge's clients spread out).
			attempt = 0
		}
		reconnect := code.Reconnect()
		c.log.Info("quicpush: disconnected", "endpoint", cn.url, "transport", cn.name, "code", int(code), "reason", reason, "reconnect", reconnect)
		if !reconnect {
			// Stopped before the handler runs, so that it may call Connect.
			c.stop(&Error{Code: code, Message: reason})
		}
		c.disconnected(DisconnectEvent{Code: code, Reason: reason, Reconnect: reconnect})
		if !reconnect {
			return
		}
		if cn = c.reconnect(&attempt, c.nextEdge(cn, code)); cn == nil {
			return
		}
	}
}

// heartbeat pings at the edge's interval until cn ends or the client closes.
// A ping followed by a whole interval without any frame from the edge (its
// Pong, or anything else: a busy reader may see the Pong late) means the
// connection is dead.
func (c *Client) heartbeat(cn *conn) {
	t := time.NewTimer(cn.pingInterval)
	defer t.Stop()
	pinged := int64(-1)
	for {
		select {
		case <-cn.done:
			return
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if pinged >= 0 && cn.lastRead.Load() < pinged {
			cn.shut(0, fmt.Sprintf("heartbeat timeout: nothing from the server within %v of a ping", cn.pingInterval), 0)
			continue // wait for the reader to end
		}
		pinged = cn.since()
		cn.ping()
		t.Reset(cn.pingInterval)
	}
}

// reconnect retries connect attempts with backoff, each starting with edge
// first, until one succeeds (and returns its connection, live with its reader
// started), the client closes, or an edge refuses it with a code that forbids
// reconnecting (both nil).
func (c *Client) reconnect(attempt *int, first int) *conn {
	for {
		d := c.backoff.delay(*attempt)
		*attempt++
		if !c.sleep(d) {
			return nil
		}
		cn, err := c.dial(c.ctx, true, first)
		if err == nil {
			if !c.install(cn) || !c.startReader(cn, false) {
				return nil
			}
			c.connected(cn, true)
			return cn
		}
		if c.ctx.Err() != nil {
			return nil
		}
		var refused *Error
		if errors.As(err, &refused) && !refused.Code.Reconnect() {
			c.log.Warn("quicpush: reconnect refused, stopping", "err", err)
			c.stop(refused)
			c.disconnected(DisconnectEvent{Code: refused.Code, Reason: refused.Message})
			return nil
		}
		c.log.Warn("quicpush: reconnect failed", "attempt", *attempt, "err", err)
	}
}

func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// dropConn forgets cn, which has ended.
func (c *Client) dropConn(cn *conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == cn {
		c.conn = nil
	}
	for _, r := range c.rooms {
		if r.conn == cn {
			r.conn = nil
		}
		if r.sentOn == cn {
			r.sentOn = nil
		}
	}
	c.broadcast()
}

// stop ends the background loop for good, until the next Connect.
func (c *Client) stop(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.started, c.stopErr = false, err
	c.broadcast()
}

func (c *Client) connected(cn *conn, tracked bool) {
	c.log.Info("quicpush: connected", "endpoint", cn.url, "transport", cn.name, "conn_key", cn.key, "user", cn.user)
	if f := c.opts.onConnect; f != nil {
		ev := ConnectEvent{Endpoint: cn.url, Transport: cn.name, ConnKey: cn.key, User: cn.user, Revision: cn.revision}
		ev.Resumed, ev.ZeroRTT = resumption(cn.t)
		c.callHandler(tracked, func() { f(ev) })
	}
}

func (c *Client) disconnected(ev DisconnectEvent) {
	if f := c.opts.onDisconnect; f != nil {
		c.callHandler(true, func() { f(ev) })
	}
}

// broadcast wakes the waiters on c.changed; c.mu is held.
func (c *Client) broadcast() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// wait calls done under c.mu until it reports true, sleeping between calls
// until something changes.
func (c *Client) wait(ctx context.Context, done func() (bool, error)) error {
	for {
		c.mu.Lock()
		ok, err := done()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// goLocked runs f on a goroutine that Close waits for; c.mu is held and the
// client is not closed, so Close sees the goroutine counted.
func (c *Client) goLocked(f func()) {
	c.gmu.Lock()
	c.running++
	c.gmu.Unlock()
	go func() {
		defer func() {
			c.gmu.Lock()
			c.running--
			c.gcond.Broadcast()
			c.gmu.Unlock()
		}()
		f()
	}()
}

// callHandler runs a user callback unless the client is closed. tracked says
// whether the caller is one of the goroutines Close waits for; Close does not
// wait for those while they run a handler.
func (c *Client) callHandler(tracked bool, f func()) {
	c.gmu.Lock()
	if c.ctx.Err() != nil {
		c.gmu.Unlock()
		return
	}
	if tracked {
		c.inHandler++
		c.gcond.Broadcast()
	}
	c.gmu.Unlock()
	if tracked {
		defer func() {
			c.gmu.Lock()
			c.inHandler--
			c.gcond.Broadcast()
			c.gmu.Unlock()
		}()
	}
	f()
}

func (c *Client) requestContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.opts.requestTimeout > 0 {
		return context.WithTimeout(ctx, c.opts.requestTimeout)
	}
	return ctx, func() {}
}

func checkRoom(room string) error {
	if room == "" || len(room) > wire.MaxRoomLen {
		return &Error{Code: wire.ErrCodeBadRequest, Message: fmt.Sprintf("room name must be 1 to %d bytes", wire.MaxRoomLen)}
	}
	return nil
}

// decodeError decodes an Error frame body into *Error.
func decodeError(body []byte) error {
	var m wire.Error
	if err := m.Decode(body); err != nil {
		return err
	}
	return &Error{Code: m.Code, Message: m.Message}
}
