// Package history keeps every room's and every user's recent messages, so
// that a client that reconnects gets exactly what it missed, or is told it
// cannot.
//
// Each stream (a room's, RoomStream; a user's, UserStream) holds its latest
// messages, bounded by size and age (Policy, per room-name prefix with
// Namespace). A message's position is its offset, taken from the bus (the
// Kafka record offset plus one, or the in-process bus's sequence number), and
// the stream's epoch. Offsets grow within an epoch but skip numbers: they are
// the bus's, shared by every stream of a partition. A new epoch means the
// stream's past is gone (the store was flushed or lost it, or the stream was
// idle past its meta TTL), so no position from an older epoch is ever taken
// for one of the new.
//
// Store is written by the side that owns the streams (core, which reads each
// stream from one bus partition at a time) before the messages reach the
// edges, and read by the edges to resume clients and by the push API. Memory
// is the single-process Store; store.History keeps it on Redis.
package history
