// Package core moves accepted messages from the bus to the edges. It reads
// the bus in batches, merges each room's messages into one run so an edge
// encodes and writes them once for all members, and hands batches to edges.
//
// In one process the bus is a MemoryBus and the edge is called directly; the
// cluster mode replaces both behind the same small interfaces.
package core
