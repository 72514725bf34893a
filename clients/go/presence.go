package quicpush

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/quicpush/quicpush/wire"
)

// Who is in a room (protocol sections 6.9 and 6.10, revision 5). In rooms
// whose namespace turns them on, the edge tells every member who joined and
// left (JoinLeave, coalesced and best effort), and a member may ask for the
// room's counts and member list (PresenceGet). The client sends PresenceGet
// only to an edge that announced revision 5 in AuthOK: an earlier edge would
// close the connection for an op it does not know.

// presenceRevision is the protocol revision that added PresenceGet.
const presenceRevision = 5

// Member is one connection in a room.
type Member struct {
	// User is the connection's user id.
	User string
	// ConnKey identifies the connection (the one PushKeys addresses).
	ConnKey string
	// Info is the JSON object the connection's token (its info claim) or
	// the application's backend attached to it; nil for none.
	Info json.RawMessage
}

// JoinLeaveEvent lists the connections that joined and left a room since the
// previous notice of that room.
type JoinLeaveEvent struct {
	Room   string
	Joined []Member
	Left   []Member
	// Omitted counts the joins and leaves left out of the two lists (a
	// notice lists at most 100 of each by default).
	Omitted uint64
}

// Presence is who is in a room, across the cluster, as Client.Presence
// returns it.
type Presence struct {
	Room string
	// Conns and Users count the room's connections and distinct users.
	Conns, Users uint64
	// Complete reports that Members lists every connection; false when the
	// room has more than the edge lists (1000 by default) or than fit in one
	// frame, and Members holds some or none.
	Complete bool
	Members  []Member
}

// Presence asks the edge who is in room, a room the client is in. Called
// while the client is reconnecting (or before Connect) it waits for the next
// connection, and a connection lost before the answer sends it again on the
// next, until ctx ends (or the request timeout passes). An edge that did not
// announce protocol revision 5 gets nothing: Presence returns ErrUnsupported.
// A refusal returns *Error: wire.ErrCodeNotJoined when the client is not in
// the room, wire.ErrCodeForbidden when the room's namespace does not open
// presence to clients, wire.ErrCodeInternal when the edge could not read its
// cluster store (try again with backoff). Like Join, Presence must not be
// called from a handler: the answer is read by the goroutine running it.
func (c *Client) Presence(ctx context.Context, room string) (Presence, error) {
	if err := checkRoom(room); err != nil {
		return Presence{}, err
	}
	ctx, cancel := c.requestContext(ctx)
	defer cancel()
	var lost *conn
	for {
		var cn *conn
		err := c.wait(ctx, func() (bool, error) {
			switch {
			case c.closed:
				return true, ErrClosed
			case c.conn != nil && c.conn != lost:
				cn = c.conn
				return true, nil
			case !c.started && c.stopErr != nil:
				return true, c.stopErr
			}
			return false, nil
		})
		if err != nil {
			return Presence{}, err
		}
		if cn.revision < presenceRevision {
			return Presence{}, ErrUnsupported
		}
		type answer struct {
			p   Presence
			err error
		}
		reply := make(chan answer, 1)
		err = cn.send(func(b []byte, seq uint32) []byte { return wire.AppendRoom(b, wire.OpPresenceGet, seq, room) },
			func(op wire.Op, body []byte, err error) {
				var a answer
				switch {
				case err != nil:
					a.err = err
				case op == wire.OpError:
					a.err = decodeError(body)
				case op == wire.OpPresenceOK:
					a.p, a.err = decodePresence(body)
					if a.err != nil {
						cn.shut(0, "protocol error: "+a.err.Error(), wire.CodeProtocolError)
					}
				default:
					a.err = errProtocol(op, "presence_get")
					cn.shut(0, "protocol error: "+a.err.Error(), wire.CodeProtocolError)
				}
				reply <- a
			})
		if errors.Is(err, errConnLost) {
			lost = cn
			continue
		}
		// Any other failure to send ended the connection, which fails the
		// request: its answer says so.
		select {
		case a := <-reply:
			if errors.Is(a.err, errConnLost) {
				lost = cn
				continue
			}
			return a.p, a.err
		case <-ctx.Done():
			return Presence{}, ctx.Err()
		case <-c.ctx.Done():
			return Presence{}, ErrClosed
		}
	}
}

// decodePresence decodes a PresenceOK body; the members own their bytes.
func decodePresence(body []byte) (Presence, error) {
	var m wire.PresenceOK
	if err := m.Decode(body); err != nil {
		return Presence{}, err
	}
	return Presence{Room: m.Room, Conns: m.Conns, Users: m.Users, Complete: m.Complete, Members: members(m.Members)}, nil
}

// joinLeave handles a JoinLeave frame read on cn. A malformed frame ends the
// connection, like any malformed frame.
func (c *Client) joinLeave(cn *conn, body []byte) bool {
	var m wire.JoinLeave
	if err := m.Decode(body); err != nil {
		cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
		return false
	}
	if f := c.opts.onJoinLeave; f != nil {
		ev := JoinLeaveEvent{Room: m.Room, Joined: members(m.Joined), Left: members(m.Left), Omitted: m.Omitted}
		c.callHandler(true, func() { f(ev) })
	}
	return true
}

// members converts decoded members, whose Info aliases the frame, into
// members that own their bytes.
func members(ms []wire.Member) []Member {
	if len(ms) == 0 {
		return nil
	}
	out := make([]Member, len(ms))
	for i := range ms {
		out[i] = Member{User: ms[i].User, ConnKey: ms[i].ConnKey}
		if len(ms[i].Info) > 0 {
			out[i].Info = json.RawMessage(bytes.Clone(ms[i].Info))
		}
	}
	return out
}
