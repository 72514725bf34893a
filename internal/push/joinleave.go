package push

// JoinLeave is one room's join and leave notice changes seen by one edge in
// one interval, as that edge sends them to the others (docs/protocol.md
// 6.9): at most a bounded number of each list, the rest counted in Omitted.
type JoinLeave struct {
	// Edge is the id of the edge whose members these are.
	Edge string `json:"e"`
	Room string `json:"r"`
	// Joined and Left are the connections that joined and left; a
	// connection that did both within the interval is in neither.
	Joined []PresenceConn `json:"j,omitempty"`
	Left   []PresenceConn `json:"l,omitempty"`
	// Omitted counts the joins and leaves left out of the lists.
	Omitted uint64 `json:"o,omitempty"`
}
