//go:build race

package jwtauth

// raceEnabled: the race detector slows JSON decoding about tenfold.
const raceEnabled = true
