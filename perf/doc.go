// Package perf holds quicpush's load benchmarks. It has no code of its own:
// perf/loadgen is the load generator, perf/bench.sh runs the suite on all
// four transports, perf/cluster.sh the room broadcast against a local
// cluster (Kafka, Redis, api, core, two edges), perf/results keeps the
// figures measured and README.md explains them and the commands that
// produced them.
//
// perf/ is a Go module of its own (go.mod, the server's module replaced by
// ../), so that the generator's dependencies stay out of the server's
// go.mod; run Go commands from here (see README.md, "The module").
package perf
