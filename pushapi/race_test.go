//go:build race

package pushapi

// The race detector makes more values escape, so allocation counts differ.
func init() { raceEnabled = true }
