package store

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/quicpush/quicpush/internal/serverrooms"
)

// DefaultServerRoomsTTL is how long a user's server-side rooms are kept after
// the user's last subscription or connection, when NewServerRooms is given no
// TTL: the same as in one process.
const DefaultServerRoomsTTL = serverrooms.DefaultTTL

// ServerRooms is the cluster's memory of each user's server-side rooms (the
// push API's Subscribe, docs/protocol.md section 6.8): one set per user,
// "qp:srooms:<user>", whose TTL each subscription of the user and each of
// the user's connections (Rooms, at Auth) sets again. The push API writes
// it; every edge reads it when a user connects.
type ServerRooms struct {
	c    redis.UniversalClient
	keys keys
	ttl  time.Duration
}

// NewServerRooms returns the store under prefix ("" means DefaultPrefix)
// whose sets live ttl after their last use (zero means
// DefaultServerRoomsTTL).
func NewServerRooms(client redis.UniversalClient, prefix string, ttl time.Duration) *ServerRooms {
	if ttl <= 0 {
		ttl = DefaultServerRoomsTTL
	}
	return &ServerRooms{c: client, keys: newKeys(prefix), ttl: ttl}
}

func (k keys) serverRooms(user string) string { return k.prefix + "srooms:" + user }

// Add gives room to users and sets their sets' TTL again, in one round trip.
func (s *ServerRooms) Add(ctx context.Context, room string, users []string) error {
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, u := range users {
			k := s.keys.serverRooms(u)
			p.SAdd(ctx, k, room)
			p.Expire(ctx, k, s.ttl)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: server rooms: %w", err)
	}
	return nil
}

// Remove takes room from users, in one round trip. An emptied set is gone
// (Redis deletes empty sets).
func (s *ServerRooms) Remove(ctx context.Context, room string, users []string) error {
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, u := range users {
			p.SRem(ctx, s.keys.serverRooms(u), room)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: server rooms: %w", err)
	}
	return nil
}

// Rooms returns user's server-side rooms, sorted, and sets the TTL of their
// set again, in one round trip.
func (s *ServerRooms) Rooms(ctx context.Context, user string) ([]string, error) {
	k := s.keys.serverRooms(user)
	var members *redis.StringSliceCmd
	_, err := s.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		members = p.SMembers(ctx, k)
		p.Expire(ctx, k, s.ttl)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: server rooms: %w", err)
	}
	rooms := members.Val()
	slices.Sort(rooms)
	return rooms, nil
}
