package metrics

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var update = flag.Bool("update", false, "rewrite testdata/exposition.golden")

// goldenNames are the families pinned by testdata/exposition.golden: all of
// Gatehouse's but gatehouse_build_info (its goversion label follows the
// toolchain) and the Go and process collectors'.
var goldenNames = []string{
	"gatehouse_requests_total", "gatehouse_request_duration_seconds", "gatehouse_auth_duration_seconds",
	"gatehouse_upstream_responses_total", "gatehouse_upstream_duration_seconds",
	"gatehouse_store_operations_total", "gatehouse_store_duration_seconds", "gatehouse_logins_total",
	"gatehouse_jwks_refreshes_total", "gatehouse_revocations_total", "gatehouse_config_reloads_total",
	"gatehouse_store_errors_allowed_total", "gatehouse_inflight_requests", "gatehouse_store_up",
	"gatehouse_revocation_subscription_up", "gatehouse_config_last_reload_success",
	"gatehouse_config_last_reload_timestamp_seconds", "gatehouse_tracing_spans_dropped_total",
}

// TestExpositionGolden records a fixed set of observations through the
// exported API and compares the exposition (names, help, types, labels,
// values, histogram buckets: the observed durations are fixed) with
// testdata/exposition.golden. A renamed metric or label, a changed help
// text or bucket layout shows up as a diff: dashboards and alerts depend
// on them (README "Metrics"). Run with -update to rewrite the file.
func TestExpositionGolden(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg, "test")
	for _, o := range RequestOutcomes("app", "session") {
		m.Requests.WithLabelValues("app", "session", o)
	}
	m.Requests.WithLabelValues("app", "session", OutcomeAllowed).Add(3)
	m.Requests.WithLabelValues("app", "session", OutcomeUnauthenticated).Inc()
	m.Requests.WithLabelValues(RouteRefused, "none", OutcomeBadRequest).Inc()
	m.RequestDuration.WithLabelValues("app").Observe(0.004)
	m.RequestDuration.WithLabelValues("app").Observe(0.2)
	m.AuthDuration.WithLabelValues("session").Observe(0.0003)
	m.UpstreamResponses.WithLabelValues("app", "2xx").Add(3)
	m.UpstreamDuration.WithLabelValues("app").Observe(0.003)
	m.ObserveStore("get", 2*time.Millisecond, nil)
	m.ObserveStore("get", 40*time.Millisecond, errors.New("timeout"))
	m.Logins.WithLabelValues("success").Inc()
	m.Logins.WithLabelValues("failure").Add(2)
	m.ObserveJWKSRefresh("https://idp.example.com", nil)
	m.ObserveJWKSRefresh("https://idp.example.com", errors.New("503"))
	m.Revocations.WithLabelValues("jti").Inc()
	m.ConfigReloads.WithLabelValues("success").Inc()
	m.ConfigLoaded(true, time.Unix(1_700_000_000, 250_000_000))
	m.StoreErrorsAllowed.Inc()
	m.Inflight.Set(func() float64 { return 2 })
	m.StoreUp.SetBool(func() bool { return true })
	m.RevocationSubscriptionUp.SetBool(func() bool { return false })
	m.DropSpans(SpansDroppedExportError, 512)

	const path = "testdata/exposition.golden"
	if *update {
		if err := os.WriteFile(path, []byte(exposition(t, reg)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if err := testutil.GatherAndCompare(reg, bytes.NewReader(want), goldenNames...); err != nil {
		t.Errorf("%s: %v\n(run with -update and review the diff)", path, err)
	}
	if n, err := testutil.GatherAndCount(reg, "gatehouse_build_info"); err != nil || n != 1 {
		t.Errorf("gatehouse_build_info: %d series (%v), want 1", n, err)
	}
}

// exposition renders the goldenNames families as /metrics serves them.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	keep := map[string]bool{}
	for _, n := range goldenNames {
		keep[n] = true
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		name := line
		if f := strings.Fields(line); strings.HasPrefix(line, "# ") && len(f) >= 3 {
			name = f[2]
		} else if i := strings.IndexAny(line, "{ "); i > 0 {
			name = line[:i]
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base := strings.TrimSuffix(name, suffix); base != name && keep[base] {
				name = base
			}
		}
		if keep[name] {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n") + "\n"
}
