package store

import "time"

// EdgeInfo describes a live edge.
type EdgeInfo struct {
	ID string
	// URL is where core reaches the edge's internal EdgeService, e.g.
	// "http://127.0.0.1:7001".
	URL string
	// QUICAddr is the client-facing UDP address (informational).
	QUICAddr string
	// TCPAddr is the client-facing TCP address (informational).
	TCPAddr string
	Started time.Time
}

// Snapshot is everything an edge holds, for republishing after Redis lost it.
type Snapshot struct {
	// Conns maps each connection key to its user.
	Conns map[string]string
	// Rooms maps each room to its member count on this edge (> 0).
	Rooms map[string]int
}

// fields returns the edge info hash fields, as HSET arguments.
func (e EdgeInfo) fields() []any {
	return []any{
		fieldURL, e.URL,
		fieldQUIC, e.QUICAddr,
		fieldTCP, e.TCPAddr,
		fieldStarted, e.Started.UTC().Format(time.RFC3339Nano),
	}
}

// parseEdgeInfo reads an edge info hash. It reports false when the hash is
// missing or has no URL: such an edge cannot be reached yet (it is between a
// Redis restart and its republish).
func parseEdgeInfo(id string, h map[string]string) (EdgeInfo, bool) {
	url := h[fieldURL]
	if url == "" {
		return EdgeInfo{}, false
	}
	started, _ := time.Parse(time.RFC3339Nano, h[fieldStarted]) // informational: zero if garbled
	return EdgeInfo{ID: id, URL: url, QUICAddr: h[fieldQUIC], TCPAddr: h[fieldTCP], Started: started}, true
}
