package edge

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"
	"go.opentelemetry.io/otel/trace"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// Edge accepts client connections on its QUIC and TCP ports and delivers
// messages to them.
type Edge struct {
	cfg     Config
	metrics *metrics
	keySeq  atomic.Uint64
	// hub holds the sessions and their memberships (hub.go).
	hub hub
	// flushers write queued frames to clients.
	flushers *flusherPool
	// pacer holds room messages per the write policy (pacer.go).
	pacer *pacer
	// clock is the coarse clock of the hot path, ticked by the janitor.
	clock coarseClock
	// guard enforces the per-IP limits.
	guard *guard
	// tracer records the fan-out of traced pushes (tracing.go); nil
	// without Config.Tracer.
	tracer trace.Tracer

	udp   *net.UDPConn
	qtr   *quic.Transport
	qln   *quic.EarlyListener
	wt    *webtransport.Server
	tcpLn net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	// live counts connections from accept until their serve returns, so
	// Shutdown can wait for them.
	live sync.WaitGroup
	// loops counts the edge's own goroutines (janitor, accept loops, paced
	// broadcasts); Close waits for them.
	loops     sync.WaitGroup
	closeOnce sync.Once
}

// Listen binds the edge's ports and starts serving.
func Listen(cfg Config) (*Edge, error) {
	e, err := newEdge(cfg)
	if err != nil {
		return nil, err
	}
	e.start()
	if err := e.listenQUIC(); err != nil {
		_ = e.Close()
		return nil, err
	}
	if err := e.listenTCP(); err != nil {
		_ = e.Close()
		return nil, err
	}
	e.cfg.Logger.Info("edge listening", "quic", e.QUICAddr().String(), "tcp", e.TCPAddr().String(), "id", e.cfg.ID)
	return e, nil
}

// newEdge builds an edge that holds no port and runs no goroutine yet.
func newEdge(cfg Config) (*Edge, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		cfg.ID = rand.Text()[:6]
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	e := &Edge{cfg: cfg, metrics: m}
	if cfg.Tracer != nil {
		e.tracer = cfg.Tracer.Tracer("github.com/quicpush/quicpush/edge")
	}
	if e.cfg.Presence == nil {
		e.cfg.Presence = e // this edge's own members
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.clock.set(time.Now())
	e.hub.init(e.ctx, &e.cfg, m)
	e.flushers = newFlusherPool(cfg.MaxFlushers, &e.clock)
	e.pacer = newPacer(cfg.WriteBudget, cfg.Shards, m, e.writeRoom)
	e.guard = newGuard(&e.cfg, m)
	return e, nil
}

// start runs the janitor, which ticks the clock until Close, and the
// pacer.
func (e *Edge) start() {
	e.loops.Add(2)
	go e.janitor()
	go func() {
		defer e.loops.Done()
		e.pacer.run(e.ctx)
	}()
	if e.hub.notices != nil {
		e.loops.Add(1)
		go e.noticeLoop()
	}
}

// QUICAddr is the UDP address serving QUIC and WebTransport.
func (e *Edge) QUICAddr() net.Addr { return e.udp.LocalAddr() }

// TCPAddr is the TCP address serving framed TCP and WebSocket.
func (e *Edge) TCPAddr() net.Addr { return e.tcpLn.Addr() }

// ID is the edge's id, the prefix of its connection keys.
func (e *Edge) ID() string { return e.cfg.ID }

func (e *Edge) newKey() string {
	return e.cfg.ID + "." + strconv.FormatUint(e.keySeq.Add(1), 36)
}

// Deliver hands messages to the sessions they address. It never blocks on a
// client: each receiver's queue takes a reference to one shared encoding, and
// consecutive messages to the same room are encoded into one buffer that
// every member receives in a single queue entry.
func (e *Edge) Deliver(msgs []*push.Message) {
	e.metrics.batches.Inc()
	now := time.Now()
	for _, m := range msgs {
		e.metrics.received.WithLabelValues(m.Kind.String()).Inc()
		if !m.Accepted.IsZero() {
			e.metrics.pushLatency.Observe(now.Sub(m.Accepted).Seconds())
		}
	}
	for i := 0; i < len(msgs); {
		m := msgs[i]
		if m.Ephemeral && m.Kind != push.KindDisconnect {
			spans := e.startFanout(msgs[i : i+1])
			e.deliverEphemeral(m) // datagram.go
			if spans != nil {
				endFanout(spans, e.receivers(m))
			}
			i++
			continue
		}
		var spans []trace.Span // the run's fan-out spans, when traced
		switch m.Kind {
		case push.KindRoom:
			// A run shares one buffer; it is capped so a merged burst never
			// lands in a queue as one huge entry.
			j, size := i+1, len(m.Data)
			for j < len(msgs) && msgs[j].Kind == push.KindRoom && msgs[j].Room == m.Room && !msgs[j].Ephemeral && size+len(msgs[j].Data) <= maxRunBytes {
				size += len(msgs[j].Data)
				j++
			}
			spans = e.startFanout(msgs[i:j])
			e.deliverRoom(m.Room, encode(msgs[i:j], wire.PushRoom), j-i)
			if spans != nil {
				endFanout(spans, e.receivers(m))
			}
			i = j
			continue
		case push.KindKeys:
			spans = e.startFanout(msgs[i : i+1])
			buf := encode(msgs[i:i+1], wire.PushDirect)
			for _, k := range m.Keys {
				if s := e.hub.lookup(k); s != nil && s.enqueue(buf) {
					e.metrics.deliveries.Inc()
				}
			}
		case push.KindUsers:
			spans = e.startFanout(msgs[i : i+1])
			var shared []byte // for the users whose stream keeps no history
			for ui, u := range m.Users {
				// Each user's stream has its own epoch, so each user with
				// history gets an encoding of their own position.
				var buf []byte
				if ui < len(m.UserEpochs) && m.UserEpochs[ui] != "" {
					buf = encodeOne(m, wire.PushDirect, "", m.Offset, m.UserEpochs[ui])
				} else {
					if shared == nil {
						shared = encodeOne(m, wire.PushDirect, "", 0, "")
					}
					buf = shared
				}
				e.hub.forUser(u, func(s *session) {
					if s.enqueue(buf) {
						e.metrics.deliveries.Inc()
					}
				})
			}
		case push.KindBroadcast:
			spans = e.startFanout(msgs[i : i+1])
			e.broadcast(encode(msgs[i:i+1], wire.PushBroadcast), m.Rate)
		case push.KindSubscribe, push.KindUnsubscribe:
			e.deliverOrder(m) // serverrooms.go
		case push.KindDisconnect:
			d := disconnect{wire.Code(m.Code), m.Reason}
			for _, k := range m.Keys {
				if s := e.hub.lookup(k); s != nil {
					s.close(d)
				}
			}
			for _, u := range m.Users {
				e.hub.forUser(u, func(s *session) { s.close(d) })
			}
		default:
			e.cfg.Logger.Warn("message of unknown kind dropped", "id", m.ID, "kind", m.Kind)
		}
		if spans != nil {
			endFanout(spans, e.receivers(m))
		}
		i++
	}
}

// maxRunBytes caps the payload bytes of consecutive room messages encoded
// into one shared buffer.
const maxRunBytes = 64 << 10

// encode writes msgs as consecutive Push frames into one exactly sized
// buffer. Room messages carry their stream position when their room keeps
// history.
func encode(msgs []*push.Message, kind wire.PushKind) []byte {
	n := 0
	p := make([]wire.Push, len(msgs))
	for i, m := range msgs {
		p[i] = wire.Push{Kind: kind, ID: m.ID, Data: m.Data}
		if kind == wire.PushRoom {
			p[i].Room = m.Room
			if m.Epoch != "" {
				p[i].Offset, p[i].Epoch = m.Offset, m.Epoch
			}
		}
		n += wire.PushSize(&p[i])
	}
	buf := make([]byte, 0, n)
	for i := range p {
		buf = wire.AppendPush(buf, &p[i])
	}
	return buf
}

// encodeOne writes one Push frame with the given room and position.
func encodeOne(m *push.Message, kind wire.PushKind, room string, offset uint64, epoch string) []byte {
	p := wire.Push{Kind: kind, Room: room, ID: m.ID, Offset: offset, Epoch: epoch, Data: m.Data}
	return wire.AppendPush(make([]byte, 0, wire.PushSize(&p)), &p)
}

// deliverRoom hands a room's messages, encoded in buf, to the write policy.
func (e *Edge) deliverRoom(room string, buf []byte, msgs int) {
	e.pacer.deliver(room, buf, msgs)
}

// writeRoom queues buf (msgs messages) for the members of room (every
// session for broadcastRoom) in write group g of groups, or in every group
// for g < 0: the pacer calls it when the messages are due.
func (e *Edge) writeRoom(room string, g, groups int, buf []byte, msgs int) {
	if g < 0 {
		g, groups = 0, 1 // group 0 of 1: every shard
	}
	n := e.hub.enqueueGroup(room, room == broadcastRoom, g, groups, buf)
	e.metrics.deliveries.Add(float64(n * msgs))
}

// broadcast queues buf for every session. With a rate, it paces itself to at
// most rate connections per second in its own goroutine, so a broadcast to a
// large edge does not burst every client at once.
func (e *Edge) broadcast(buf []byte, rate int) {
	if rate <= 0 {
		e.pacer.deliver(broadcastRoom, buf, 1)
		return
	}
	e.loops.Add(1)
	go func() {
		defer e.loops.Done()
		const tick = 10 * time.Millisecond
		perTick := max(1, rate/int(time.Second/tick))
		targets := e.hub.all()
		t := time.NewTicker(tick)
		defer t.Stop()
		for len(targets) > 0 {
			n := min(perTick, len(targets))
			for _, s := range targets[:n] {
				if s.enqueue(buf) {
					e.metrics.deliveries.Inc()
				}
			}
			targets = targets[n:]
			select {
			case <-t.C:
			case <-e.ctx.Done():
				return
			}
		}
	}()
}

// janitor ticks the coarse clock and, every janitorEvery, retires idle
// flushers and forgets idle sources of the per-IP limits.
func (e *Edge) janitor() {
	defer e.loops.Done()
	t := time.NewTicker(clockTick)
	defer t.Stop()
	next := time.Now().Add(janitorEvery)
	for {
		select {
		case now := <-t.C:
			e.clock.set(now)
			e.pacer.control(now)
			if now.Before(next) {
				continue
			}
			next = now.Add(janitorEvery)
			e.flushers.retireIdle(now.Add(-flusherIdle))
			e.pacer.forget(now.Add(-janitorEvery))
			e.guard.sweep(now)
		case <-e.ctx.Done():
			return
		}
	}
}

// janitorEvery is how often the janitor sweeps.
const janitorEvery = flusherIdle / 2

// Ping reports whether the edge takes connections, for readiness checks:
// it fails with ErrStopped once Shutdown or Close began.
func (e *Edge) Ping(context.Context) error {
	if e.hub.draining.Load() {
		return ErrStopped
	}
	return nil
}

// ErrStopped is Ping's answer once the edge stopped taking connections.
var ErrStopped = errors.New("edge: not accepting connections")

// Shutdown drains the edge: it stops accepting, tells every client to
// reconnect elsewhere (CodeShutdown), waits for them to leave until ctx ends,
// then closes what is left. It returns ctx's error when clients were still
// connected at its end.
func (e *Edge) Shutdown(ctx context.Context) error {
	e.hub.draining.Store(true)
	e.stopAccepting()
	// What the write policy holds goes out ahead of the Disconnect frames.
	e.pacer.flush()
	for _, s := range e.hub.all() {
		s.close(disconnectShutdown)
	}
	done := make(chan struct{})
	go func() { e.live.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("edge: shutdown: %w", ctx.Err())
	}
	_ = e.Close()
	return err
}

func (e *Edge) stopAccepting() {
	if e.qln != nil {
		_ = e.qln.Close()
	}
	if e.tcpLn != nil {
		_ = e.tcpLn.Close()
	}
}

// Close closes every connection and port at once, and returns once the
// edge's own goroutines (janitor, accept loops, flushers) are gone. It
// always returns nil, and so does every later call.
func (e *Edge) Close() error {
	e.closeOnce.Do(func() {
		e.hub.draining.Store(true)
		e.cancel()
		e.stopAccepting()
		if e.wt != nil {
			_ = e.wt.Close()
		}
		// In parallel, and waited for only once the QUIC transport is gone:
		// closing a WebTransport session may wait for its connection to end.
		var closing, quicClosing sync.WaitGroup
		for _, s := range e.hub.all() {
			closing.Go(func() { s.hardClose(wire.CodeShutdown) })
			if q, ok := s.t.(*quicTransport); ok && q.wt == nil {
				// At once: the transport closes next, and a QUIC
				// connection whose transport is gone sends no
				// CONNECTION_CLOSE, which would leave the client
				// waiting for its heartbeat to fail.
				quicClosing.Go(func() { q.closeNow(wire.CodeShutdown) })
			}
		}
		quicClosing.Wait()
		if e.qtr != nil {
			_ = e.qtr.Close()
		}
		if e.udp != nil {
			_ = e.udp.Close()
		}
		e.loops.Wait()
		closing.Wait()
		// Every registered transport is closed: busy flushers fail fast.
		e.flushers.stop()
	})
	return nil
}

var errWebSocketProtocol = errors.New("edge: websocket protocol violation")
