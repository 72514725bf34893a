package store

import (
	"strconv"
	"strings"

	"github.com/quicpush/quicpush/internal/push"
)

// An edge's presence listing of a room is the hash qp:edge:<id>:presence:<room>:
// one field per member connection, connKey -> presenceValue(user, info), and
// the header field "" (never a connKey: names are at least one byte), which
// says whether the edge lists the room and how many distinct users it has
// there: "L<users>" or "C<users>" (counts only: past the edge's listing
// threshold, the member fields are gone).
const (
	presenceHeader = ""
	headerListed   = 'L'
	headerCounts   = 'C'
)

// presenceValue encodes a member's user and token info in one field value:
// the user's length, ':', the user, then the info.
func presenceValue(user, info string) string {
	return strconv.Itoa(len(user)) + ":" + user + info
}

// parsePresenceValue reverses presenceValue; ok is false for a value no edge
// wrote.
func parsePresenceValue(v string) (user, info string, ok bool) {
	n, rest, found := strings.Cut(v, ":")
	l, err := strconv.Atoi(n)
	if !found || err != nil || l < 0 || l > len(rest) {
		return "", "", false
	}
	return rest[:l], rest[l:], true
}

// presenceHeaderValue is the header of a room with users distinct users.
func presenceHeaderValue(listed bool, users int) string {
	c := headerCounts
	if listed {
		c = headerListed
	}
	return string(c) + strconv.Itoa(users)
}

// parsePresenceHeader reads a header; ok is false when it is malformed.
func parsePresenceHeader(v string) (listed bool, users int64, ok bool) {
	if v == "" || (v[0] != headerListed && v[0] != headerCounts) {
		return false, 0, false
	}
	n, err := strconv.ParseInt(v[1:], 10, 64)
	return v[0] == headerListed, n, err == nil
}

// presOp is the pending presence write of one room, coalesced like the
// routes: per connection only the latest change is kept, so a batch is
// bounded by the edge's memberships.
type presOp struct {
	// reset deletes the listing first: the room emptied on this edge, or
	// changed between listed and counts only.
	reset bool
	// relist writes the whole listing from EdgeRoutesConfig.Members at
	// flush time (the room fell back under the threshold); set and del are
	// then moot, the listing being newer than them.
	relist bool
	// header is the latest header; empty writes none (the room emptied).
	header string
	set    map[string]string   // connKey -> presenceValue
	del    map[string]struct{} // connKeys that left
}

// apply records c in op. listed is the room's listing state in Redis before
// c (known: the store has seen the room).
func (op *presOp) apply(c *push.PresenceChange, known, listed bool) {
	switch {
	case c.Members <= 0:
		*op = presOp{reset: true}
		return
	case !known:
		// The room opens here: whatever a listing of it holds is stale (an
		// earlier run of this edge id died between emptying the room and
		// deleting its listing), so it starts from nothing.
		*op = presOp{reset: true}
	case !c.Listed && listed:
		*op = presOp{reset: true}
	case c.Listed && !listed:
		*op = presOp{reset: true, relist: true}
	}
	op.header = presenceHeaderValue(c.Listed, c.Users)
	if !c.Listed || op.relist {
		return
	}
	if op.set == nil {
		op.set, op.del = make(map[string]string), make(map[string]struct{})
	}
	if c.Joined {
		op.set[c.Conn.Key] = presenceValue(c.Conn.User, c.Conn.Info)
		delete(op.del, c.Conn.Key)
	} else {
		op.del[c.Conn.Key] = struct{}{}
		delete(op.set, c.Conn.Key)
	}
}

// requeue merges old, a pending write that failed, under op, which is newer.
func (op *presOp) requeue(old *presOp) {
	if op.reset {
		return
	}
	op.reset, op.relist = old.reset, old.relist
	if op.header == "" {
		op.header = old.header
	}
	if op.relist {
		op.set, op.del = nil, nil
		return
	}
	for k, v := range old.set {
		if _, ok := op.del[k]; !ok {
			if _, ok := op.set[k]; !ok {
				if op.set == nil {
					op.set, op.del = make(map[string]string), make(map[string]struct{})
				}
				op.set[k] = v
			}
		}
	}
	for k := range old.del {
		if _, ok := op.set[k]; !ok {
			if op.del == nil {
				op.set, op.del = make(map[string]string), make(map[string]struct{})
			}
			op.del[k] = struct{}{}
		}
	}
}
