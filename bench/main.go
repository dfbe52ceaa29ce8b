// Command bench is Gatehouse's load benchmark (`make bench`): it starts the
// demo echo upstream, Redis, and for each scenario a fresh proxy (a bare
// httputil.ReverseProxy, nginx when installed, Gatehouse on its none, jwt
// and session routes, with tracing, behind nginx's auth_request), drives it
// with a keep-alive load generator on loopback, repeats everything for
// -rounds interleaved rounds and prints one table of medians, then issue
// 15's goals. With taskset and two or more CPUs, the servers share CPU 0
// and the load generator runs on CPU 1. Run it from the repository root.
package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// pinnedEnv marks the re-executed, pinned driver. It must not start with
// GATEHOUSE_, which Gatehouse reads as config overrides.
const pinnedEnv = "BENCH_PINNED_TO_LOAD_CPU"

type options struct {
	duration, warmup time.Duration
	conc, rounds     int
	coldMax          int
	bin              string
}

func main() {
	bare := flag.String("bare-proxy", "", "internal: serve the bare ReverseProxy on `ADDR`")
	bareUp := flag.String("bare-upstream", "", "internal: the bare proxy's upstream URL")
	bareStats := flag.String("bare-stats", "", "internal: the bare proxy's malloc-count address")
	var o options
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per target")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per target")
	flag.IntVar(&o.conc, "c", 32, "concurrent keep-alive connections")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds; the table shows medians")
	flag.IntVar(&o.coldMax, "cold-max", 1000000, "most tokens to pre-mint for the cold-verify scenario")
	flag.StringVar(&o.bin, "gatehouse", "", "prebuilt gatehouse `binary` (default: go build ./cmd/gatehouse)")
	flag.Parse()
	var err error
	if *bare != "" {
		err = serveBare(*bare, *bareUp, *bareStats)
	} else {
		err = drive(o)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		os.Exit(ee.ExitCode())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// drive builds Gatehouse, re-executes itself on the load CPU when it can
// pin, and measures every target.
func drive(o options) error {
	if o.rounds < 1 {
		return fmt.Errorf("-rounds %d: want at least 1", o.rounds)
	}
	dir, err := os.MkdirTemp("", "gatehouse-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	_ = os.Chmod(dir, 0o755) // nginx workers may run as nobody
	if o.bin == "" {
		if o.bin, err = buildGatehouse(dir); err != nil {
			return err
		}
	}
	ts, tsErr := exec.LookPath("taskset")
	pinned := os.Getenv(pinnedEnv) != ""
	canPin := tsErr == nil && (runtime.NumCPU() >= 2 || pinned)
	if canPin && !pinned {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		cmd := exec.Command(ts, append([]string{"-c", loadCPU, self}, append(os.Args[1:], "-gatehouse", o.bin)...)...)
		cmd.Env = append(os.Environ(), pinnedEnv+"=1")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		return cmd.Run()
	}
	if canPin {
		pinning = []string{ts, "-c", serverCPU}
	}
	e, err := setup(o, dir)
	defer e.close()
	if err != nil {
		return err
	}
	sc := scenarios(e.store)
	rounds := e.runRounds(sc)
	printReport(os.Stdout, e, sc, rounds)
	return nil
}

// hostCPUs is the machine's CPU count, whatever this process's affinity.
func hostCPUs() int {
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return runtime.NumCPU()
	}
	lo, hi, ok := strings.Cut(strings.TrimSpace(string(b)), "-")
	if !ok {
		return 1
	}
	var a, z int
	if _, err := fmt.Sscan(lo, &a); err != nil {
		return runtime.NumCPU()
	}
	if _, err := fmt.Sscan(hi, &z); err != nil {
		return runtime.NumCPU()
	}
	return z - a + 1
}

func num(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf(format, v)
}
