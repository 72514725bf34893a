package push

import (
	"cmp"
	"slices"
)

// PresenceConn is one connection present in a room.
type PresenceConn struct {
	// Key is the connection key.
	Key string
	// User is the connection's user.
	User string
	// Edge is the id of the edge holding it.
	Edge string
	// Info is the `info` claim of its token (a JSON object), or empty.
	Info string
}

// PresenceUser is a present user and its connections, ordered by key.
type PresenceUser struct {
	User  string
	Conns []PresenceConn
}

// Presence is one page of a room's present users.
type Presence struct {
	// Listed is false when some edge holds the room as counts only: Users
	// is then empty.
	Listed bool
	// Users is the page, ordered by user.
	Users []PresenceUser
	// More says that users follow the page: ask again after its last user.
	More bool
	// Stats are the room's counts.
	Stats PresenceStats
}

// PresenceStats are a room's presence counts.
type PresenceStats struct {
	// Conns is the number of connections in the room.
	Conns int64
	// Users is the number of distinct users; exact when UsersExact.
	Users      int64
	UsersExact bool
}

// PagePresence groups conns by user and returns the users after the user
// after (all when empty), at most limit of them, and whether more follow.
// It sorts conns in place.
func PagePresence(conns []PresenceConn, after string, limit int) (page []PresenceUser, more bool) {
	slices.SortFunc(conns, func(a, b PresenceConn) int {
		return cmp.Or(cmp.Compare(a.User, b.User), cmp.Compare(a.Key, b.Key))
	})
	i, _ := slices.BinarySearchFunc(conns, after, func(c PresenceConn, u string) int {
		if c.User <= u {
			return -1
		}
		return 1
	})
	if after == "" {
		i = 0
	}
	for i < len(conns) {
		if len(page) == limit {
			return page, true
		}
		j := i + 1
		for j < len(conns) && conns[j].User == conns[i].User {
			j++
		}
		page = append(page, PresenceUser{User: conns[i].User, Conns: conns[i:j:j]})
		i = j
	}
	return page, false
}

// DistinctUsers counts the distinct users of conns.
func DistinctUsers(conns []PresenceConn) int64 {
	seen := make(map[string]struct{}, len(conns))
	for _, c := range conns {
		seen[c.User] = struct{}{}
	}
	return int64(len(seen))
}

// PresenceChange is a member arriving in or leaving a room on one edge, as
// the edge reports it to the cluster's store.
type PresenceChange struct {
	Room string
	// Conn is the member; only Key is set when it leaves.
	Conn PresenceConn
	// Joined is true for an arrival, false for a departure.
	Joined bool
	// Members and Users are the room's connections and distinct users on
	// the edge after the change.
	Members, Users int
	// Listed says whether the edge lists the room's members or holds it as
	// counts only (past its listing threshold).
	Listed bool
}
