// Package e2e holds the end-to-end tests: a real single-process quicpush on
// loopback ports, real clients on every transport, pushes through every API
// protocol, and bad input that must end in a clean error and close.
package e2e
