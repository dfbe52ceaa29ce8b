package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// printReport prints the table of medians, the cold-verify line, the
// goals and the notes.
func printReport(w io.Writer, e *env, sc []scenario, rounds []round) {
	o := e.o
	fmt.Fprintf(w, "\nGatehouse load benchmark, %s UTC; %s, %d CPUs; %s\n",
		time.Now().UTC().Format("2006-01-02 15:04"), cpuModel(), hostCPUs(), runtime.Version())
	fmt.Fprintf(w, "%d keep-alive connections; %d round(s), interleaved (odd rounds in table order, even ones reversed); per scenario and round %v measured after %v warm-up; medians over the rounds\n",
		o.conc, o.rounds, o.duration, o.warmup)
	if len(pinning) > 0 {
		fmt.Fprintf(w, "servers (upstream, proxies, Redis) pinned to CPU %s; load generator and trace sink to CPU %s (taskset)\n", serverCPU, loadCPU)
	} else {
		fmt.Fprintln(w, "not pinned (taskset missing or a single CPU): servers and load generator share the CPUs")
	}
	fmt.Fprintf(w, "Gatehouse: store %s, metrics on, JSON access log to a file; a fresh proxy process for every scenario run\n\n", e.store)
	bare := summarize(rounds, keyBare)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\treq/s\t× bare\t× nginx\tspread\tp50\tp99\tbare p99\tallocs/req\tstore ops/req\tCPU/req\tpeak RSS\terrors\t")
	for _, s := range sc {
		m := summarize(rounds, s.key)
		if m.rounds == 0 {
			fmt.Fprintf(tw, "%s\tskipped\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", s.name)
			continue
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", s.name, m.rps,
			num(m.xBare, "%.2f"), num(m.xNginx, "%.2f"), num(100*m.spread, "%.0f%%"),
			seconds(m.p50), seconds(m.p99), seconds(bare.p99),
			num(m.allocs, "%.0f"), num(m.storeOps, "%.3f"), micro(m.cpu), mib(m.rss), m.errors)
	}
	tw.Flush()
	fmt.Fprintln(w, `
× bare, × nginx: median over the rounds of the scenario's req/s over the baseline's in the same round;
spread: (max − min) / median of the rounds' req/s. allocs/req: the server's go_memstats_mallocs_total
over the measured window / requests (Gatehouse; the bare proxy); store ops/req: Gatehouse's
gatehouse_store_operations_total (Redis calls) likewise. CPU/req: user + system CPU of the
server processes (/proc/<pid>/stat) over the window / requests. peak RSS: VmHWM (/proc/<pid>/status)
after resetting it at the start of the load (clear_refs 5). Servers: direct = the echo upstream;
nginx = master + worker; forward-auth = nginx + Gatehouse (allocs: Gatehouse's).`)
	printCold(w, e, rounds)
	fmt.Fprintln(w, "\nGoals (issue 15; ratios as above):")
	for _, v := range evaluate(goals, rounds) {
		status := v.status
		if status == "not measured" {
			if why := e.skipped[v.key] + e.failed[v.key]; why != "" {
				status = "skipped: " + why
			}
		}
		fmt.Fprintf(w, "  %-55s %s  %s\n", v.what+":", num(v.got, "%.3f×"), status)
	}
	if len(e.skipped) > 0 || len(e.notes) > 0 {
		fmt.Fprintln(w)
	}
	for _, s := range sc {
		if why, ok := e.skipped[s.key]; ok {
			fmt.Fprintf(w, "skipped: %s: %s\n", s.name, why)
		}
	}
	for _, n := range e.notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// printCold reports the cold-verify scenario: its ratio and how much of
// Gatehouse's CPU the verifications take.
func printCold(w io.Writer, e *env, rounds []round) {
	m := summarize(rounds, keyCold)
	if m.rounds == 0 {
		return
	}
	fmt.Fprintf(w, "\nCold verify (a token Gatehouse has not seen on every request): %s× bare proxy; Gatehouse CPU %s per request;\n",
		num(m.xBare, "%.2f"), micro(m.cpu))
	fmt.Fprintf(w, "one verification %s CPU (jwtauth.Verifier configured like Gatehouse's own issuer, cache on, no revocation store,\n", micro(m.verify))
	fmt.Fprintf(w, "new tokens, measured in the driver on CPU %s right after each run: %d verifications); verification share of\n", loadCPU, e.verifies)
	fmt.Fprintf(w, "Gatehouse's CPU = one verification / CPU per request (each request is one verification): %s (median of the rounds)\n",
		num(100*m.shareVerif, "%.0f %%"))
}

// micro renders CPU seconds per request in µs.
func micro(s float64) string { return num(s*1e6, "%.0fµs") }

// mib renders bytes in MiB.
func mib(b float64) string { return num(b/(1<<20), "%.1f MiB") }

// cpuModel is /proc/cpuinfo's first model name.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
