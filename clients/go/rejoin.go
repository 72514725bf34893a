package quicpush

import (
	"context"
	"errors"

	"github.com/quic-go/quic-go"

	"github.com/quicpush/quicpush/wire"
)

// A connect sends Auth and, right behind it in the same write, a Join for
// every remembered room (protocol section 6.1, revision 4): on a resumed raw
// QUIC connection the whole flight is 0-RTT data, and the edge answers Auth,
// the Joins and what each stream missed one round trip after the dial starts.
// The Joins' replies are matched by seq like any other once the connection is
// installed; a room left or replaced while the connect was under way is left
// again right after.

// rejoin is a Join sent right behind Auth.
type rejoin struct {
	room *roomState
	join wire.Join
}

// rejoinsLocked returns a Join for every remembered room, at the positions
// the client holds; c.mu is held. Their seqs follow Auth's.
func (c *Client) rejoinsLocked() []rejoin {
	rj := make([]rejoin, 0, len(c.rooms))
	for _, r := range c.rooms {
		rj = append(rj, rejoin{room: r, join: wire.Join{Room: r.name, Offset: r.offset, Epoch: r.epoch}})
	}
	return rj
}

// appendHello appends Auth (seq authSeq) and the rejoins (the seqs after it).
func appendHello(b []byte, a *wire.Auth, rejoins []rejoin) []byte {
	b = wire.AppendAuth(b, authSeq, a)
	for i := range rejoins {
		b = wire.AppendJoin(b, authSeq+1+uint32(i), &rejoins[i].join)
	}
	return b
}

// resumption reports how t's TLS session started, for ConnectEvent.
func resumption(t transport) (resumed, zeroRTT bool) {
	if r, ok := t.(interface{ resumption() (bool, bool) }); ok {
		return r.resumption()
	}
	return false, false
}

// retrier is a transport on which the edge may reject 0-RTT data.
type retrier interface {
	retry0RTT(ctx context.Context) error
}

// sayHello sends Auth and the rejoins and reads the answer to Auth. When the
// edge rejected them as 0-RTT data, it sends them again once the handshake
// has completed: the edge saw none of them.
func sayHello(ctx context.Context, t transport, a *wire.Auth, rejoins []rejoin) (wire.AuthOK, error) {
	ok, err := authenticate(t, appendHello(nil, a, rejoins))
	if r, can := t.(retrier); can && errors.Is(err, quic.Err0RTTRejected) {
		if err = r.retry0RTT(ctx); err != nil {
			return ok, err
		}
		ok, err = authenticate(t, appendHello(nil, a, rejoins))
	}
	return ok, err
}

// adoptRejoins makes the Joins sent behind Auth requests of cn: its next seq
// follows theirs.
func (cn *conn) adoptRejoins(rejoins []rejoin) {
	cn.rejoins = rejoins
	cn.seq = authSeq + uint32(len(rejoins))
}

// claimRejoinsLocked registers the replies to the Joins cn sent behind Auth,
// for the rooms still remembered as they were, and returns those rooms and
// the ones forgotten meanwhile (left, or left and joined again), which the
// edge is about to join and must be told to leave. c.mu is held and cn's
// reader has not started.
func (c *Client) claimRejoinsLocked(cn *conn) (sent map[*roomState]bool, stale []string) {
	sent = make(map[*roomState]bool, len(cn.rejoins))
	for i, rj := range cn.rejoins {
		if c.rooms[rj.room.name] != rj.room {
			stale = append(stale, rj.room.name)
			continue
		}
		if cn.register(authSeq+1+uint32(i), c.joinReply(cn, rj.room)) {
			sent[rj.room] = true
		}
	}
	cn.rejoins = nil
	return sent, stale
}
