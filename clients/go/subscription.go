package quicpush

import (
	"slices"
	"strings"

	"github.com/quicpush/quicpush/wire"
)

// Server-side rooms (protocol section 6.8, revision 5). The application's
// backend can put the connection in a room (Subscribed) or take it out
// (Unsubscribed) without the client asking. The client keeps such a room
// like one it joined: it is among its rooms, its pushes are deduplicated by
// position, and every reconnect rejoins it from its position among the Joins
// counted in Auth. The edge allows that Join while the room is still the
// user's; when the backend took the user out meanwhile, the Join is refused
// (typically 101), and the client drops the room as if Unsubscribed had come,
// raising the same event rather than an error. The application hears of both
// through WithOnSubscription.

// SubscriptionEvent says that the application's backend put the client in a
// room or took it out of one (server-side rooms, protocol revision 5).
type SubscriptionEvent struct {
	// Room is the room.
	Room string
	// Subscribed is true when the client was put in the room, false when it
	// was taken out: by an Unsubscribed from the edge, or because the edge
	// refused to let a reconnect rejoin a server-side room (the backend took
	// the user out while the client was away).
	Subscribed bool
	// Offset and Epoch are where the client's position in the room's stream
	// starts, for a subscription that carried one; zero and empty otherwise
	// (the room keeps no history, or the client was in it already).
	Offset uint64
	Epoch  string
}

// Room describes a room the client is in or means to be in.
type Room struct {
	Name string
	// ServerSide reports that the application's backend put the client in
	// the room (SubscriptionEvent), rather than or as well as Join.
	ServerSide bool
	// Joined reports that the edge confirmed the room on the live connection;
	// false while it is being (re)joined.
	Joined bool
	// Offset and Epoch are the last position the client holds in the room's
	// stream, as returned by Client.Position.
	Offset uint64
	Epoch  string
}

// Rooms returns the rooms the client is in or is (re)joining, server-side
// ones included, sorted by name.
func (c *Client) Rooms() []Room {
	c.mu.Lock()
	defer c.mu.Unlock()
	rooms := make([]Room, 0, len(c.rooms))
	for _, r := range c.rooms {
		joined := r.conn != nil && r.conn == c.conn
		rooms = append(rooms, Room{Name: r.name, ServerSide: r.server, Joined: joined, Offset: r.offset, Epoch: r.epoch})
	}
	slices.SortFunc(rooms, func(a, b Room) int { return strings.Compare(a.Name, b.Name) })
	return rooms
}

// Revision returns the protocol revision the edge of the live connection
// announced in AuthOK (0 from edges before revision 5, and while
// disconnected). Requests of a revision (Presence: 5) need an edge of that
// revision or later.
func (c *Client) Revision() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil {
		return 0
	}
	return c.conn.revision
}

// subscribed handles a Subscribed frame read on cn: the room joins the
// client's rooms, marked server-side, and its position group is taken as a
// JoinOK's. A malformed frame ends the connection, like any malformed frame.
func (c *Client) subscribed(cn *conn, body []byte) bool {
	var m wire.Subscribed
	if err := m.Decode(body); err != nil {
		cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
		return false
	}
	var ev *SubscriptionEvent
	var rec *RecoveryEvent
	c.mu.Lock()
	if c.closed || c.conn != cn {
		c.mu.Unlock()
		return true
	}
	r := c.rooms[m.Room]
	if r == nil {
		r = &roomState{name: m.Room}
		c.rooms[m.Room] = r
	}
	if !r.server {
		// Told to the application once per subscription: a Subscribed for
		// a server-side room the client rejoined adds nothing.
		r.server = true
		ev = &SubscriptionEvent{Room: m.Room, Subscribed: true}
	}
	r.conn = cn
	rec = r.applyPosition(m.Recovery, m.Offset, m.Epoch)
	if ev != nil && m.Recovery == wire.RecoveryNone {
		ev.Offset, ev.Epoch = m.Offset, m.Epoch
	}
	c.broadcast()
	c.mu.Unlock()
	if rec != nil {
		c.fireRecovery(*rec)
	}
	if ev != nil {
		c.fireSubscription(*ev)
	}
	return true
}

// unsubscribed handles an Unsubscribed frame read on cn: the room and its
// position are dropped. A Join of the room still unanswered on cn was handled
// by the edge after the Unsubscribed and puts the client back in the room,
// which then stays (as a joined room, no longer server-side).
func (c *Client) unsubscribed(cn *conn, body []byte) bool {
	var m wire.RoomReply
	if err := m.Decode(body); err != nil {
		cn.shut(0, "protocol error: "+err.Error(), wire.CodeProtocolError)
		return false
	}
	c.mu.Lock()
	r := c.rooms[m.Room]
	if c.closed || c.conn != cn || r == nil {
		c.mu.Unlock()
		return true
	}
	r.server = false
	if r.sentOn != cn {
		delete(c.rooms, m.Room)
		r.left, r.conn = true, nil
	}
	c.broadcast()
	c.mu.Unlock()
	c.fireSubscription(SubscriptionEvent{Room: m.Room})
	return true
}

// applyPosition takes the position group of a JoinOK or Subscribed for r
// (protocol section 11) and returns the RecoveryEvent it calls for, if any.
// A group that is absent (all zero) leaves the position unchanged.
func (r *roomState) applyPosition(rc wire.Recovery, offset uint64, epoch string) *RecoveryEvent {
	if rc == wire.RecoveryNone && offset == 0 && epoch == "" {
		return nil
	}
	if rc != wire.RecoveryRecovered {
		// Where the subscription starts. (Recovered keeps the client's
		// position: the replay moves it on.)
		r.offset, r.epoch = offset, epoch
	}
	if rc == wire.RecoveryNone {
		return nil
	}
	return &RecoveryEvent{Room: r.name, Recovered: rc == wire.RecoveryRecovered, Offset: offset, Epoch: epoch}
}

// fireSubscription hands ev to the OnSubscription handler.
func (c *Client) fireSubscription(ev SubscriptionEvent) {
	if c.opts.onSubscription == nil {
		return
	}
	c.callHandler(true, func() { c.opts.onSubscription(ev) })
}
