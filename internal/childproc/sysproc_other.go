//go:build unix && !linux

package childproc

import "syscall"

// sysProcAttr puts the child in its own process group so Stop and Kill can
// signal it without touching the caller. Outside Linux there is no
// parent-death signal: a Go process that dies without Close leaves the server
// running until it is killed by hand.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
