package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// pinnedEnv marks a generator that already re-executed itself under taskset.
const pinnedEnv = "QUICPUSH_LOADGEN_PINNED"

// pinSelf re-executes the generator under `taskset -c cpus`, so that every
// thread, and GOMAXPROCS, follow the pinning from the start. It returns only
// when already pinned or on failure.
func pinSelf(cpus string) error {
	if cpus == "" || os.Getenv(pinnedEnv) != "" {
		return nil
	}
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return fmt.Errorf("--gen-cpus needs taskset: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append([]string{"taskset", "-c", cpus, exe}, os.Args[1:]...)
	return syscall.Exec(ts, args, append(os.Environ(), pinnedEnv+"=1"))
}

// raiseFileLimit lifts the soft limit on open files to the hard one and
// returns the new soft limit.
func raiseFileLimit() (uint64, error) {
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
		return 0, err
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &rl); err != nil {
			return 0, err
		}
	}
	return rl.Cur, nil
}

// cpuAffinity describes the CPUs this process may run on.
func cpuAffinity() string {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return "?"
	}
	s := ""
	for i := range 1024 {
		if set.IsSet(i) {
			if s != "" {
				s += ","
			}
			s += fmt.Sprint(i)
		}
	}
	return s
}

func selfPID() int { return os.Getpid() }
