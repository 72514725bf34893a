// Package bus carries accepted messages from the push API to core: the seam
// between taking a push and delivering it.
//
// The push API publishes through a [Publisher] and returns only once the bus
// durably holds the message; core reads through a [Source] in batches and, for
// a bus that commits ([Committer]), reports each batch delivered once the edges
// took it, so nothing is committed before it reached an edge.
//
// Two implementations: [Memory], a bounded in-process queue for the single
// process (a full queue makes Publish wait, never drop), and Kafka for a
// cluster ([KafkaPublisher] in the api processes, [KafkaSource] in the core
// processes), keyed so that one room's and one user's messages stay in order.
package bus
