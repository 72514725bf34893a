package netlab

import "errors"

var (
	// ErrNotLoopback is returned for a target outside loopback: the lab
	// relays between processes of one machine and never beyond it.
	ErrNotLoopback = errors.New("netlab: target is not a loopback address")
	// ErrUnknownClient is returned by UDPRelay.Rebind for an address the
	// relay has not seen.
	ErrUnknownClient = errors.New("netlab: unknown client")
	// ErrClosed is returned by a relay's methods after Close.
	ErrClosed = errors.New("netlab: relay closed")
)
