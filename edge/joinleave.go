package edge

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/quicpush/quicpush/internal/push"
	"github.com/quicpush/quicpush/namespace"
	"github.com/quicpush/quicpush/wire"
)

// Join and leave notices (docs/protocol.md 6.9). In a room whose namespace
// has JoinLeave on, every join and leave of a member is recorded in the
// room's pending notice; every JoinLeaveInterval the edge encodes each
// pending notice once and queues the same bytes to every member here, as a
// room push. A room's churn therefore costs each member at most one frame
// per interval, however many come and go: a 10,000-member room with 1,000
// changes a second sends 10,000 frames a second, not 10 million.
//
// In a cluster each edge also sends its own rooms' changes (one batch per
// room per interval) to the other edges through JoinLeaveBus, and merges the
// batches it receives for rooms it holds into its pending notices, so a
// member still hears at most one notice per room per interval.
//
// Rooms whose namespace has it off cost nothing: when no namespace turns it
// on the hub has no notices at all, and otherwise only a join or leave looks
// at the room's namespace; pushes never do.

// DefaultJoinLeaveInterval is the default Config.JoinLeaveInterval.
const DefaultJoinLeaveInterval = time.Second

// Bounds of one notice: the protocol's list limit, and the frame every
// client accepts.
const (
	joinLeaveListMax = 100
	noticeFrameMax   = 64 << 10
)

// JoinLeaveBus carries join and leave notices between the edges of a
// cluster (store.JoinLeave on Redis). Nil in one process.
type JoinLeaveBus interface {
	// PublishJoinLeave sends this edge's batches of one interval to the
	// other edges, which hand them to their MergeJoinLeave.
	PublishJoinLeave(ctx context.Context, batches []push.JoinLeave) error
}

// changes are a room's joins and leaves since the last notice, by
// connection key; a key is in at most one of the two.
type changes struct {
	joined, left map[string]push.PresenceConn
	omitted      uint64
}

// add records c's join (or leave): a leave after a join within the interval
// (or a join after a leave) cancels it out.
func (ch *changes) add(c push.PresenceConn, joined bool) {
	in, out := &ch.joined, &ch.left
	if !joined {
		in, out = out, in
	}
	if _, ok := (*out)[c.Key]; ok {
		delete(*out, c.Key)
		return
	}
	if *in == nil {
		*in = make(map[string]push.PresenceConn, 1)
	}
	(*in)[c.Key] = c
}

func (ch *changes) empty() bool {
	return len(ch.joined) == 0 && len(ch.left) == 0 && ch.omitted == 0
}

// pendingNotice is what a room's next notice says: every change (own is
// nil without a bus), and this edge's own changes to publish.
type pendingNotice struct {
	all changes
	own *changes
}

// notices holds the pending notices of the edge's rooms.
type notices struct {
	ns     *namespace.Set
	edgeID string
	bus    JoinLeaveBus

	mu      sync.Mutex
	pending map[string]*pendingNotice
}

// newNotices returns the edge's notices, or nil when no namespace turns
// them on (then nothing is recorded and no ticker runs).
func newNotices(cfg *Config) *notices {
	if !cfg.Namespaces.Any(func(o namespace.Options) bool { return o.JoinLeave }) {
		return nil
	}
	return &notices{ns: cfg.Namespaces, edgeID: cfg.ID, bus: cfg.JoinLeave, pending: make(map[string]*pendingNotice)}
}

// record notes a member's join or leave of room when its namespace has
// notices on. It takes only n.mu.
func (n *notices) record(room string, c push.PresenceConn, joined bool) {
	if n == nil || !n.ns.For(room).JoinLeave {
		return
	}
	n.mu.Lock()
	p := n.pendingLocked(room)
	p.all.add(c, joined)
	if p.own != nil {
		p.own.add(c, joined)
	}
	n.mu.Unlock()
}

func (n *notices) pendingLocked(room string) *pendingNotice {
	p := n.pending[room]
	if p == nil {
		p = &pendingNotice{}
		if n.bus != nil {
			p.own = &changes{}
		}
		n.pending[room] = p
	}
	return p
}

// merge adds another edge's batch to room's pending notice.
func (n *notices) merge(b *push.JoinLeave) {
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.pendingLocked(b.Room)
	for _, c := range b.Joined {
		p.all.add(c, true)
	}
	for _, c := range b.Left {
		p.all.add(c, false)
	}
	p.all.omitted += b.Omitted
}

// take returns the pending notices and starts new ones.
func (n *notices) take() map[string]*pendingNotice {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.pending) == 0 {
		return nil
	}
	out := n.pending
	n.pending = make(map[string]*pendingNotice, len(out))
	return out
}

// sorted lists m by user then key, so that a notice's lists are stable.
func sorted(m map[string]push.PresenceConn) []push.PresenceConn {
	out := make([]push.PresenceConn, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b push.PresenceConn) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Key, b.Key))
	})
	return out
}

// encodeNotice encodes room's notice: at most joinLeaveListMax joins and
// leaves, and what fits one frame every client accepts; the rest is counted
// in Omitted.
func encodeNotice(room string, ch *changes) []byte {
	m := wire.JoinLeave{Room: room, Omitted: ch.omitted}
	// Header, room, two list counts and Omitted at their largest.
	size := wire.HeaderSize + 2 + len(room) + 3*10
	var left int
	m.Joined, left = fillMembers(sorted(ch.joined), joinLeaveListMax, &size)
	m.Omitted += uint64(left)
	m.Left, left = fillMembers(sorted(ch.left), joinLeaveListMax, &size)
	m.Omitted += uint64(left)
	return wire.AppendJoinLeave(nil, &m)
}

// fillMembers lists conns as members while the list holds at most listMax
// and the frame stays within noticeFrameMax, the largest frame every client
// accepts; size is the frame's size so far, moved along. It returns the
// list, a prefix of conns, and how many of conns it left out.
func fillMembers(conns []push.PresenceConn, listMax int, size *int) ([]wire.Member, int) {
	var out []wire.Member
	for i, c := range conns {
		mb := wire.Member{User: c.User, ConnKey: c.Key, Info: []byte(c.Info)}
		ms := wire.MemberSize(&mb)
		if i == listMax || *size+ms > noticeFrameMax {
			return out, len(conns) - i
		}
		*size += ms
		out = append(out, mb)
	}
	return out, 0
}

// batch is this edge's own changes of room for the other edges, bounded as
// a notice is.
func (n *notices) batch(room string, ch *changes) push.JoinLeave {
	b := push.JoinLeave{Edge: n.edgeID, Room: room, Omitted: ch.omitted}
	cut := func(conns []push.PresenceConn) []push.PresenceConn {
		if len(conns) > joinLeaveListMax {
			b.Omitted += uint64(len(conns) - joinLeaveListMax)
			conns = conns[:joinLeaveListMax]
		}
		return conns
	}
	b.Joined = cut(sorted(ch.joined))
	b.Left = cut(sorted(ch.left))
	return b
}

// sendNotices sends every room's pending notice to its members here and,
// in a cluster, this edge's changes to the other edges.
func (e *Edge) sendNotices() {
	n := e.hub.notices
	var batches []push.JoinLeave
	for room, p := range n.take() {
		if p.own != nil && !p.own.empty() {
			batches = append(batches, n.batch(room, p.own))
		}
		if p.all.empty() {
			continue
		}
		buf := encodeNotice(room, &p.all)
		sent := e.hub.enqueueRoom(room, buf)
		e.metrics.joinLeaveNotices.Add(float64(sent))
	}
	if len(batches) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(e.ctx, e.cfg.RouteTimeout)
	defer cancel()
	if err := n.bus.PublishJoinLeave(ctx, batches); err != nil {
		e.metrics.joinLeaveErrors.Inc()
		e.cfg.Logger.Warn("join and leave notices not sent to the other edges", "rooms", len(batches), "err", err)
	}
}

// noticeLoop sends the pending notices every JoinLeaveInterval until the
// edge closes.
func (e *Edge) noticeLoop() {
	defer e.loops.Done()
	t := time.NewTicker(e.cfg.JoinLeaveInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.sendNotices()
		case <-e.ctx.Done():
			return
		}
	}
}

// MergeJoinLeave takes another edge's batch of join and leave changes (from
// the JoinLeaveBus's subscription) into the room's next notice here, if the
// room has members here and its namespace has notices on. Batches of this
// edge itself are ignored.
func (e *Edge) MergeJoinLeave(b push.JoinLeave) {
	n := e.hub.notices
	if n == nil || b.Edge == e.cfg.ID || !n.ns.For(b.Room).JoinLeave || !e.hub.holds(b.Room) {
		return
	}
	n.merge(&b)
}

// holds reports whether room has members on this edge.
func (h *hub) holds(room string) bool {
	h.counts.mu.Lock()
	defer h.counts.mu.Unlock()
	return h.counts.rooms[room] != nil
}
