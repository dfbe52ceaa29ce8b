package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// env is what every scenario shares: the upstream, Redis, the configs and
// the credentials. Proxies are started per scenario run.
type env struct {
	o               options
	dir, self       string
	up, redis       *proc
	upURL           string
	store           string // "Redis" or "memory"
	listen, admin   string // Gatehouse's addresses (every instance reuses them)
	cfg, traceCfg   string
	traceSkip       string // why the tracing row cannot run; "" when it can
	sink            *traceSink
	bearer, cookie  string
	minter          *minter
	rotation        []http.Header
	cold            []string
	round           int
	current         string  // the scenario being measured, for progress lines
	maxJWTRate      float64 // fastest hot-jwt req/s so far: sizes the cold pool
	verifies        int     // in-process verifications measured
	notes           []string
	noted           map[string]bool
	skipped, failed map[string]string // scenario key → why it has no row
}

func (e *env) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !e.noted[n] {
		e.noted[n] = true
		e.notes = append(e.notes, n)
	}
}

// setup starts the upstream, Redis and the trace sink, writes Gatehouse's
// files and mints the tokens.
func setup(o options, dir string) (*env, error) {
	e := &env{o: o, dir: dir, noted: map[string]bool{}, skipped: map[string]string{}, failed: map[string]string{}}
	e.self, _ = os.Executable()
	upAddr := freeAddr()
	var err error
	if e.up, err = start("upstream", "", o.bin, "demo-upstream", "-listen", upAddr); err != nil {
		return e, err
	}
	e.upURL = "http://" + upAddr
	if err := waitUp(e.up, e.upURL+"/"); err != nil {
		return e, err
	}
	var redisAddr string
	if e.redis, redisAddr, err = startRedis(dir); err != nil {
		return e, err
	}
	e.store = "Redis"
	if e.redis == nil {
		e.store = "memory"
		e.note("redis-server is not installed: the Gatehouse rows use the memory store")
	}
	if e.sink, err = startTraceSink(); err != nil {
		return e, err
	}
	e.listen, e.admin = freeAddr(), freeAddr()
	if e.cfg, e.traceCfg, err = writeGatehouseFiles(dir, e.listen, e.admin, e.upURL, redisAddr, e.sink.url); err != nil {
		return e, err
	}
	if msg := checkConfig(o.bin, e.traceCfg); msg != "" {
		e.traceSkip = "this gatehouse refuses the tracing config (tracing not merged yet?): " + msg
	}
	if e.bearer, err = mintCLI(o.bin, e.cfg); err != nil {
		return e, err
	}
	if e.minter, err = newMinter(filepath.Join(dir, "issuing.pem")); err != nil {
		return e, err
	}
	t0 := time.Now()
	values, err := e.minter.bearers(rotationTokens)
	if err != nil {
		return e, err
	}
	e.rotation = headers(values)
	e.cold = values // a fresh Gatehouse has seen none of them either
	fmt.Fprintf(os.Stderr, "bench: minted %d rotation tokens in %v\n", rotationTokens, time.Since(t0).Round(time.Millisecond))
	return e, nil
}

func (e *env) close() {
	for _, p := range []*proc{e.redis, e.up} {
		if p != nil {
			p.stop()
		}
	}
	if e.sink != nil {
		e.sink.close()
	}
}

// runSession signs alice in (once with Redis, where the session outlives
// the process; on every run with the memory store) and loads the session
// route.
func (e *env) runSession() (sample, error) {
	g, err := e.startGatehouse(e.cfg)
	if err != nil {
		return sample{}, err
	}
	defer g.stop()
	if e.cookie == "" || e.redis == nil {
		if e.cookie, err = login(g.url); err != nil {
			return sample{}, err
		}
	}
	return e.measure(target{
		url: g.url + "/session/x", headers: fixedHeader(http.Header{"Cookie": {e.cookie}}),
		pids: pidsOf(g.proc), mallocs: g.admin + "/metrics",
	}), nil
}

// runRounds runs every scenario once per round, interleaved: round 1 in
// table order, round 2 in reverse, and so on, so that a drift of the
// machine's speed during the run moves every scenario alike.
func (e *env) runRounds(sc []scenario) []round {
	rounds := make([]round, e.o.rounds)
	for i := range rounds {
		e.round = i + 1
		order := slices.Clone(sc)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		r := round{}
		for _, s := range order {
			if _, skip := e.skipped[s.key]; skip {
				continue
			}
			e.current = s.name
			got, err := s.run(e)
			var sk errSkip
			switch {
			case errors.As(err, &sk):
				e.skipped[s.key] = sk.Error()
				continue
			case err != nil:
				why, _, _ := strings.Cut(err.Error(), "\n")
				e.failed[s.key] = why
				e.note("%s: round %d failed: %v", s.name, e.round, err)
				continue
			}
			r[s.key] = got
			if s.key == keyJWT {
				e.maxJWTRate = max(e.maxJWTRate, got.res.RPS())
			}
		}
		rounds[i] = r
	}
	if e.sink.exports.Load() > 0 {
		e.note("tracing: the sink received %d OTLP exports (%d bytes)", e.sink.exports.Load(), e.sink.bytes.Load())
	}
	if p := e.sink.strayPath(); p != "" {
		e.note("tracing: Gatehouse posted spans to %s, not /v1/traces (otlp_endpoint is the collector's base URL)", p)
	}
	return rounds
}
