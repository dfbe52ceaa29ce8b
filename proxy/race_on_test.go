//go:build race

package proxy

// raceEnabled: the race detector changes allocation counts (TestHotPathAllocations).
const raceEnabled = true
