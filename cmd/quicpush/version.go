package main

import (
	"fmt"
	"runtime/debug"
)

type versionCmd struct{}

func (versionCmd) Run() error {
	fmt.Println(versionString())
	return nil
}

// versionString is what both `quicpush version` and `quicpush --version`
// print: the module version and the client protocol version.
func versionString() string {
	v := "(devel)"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		v = bi.Main.Version
	}
	return "quicpush " + v + " protocol 1"
}
