package history

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"
)

// Position is a place in a stream: the offset of a message (0 means before
// the first) within an epoch.
type Position struct {
	Offset uint64
	Epoch  string
}

// IsZero reports whether p names no position.
func (p Position) IsZero() bool { return p.Offset == 0 && p.Epoch == "" }

// Entry is one message of a stream.
type Entry struct {
	Offset   uint64
	ID       string
	Data     []byte
	Accepted time.Time
}

// Item is an entry bound for a stream, for Append.
type Item struct {
	Stream string
	Entry  Entry
}

// Result is what Since read.
type Result struct {
	// Entries after the requested position, oldest first, at most the limit.
	// When Truncated they start at the oldest entry still held.
	Entries []Entry
	// Top is the stream's latest position when it was read.
	Top Position
	// Truncated reports that entries right after the requested position are
	// gone: trimmed by size or age, or the position belongs to another epoch
	// or lies beyond the stream's end.
	Truncated bool
	// More reports that entries follow the last one returned.
	More bool
}

// Recovered reports whether r holds exactly what a client at from missed:
// the same epoch, nothing trimmed, nothing left out by the limit.
func (r Result) Recovered(from Position) bool {
	return !r.Truncated && !r.More && from.Epoch == r.Top.Epoch
}

// Stream names. A room and a user of the same name are different streams.
const (
	roomPrefix = "r:"
	userPrefix = "u:"
)

// RoomStream names a room's stream.
func RoomStream(room string) string { return roomPrefix + room }

// UserStream names a user's stream.
func UserStream(user string) string { return userPrefix + user }

// Defaults of Policies.
const (
	// DefaultSize is how many messages a stream keeps by default.
	DefaultSize = 1000
	// DefaultTTL is how long a message stays in history by default.
	DefaultTTL = 10 * time.Minute
	// DefaultMetaTTL is how long an idle stream's position (epoch and
	// latest offset) outlives its messages. A client that saw the last
	// message of a stream that then went quiet still resumes without loss
	// within this time; after it the stream restarts with a new epoch.
	DefaultMetaTTL = 24 * time.Hour
	// DefaultRecoveryLimit is the most messages replayed to one resuming
	// client per stream; a client that missed more is told NotRecovered.
	DefaultRecoveryLimit = 1000
)

// Policy bounds one stream's history.
type Policy struct {
	// Size is the most messages kept. Zero means DefaultSize; negative means
	// the stream keeps no history (its messages carry no position).
	Size int
	// TTL is how long a message is kept. Zero means DefaultTTL.
	TTL time.Duration
}

// Enabled reports whether streams under p keep history.
func (p Policy) Enabled() bool { return p.Size >= 0 }

func (p Policy) withDefaults() Policy {
	if p.Size == 0 {
		p.Size = DefaultSize
	}
	if p.TTL <= 0 {
		p.TTL = DefaultTTL
	}
	return p
}

// Namespace is the policy of the rooms whose names start with Prefix.
type Namespace struct {
	Prefix string
	Policy Policy
}

// Policies decides each stream's policy.
type Policies struct {
	// Namespaces apply to rooms by name prefix; the longest matching prefix
	// wins.
	Namespaces []Namespace
	// Rooms is the policy of rooms no namespace matches.
	Rooms Policy
	// Users is the policy of every user's stream.
	Users Policy
	// MetaTTL is how long an idle stream's position outlives its messages.
	// Zero means DefaultMetaTTL.
	MetaTTL time.Duration
}

// For returns the policy of a stream, defaults applied.
func (ps *Policies) For(stream string) Policy {
	if user, ok := strings.CutPrefix(stream, userPrefix); ok && user != "" {
		return ps.Users.withDefaults()
	}
	room := strings.TrimPrefix(stream, roomPrefix)
	best, found := Policy{}, -1
	for _, ns := range ps.Namespaces {
		if strings.HasPrefix(room, ns.Prefix) && len(ns.Prefix) > found {
			best, found = ns.Policy, len(ns.Prefix)
		}
	}
	if found < 0 {
		best = ps.Rooms
	}
	return best.withDefaults()
}

func (ps *Policies) metaTTL() time.Duration {
	if ps.MetaTTL <= 0 {
		return DefaultMetaTTL
	}
	return ps.MetaTTL
}

// Store is the history of every stream. Append is called by the side that
// owns the streams (core); Top and Since by the edges (resume) and the push
// API (History, positions in replies).
type Store interface {
	// Append adds items to their streams, in order, and returns the epoch
	// of each stream it touched; streams that keep no history are absent.
	// An item whose offset is not above its stream's latest is a
	// redelivery and is skipped, unless the stream still holds a different
	// message at that offset: then the bus's offsets started over and the
	// stream starts a new epoch.
	Append(ctx context.Context, items []Item) (map[string]string, error)
	// Top returns the stream's latest position, starting the stream (a new
	// epoch, offset 0) if it has none. A stream that keeps no history has
	// the zero position.
	Top(ctx context.Context, stream string) (Position, error)
	// Since returns up to limit entries after from.
	Since(ctx context.Context, stream string, from Position, limit int) (Result, error)
}

// ErrClosed is returned once a store is closed.
var ErrClosed = errors.New("history: closed")

// NewEpoch returns a random epoch: 8 base32 characters, so that two epochs
// of one stream never meet.
func NewEpoch() string { return rand.Text()[:8] }
