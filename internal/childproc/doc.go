// Package childproc runs the servers that tests and the development cluster
// start as child processes (Kafka's JVM, redis-server, the quicpush binary):
// each in its own process group with its output in a log file, reaped as soon
// as it exits, stopped with SIGTERM then SIGKILL, and on Linux killed by the
// kernel when the Go process that started it dies.
//
// A [Runner] owns at most one running child, its working directory and its
// log file: Start waits until the child serves (a TCP port, or a check of the
// caller's), Stop, Kill and Restart act on it as an operator or a crash
// would, and Close removes a temporary directory. A failed start quotes the
// end of the child's log. [Start] runs a one-shot child (a setup tool, say)
// without that bookkeeping.
//
// Typical use, for a server on a fixed port:
//
//	r, err := childproc.New(childproc.Config{
//		Name:  "redis-server",
//		Path:  path,
//		Args:  []string{"--port", "6390"},
//		Ports: []int{6390},
//	})
//	if err != nil {
//		return err
//	}
//	defer r.Close()
//	if err := r.Start(ctx); err != nil {
//		return err
//	}
//
// The package is for Unix-like systems; the die-with-parent guarantee holds on
// Linux only.
package childproc
