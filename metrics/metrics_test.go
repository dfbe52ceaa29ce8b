package metrics

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestStateGauges checks the gauges that report state (README, "Metrics"): absent
// until their source is set, then read at each scrape.
func TestStateGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "test")
	for name, g := range map[string]*FuncGauge{
		"gatehouse_inflight_requests":          m.Inflight,
		"gatehouse_store_up":                   m.StoreUp,
		"gatehouse_revocation_subscription_up": m.RevocationSubscriptionUp,
	} {
		if n := testutil.CollectAndCount(g); n != 0 {
			t.Errorf("%s: %d series before Set, want none", name, n)
		}
		v := 3.0
		g.Set(func() float64 { return v })
		if got := testutil.ToFloat64(g); got != 3 {
			t.Errorf("%s = %v, want 3", name, got)
		}
		v = 0
		if got := testutil.ToFloat64(g); got != 0 {
			t.Errorf("%s = %v after the source changed, want 0", name, got)
		}
		up := true
		g.SetBool(func() bool { return up })
		if got := testutil.ToFloat64(g); got != 1 {
			t.Errorf("%s = %v for true, want 1", name, got)
		}
		up = false
		if got := testutil.ToFloat64(g); got != 0 {
			t.Errorf("%s = %v for false, want 0", name, got)
		}
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series gathered from the registry (%v), want 1", name, n, err)
		}
	}
}

// TestConfigReloadGauges: 1 after the initial load, 0 after a refused
// reload and until the next good one (so an alert on it keeps firing), and
// the timestamp of each attempt.
func TestConfigReloadGauges(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "test")
	start := time.Unix(1_700_000_000, 500_000_000)
	m.ConfigLoaded(true, start)
	if got := testutil.ToFloat64(m.ConfigLastReloadSuccess); got != 1 {
		t.Errorf("success after the initial load = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.ConfigLastReloadTime); got != 1_700_000_000.5 {
		t.Errorf("timestamp = %v, want 1700000000.5", got)
	}
	before := time.Now()
	m.ObserveConfigReload(false)
	if got := testutil.ToFloat64(m.ConfigLastReloadSuccess); got != 0 {
		t.Errorf("success after a refused reload = %v, want 0", got)
	}
	if got := testutil.ToFloat64(m.ConfigLastReloadTime); got < float64(before.Unix()) {
		t.Errorf("timestamp = %v after a reload at %v", got, before.Unix())
	}
	if got := testutil.ToFloat64(m.ConfigReloads.WithLabelValues("error")); got != 1 {
		t.Errorf(`config_reloads_total{result="error"} = %v, want 1`, got)
	}
	m.ObserveConfigReload(true)
	if got := testutil.ToFloat64(m.ConfigLastReloadSuccess); got != 1 {
		t.Errorf("success after a good reload = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.ConfigReloads.WithLabelValues("success")); got != 1 {
		t.Errorf(`config_reloads_total{result="success"} = %v, want 1`, got)
	}
}

// TestLint runs client_golang's metric linter over everything New
// registers, with every state gauge set.
func TestLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "test")
	for _, g := range []*FuncGauge{m.Inflight, m.StoreUp, m.RevocationSubscriptionUp} {
		g.Set(func() float64 { return 1 })
	}
	m.ConfigLoaded(true, time.Now())
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "gatehouse_") {
			t.Errorf("%s: %s", p.Metric, p.Text)
		}
	}
}

// TestRequestOutcomes checks the label combinations callers pre-create:
// the pseudo-routes only ever count bad_request, a route without
// authentication is never refused for identity, and bad_request happens
// before routing only.
func TestRequestOutcomes(t *testing.T) {
	all := []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden, OutcomeRevoked,
		OutcomeBadRequest, OutcomeUnavailable, OutcomeError}
	tests := []struct {
		route, auth string
		want        []string
	}{
		{RouteRefused, "none", []string{OutcomeBadRequest}},
		{RouteUnmatched, "none", []string{OutcomeBadRequest}},
		{RouteGatehouse, "none", []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden, OutcomeBadRequest, OutcomeUnavailable, OutcomeError}},
		{"public", "none", []string{OutcomeAllowed, OutcomeError}},
		{"app", "session", []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden, OutcomeRevoked, OutcomeUnavailable, OutcomeError}},
		{"api", "jwt", []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden, OutcomeRevoked, OutcomeUnavailable, OutcomeError}},
		{"mixed", "any", []string{OutcomeAllowed, OutcomeUnauthenticated, OutcomeForbidden, OutcomeRevoked, OutcomeUnavailable, OutcomeError}},
	}
	for _, tt := range tests {
		got := RequestOutcomes(tt.route, tt.auth)
		if !slices.Equal(got, tt.want) {
			t.Errorf("RequestOutcomes(%q, %q) = %q, want %q", tt.route, tt.auth, got, tt.want)
		}
		for _, o := range got {
			if !slices.Contains(all, o) {
				t.Errorf("RequestOutcomes(%q, %q): %q is not an outcome", tt.route, tt.auth, o)
			}
		}
	}
	for _, r := range []string{RouteRefused, RouteUnmatched, RouteGatehouse} {
		if Proxied(r) {
			t.Errorf("Proxied(%q) = true", r)
		}
	}
	if !Proxied("app") || Authenticates("none") || !Authenticates("jwt") {
		t.Error("Proxied(app) or Authenticates wrong")
	}
}
