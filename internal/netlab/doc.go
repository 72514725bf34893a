// Package netlab is a network lab for tests and perf: userspace relays on
// loopback that stand between a client and a server and give the path the
// properties of a real network (one-way delay, jitter, random and burst loss,
// reordering, a bandwidth cap with a bounded queue) and that can move a
// client the way phones move (a NAT rebinding its source port, a switch to a
// second path with other characteristics, UDP black-holed by a middlebox).
//
// It exists because the kernel where quicpush is tested has no netem (tc
// qdisc) and tests must not need root: a relay in the test process costs a
// few goroutines and works anywhere loopback does.
//
// [UDPRelay] carries datagrams (raw QUIC, WebTransport); [TCPRelay] carries
// streams (framed TCP, TLS, WebSocket) with the same [Link] model, except
// that a TCP segment cannot be lost, only retransmitted late. Every
// configuration's zero value is a perfect link, so a test states only what it
// degrades. Loss, jitter and reordering draw from a PCG seeded by the
// configuration: the same datagrams in the same order meet the same fate on
// every run.
//
// The relays refuse non-loopback targets and listen on 127.0.0.1 only: the
// lab must never become an open relay on a shared machine. Everything they
// hold is bounded (queues in bytes, a fixed number of goroutines per client
// or connection) and Close returns only once every goroutine has stopped.
package netlab
