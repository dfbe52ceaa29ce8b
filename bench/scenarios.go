package main

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"time"
)

// Scenario keys; the table lists them in this order.
const (
	keyDirect   = "direct"
	keyBare     = "bare"
	keyNginx    = "nginx"
	keyNone     = "none"
	keyJWT      = "jwt"
	keyRotation = "jwt-10k"
	keyCold     = "jwt-cold"
	keySession  = "session"
	keyTracing  = "jwt-tracing"
	keyForward  = "forward-auth"
)

// rotationTokens is how many distinct tokens the rotation scenario cycles.
const rotationTokens = 10000

// scenario is one row of the table. run starts what the scenario needs
// (a fresh proxy process, so its caches, counters and peak RSS are its
// own), measures it and stops it; an errSkip from run says why the
// scenario cannot run here, and it is not tried again.
type scenario struct {
	key, name string
	run       func(e *env) (sample, error)
}

func scenarios(store string) []scenario {
	return []scenario{
		{keyDirect, "direct (echo upstream)", (*env).runDirect},
		{keyBare, "bare Go httputil.ReverseProxy (tuned pool) = baseline", (*env).runBare},
		{keyNginx, "nginx plain (proxy_pass, keepalive 64)", (*env).runNginx},
		{keyNone, "Gatehouse auth: none", func(e *env) (sample, error) {
			return e.runGatehouse(e.cfg, "/none/x", fixedHeader(nil), 0)
		}},
		{keyJWT, "Gatehouse jwt ES256 (" + store + "), one hot token", func(e *env) (sample, error) {
			return e.runGatehouse(e.cfg, "/jwt/x", fixedHeader(http.Header{"Authorization": {e.bearer}}), 0)
		}},
		{keyRotation, "Gatehouse jwt, 10,000 tokens in rotation", func(e *env) (sample, error) {
			return e.runGatehouse(e.cfg, "/jwt/x", rotate(e.rotation), rotationTokens)
		}},
		{keyCold, "Gatehouse jwt, a new token every request (cold)", (*env).runCold},
		{keySession, "Gatehouse session (" + store + ")", (*env).runSession},
		{keyTracing, "Gatehouse jwt, hot token, tracing 10 % sampled", (*env).runTracing},
		{keyForward, "nginx + auth_request → Gatehouse jwt (hot token)", (*env).runForward},
	}
}

// target is what one measurement loads and watches.
type target struct {
	url     string
	headers headerSource
	pids    func() []int // the server processes whose CPU and RSS count
	mallocs string       // metrics URL (go_memstats_mallocs_total); "": none
	prime   int          // requests to send before the warm-up (the rotation's first pass)
}

// measure loads t. When the measured window opens it resets the servers'
// peak RSS and reads their CPU time and malloc count; after it, it reads
// them again. Per-request figures divide by every request answered in the
// window (errors included).
func (e *env) measure(t target) sample {
	pids := t.pids()
	_ = resetPeak(pids) // before the warm-up: the peak is this load's
	if t.prime > 0 {
		if n := prime(t.url, t.headers, e.o.conc, t.prime); n > 0 {
			e.note("%s: %d of the %d priming requests failed in round %d", e.current, n, t.prime, e.round)
		}
	}
	var cpu0 time.Duration
	var c0 counters
	var err0, mErr0 error
	res := runLoad(loadSpec{
		url: t.url, headers: t.headers, conc: e.o.conc, warmup: e.o.warmup, duration: e.o.duration,
		mark: func() {
			cpu0, err0 = cpuTime(pids)
			mErr0 = fmt.Errorf("no metrics")
			if t.mallocs != "" {
				c0, mErr0 = readCounters(t.mallocs)
			}
		},
	})
	cpu1, err1 := cpuTime(pids)
	s := sample{res: res, allocs: math.NaN(), cpu: math.NaN(), rss: math.NaN(), verify: math.NaN(), storeOps: math.NaN()}
	n := float64(res.Requests + res.Errors)
	if err0 == nil && err1 == nil && n > 0 {
		s.cpu = (cpu1 - cpu0).Seconds() / n
	}
	if mErr0 == nil && n > 0 {
		if c1, err := readCounters(t.mallocs); err == nil {
			s.allocs = (c1.mallocs - c0.mallocs) / n
			s.storeOps = (c1.storeOps - c0.storeOps) / n
		}
	}
	if rss, err := peakRSS(pids); err == nil {
		s.rss = rss
	}
	fmt.Fprintf(os.Stderr, "bench: round %d: %-52s %8.0f req/s\n", e.round, e.current, res.RPS())
	if res.Errors > 0 {
		e.note("%s: %d failures in round %d, the first: %s", e.current, res.Errors, e.round, res.FirstErr)
	}
	return s
}

func (e *env) runDirect() (sample, error) {
	return e.measure(target{url: e.upURL + "/x", headers: fixedHeader(nil), pids: pidsOf(e.up)}), nil
}

func (e *env) runBare() (sample, error) {
	addr, stats := freeAddr(), freeAddr()
	p, err := start("bare", "", e.self, "-bare-proxy", addr, "-bare-upstream", e.upURL, "-bare-stats", stats)
	if err != nil {
		return sample{}, err
	}
	defer p.stop()
	if err := waitHTTP("http://" + stats + "/"); err != nil {
		return sample{}, err
	}
	return e.measure(target{url: "http://" + addr + "/x", headers: fixedHeader(nil), pids: pidsOf(p), mallocs: "http://" + stats + "/"}), nil
}

func (e *env) runNginx() (sample, error) {
	ng, url, err := startNginx(e.dir, e.upURL)
	if err != nil {
		return sample{}, fmt.Errorf("nginx failed to start: %w", err)
	}
	if ng == nil {
		return sample{}, errSkip("nginx is not installed (apt-get install nginx-light)")
	}
	defer ng.stop()
	return e.measure(target{url: url + "/x", headers: fixedHeader(nil), pids: treeOf(ng)}), nil
}

// runGatehouse starts Gatehouse with cfg and loads path on it, after
// prime unmeasured requests.
func (e *env) runGatehouse(cfg, path string, h headerSource, prime int) (sample, error) {
	g, err := e.startGatehouse(cfg)
	if err != nil {
		return sample{}, err
	}
	defer g.stop()
	return e.measure(target{url: g.url + path, headers: h, pids: pidsOf(g.proc), mallocs: g.admin + "/metrics", prime: prime}), nil
}

// runCold sends a token Gatehouse has not seen on every request: the pool
// is minted before the run, sized from the fastest jwt rate seen so far
// (a cold verification is slower), then one verification's CPU is
// measured in process on the same tokens.
func (e *env) runCold() (sample, error) {
	rate := e.maxJWTRate
	if rate == 0 {
		rate = 20000
	}
	need := int(rate*(e.o.warmup+e.o.duration).Seconds()*1.25) + 4*e.o.conc
	if err := e.mintCold(need); err != nil {
		return sample{}, err
	}
	s, err := e.runGatehouse(e.cfg, "/jwt/x", once(e.cold), 0)
	if err != nil {
		return s, err
	}
	if s.res.Exhausted {
		e.note("cold verify: the %d pre-minted tokens ran out in round %d; the row undercounts (raise -cold-max)", len(e.cold), e.round)
	}
	verify, n, err := e.minter.verifyCost(e.cold, 300*time.Millisecond)
	if err != nil {
		return s, err
	}
	s.verify = verify.Seconds()
	e.verifies += n
	return s, nil
}

// mintCold grows the cold pool to need tokens (at most -cold-max). A
// fresh Gatehouse per run has seen none of them, so rounds reuse the pool.
func (e *env) mintCold(need int) error {
	if need > e.o.coldMax {
		e.note("cold verify: %d tokens wanted, capped at -cold-max %d", need, e.o.coldMax)
		need = e.o.coldMax
	}
	if need <= len(e.cold) {
		return nil
	}
	t0 := time.Now()
	more, err := e.minter.bearers(need - len(e.cold))
	if err != nil {
		return err
	}
	e.cold = append(e.cold, more...)
	fmt.Fprintf(os.Stderr, "bench: minted %d cold tokens in %v\n", len(more), time.Since(t0).Round(time.Millisecond))
	return nil
}

func (e *env) runTracing() (sample, error) {
	if e.traceSkip != "" {
		return sample{}, errSkip(e.traceSkip)
	}
	before := e.sink.exports.Load()
	s, err := e.runGatehouse(e.traceCfg, "/jwt/x", fixedHeader(http.Header{"Authorization": {e.bearer}}), 0)
	if err == nil && e.sink.exports.Load() == before {
		e.note("tracing: no export reached the sink in round %d, not even at shutdown", e.round)
	}
	return s, err
}

// runForward is nginx with the shipped auth_request config in front of
// the upstream, asking a fresh Gatehouse. CPU and RSS are nginx's and
// Gatehouse's together (both are in the path); allocs are Gatehouse's.
func (e *env) runForward() (sample, error) {
	g, err := e.startGatehouse(e.cfg)
	if err != nil {
		return sample{}, err
	}
	defer g.stop()
	ng, url, err := startNginxAuth(e.dir, e.upURL, g.url)
	if err != nil {
		return sample{}, fmt.Errorf("nginx with auth_request failed to start: %w", err)
	}
	if ng == nil {
		return sample{}, errSkip("nginx is not installed (apt-get install nginx-light)")
	}
	defer ng.stop()
	return e.measure(target{
		url: url + "/jwt/x", headers: fixedHeader(http.Header{"Authorization": {e.bearer}}),
		pids:    func() []int { return append(treeOf(ng)(), g.cmd.Process.Pid) },
		mallocs: g.admin + "/metrics",
	}), nil
}

func pidsOf(p *proc) func() []int { return func() []int { return []int{p.cmd.Process.Pid} } }

func treeOf(p *proc) func() []int { return func() []int { return withChildren(p.cmd.Process.Pid) } }

// errSkip marks a scenario that cannot run here; the row says why.
type errSkip string

func (e errSkip) Error() string { return string(e) }
