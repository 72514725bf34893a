//go:build !unix

package edge

import "time"

// processCPU is not measured here: the pacer sees no load and writes every
// message at once.
func processCPU() time.Duration { return 0 }
