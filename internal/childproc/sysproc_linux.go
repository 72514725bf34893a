package childproc

import "syscall"

// sysProcAttr puts the child in its own process group, so Stop and Kill can
// signal it (and anything it forks) without touching the test process, and
// asks the kernel to SIGKILL it when its parent dies: a test binary killed by
// `go test -timeout` or a crash must not leave a server running.
//
// Pdeathsig fires when the OS thread that forked the child exits, not the
// process; the Go runtime only retires threads whose goroutine exits while
// locked with runtime.LockOSThread, which neither this package nor its callers do.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
