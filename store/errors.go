package store

import "errors"

// ErrClosed is returned by calls on an EdgeRoutes after Close, and by sync
// calls still waiting when Close gave up on them.
var ErrClosed = errors.New("store: closed")
