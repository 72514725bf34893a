// Package core moves accepted messages from the bus to the edges. It reads
// the bus in batches, merges each room's messages into one run so an edge
// encodes and writes them once for all members, and hands batches to edges.
//
// In one process the bus is a bus.Memory and the edge is called directly
// ([Deliverer]); in a cluster the bus is Kafka and a [Router] sends each edge
// its share over a Deliver stream ([BatchRouter]), behind the same small
// interfaces.
package core
