package store

import "errors"

// ErrClosed is returned by calls on an EdgeRoutes after Close, and by sync
// calls still waiting when Close gave up on them.
var ErrClosed = errors.New("store: closed")

// ErrRepublishing is returned by route lookups while Redis, found to have
// lost its state, is being filled again by the edges' republishes: an
// answer read from it could leave out edges that still hold members. Retry
// later (core retries the batch, uncommitted).
var ErrRepublishing = errors.New("store: Redis lost its state; edges are republishing")
