package authtest

import (
	"flag"
	"runtime"
	"strconv"
)

// DefaultParallel sets -test.parallel to max(n, GOMAXPROCS) unless it was
// given on the command line. Call it from TestMain before m.Run, in a
// package whose parallel tests wait on processes and the network rather
// than on the CPU: go test's default (GOMAXPROCS, two on a 2-core
// machine) leaves the CPU idle while they wait.
func DefaultParallel(n int) {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if set {
		return
	}
	if err := flag.Set("test.parallel", strconv.Itoa(max(n, runtime.GOMAXPROCS(0)))); err != nil {
		panic("authtest: " + err.Error()) // not a test binary
	}
}
