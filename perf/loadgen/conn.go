package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/internal/auth"
	"github.com/quicpush/quicpush/internal/frameconn"
	"github.com/quicpush/quicpush/wire"
)

// link is one client connection as the generator sees it, whatever the
// transport. next and the handshake's write run on the connection's own
// goroutine; after the handshake only the shared pinger writes.
type link interface {
	// write sends one whole frame.
	write(frame []byte) error
	// next returns the next frame; the body is valid until the next call.
	next() (wire.Header, []byte, error)
	// setDeadline bounds the handshake; the zero time clears it.
	setDeadline(t time.Time) error
	close()
	// countReads makes the link count its reads that returned data (for
	// WebSocket, its data messages) into n: how many writes the server's
	// deliveries took, roughly.
	countReads(n *atomic.Int64)
	// endReason names how the connection ended when next failed without
	// a Disconnect frame: a transport close code, EOF or an error kind.
	endReason(err error) string
}

// readBufSize is each connection's read buffer: a batch of pushes arriving
// in one segment is read with one system call.
const readBufSize = 4 << 10

// frameLink is a link on a frameconn connection, the dialer and framing of
// every transport shared with the client SDK and the end-to-end tests.
type frameLink struct{ c *frameconn.Conn }

func (l frameLink) write(b []byte) error               { return l.c.WriteFrame(b) }
func (l frameLink) next() (wire.Header, []byte, error) { return l.c.ReadFrame() }
func (l frameLink) setDeadline(t time.Time) error      { return l.c.SetDeadline(t) }
func (l frameLink) close()                             { _ = l.c.Close(0, "") }
func (l frameLink) countReads(n *atomic.Int64)         { l.c.CountReads(n) }

func (l frameLink) endReason(err error) string {
	switch l.c.Transport() {
	case frameconn.TransportQUIC:
		return quicEnd(err)
	case frameconn.TransportWebTransport:
		return webTransportEnd(err)
	case frameconn.TransportWS, frameconn.TransportWSS:
		return wsEnd(err)
	}
	return streamEnd(err)
}

// linked wraps a dialled connection, or passes on the dial's error.
func linked(c *frameconn.Conn, err error) (link, error) {
	if err != nil {
		return nil, err
	}
	return frameLink{c}, nil
}

// handshakeTimeout bounds dial, Auth and Join of one connection.
const handshakeTimeout = 15 * time.Second

// conn is one client session: a connection from its handshake to its end.
// A connection that is closed and opened again (churn) is a new conn with
// the same index.
type conn struct {
	l       link
	sh      *shard
	i       int // slot index
	pingSeq uint32
	// joined is when the handshake completed (unix nanos), closed when the
	// generator closed the connection on purpose (0: it did not).
	joined, closed atomic.Int64
	closing        atomic.Bool
	// got lists the push numbers ("n" in the payload) of the in-window
	// pushes this session received, when the clients track them. Only the
	// session's reader appends; it is read once the reader has returned.
	got []uint32
	// wmu orders the writes after the handshake: the shared pinger's and
	// the mobile scenario's Ping after a move.
	wmu sync.Mutex
}

// writeLocked writes one frame after the handshake.
func (cn *conn) writeLocked(frame []byte) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	return cn.l.write(frame)
}

// shard holds counters updated by the readers of a subset of connections, so
// that readers on different cores do not share cache lines.
type shard struct {
	lat      histogram    // latency of in-window deliveries, microseconds
	arrivals atomic.Int64 // every push frame received
	unstamp  atomic.Int64 // pushes without a "t" field
	pongs    atomic.Int64
	reads    atomic.Int64 // reads that returned data (WebSocket: messages)
	last     atomic.Int64 // unix nanos of the last in-window delivery
	_        [64]byte
}

// counter counts rare events (errors, disconnect codes) by name.
type counter struct {
	mu sync.Mutex
	m  map[string]int64
}

func (c *counter) add(name string) { c.addN(name, 1) }

func (c *counter) addN(name string, n int64) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]int64)
	}
	c.m[name] += n
	c.mu.Unlock()
}

func (c *counter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

func (c *counter) total() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, v := range c.m {
		n += v
	}
	return n
}

// clients holds every connection of a run and what their readers measured.
type clients struct {
	dial func(ctx context.Context, i int) (link, error)
	// rooms returns the rooms connection i joins; user returns its user id.
	rooms    func(i int) []string
	user     func(i int) string
	secret   []byte
	tokenTTL time.Duration
	shards   []*shard
	// trackN makes each session keep the push numbers it received
	// (many-rooms needs them to tell losses from churn).
	trackN bool
	// resume, when set, makes handshakes send each slot's last stream
	// positions, hands it the replies and every push (resume-storm).
	resume *resumeTracker
	// onEnd, when set, hears of each session that ended without the
	// generator closing it (the network or the server did): the mobile
	// scenario reconnects it. It runs on the session's reader.
	onEnd func(cn *conn)
	// onStamped, when set, sees every stamped push with its send time and
	// arrival (unix nanos), in or out of the window: the head-of-line
	// measurement sorts them by room.
	onStamped func(cn *conn, body []byte, t, now int64)

	// Pushes whose send time lies in [winStart, winEnd) are measured.
	winStart, winEnd atomic.Int64
	stopping         atomic.Bool

	slots []atomic.Pointer[conn] // the live session of each index

	mu           sync.Mutex
	pingInterval time.Duration
	sessions     []*conn // every session that completed its handshake

	readers     sync.WaitGroup
	errs        counter // connect failures and connections lost, by cause
	disconnects counter // Disconnect frames, by code
}

// newClients prepares n connection slots; user i is "u<first+i>".
func newClients(dial func(context.Context, int) (link, error), n, first int, rooms func(i int) []string, secret []byte, ttl time.Duration, nShards int) *clients {
	c := &clients{
		dial: dial, rooms: rooms, secret: secret, tokenTTL: ttl,
		user:   func(i int) string { return "u" + strconv.Itoa(first+i) },
		shards: make([]*shard, nShards), slots: make([]atomic.Pointer[conn], n),
	}
	for i := range c.shards {
		c.shards[i] = new(shard)
	}
	c.winStart.Store(int64(^uint64(0) >> 1))
	c.winEnd.Store(int64(^uint64(0) >> 1))
	return c
}

// oneRoom joins every connection to room.
func oneRoom(room string) func(int) []string {
	rooms := []string{room}
	return func(int) []string { return rooms }
}

// connect opens the connections of slots [0, n), at most par handshaking at
// once, and returns once each has joined its rooms or failed. Connections
// keep reading in their own goroutine afterwards.
func (c *clients) connect(ctx context.Context, n, par int, progress func(done int)) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var done atomic.Int64
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			err := c.open(ctx, i)
			<-sem
			d := done.Add(1)
			wg.Done()
			if progress != nil && d%1000 == 0 {
				progress(int(d))
			}
			if err != nil {
				c.errs.add(err.Error())
			}
		}()
	}
	wg.Wait()
}

// open connects slot i and starts its reader.
func (c *clients) open(ctx context.Context, i int) error {
	cn, err := c.handshake(ctx, i)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.sessions = append(c.sessions, cn)
	c.mu.Unlock()
	c.slots[i].Store(cn)
	c.readers.Add(1)
	go func() {
		defer c.readers.Done()
		c.read(cn)
	}()
	return nil
}

// reopen closes slot i's connection on purpose and connects it again:
// churn. It returns how long the new handshake took.
func (c *clients) reopen(ctx context.Context, i int) (time.Duration, error) {
	if old := c.slots[i].Swap(nil); old != nil {
		old.closing.Store(true)
		old.closed.Store(time.Now().UnixNano())
		old.l.close()
	}
	start := time.Now()
	err := c.open(ctx, i)
	return time.Since(start), err
}

// connectError names a failed connection attempt by phase and cause, so that
// thousands of failures collapse into a few counters.
type connectError struct{ phase, cause string }

func (e *connectError) Error() string { return e.phase + ": " + e.cause }

func causeOf(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		var se *os.SyscallError
		if errors.As(oe.Err, &se) {
			return se.Syscall + ": " + se.Err.Error()
		}
		return oe.Op + ": " + oe.Err.Error()
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// handshake dials connection i, authenticates as its user and joins its
// rooms. The caller reads from the returned connection.
func (c *clients) handshake(ctx context.Context, i int) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	defer cancel()
	t0 := time.Now()
	l, err := c.dial(ctx, i)
	if err != nil {
		return nil, &connectError{"dial", causeOf(err)}
	}
	t1 := time.Now()
	ok := false
	defer func() {
		if !ok {
			l.close()
		}
	}()
	// ctx's deadline: handshakeTimeout, or sooner when the caller's ends.
	dl, _ := ctx.Deadline()
	_ = l.setDeadline(dl)
	rooms := c.rooms(i)
	tok, err := auth.IssueHS256(c.secret, c.user(i), rooms, c.tokenTTL)
	if err != nil {
		return nil, &connectError{"token", err.Error()}
	}
	auth := &wire.Auth{Version: wire.Version, Token: tok}
	if c.resume != nil {
		auth.Offset, auth.Epoch = c.resume.userPosition(i)
	}
	if err := l.write(wire.AppendAuth(nil, 1, auth)); err != nil {
		return nil, &connectError{"auth", causeOf(err)}
	}
	cn := &conn{l: l, sh: c.shards[i%len(c.shards)], i: i, pingSeq: 1}
	l.countReads(&cn.sh.reads)
	h, body, err := l.next()
	if err != nil {
		return nil, &connectError{"auth", causeOf(err)}
	}
	switch h.Op {
	case wire.OpAuthOK:
		var a wire.AuthOK
		if err := a.Decode(body); err != nil {
			return nil, &connectError{"auth", err.Error()}
		}
		c.mu.Lock()
		c.pingInterval = time.Duration(a.PingIntervalMs) * time.Millisecond
		c.mu.Unlock()
		if c.resume != nil {
			c.resume.onAuthOK(i, &a)
		}
		t2 := time.Now()
		defer func() {
			if ok && c.resume != nil {
				c.resume.stages(t1.Sub(t0), t2.Sub(t1), time.Since(t2))
			}
		}()
	case wire.OpDisconnect:
		return nil, &connectError{"auth", "disconnect " + disconnectCode(body)}
	default:
		return nil, &connectError{"auth", "unexpected " + h.Op.String()}
	}
	for _, room := range rooms {
		j := &wire.Join{Room: room}
		if c.resume != nil {
			j.Offset, j.Epoch = c.resume.roomPosition(i)
		}
		body, err := cn.request(wire.OpJoin, room, func(seq uint32) []byte {
			return wire.AppendJoin(nil, seq, j)
		}, c)
		if err != nil {
			return nil, &connectError{"join", err.Error()}
		}
		if c.resume != nil {
			var ok wire.JoinOK
			if err := ok.Decode(body); err != nil {
				return nil, &connectError{"join", err.Error()}
			}
			c.resume.onJoinOK(i, &ok)
		}
	}
	if err := l.setDeadline(time.Time{}); err != nil {
		return nil, &connectError{"join", causeOf(err)}
	}
	cn.joined.Store(time.Now().UnixNano())
	ok = true
	return cn, nil
}

// request sends a Join or Leave built by frame and reads until its reply,
// taking pushes that arrive meanwhile, and returns the reply's body (valid
// until the connection's next read). Only the connection's own goroutine
// calls it, before or instead of its reader.
func (cn *conn) request(op wire.Op, room string, frame func(seq uint32) []byte, c *clients) ([]byte, error) {
	cn.pingSeq++
	seq := cn.pingSeq
	if err := cn.l.write(frame(seq)); err != nil {
		return nil, errors.New(causeOf(err))
	}
	want := wire.OpJoinOK
	if op == wire.OpLeave {
		want = wire.OpLeaveOK
	}
	for {
		h, body, err := cn.l.next()
		if err != nil {
			return nil, errors.New(causeOf(err))
		}
		switch h.Op {
		case want:
			if h.Seq == seq {
				return body, nil
			}
		case wire.OpPush:
			// Membership takes effect before JoinOK is written.
			c.onPush(cn, body)
		case wire.OpError:
			var e wire.Error
			_ = e.Decode(body)
			return nil, fmt.Errorf("error %d", e.Code)
		case wire.OpDisconnect:
			return nil, errors.New("disconnect " + disconnectCode(body))
		}
	}
}

func disconnectCode(body []byte) string {
	var d wire.Disconnect
	if err := d.Decode(body); err != nil {
		return "malformed"
	}
	return strconv.Itoa(int(d.Code))
}

// read is a connection's receive loop: it runs until the connection ends.
func (c *clients) read(cn *conn) {
	defer c.slots[cn.i].CompareAndSwap(cn, nil)
	for {
		h, body, err := cn.l.next()
		if err != nil {
			if !c.stopping.Load() && !cn.closing.Load() {
				c.errs.add("lost: " + cn.l.endReason(err))
				if c.onEnd != nil {
					c.slots[cn.i].CompareAndSwap(cn, nil)
					c.onEnd(cn)
				}
			}
			return
		}
		switch h.Op {
		case wire.OpPush:
			c.onPush(cn, body)
		case wire.OpPong:
			cn.sh.pongs.Add(1)
		case wire.OpDisconnect:
			if !cn.closing.Load() {
				c.disconnects.add(disconnectCode(body))
			}
			cn.l.close()
			if c.onEnd != nil && !c.stopping.Load() && !cn.closing.Load() {
				c.slots[cn.i].CompareAndSwap(cn, nil)
				c.onEnd(cn)
			}
			return
		}
	}
}

var (
	stampKey = []byte(`"t":`)
	numKey   = []byte(`"n":`)
)

// stamp finds the send time the pusher wrote into the payload as "t":<unix
// nanoseconds>, without a JSON decoder.
func stamp(body []byte) (int64, bool) { return intField(body, stampKey) }

// intField returns the non-negative integer after key in body.
func intField(body, key []byte) (int64, bool) {
	i := bytes.Index(body, key)
	if i < 0 {
		return 0, false
	}
	var v int64
	j := i + len(key)
	for ; j < len(body) && body[j] >= '0' && body[j] <= '9'; j++ {
		v = v*10 + int64(body[j]-'0')
	}
	return v, j > i+len(key)
}

func (c *clients) onPush(cn *conn, body []byte) {
	now := time.Now().UnixNano()
	sh := cn.sh
	sh.arrivals.Add(1)
	t, ok := stamp(body)
	if !ok {
		sh.unstamp.Add(1)
		return
	}
	if c.resume != nil {
		c.resume.onPush(cn.i, body, t, now)
	}
	if c.onStamped != nil {
		c.onStamped(cn, body, t, now)
	}
	if t < c.winStart.Load() || t >= c.winEnd.Load() {
		return
	}
	sh.lat.record(uint64(max(now-t, 0)) / 1000)
	if c.trackN {
		if n, ok := intField(body, numKey); ok {
			cn.got = append(cn.got, uint32(n))
		}
	}
	for {
		last := sh.last.Load()
		if now <= last || sh.last.CompareAndSwap(last, now) {
			return
		}
	}
}

// ping sends a Ping on every connection every half interval, from one
// goroutine and one ticker for all of them, until ctx ends.
func (c *clients) ping(ctx context.Context) {
	c.mu.Lock()
	interval := c.pingInterval
	c.mu.Unlock()
	if interval <= 0 {
		interval = 25 * time.Second
	}
	tk := time.NewTicker(interval / 2)
	defer tk.Stop()
	var buf []byte
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		for i := range c.slots {
			cn := c.slots[i].Load()
			if cn == nil {
				continue
			}
			if ctx.Err() != nil {
				return
			}
			// Sequence numbers above 1<<31 keep clear of the ones
			// handshake and request use.
			cn.pingSeq = cn.pingSeq%(1<<30) + 1
			buf = wire.AppendFrame(buf[:0], wire.OpPing, 1<<31+cn.pingSeq, nil)
			if err := cn.writeLocked(buf); err != nil && !c.stopping.Load() && !cn.closing.Load() {
				c.errs.add("ping: " + causeOf(err))
			}
		}
	}
}

// connected is the number of live connections.
func (c *clients) connected() int {
	n := 0
	for i := range c.slots {
		if c.slots[i].Load() != nil {
			n++
		}
	}
	return n
}

// arrivals is the number of push frames received so far.
func (c *clients) arrivals() int64 {
	var n int64
	for _, sh := range c.shards {
		n += sh.arrivals.Load()
	}
	return n
}

// delivered is the number of in-window deliveries so far.
func (c *clients) delivered() int64 {
	var n uint64
	for _, sh := range c.shards {
		n += sh.lat.count()
	}
	return int64(n)
}

// pongs is the number of Pongs received so far.
func (c *clients) pongs() int64 {
	var n int64
	for _, sh := range c.shards {
		n += sh.pongs.Load()
	}
	return n
}

// unstamped is the number of pushes received without a send time.
func (c *clients) unstamped() int64 {
	var n int64
	for _, sh := range c.shards {
		n += sh.unstamp.Load()
	}
	return n
}

// reads is the number of reads that returned data so far.
func (c *clients) reads() int64 {
	var n int64
	for _, sh := range c.shards {
		n += sh.reads.Load()
	}
	return n
}

// latency merges the shards' histograms.
func (c *clients) latency() (*histogram, time.Time) {
	h := new(histogram)
	var last int64
	for _, sh := range c.shards {
		h.merge(&sh.lat)
		last = max(last, sh.last.Load())
	}
	return h, time.Unix(0, last)
}

// closeAll closes every connection, par at a time, and waits up to wait for
// their readers to return.
func (c *clients) closeAll(par int, wait time.Duration) {
	c.stopping.Store(true)
	ch := make(chan *conn)
	var wg sync.WaitGroup
	for range par {
		wg.Go(func() {
			for cn := range ch {
				cn.l.close()
			}
		})
	}
	for i := range c.slots {
		if cn := c.slots[i].Load(); cn != nil {
			ch <- cn
		}
	}
	close(ch)
	wg.Wait()
	done := make(chan struct{})
	go func() { c.readers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(wait):
	}
}
