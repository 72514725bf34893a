package quicpush

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/quicpush/quicpush/wire"
)

// authSeq is the seq of the Auth frame, the first of every connection.
const authSeq = 1

// defaultPingInterval is used when an edge announces no ping interval.
const defaultPingInterval = 25 * time.Second

// maxKeptWriteBuffer bounds the write buffer a connection keeps between
// writes; requests are small, so it is rarely exceeded.
const maxKeptWriteBuffer = 4 << 10

// replyFunc receives the answer to a request: the reply's op and body (valid
// only during the call), or err when the connection ended first. It runs on
// the reader goroutine and must not block.
type replyFunc func(op wire.Op, body []byte, err error)

// conn is one authenticated connection: the transport plus the state the
// protocol needs on it (request seqs, pending replies, liveness, the reason it
// ended). A Client replaces its conn on every reconnect.
//
// Lock order: Client.mu before conn.wmu; pmu and rmu are leaves.
type conn struct {
	t    transport
	name string // transport name
	// edge is the index of the edge in the client's list, url the endpoint
	// URL it was dialled with.
	edge         int
	url          string
	key, user    string
	pingInterval time.Duration
	// resumed is AuthOK's answer for the user's stream: the result and the
	// stream's position then.
	resumed wire.Recovery
	userPos position
	// revision is the protocol revision the edge announced in AuthOK (0
	// before revision 5): requests of a later revision are not sent.
	revision uint64
	// rejoins are the Joins sent behind Auth, until install claims them.
	rejoins []rejoin
	start   time.Time
	// lastRead is when the last frame arrived, in nanoseconds since start
	// (monotonic), for the heartbeat.
	lastRead atomic.Int64
	// done is closed when the reader goroutine has ended.
	done chan struct{}
	// paths counts the network paths Migrate moved the connection to
	// (under Client.migrateMu).
	paths int

	wmu  sync.Mutex // serializes writes, seq allocation and wbuf
	seq  uint32
	wbuf []byte

	pmu     sync.Mutex
	pending map[uint32]replyFunc
	dead    bool // no more requests: the reader has failed the pending ones

	rmu    sync.Mutex
	ended  bool
	code   wire.Code
	reason string
}

func newConn(t transport, edge int, ep *endpoint, ok *wire.AuthOK, start time.Time) *conn {
	interval := time.Duration(ok.PingIntervalMs) * time.Millisecond
	if interval <= 0 {
		interval = defaultPingInterval
	}
	return &conn{
		t:            t,
		name:         ep.name,
		edge:         edge,
		url:          ep.url,
		key:          ok.ConnKey,
		user:         ok.User,
		resumed:      ok.Recovery,
		userPos:      position{ok.Offset, ok.Epoch},
		revision:     ok.Revision,
		pingInterval: interval,
		start:        start,
		done:         make(chan struct{}),
		seq:          authSeq,
		pending:      make(map[uint32]replyFunc),
	}
}

// since returns the time since the connection started, monotonic.
func (cn *conn) since() int64 { return int64(time.Since(cn.start)) }

// sendLocked encodes a frame with a fresh seq and writes it; cn.wmu is held.
// With fn set the frame is a request whose reply goes to fn; fn is also
// called, by the reader, if the connection ends first, unless sendLocked
// returns errConnLost, when the connection had ended already.
func (cn *conn) sendLocked(build func(dst []byte, seq uint32) []byte, fn replyFunc) error {
	cn.seq++
	if cn.seq == 0 { // seq 0 is for server pushes
		cn.seq = 1
	}
	if fn != nil && !cn.register(cn.seq, fn) {
		return errConnLost
	}
	cn.wbuf = build(cn.wbuf[:0], cn.seq)
	err := cn.t.writeFrame(cn.wbuf)
	if cap(cn.wbuf) > maxKeptWriteBuffer {
		cn.wbuf = nil
	}
	if err != nil {
		cn.shut(0, "write failed: "+err.Error(), 0)
	}
	return err
}

// send is sendLocked for callers that hold no lock.
func (cn *conn) send(build func(dst []byte, seq uint32) []byte, fn replyFunc) error {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	return cn.sendLocked(build, fn)
}

// ping sends a Ping, whose Pong proves the connection alive; a failure
// ends the connection (send).
func (cn *conn) ping() {
	_ = cn.send(func(b []byte, seq uint32) []byte { return wire.AppendFrame(b, wire.OpPing, seq, nil) }, nil)
}

func (cn *conn) register(seq uint32, fn replyFunc) bool {
	cn.pmu.Lock()
	defer cn.pmu.Unlock()
	if cn.dead {
		return false
	}
	cn.pending[seq] = fn
	return true
}

func (cn *conn) take(seq uint32) replyFunc {
	cn.pmu.Lock()
	defer cn.pmu.Unlock()
	fn := cn.pending[seq]
	delete(cn.pending, seq)
	return fn
}

// failPending refuses further requests and fails the pending ones.
func (cn *conn) failPending() {
	cn.pmu.Lock()
	cn.dead = true
	pending := cn.pending
	cn.pending = nil
	cn.pmu.Unlock()
	for _, fn := range pending {
		fn(0, nil, errConnLost)
	}
}

// shut ends the connection, recording why (code and reason, as reported to
// OnDisconnect) unless an earlier call did, and closes the transport with
// sendCode. The reader then fails and exits.
func (cn *conn) shut(code wire.Code, reason string, sendCode wire.Code) {
	cn.rmu.Lock()
	first := !cn.ended
	if first {
		cn.ended, cn.code, cn.reason = true, code, reason
	}
	cn.rmu.Unlock()
	if first {
		cn.t.close(sendCode, reason)
	}
}

// why returns the code and reason recorded by the first shut.
func (cn *conn) why() (wire.Code, string) {
	cn.rmu.Lock()
	defer cn.rmu.Unlock()
	return cn.code, cn.reason
}
