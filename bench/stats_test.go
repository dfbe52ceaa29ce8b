package main

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// at is a sample of rps requests per second over one second.
func at(rps int) sample {
	return sample{res: loadResult{Requests: rps, Elapsed: time.Second}, allocs: math.NaN(), cpu: math.NaN(), rss: math.NaN(), verify: math.NaN(), storeOps: math.NaN()}
}

func TestMedian(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5}, 5},
		{[]float64{nan, 7, nan, 1, 4}, 4}, // NaN (not measured) is left out
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := median(nil); !math.IsNaN(got) {
		t.Errorf("median(nil) = %v, want NaN", got)
	}
	if got := median([]float64{nan}); !math.IsNaN(got) {
		t.Errorf("median(NaN) = %v, want NaN", got)
	}
}

// The ratio is the median of per-round ratios, not the ratio of medians:
// a machine that slows down during the run moves both sides of each round.
func TestRatioPerRound(t *testing.T) {
	rounds := []round{
		{keyBare: at(1000), keyJWT: at(900)},
		{keyBare: at(500), keyJWT: at(480)}, // the machine halved its speed
		{keyBare: at(1000), keyJWT: at(920)},
	}
	if got, want := ratio(rounds, keyJWT, keyBare), 0.92; math.Abs(got-want) > 1e-9 {
		t.Errorf("ratio = %v, want %v (median of 0.90, 0.96, 0.92)", got, want)
	}
	// A round without the scenario (failed) is left out, not counted as 0.
	rounds = append(rounds, round{keyBare: at(1000)})
	if got := ratio(rounds, keyJWT, keyBare); math.Abs(got-0.92) > 1e-9 {
		t.Errorf("with a missing round, ratio = %v, want 0.92", got)
	}
	if got := ratio(rounds, keyTracing, keyBare); !math.IsNaN(got) {
		t.Errorf("ratio of an unmeasured scenario = %v, want NaN", got)
	}
}

func TestSummarize(t *testing.T) {
	cold := func(rps int, cpu, verify float64) sample {
		s := at(rps)
		s.cpu, s.verify = cpu, verify
		s.res.P99 = time.Duration(rps) * time.Microsecond
		return s
	}
	rounds := []round{
		{keyBare: at(1000), keyCold: cold(400, 200e-6, 60e-6)},
		{keyBare: at(1000), keyCold: cold(500, 150e-6, 75e-6)},
		{keyBare: at(1000), keyCold: cold(450, 100e-6, 70e-6)},
	}
	s := summarize(rounds, keyCold)
	if s.rounds != 3 || s.rps != 450 || s.p99 != 450e-6 {
		t.Errorf("rounds, rps, p99 = %d, %v, %v; want 3, 450, 450µs", s.rounds, s.rps, s.p99)
	}
	if want := (500.0 - 400) / 450; math.Abs(s.spread-want) > 1e-9 {
		t.Errorf("spread = %v, want %v", s.spread, want)
	}
	if math.Abs(s.xBare-0.45) > 1e-9 {
		t.Errorf("xBare = %v, want 0.45", s.xBare)
	}
	// Shares per round: 0.30, 0.50, 0.70; the median is 0.50.
	if math.Abs(s.shareVerif-0.5) > 1e-9 {
		t.Errorf("verify share = %v, want 0.5", s.shareVerif)
	}
	if one := summarize(rounds[:1], keyCold); !math.IsNaN(one.spread) {
		t.Errorf("spread of one round = %v, want NaN", one.spread)
	}
}

func TestEvaluate(t *testing.T) {
	rounds := []round{
		{keyBare: at(1000), keyNginx: at(2000), keyNone: at(970), keyJWT: at(940), keyForward: at(940)},
		{keyBare: at(1000), keyNginx: at(2000), keyNone: at(990), keyJWT: at(960), keyForward: at(1100)},
		{keyBare: at(1000), keyNginx: at(2000), keyNone: at(960), keyJWT: at(900), keyForward: at(1200)},
	}
	got := map[string]verdict{}
	for _, v := range evaluate(goals, rounds) {
		got[v.what] = v
	}
	for what, want := range map[string]string{
		"auth: none ≥ 0.97× bare proxy":                     "met", // median 0.97: ≥ holds at equality
		"jwt, one hot token ≥ 0.95× bare proxy":             "missed by 0.010",
		"session ≥ 0.90× bare proxy":                        "not measured",
		"nginx + auth_request ≥ 0.50× nginx plain":          "met", // 0.55
		"nginx + auth_request > Gatehouse jwt (sidecar)":    "met", // 1.00, 1.15, 1.33 → 1.15
		"jwt with tracing, 10 % sampled ≥ 0.90× bare proxy": "not measured",
	} {
		v, ok := got[what]
		if !ok {
			t.Fatalf("no goal %q", what)
		}
		if v.status != want {
			t.Errorf("%s: %s (%.3f), want %s", what, v.status, v.got, want)
		}
	}
	// Strict: equal to the sidecar is not faster than it.
	eq := []round{{keyJWT: at(1000), keyForward: at(1000)}}
	v := evaluate([]goal{{"faster", keyForward, keyJWT, 1, true}}, eq)[0]
	if !strings.HasPrefix(v.status, "missed") {
		t.Errorf("strict goal at equality: %s, want missed", v.status)
	}
}

func TestHeaderSources(t *testing.T) {
	hs := headers([]string{"a", "b"})
	r := rotate(hs)
	var seq []string
	for range 5 {
		h, ok := r()
		if !ok {
			t.Fatal("rotate ran out")
		}
		seq = append(seq, h.Get("Authorization"))
	}
	if got := strings.Join(seq, ""); got != "ababa" {
		t.Errorf("rotate: %s, want ababa", got)
	}
	o := once([]string{"x", "y"})
	for _, want := range []string{"x", "y"} {
		if h, ok := o(); !ok || h.Get("Authorization") != want {
			t.Fatalf("once: %v %v, want %s", h, ok, want)
		}
	}
	if _, ok := o(); ok {
		t.Error("once: a third value from two")
	}
	if h, _ := fixedHeader(http.Header{"Cookie": {"c"}})(); h.Get("Cookie") != "c" {
		t.Error("fixedHeader lost its header")
	}
}
