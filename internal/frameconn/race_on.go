//go:build race

package frameconn

// raceDetector reports a build with the race detector (see DialQUIC).
const raceDetector = true
