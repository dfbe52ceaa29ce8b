// Command bench is Gatehouse's load benchmark (`make bench`): it starts the
// demo echo upstream, Gatehouse (routes none, jwt and session on Redis), a
// bare httputil.ReverseProxy and, when installed, nginx, drives each with a
// keep-alive load generator on loopback and prints one comparison table.
// With taskset and two or more CPUs, the servers share CPU 0 and the load
// generator runs on CPU 1. Run it from the repository root.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// pinnedEnv marks the re-executed, pinned driver. It must not start with
// GATEHOUSE_, which Gatehouse reads as config overrides.
const pinnedEnv = "BENCH_PINNED_TO_LOAD_CPU"

type options struct {
	duration, warmup time.Duration
	conc             int
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
	rows, notes, err := measureAll(o, dir)
	printTable(os.Stdout, o, rows, notes)
	return err
}

// row is one line of the table. allocs is NaN when not measured.
type row struct {
	name   string
	res    loadResult
	allocs float64
}

// measure runs the load against url and, when mallocsURL is set, reads the
// server's malloc count before and after.
func measure(o options, name, url string, h http.Header, mallocsURL string) row {
	before, errB := math.NaN(), error(nil)
	if mallocsURL != "" {
		before, errB = readMallocs(mallocsURL)
	}
	res := runLoad(url, h, o.conc, o.warmup, o.duration)
	r := row{name: name, res: res, allocs: math.NaN()}
	if mallocsURL != "" && errB == nil {
		if after, err := readMallocs(mallocsURL); err == nil && res.Requests > 0 {
			// The warm-up's requests are in the difference too.
			r.allocs = (after - before) / (float64(res.Requests) * float64(o.warmup+o.duration) / float64(o.duration))
		}
	}
	fmt.Fprintf(os.Stderr, "bench: %-40s %8.0f req/s\n", name, res.RPS())
	if res.Errors > 0 {
		fmt.Fprintf(os.Stderr, "bench: %s: %d failures, the first: %s\n", name, res.Errors, res.FirstErr)
	}
	return r
}

// measureAll starts each server in turn and measures it.
func measureAll(o options, dir string) ([]row, []string, error) {
	var rows []row
	var notes []string
	upAddr := freeAddr()
	up, err := start("upstream", "", o.bin, "demo-upstream", "-listen", upAddr)
	if err != nil {
		return nil, nil, err
	}
	defer up.stop()
	upURL := "http://" + upAddr
	if err := waitHTTP(upURL + "/"); err != nil {
		return nil, nil, err
	}
	rows = append(rows, measure(o, "direct (echo upstream)", upURL+"/x", nil, ""))

	self, _ := os.Executable()
	bareAddr, statsAddr := freeAddr(), freeAddr()
	bare, err := start("bare", "", self, "-bare-proxy", bareAddr, "-bare-upstream", upURL, "-bare-stats", statsAddr)
	if err != nil {
		return rows, notes, err
	}
	if err := waitHTTP("http://" + statsAddr + "/"); err != nil {
		return rows, notes, err
	}
	rows = append(rows, measure(o, "bare Go httputil.ReverseProxy", "http://"+bareAddr+"/x", nil, "http://"+statsAddr+"/"))
	bare.stop()

	if ng, ngURL, err := startNginx(dir, upURL); err != nil {
		notes = append(notes, "nginx failed to start: "+err.Error())
	} else if ng == nil {
		notes = append(notes, "nginx is not installed (apt-get install nginx-light); its column is empty")
	} else {
		rows = append(rows, measure(o, "nginx (proxy_pass, keepalive 64)", ngURL+"/x", nil, ""))
		ng.stop()
	}
	gh, more, err := measureGatehouse(o, dir, upURL)
	notes = append(notes, more...)
	return append(rows, gh...), notes, err
}

// measureGatehouse measures Gatehouse's none, jwt and session routes, on
// Redis when redis-server is installed.
func measureGatehouse(o options, dir, upURL string) ([]row, []string, error) {
	var notes []string
	rd, redisAddr, err := startRedis(dir)
	if err != nil {
		return nil, nil, err
	}
	store := "Redis"
	if rd == nil {
		store = "memory"
		notes = append(notes, "redis-server is not installed: the jwt and session routes use the memory store")
	} else {
		defer rd.stop()
	}
	g, err := startGatehouse(o.bin, dir, upURL, redisAddr)
	if err != nil {
		return nil, notes, err
	}
	defer g.stop()
	m := g.admin + "/metrics"
	rows := []row{
		measure(o, "gatehouse auth: none", g.url+"/none/x", nil, m),
		measure(o, "gatehouse auth: jwt (ES256, "+store+")", g.url+"/jwt/x", http.Header{"Authorization": {g.bearer}}, m),
		measure(o, "gatehouse auth: session ("+store+")", g.url+"/session/x", http.Header{"Cookie": {g.cookie}}, m),
	}
	// Forward-auth: nginx proxies to the upstream and asks Gatehouse with
	// auth_request (deploy/forward-auth/nginx.conf); allocs/req are
	// Gatehouse's, per decision.
	if ng, ngURL, err := startNginxAuth(dir, upURL, g.url); err != nil {
		notes = append(notes, "nginx with auth_request failed to start: "+err.Error())
	} else if ng != nil {
		rows = append(rows, measure(o, "nginx + auth_request → gatehouse jwt", ngURL+"/jwt/x", http.Header{"Authorization": {g.bearer}}, m))
		ng.stop()
	}
	return rows, notes, nil
}

// printTable prints the comparison and the targets from the issue.
func printTable(w io.Writer, o options, rows []row, notes []string) {
	find := func(prefix string) float64 {
		for _, r := range rows {
			if strings.HasPrefix(r.name, prefix) {
				return r.res.RPS()
			}
		}
		return math.NaN()
	}
	direct, nginx, bare := find("direct"), find("nginx"), find("bare")
	fmt.Fprintf(w, "\nGatehouse load benchmark, %s, %d CPUs, %s; %d keep-alive connections, %v per target after %v warm-up\n",
		time.Now().UTC().Format("2006-01-02"), hostCPUs(), runtime.Version(), o.conc, o.duration, o.warmup)
	if len(pinning) > 0 {
		fmt.Fprintf(w, "servers (upstream, proxy, Redis) pinned to CPU %s, load generator to CPU %s (taskset)\n", serverCPU, loadCPU)
	} else {
		fmt.Fprintln(w, "not pinned (taskset missing or a single CPU): servers and load generator share the CPUs")
	}
	fmt.Fprintln(w, "Gatehouse: metrics on, JSON access log to a file; allocs/req from go_memstats_mallocs_total")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "target\treq/s\tp50\tp99\terrors\tallocs/req\t× direct\t× nginx\t× bare Go\t")
	for _, r := range rows {
		rps := r.res.RPS()
		fmt.Fprintf(tw, "%s\t%.0f\t%v\t%v\t%d\t%s\t%s\t%s\t%s\t\n", r.name, rps,
			r.res.P50.Round(time.Microsecond), r.res.P99.Round(time.Microsecond), r.res.Errors,
			num(r.allocs, "%.0f"), num(rps/direct, "%.2f"), num(rps/nginx, "%.2f"), num(rps/bare, "%.2f"))
	}
	tw.Flush()
	fmt.Fprintln(w)
	for _, t := range []struct {
		prefix string
		want   float64
	}{{"gatehouse auth: jwt", 0.85}, {"gatehouse auth: session", 0.80}} {
		got := find(t.prefix) / bare
		verdict := "meets"
		if !(got >= t.want) {
			verdict = "BELOW"
		}
		fmt.Fprintf(w, "target: %s ≥ %.2f× bare Go proxy: %.2f× (%s)\n", strings.TrimPrefix(t.prefix, "gatehouse "), t.want, got, verdict)
	}
	if fa := find("nginx + auth_request"); !math.IsNaN(fa) {
		sidecar := find("gatehouse auth: jwt")
		for _, c := range []struct {
			what      string
			got, want float64
		}{{"nginx + auth_request ≥ 0.50× nginx plain", fa / nginx, 0.5}, {"nginx + auth_request > gatehouse jwt (sidecar)", fa / sidecar, 1}} {
			verdict := "meets"
			if !(c.got >= c.want) || (c.want == 1 && c.got == 1) {
				verdict = "BELOW"
			}
			fmt.Fprintf(w, "target: %s: %.2f× (%s)\n", c.what, c.got, verdict)
		}
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
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
