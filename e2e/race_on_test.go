//go:build race

package e2e

// raceDetector reports a build with the race detector: frameconn's QUIC
// dials then wait for the handshake instead of sending 0-RTT data.
const raceDetector = true
