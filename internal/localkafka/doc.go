// Package localkafka runs a real single-node Apache Kafka broker on loopback
// for tests and the cluster-mode development launcher, without Docker.
//
// The broker is the Apache Kafka jar (KRaft, combined broker and controller
// in one JVM) started with `java -cp 'LIBS/*' kafka.Kafka server.properties`.
// The jars come from Maven once, through scripts/kafka/fetch.sh, into
// .cache/kafka-<Version>/libs in the repository (or $QUICPUSH_KAFKA_LIBS);
// Libs finds them and says how to fetch them when they are missing. Java 17+
// must be on PATH (or in $JAVA_HOME).
//
// A broker is a child process in its own process group, so signals reach it
// and nothing else; on Linux it also gets SIGKILL when the Go process dies, so
// a crashed or timed-out `go test` does not leave JVMs behind. Start returns
// only once a Kafka client gets metadata from the broker, and its errors carry
// the tail of the JVM's output, which is kept in Dir/kafka.log.
//
// Restart brings the broker back on the same ports and data directory, so
// clients configured with Addr reconnect by themselves and committed data
// survives Kill: that is what failover tests need.
//
// Typical use in a test:
//
//	b, err := localkafka.Start(ctx, localkafka.Config{})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { _ = b.Close() })
//	cl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
//
// The package is for Unix-like systems; the die-with-parent guarantee holds on
// Linux only.
package localkafka
