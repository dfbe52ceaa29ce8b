package proxy

import (
	"testing"

	"github.com/gatehouse-proxy/gatehouse/metrics"
)

// TestPrecreatedSeries: the series made at start are exactly the label
// combinations that can occur (metrics.RequestOutcomes): no
// route="_refused",outcome="allowed", no upstream series for the
// pseudo-routes, no auth timing for auth: none.
func TestPrecreatedSeries(t *testing.T) {
	hs := newHarness(t, nil)
	mfs, err := hs.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	requests := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, lp := range m.GetLabel() {
				l[lp.GetName()] = lp.GetValue()
			}
			switch mf.GetName() {
			case "gatehouse_requests_total":
				requests[l["route"]+" "+l["auth"]+" "+l["outcome"]] = true
			case "gatehouse_upstream_responses_total", "gatehouse_upstream_duration_seconds":
				if !metrics.Proxied(l["route"]) {
					t.Errorf("%s{route=%q} pre-created", mf.GetName(), l["route"])
				}
			case "gatehouse_auth_duration_seconds":
				if l["auth"] == AuthNone {
					t.Errorf(`gatehouse_auth_duration_seconds{auth="none"} pre-created`)
				}
			}
		}
	}
	want := map[string]bool{}
	for _, r := range append(testRoutes(), Route{Name: metrics.RouteRefused, Auth: AuthNone},
		Route{Name: metrics.RouteUnmatched, Auth: AuthNone}, Route{Name: metrics.RouteGatehouse, Auth: AuthNone}) {
		for _, o := range metrics.RequestOutcomes(r.Name, r.Auth) {
			want[r.Name+" "+r.Auth+" "+o] = true
		}
	}
	for k := range requests {
		if !want[k] {
			t.Errorf("gatehouse_requests_total{route auth outcome = %s} pre-created, but cannot occur", k)
		}
	}
	for k := range want {
		if !requests[k] {
			t.Errorf("gatehouse_requests_total{route auth outcome = %s} not pre-created", k)
		}
	}
	if requests[metrics.RouteRefused+" none "+metrics.OutcomeAllowed] {
		t.Error(`route="_refused",outcome="allowed" pre-created`)
	}
}
