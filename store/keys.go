package store

import (
	"errors"
	"fmt"
	"strings"
)

// DefaultPrefix is the key prefix used when a Config leaves Prefix empty.
const DefaultPrefix = "qp:"

// Invalidation message prefixes published on the invalidation channel. A
// message is the prefix and a name; Routes uses the message itself as the
// cache key, so the two can never disagree.
const (
	invalRoom = "r:"
	invalUser = "u:"
	invalEdge = "e:"
)

// maxEdgeIDLen bounds edge ids: they are repeated in every route and room
// field, so they must stay small.
const maxEdgeIDLen = 64

// keys builds the Redis key names under one prefix. The layout is documented
// in doc.go; this is the only place that spells it.
type keys struct{ prefix string }

func newKeys(prefix string) keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return keys{prefix: prefix}
}

func (k keys) edges() string              { return k.prefix + "edges" }
func (k keys) edge(id string) string      { return k.prefix + "edge:" + id }
func (k keys) edgeConns(id string) string { return k.prefix + "edge:" + id + ":conns" }
func (k keys) edgeRooms(id string) string { return k.prefix + "edge:" + id + ":rooms" }
func (k keys) edgePresencePrefix(id string) string {
	return k.prefix + "edge:" + id + ":presence:"
}
func (k keys) edgePresence(id, room string) string { return k.edgePresencePrefix(id) + room }
func (k keys) userPrefix() string                  { return k.prefix + "user:" }
func (k keys) user(user string) string             { return k.prefix + "user:" + user }
func (k keys) roomPrefix() string                  { return k.prefix + "room:" }
func (k keys) room(room string) string             { return k.prefix + "room:" + room }
func (k keys) inval() string                       { return k.prefix + "inval" }
func (k keys) state() string                       { return k.prefix + "state" }
func (k keys) joinLeave() string                   { return k.prefix + "joinleave" }
func (k keys) edgeKeys(id string) []string {
	return []string{k.edge(id), k.edges(), k.edgeConns(id), k.edgeRooms(id)}
}

// Fields of the edge info hash.
const (
	fieldURL     = "url"
	fieldQUIC    = "quic"
	fieldTCP     = "tcp"
	fieldStarted = "started"
)

// validEdgeID rejects ids that would make the key layout ambiguous: an id
// holding ':' could name another edge's conns or rooms key.
func validEdgeID(id string) error {
	switch {
	case id == "":
		return errors.New("edge id is empty")
	case len(id) > maxEdgeIDLen:
		return fmt.Errorf("edge id %.16q... is longer than %d bytes", id, maxEdgeIDLen)
	case strings.ContainsAny(id, ": \t\r\n"):
		return fmt.Errorf("edge id %q holds ':' or white space", id)
	}
	return nil
}
