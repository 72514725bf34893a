// Command writecost measures what the kernel charges a sender for the write
// pattern of a room fan-out, with nothing of quicpush in the way: one
// process (pinned to one CPU) holds N loopback TCP connections and writes a
// buffer to each of them in turn, once per interval, either all at once or
// in groups spread over the interval; another (pinned to the other CPU)
// reads them. The writer reports its CPU time per write. quicpush's CPU per
// delivery at a given write budget cannot fall below what this costs for
// the same pattern.
//
//	taskset -c 1 writecost read &
//	taskset -c 0 writecost write --conns 10000 --size 800 --interval 350ms --groups 16
//
// See perf/README.md, "Fan-out at goim's shape".
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/alecthomas/kong"
)

type cli struct {
	Read  readCmd  `cmd:"" help:"Accept connections on --addr and read them until they close."`
	Write writeCmd `cmd:"" help:"Connect --conns connections to --addr and write to each once per --interval."`
}

type readCmd struct {
	Addr string `default:"127.0.0.1:23999" help:"Address to listen on."`
}

type writeCmd struct {
	Addr     string        `default:"127.0.0.1:23999" help:"Address of the reader."`
	Conns    int           `default:"10000" help:"Connections."`
	Size     int           `default:"800" help:"Bytes per write (a 350 ms hold at goim's shape: about 14 pushes of 60 bytes)."`
	Interval time.Duration `default:"350ms" help:"Time between two writes to one connection; 0: as fast as possible."`
	Groups   int           `default:"1" help:"Groups the connections are written in, one per slot of the interval (quicpush's write policy uses 16)."`
	Duration time.Duration `default:"10s" help:"How long to write."`
}

func main() {
	var c cli
	ctx := kong.Parse(&c, kong.Name("writecost"))
	ctx.FatalIfErrorf(ctx.Run())
}

func (r *readCmd) Run() error {
	ln, err := net.Listen("tcp", r.Addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() {
			b := make([]byte, 64<<10)
			for {
				if _, err := c.Read(b); err != nil {
					_ = c.Close()
					return
				}
			}
		}()
	}
}

func (w *writeCmd) Run() error {
	if w.Groups < 1 || w.Conns%w.Groups != 0 {
		return errors.New("--groups must divide --conns")
	}
	conns := make([]net.Conn, w.Conns)
	for i := range conns {
		c, err := net.Dial("tcp", w.Addr)
		if err != nil {
			return fmt.Errorf("connection %d: %w", i, err)
		}
		defer c.Close()
		conns[i] = c
	}
	buf := make([]byte, w.Size)
	time.Sleep(time.Second) // the reader has accepted everything
	cpu0, start := processCPU(), time.Now()
	writes := 0
	per, slot := w.Conns/w.Groups, w.Interval/time.Duration(w.Groups)
	for time.Since(start) < w.Duration {
		for g := range w.Groups {
			t := time.Now()
			for _, c := range conns[g*per : (g+1)*per] {
				if _, err := c.Write(buf); err != nil {
					return err
				}
				writes++
			}
			time.Sleep(slot - time.Since(t))
		}
	}
	cpu, wall := processCPU()-cpu0, time.Since(start)
	fmt.Printf("conns=%d size=%d interval=%v groups=%d GOMAXPROCS=%d: %d writes, %.1f us of CPU per write, %.0f%% of a core\n",
		w.Conns, w.Size, w.Interval, w.Groups, runtime.GOMAXPROCS(0), writes,
		float64(cpu.Microseconds())/float64(writes), 100*cpu.Seconds()/wall.Seconds())
	return nil
}

// processCPU is the CPU time (user and system) the process used so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "getrusage:", err)
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
