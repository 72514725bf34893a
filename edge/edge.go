package edge

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/webtransport-go"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/wire"
)

// Edge accepts client connections on its QUIC and TCP ports and delivers
// messages to them.
type Edge struct {
	cfg     Config
	metrics *metrics
	shards  []*shard
	keySeq  atomic.Uint64
	// roomCounts counts members per room across shards.
	roomCounts roomCounts
	// flushers write queued frames to clients.
	flushers flusherPool
	// guard enforces the per-IP limits.
	guard *guard

	udp   *net.UDPConn
	qtr   *quic.Transport
	qln   *quic.EarlyListener
	wt    *webtransport.Server
	tcpLn net.Listener

	ctx      context.Context
	cancel   context.CancelFunc
	draining atomic.Bool
	// live counts connections from accept until their serve returns, so
	// Shutdown can wait for them.
	live      sync.WaitGroup
	loops     sync.WaitGroup
	closeOnce sync.Once
}

// Listen binds the edge's ports and starts serving.
func Listen(cfg Config) (*Edge, error) {
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
	e := &Edge{cfg: cfg, metrics: m, shards: make([]*shard, cfg.Shards)}
	e.guard = newGuard(&cfg, m)
	e.flushers.max = cfg.MaxFlushers
	for i := range e.shards {
		e.shards[i] = newShard()
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	e.loops.Add(1)
	go e.janitor()
	if err := e.listenQUIC(); err != nil {
		e.cancel()
		return nil, err
	}
	if err := e.listenTCP(); err != nil {
		e.Close()
		return nil, err
	}
	cfg.Logger.Info("edge listening", "quic", e.QUICAddr().String(), "tcp", e.TCPAddr().String(), "id", cfg.ID)
	return e, nil
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
		switch m.Kind {
		case push.KindRoom:
			// A run shares one buffer; it is capped so a merged burst never
			// lands in a queue as one huge entry.
			j, size := i+1, len(m.Data)
			for j < len(msgs) && msgs[j].Kind == push.KindRoom && msgs[j].Room == m.Room && size+len(msgs[j].Data) <= maxRunBytes {
				size += len(msgs[j].Data)
				j++
			}
			e.deliverRoom(m.Room, encode(msgs[i:j], wire.PushRoom), j-i)
			i = j
			continue
		case push.KindKeys:
			buf := encode(msgs[i:i+1], wire.PushDirect)
			for _, k := range m.Keys {
				if s := e.lookup(k); s != nil && s.enqueue(buf) {
					e.metrics.deliveries.Inc()
				}
			}
		case push.KindUsers:
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
				e.forUser(u, func(s *session) {
					if s.enqueue(buf) {
						e.metrics.deliveries.Inc()
					}
				})
			}
		case push.KindBroadcast:
			e.broadcast(encode(msgs[i:i+1], wire.PushBroadcast), m.Rate)
		case push.KindDisconnect:
			code := wire.Code(m.Code)
			for _, k := range m.Keys {
				if s := e.lookup(k); s != nil {
					s.closeWith(code, m.Reason, false)
				}
			}
			for _, u := range m.Users {
				e.forUser(u, func(s *session) { s.closeWith(code, m.Reason, false) })
			}
		default:
			e.cfg.Logger.Warn("message of unknown kind dropped", "id", m.ID, "kind", m.Kind)
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

func (e *Edge) deliverRoom(room string, buf []byte, msgs int) {
	n := 0
	for _, sh := range e.shards {
		sh.mu.RLock()
		for s := range sh.rooms[room] {
			if s.enqueue(buf) {
				n++
			}
		}
		sh.mu.RUnlock()
	}
	e.metrics.deliveries.Add(float64(n * msgs))
}

func (e *Edge) lookup(key string) *session {
	sh := e.shardOf(key)
	sh.mu.RLock()
	s := sh.sessions[key]
	sh.mu.RUnlock()
	return s
}

func (e *Edge) forUser(user string, fn func(*session)) {
	sh := e.shardOf(user)
	sh.mu.RLock()
	list := slices.Clone(sh.users[user])
	sh.mu.RUnlock()
	for _, s := range list {
		fn(s)
	}
}

// broadcast queues buf for every session. With a rate, it paces itself to at
// most rate connections per second in its own goroutine, so a broadcast to a
// large edge does not burst every client at once.
func (e *Edge) broadcast(buf []byte, rate int) {
	if rate <= 0 {
		n := 0
		for _, sh := range e.shards {
			sh.mu.RLock()
			for _, s := range sh.sessions {
				if s.enqueue(buf) {
					n++
				}
			}
			sh.mu.RUnlock()
		}
		e.metrics.deliveries.Add(float64(n))
		return
	}
	e.loops.Add(1)
	go func() {
		defer e.loops.Done()
		const tick = 10 * time.Millisecond
		perTick := max(1, rate/int(time.Second/tick))
		var targets []*session
		for _, sh := range e.shards {
			sh.mu.RLock()
			for _, s := range sh.sessions {
				targets = append(targets, s)
			}
			sh.mu.RUnlock()
		}
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

// janitor retires idle flushers.
func (e *Edge) janitor() {
	defer e.loops.Done()
	t := time.NewTicker(flusherIdle / 2)
	defer t.Stop()
	for {
		select {
		case now := <-t.C:
			e.flushers.retireIdle(now.Add(-flusherIdle))
			e.guard.sweep(now)
		case <-e.ctx.Done():
			e.flushers.stopAll()
			return
		}
	}
}

// Online reports this edge's counts: the total, the given rooms and the top
// most populated rooms.
func (e *Edge) Online(_ context.Context, rooms []string, top int) (push.Online, error) {
	out := push.Online{Rooms: make(map[string]int64, len(rooms))}
	for _, r := range rooms {
		out.Rooms[r] = 0
	}
	var all map[string]int64
	if top > 0 {
		all = make(map[string]int64)
	}
	for _, sh := range e.shards {
		sh.mu.RLock()
		out.Total += int64(len(sh.sessions))
		for _, r := range rooms {
			out.Rooms[r] += int64(len(sh.rooms[r]))
		}
		for r, members := range sh.rooms {
			if all != nil {
				all[r] += int64(len(members))
			}
		}
		sh.mu.RUnlock()
	}
	for r, n := range all {
		out.Top = append(out.Top, push.RoomCount{Room: r, Count: n})
	}
	slices.SortFunc(out.Top, func(a, b push.RoomCount) int {
		return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Room, b.Room))
	})
	if len(out.Top) > top {
		out.Top = out.Top[:top]
	}
	return out, nil
}

// Shutdown drains the edge: it stops accepting, tells every client to
// reconnect elsewhere (CodeShutdown), waits for them to leave until ctx ends,
// then closes what is left.
func (e *Edge) Shutdown(ctx context.Context) error {
	e.draining.Store(true)
	e.stopAccepting()
	var all []*session
	for _, sh := range e.shards {
		sh.mu.RLock()
		for _, s := range sh.sessions {
			all = append(all, s)
		}
		sh.mu.RUnlock()
	}
	for _, s := range all {
		s.closeWith(wire.CodeShutdown, "edge draining, reconnect", false)
	}
	done := make(chan struct{})
	go func() { e.live.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("edge: shutdown: %w", ctx.Err())
	}
	e.Close()
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

// Close closes every connection and port at once.
func (e *Edge) Close() error {
	e.closeOnce.Do(func() {
		e.draining.Store(true)
		e.cancel()
		e.stopAccepting()
		if e.wt != nil {
			_ = e.wt.Close()
		}
		for _, sh := range e.shards {
			sh.mu.RLock()
			for _, s := range sh.sessions {
				go s.hardClose(wire.CodeShutdown)
			}
			sh.mu.RUnlock()
		}
		if e.qtr != nil {
			_ = e.qtr.Close()
		}
		if e.udp != nil {
			_ = e.udp.Close()
		}
		e.loops.Wait()
	})
	return nil
}

var errWebSocketProtocol = errors.New("edge: websocket protocol violation")
