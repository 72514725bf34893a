// Package store is the cluster's shared state on Redis: the edge registry,
// the routes (which edge holds which connection), the per-room online
// counts and presence listings. Edges write it through an [EdgeRoutes],
// core reads routes through [Routes], and the push API reads online counts
// through [OnlineCounts] and presence through [Presence]. Nothing else in
// quicpush knows Redis: the edge reports through a small interface that
// EdgeRoutes implements.
//
// # Key layout
//
// Every key and the channel start with a configurable prefix, "qp:" by
// default ([DefaultPrefix]). Values are plain strings; edge ids are at most
// 64 bytes without ':' so that the keys below cannot collide.
//
//	qp:edges              ZSET  member edge id, score its expiry (unix ms).
//	                            Live edges: score > now. Renewed every TTL/3.
//	qp:edge:<id>          HASH  url (internal Deliver URL), quic, tcp
//	                            (client-facing addresses), started (RFC 3339).
//	                            PEXPIRE TTL, renewed by heartbeats; its absence
//	                            tells the edge Redis lost its state.
//	qp:edge:<id>:conns    HASH  connKey -> user: the edge's own record of its
//	                            routes, to republish and to clean up.
//	qp:edge:<id>:rooms    ZSET  room, score its member count on the edge.
//	qp:user:<user>        HASH  connKey -> edge id: where each connection of
//	                            the user is.
//	qp:room:<room>        HASH  edge id -> member count there (only > 0).
//	qp:edge:<id>:presence:<room>
//	                      HASH  the edge's presence listing of a room with
//	                            members there: connKey -> "<len(user)>:<user><info>",
//	                            and the header field "" -> "L<users>" (listed)
//	                            or "C<users>" (counts only: past the edge's
//	                            listing threshold, no connKey fields).
//	                            Removed with the room's count.
//	qp:srooms:<user>      SET   the user's server-side rooms (the push API's
//	                            Subscribe), EXPIRE the server rooms TTL (24 h
//	                            by default), set again by each Subscribe and
//	                            each connection of the user ([ServerRooms]).
//	qp:state              STRING 0, or the time (unix ms) until which Routes
//	                            holds lookups after Redis lost its state.
//	                            Written by Routes.Start; its absence later
//	                            means the store was emptied.
//	qp:inval              Pub/Sub channel of cache invalidations:
//	                            "r:<room>", "u:<user>", "e:<edge id>".
//	qp:joinleave          Pub/Sub channel of join and leave notices between
//	                            edges ([JoinLeave]): a JSON array of one
//	                            edge's batches of one interval.
//
// # Consistency
//
// Writers publish an invalidation after the data it covers, in the same
// pipeline, so a reader that receives it reads the new data. Routes caches
// lookups briefly (1s by default) and drops entries on invalidation; it
// drops everything on "e:" (an edge joined, left or republished) and
// whenever its subscription is lost or made again.
//
// Deletes are ownership-checked in Lua: a route field is removed only while
// it names the edge removing it, so a late disconnect never removes the
// route another edge wrote since for the same connKey.
//
// # Failures
//
// An edge killed without Close leaves routes behind; its registration
// expires after TTL, and the janitor of any Routes (every 5s by default)
// removes them, in chunks, each chunk re-checking in Lua that the edge is
// still dead: its info hash absent and its score absent or past. An edge
// that comes back (heartbeat or republish) is therefore never wiped, and
// several cores may sweep at once.
//
// When Redis restarts empty (or is flushed, or the edge was taken for dead),
// the edge's next heartbeat finds its info hash gone and republishes its
// whole state from [EdgeRoutesConfig.Snapshot], within TTL/3. Routes notices
// the loss by qp:state missing and fails lookups with [ErrRepublishing] for
// [RoutesConfig.EdgeTTL] from then: an answer from the half-filled store
// would leave out edges with members, and core would commit a batch
// delivered to nobody. While Redis is away,
// changes are kept, coalesced by connection and room, and written when it
// returns; sync calls wait until their context ends.
//
// Edges and readers compare expiry times against their own clocks: keep
// clocks in sync (NTP) to well within the TTL.
//
// The scripts compute user and room keys, so the store needs one Redis (a
// primary, with replicas or Sentinel as you like), not Redis Cluster.
package store
