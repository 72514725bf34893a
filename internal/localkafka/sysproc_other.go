//go:build unix && !linux

package localkafka

import "syscall"

// sysProcAttr puts the child in its own process group so Stop and Kill can
// signal it without touching the caller. Outside Linux there is no
// parent-death signal: a Go process that dies without Close leaves the broker
// running until it is killed by hand.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
