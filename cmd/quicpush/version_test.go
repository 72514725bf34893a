package main

import (
	"bytes"
	"testing"

	"github.com/alecthomas/kong"
)

// TestVersionFlag: `quicpush --version` prints what `quicpush version` does.
func TestVersionFlag(t *testing.T) {
	var out bytes.Buffer
	var c cli
	exited := -1
	p, err := kong.New(&c, append(options(), kong.Writers(&out, &out), kong.Exit(func(code int) {
		exited = code
		panic(exitPanic{})
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(exitPanic); !ok {
					panic(r)
				}
			}
		}()
		_, err = p.Parse([]string{"--version"})
	}()
	if exited != 0 || err != nil {
		t.Fatalf("--version: exit %d, %v; printed %q", exited, err, out.String())
	}
	if want := versionString() + "\n"; out.String() != want {
		t.Fatalf("--version printed %q, want %q", out.String(), want)
	}
}

type exitPanic struct{}
