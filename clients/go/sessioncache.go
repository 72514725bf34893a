package quicpush

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// PersistentSessionCache is a tls.ClientSessionCache (for WithSessionCache)
// whose tickets outlive the process: each ticket an edge sends is kept in
// memory and handed, serialized, to a save function, which writes it where
// the app keeps its state; on the next launch Load puts the saved tickets
// back, and the first connect resumes (over raw QUIC, with 0-RTT) instead of
// running a full handshake. A ticket is a credential for resuming the TLS
// session: store it as privately as the token. Edges issue tickets per
// process, so one saved before an edge restarted only costs the full
// handshake it would have cost anyway.
type PersistentSessionCache struct {
	mu    sync.Mutex
	cache tls.ClientSessionCache
	save  func(key string, ticket []byte)
}

// NewPersistentSessionCache returns a cache that calls save with every
// ticket received (a nil ticket: forget key), from the connection's
// goroutine. save must not block for long.
func NewPersistentSessionCache(save func(key string, ticket []byte)) *PersistentSessionCache {
	return &PersistentSessionCache{cache: tls.NewLRUClientSessionCache(0), save: save}
}

// Get implements tls.ClientSessionCache.
func (c *PersistentSessionCache) Get(key string) (*tls.ClientSessionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cache.Get(key)
}

// Put implements tls.ClientSessionCache.
func (c *PersistentSessionCache) Put(key string, cs *tls.ClientSessionState) {
	c.mu.Lock()
	c.cache.Put(key, cs)
	c.mu.Unlock()
	if cs == nil {
		c.save(key, nil)
		return
	}
	b, err := marshalSession(cs)
	if err != nil {
		return // a TLS 1.2 session without a ticket: nothing to keep
	}
	c.save(key, b)
}

// Load puts back a ticket that save was given for key.
func (c *PersistentSessionCache) Load(key string, ticket []byte) error {
	cs, err := unmarshalSession(ticket)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache.Put(key, cs)
	return nil
}

// marshalSession encodes a client session as the ticket's length (uvarint),
// the ticket, then the session state (tls.SessionState.Bytes).
func marshalSession(cs *tls.ClientSessionState) ([]byte, error) {
	ticket, state, err := cs.ResumptionState()
	if err != nil {
		return nil, err
	}
	if state == nil || len(ticket) == 0 {
		return nil, errors.New("quicpush: session without a ticket")
	}
	sb, err := state.Bytes()
	if err != nil {
		return nil, err
	}
	b := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(ticket)+len(sb)), uint64(len(ticket)))
	b = append(b, ticket...)
	return append(b, sb...), nil
}

func unmarshalSession(b []byte) (*tls.ClientSessionState, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n == 0 || n > uint64(len(b)-k) {
		return nil, errors.New("quicpush: malformed saved ticket")
	}
	ticket := b[k : k+int(n)]
	state, err := tls.ParseSessionState(b[k+int(n):])
	if err != nil {
		return nil, fmt.Errorf("quicpush: malformed saved ticket: %w", err)
	}
	return tls.NewResumptionState(append([]byte(nil), ticket...), state)
}
