package main

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// sample is one scenario's measurement in one round.
type sample struct {
	res    loadResult
	allocs float64 // server allocations per request; NaN: not measured
	cpu    float64 // server CPU seconds per request; NaN: not measured
	rss    float64 // server peak RSS in bytes; NaN: not measured
	verify float64 // cold verify: CPU seconds of one verification; NaN otherwise
	// Gatehouse's store operations (Redis calls) per request; NaN otherwise
	storeOps float64
}

// round holds every scenario's sample of one round, by scenario key.
type round map[string]sample

// median of the values that are not NaN; NaN when there are none.
func median(xs []float64) float64 {
	var v []float64
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return math.NaN()
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// values collects f of key's sample in every round that has one.
func values(rounds []round, key string, f func(sample) float64) []float64 {
	var out []float64
	for _, r := range rounds {
		if s, ok := r[key]; ok {
			out = append(out, f(s))
		}
	}
	return out
}

// ratio is the median over the rounds of key's req/s divided by vs's in
// the same round: a drift during the run moves both sides of each ratio.
func ratio(rounds []round, key, vs string) float64 {
	var xs []float64
	for _, r := range rounds {
		a, okA := r[key]
		b, okB := r[vs]
		if okA && okB && b.res.RPS() > 0 {
			xs = append(xs, a.res.RPS()/b.res.RPS())
		}
	}
	return median(xs)
}

// summary is one scenario's medians over the rounds.
type summary struct {
	rounds             int
	rps, p50, p99      float64 // p50, p99 in seconds
	allocs, cpu, rss   float64
	storeOps           float64
	xBare, xNginx      float64
	spread             float64 // (max − min) / median of req/s across the rounds
	errors             int     // over all rounds
	verify, shareVerif float64 // cold: one verification's CPU, its share of the server's CPU
}

func summarize(rounds []round, key string) summary {
	rps := values(rounds, key, func(s sample) float64 { return s.res.RPS() })
	s := summary{
		rounds:   len(rps),
		rps:      median(rps),
		p50:      median(values(rounds, key, func(s sample) float64 { return s.res.P50.Seconds() })),
		p99:      median(values(rounds, key, func(s sample) float64 { return s.res.P99.Seconds() })),
		allocs:   median(values(rounds, key, func(s sample) float64 { return s.allocs })),
		cpu:      median(values(rounds, key, func(s sample) float64 { return s.cpu })),
		rss:      median(values(rounds, key, func(s sample) float64 { return s.rss })),
		storeOps: median(values(rounds, key, func(s sample) float64 { return s.storeOps })),
		xBare:    ratio(rounds, key, keyBare),
		xNginx:   ratio(rounds, key, keyNginx),
		verify:   median(values(rounds, key, func(s sample) float64 { return s.verify })),
		// Every request of the cold scenario is one verification, so the
		// share is one verification's CPU over the server's CPU per request.
		shareVerif: median(values(rounds, key, func(s sample) float64 { return s.verify / s.cpu })),
		spread:     math.NaN(),
	}
	for _, r := range rounds {
		if x, ok := r[key]; ok {
			s.errors += x.res.Errors
		}
	}
	if len(rps) > 1 && s.rps > 0 {
		s.spread = (slices.Max(rps) - slices.Min(rps)) / s.rps
	}
	return s
}

// goal is one line of issue 15's table: key's req/s over vs's, at least
// min (more than min when strict).
type goal struct {
	what    string
	key, vs string
	min     float64
	strict  bool
}

// goals are issue 15's (and issue 14's forward-auth) goals.
var goals = []goal{
	{"auth: none ≥ 0.97× bare proxy", keyNone, keyBare, 0.97, false},
	{"jwt, one hot token ≥ 0.95× bare proxy", keyJWT, keyBare, 0.95, false},
	{"jwt, 10,000 tokens in rotation ≥ 0.90× bare proxy", keyRotation, keyBare, 0.90, false},
	{"session ≥ 0.90× bare proxy", keySession, keyBare, 0.90, false},
	{"jwt with tracing, 10 % sampled ≥ 0.90× bare proxy", keyTracing, keyBare, 0.90, false},
	{"nginx + auth_request ≥ 0.50× nginx plain", keyForward, keyNginx, 0.50, false},
	{"nginx + auth_request > Gatehouse jwt (sidecar)", keyForward, keyJWT, 1, true},
}

// verdict is a goal's outcome in this run.
type verdict struct {
	goal
	got    float64
	status string // "met", "missed by 0.05", "not measured"
}

func evaluate(gs []goal, rounds []round) []verdict {
	out := make([]verdict, len(gs))
	for i, g := range gs {
		v := verdict{goal: g, got: ratio(rounds, g.key, g.vs)}
		switch {
		case math.IsNaN(v.got):
			v.status = "not measured"
		case v.got > g.min || (!g.strict && v.got >= g.min):
			v.status = "met"
		default:
			v.status = fmt.Sprintf("missed by %.3f", g.min-v.got)
			if g.strict && v.got == g.min {
				v.status = "missed (equal)"
			}
		}
		out[i] = v
	}
	return out
}

// seconds renders a duration in seconds for the table.
func seconds(s float64) string {
	if math.IsNaN(s) {
		return "-"
	}
	d := time.Duration(s * float64(time.Second))
	if d >= time.Millisecond {
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}
