// Package push holds the domain types that travel from the push API through
// the bus and core to the edges: a Message with its target, the online
// counts the edges report back, and the contract of the store that makes
// push calls idempotent. It depends on nothing, so every component can
// share it without learning about the others.
package push

import (
	"context"
	"errors"
	"time"
)

// Kind says how a Message is addressed.
type Kind uint8

// Message kinds.
const (
	KindKeys        Kind = iota + 1 // to connections by key
	KindUsers                       // to every connection of some users
	KindRoom                        // to every member of one room
	KindBroadcast                   // to every connection
	KindDisconnect                  // close connections by key or user
	KindSubscribe                   // put connections by key or user in a room
	KindUnsubscribe                 // take connections by key or user out of a room
)

func (k Kind) String() string {
	switch k {
	case KindKeys:
		return "keys"
	case KindUsers:
		return "users"
	case KindRoom:
		return "room"
	case KindBroadcast:
		return "broadcast"
	case KindDisconnect:
		return "disconnect"
	case KindSubscribe:
		return "subscribe"
	case KindUnsubscribe:
		return "unsubscribe"
	}
	return "unknown"
}

// Message is one accepted push (or disconnect order). It is immutable once
// published: the bus, core and edges share it without copying.
type Message struct {
	// ID is unique per message, assigned by the push API.
	ID   string
	Kind Kind
	// Keys are connection keys (KindKeys, KindDisconnect, KindSubscribe,
	// KindUnsubscribe).
	Keys []string
	// Users are user ids (KindUsers, KindDisconnect, KindSubscribe,
	// KindUnsubscribe).
	Users []string
	// Room is the target room (KindRoom, KindSubscribe, KindUnsubscribe).
	Room string
	// Data is the payload delivered to clients as is.
	Data []byte
	// Rate caps how many connections per second an edge delivers a broadcast
	// to; zero means as fast as possible.
	Rate int
	// Code and Reason are sent to clients closed by a KindDisconnect message.
	Code   uint16
	Reason string
	// Accepted is when the push API accepted the message.
	Accepted time.Time

	// Offset is the message's offset in each of its streams (its room's, or
	// each of its users'), taken from the bus: the record's offset plus one,
	// so that zero means none. The bus sets it.
	Offset uint64
	// Epoch is the room stream's epoch (KindRoom) and UserEpochs each user
	// stream's, in the order of Users (KindUsers); core sets them once the
	// message is in history. Empty means the stream keeps no history, and
	// the message carries no position.
	Epoch      string
	UserEpochs []string

	// Ephemeral marks superseded state (positions, typing, live scores): the
	// message is never written to history and carries no position (core
	// clears Offset), and edges send it in a datagram where the connection
	// allows, so it may be dropped and may overtake reliable messages.
	Ephemeral bool

	// TraceParent is the W3C trace context of a sampled push
	// (internal/tracing), empty otherwise: the push API sets it, the Kafka
	// bus carries it in a record header, core and the edges add their
	// spans to its trace.
	TraceParent string
}

// RoomCount is a room and its number of connections.
type RoomCount struct {
	Room  string
	Count int64
}

// Online is a snapshot of online counts.
type Online struct {
	// Total is the number of authenticated connections.
	Total int64
	// Rooms holds the count of each room asked for (zero when empty).
	Rooms map[string]int64
	// Top lists the most populated rooms, largest first.
	Top []RoomCount
}

// BusRecord is where the bus stored a message, or the part of it bound for
// one partition: Kafka's partition and offset, or partition 0 and a sequence
// number on the in-process bus.
type BusRecord struct {
	Partition int32
	Offset    int64
	// Users are the users of a KindUsers message this record carries; nil
	// means all of them (the message was not split).
	Users []string
}

// ErrInFlight is returned by an IdempotencyStore's Begin while another call
// with the key is under way.
var ErrInFlight = errors.New("a call with this idempotency key is in flight")

// ErrKeyReused is returned by an IdempotencyStore's Begin when the key was
// claimed, within the window, by a call whose request had another digest:
// the caller reused a key for a new request, which must not be answered with
// the first one's reply.
var ErrKeyReused = errors.New("idempotency key already used with a different request")

// IdempotencyStore remembers the replies of push calls that carried an
// idempotency key, for a window, so that a retried call is answered with the
// first call's reply instead of being published again. Each key is stored
// with the digest of the request that claimed it, so that the same key sent
// with another request is refused rather than taken for a retry. The push
// API uses it; the single process keeps it in memory and a cluster on Redis
// (store.Idempotency), where a retry reaching another API process is
// recognized too.
type IdempotencyStore interface {
	// Begin claims key for a call whose request has digest. It returns the
	// stored reply of an earlier call that succeeded with the key and the
	// same digest (done), ErrKeyReused when the earlier call, finished or in
	// flight, had another digest, ErrInFlight while one with the same digest
	// is under way, or nothing: the caller proceeds and must then call
	// Finish or Abandon.
	Begin(ctx context.Context, key string, digest []byte, window time.Duration) (reply []byte, done bool, err error)
	// Finish stores the reply of the call holding key, with its digest.
	Finish(ctx context.Context, key string, digest, reply []byte, window time.Duration) error
	// Abandon releases key after the call failed, so a retry can run.
	Abandon(ctx context.Context, key string)
}
