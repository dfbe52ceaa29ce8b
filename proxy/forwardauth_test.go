package proxy

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fwdHarness is the proxy harness with forward-auth on and the test client
// (127.0.0.1) trusted.
func fwdHarness(t *testing.T, tune func(*Options)) *harness {
	return newHarness(t, func(o *Options) {
		o.ForwardAuth = true
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		if tune != nil {
			tune(o)
		}
	})
}

// nginxAsk asks the auth-request door about method target, as nginx would.
func (hs *harness) nginxAsk(method, target string, headers ...string) *http.Response {
	hs.t.Helper()
	return hs.do(http.MethodGet, AuthRequestPath, append([]string{"X-Original-Method: " + method, "X-Original-URI: " + target}, headers...)...)
}

// traefikAsk asks the forward-auth door, as Traefik or Caddy would.
func (hs *harness) traefikAsk(method, target string, headers ...string) *http.Response {
	hs.t.Helper()
	return hs.do(http.MethodGet, ForwardAuthPath, append([]string{"X-Forwarded-Method: " + method, "X-Forwarded-Uri: " + target,
		"X-Forwarded-Host: app.example.com", "X-Forwarded-Proto: http"}, headers...)...)
}

// TestForwardAuthAnswers: each status of README "Behind an existing
// ingress", through both doors, decided like a proxied request.
func TestForwardAuthAnswers(t *testing.T) {
	hs := fwdHarness(t, nil)
	nav := "Accept: text/html,application/xhtml+xml"
	for _, ask := range []struct {
		name string
		do   func(method, target string, headers ...string) *http.Response
	}{{"auth-request", hs.nginxAsk}, {"forward-auth", hs.traefikAsk}} {
		t.Run(ask.name, func(t *testing.T) {
			cases := []struct {
				name, method, target string
				headers              []string
				status               int
				user                 string // X-Auth-User on the answer
			}{
				{"none route", "GET", "/public/x", []string{"X-Auth-User: admin"}, 200, ""},
				{"jwt allowed", "GET", "/api/things?q=1", []string{"Authorization: Bearer good"}, 200, "alice"},
				{"jwt no token", "GET", "/api/things", nil, 401, ""},
				{"jwt bad token", "POST", "/api/things", []string{"Authorization: Bearer nope"}, 401, ""},
				{"jwt revoked", "GET", "/api/things", []string{"Authorization: Bearer revoked"}, 401, ""},
				{"require fails", "GET", "/staff/x", []string{"Authorization: Bearer good"}, 403, ""},
				{"store down", "GET", "/api/things", []string{"Authorization: Bearer down"}, 503, ""},
				{"session allowed", "GET", "/dash", []string{"Cookie: sid=s1"}, 200, "bob"},
				{"session api call", "GET", "/dash", nil, 401, ""},
				{"any route bearer", "GET", "/mixed/x", []string{"Authorization: Bearer good"}, 200, "alice"},
				{"cross-origin cookie write", "POST", "/dash", []string{"Cookie: sid=s1", "Sec-Fetch-Site: cross-site"}, 403, ""},
				{"same-origin cookie write", "POST", "/dash", []string{"Cookie: sid=s1", "Sec-Fetch-Site: same-origin"}, 200, "bob"},
				{"encoded dot", "GET", "/public/%2e%2e/api/x", nil, 400, ""},
				{"semicolon", "GET", "/public/x;/../api", nil, 400, ""},
				{"dot segment", "GET", "/public/../api/x", nil, 400, ""},
				{"bad method", "get", "/public/x", nil, 400, ""},
				{"not a path", "GET", "http://evil/x", nil, 400, ""},
				{"double slash merged", "GET", "//api//things", []string{"Authorization: Bearer good"}, 200, "alice"},
				{"method no route allows falls through", "DELETE", "/api/x", []string{"Cookie: sid=s1"}, 200, "bob"},
			}
			for _, c := range cases {
				resp := ask.do(c.method, c.target, c.headers...)
				if resp.StatusCode != c.status {
					t.Errorf("%s: %s %s: status %d, want %d", c.name, c.method, c.target, resp.StatusCode, c.status)
					continue
				}
				if got := resp.Header.Get("X-Auth-User"); got != c.user {
					t.Errorf("%s: X-Auth-User %q, want %q", c.name, got, c.user)
				}
				if c.status != 200 {
					if b := errorBody(t, resp); b["request_id"] == "" || b["error"] == "" {
						t.Errorf("%s: error body %v", c.name, b)
					}
				}
			}
			if resp := ask.do("GET", "/api/x", "Authorization: Bearer good"); resp.Header.Get("X-Auth-Groups") != "staff,dev" ||
				resp.Header.Get("X-Auth-Method") != "jwt" || resp.Header.Get("X-Auth-Tenant") != "acme" {
				t.Errorf("identity headers %v", resp.Header)
			}
			if resp := ask.do("GET", "/api/x"); resp.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("401 WWW-Authenticate %q, want Bearer", resp.Header.Get("WWW-Authenticate"))
			}
			if resp := ask.do("GET", "/api/x", "Authorization: Bearer down"); resp.Header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
		})
	}

	// A browser navigation on a session route: nginx needs a 401 (its
	// error_page redirects, and may use the Location given); Traefik and
	// Caddy pass a 302 to the browser, to the login page on its own host.
	resp := hs.nginxAsk("GET", "/dash?a=1&b=2", nav)
	if resp.StatusCode != 401 || resp.Header.Get("Location") != "/.gatehouse/login?rd=%2Fdash%3Fa%3D1%26b%3D2" {
		t.Errorf("auth-request navigation: %d Location %q, want 401 with the login path", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = hs.traefikAsk("GET", "/dash?a=1", nav)
	if resp.StatusCode != 302 || resp.Header.Get("Location") != "http://app.example.com/.gatehouse/login?rd=%2Fdash%3Fa%3D1" {
		t.Errorf("forward-auth navigation: %d Location %q, want 302 to the absolute login URL", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp = hs.do("GET", ForwardAuthPath, "X-Forwarded-Method: GET", "X-Forwarded-Uri: /mixed/", "X-Forwarded-Host: App.example.com:8443", nav)
	if got := resp.Header.Get("Location"); resp.StatusCode != 302 || got != "https://App.example.com:8443/.gatehouse/login?rd=%2Fmixed%2F" {
		t.Errorf("forward-auth navigation without X-Forwarded-Proto on an any route: %d %q, want 302 to https", resp.StatusCode, got)
	}
	resp = hs.do("GET", ForwardAuthPath, "X-Forwarded-Method: GET", "X-Forwarded-Uri: /dash", "X-Forwarded-Host: evil.example/x?", nav)
	if resp.StatusCode != 400 {
		t.Errorf("forward-auth with a malformed host: %d, want 400", resp.StatusCode)
	}
	if resp := hs.nginxAsk("GET", "/api/x", nav); resp.StatusCode != 401 || resp.Header.Get("Location") != "" {
		t.Errorf("auth-request navigation on a jwt route: %d Location %q, want 401 without Location", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := hs.hits.Load(); n != 0 {
		t.Errorf("the upstream was called %d times; a decision never proxies", n)
	}
}

// TestForwardAuthMissingDescription: without X-Original-URI (auth-request)
// or X-Forwarded-Uri (forward-auth) there is nothing to decide: 400.
func TestForwardAuthMissingDescription(t *testing.T) {
	hs := fwdHarness(t, nil)
	for _, c := range []struct{ path, header string }{
		{AuthRequestPath, "X-Forwarded-Uri: /api/x"},
		{ForwardAuthPath, "X-Original-URI: /api/x"},
	} {
		resp := hs.do("GET", c.path, c.header, "X-Forwarded-Host: a.example", "Authorization: Bearer good")
		if resp.StatusCode != 400 {
			t.Errorf("%s with only %s: %d, want 400", c.path, c.header, resp.StatusCode)
		}
	}
}

// TestForwardAuthNoRoute: a described path no route matches is 404.
func TestForwardAuthNoRoute(t *testing.T) {
	hs := fwdHarness(t, func(o *Options) { o.Routes = o.Routes[:len(o.Routes)-1] }) // no catch-all
	if resp := hs.nginxAsk("GET", "/elsewhere"); resp.StatusCode != 404 {
		t.Errorf("auth-request for an unrouted path: %d, want 404", resp.StatusCode)
	}
	if resp := hs.traefikAsk("DELETE", "/api/x", "Authorization: Bearer good"); resp.StatusCode != 404 {
		t.Errorf("forward-auth for a method no route allows: %d, want 404", resp.StatusCode)
	}
	if got := testutil.ToFloat64(hs.m.ForwardAuthDecisions.WithLabelValues("_unmatched", "bad_request")); got != 2 {
		t.Errorf(`forward_auth_decisions{_unmatched,bad_request} = %v, want 2`, got)
	}
}

// TestForwardAuthUntrustedClient: the doors believe headers that describe
// another request, so only trusted_proxies may ask (403 for anyone else).
func TestForwardAuthUntrustedClient(t *testing.T) {
	hs := fwdHarness(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	for _, resp := range []*http.Response{
		hs.nginxAsk("GET", "/api/x", "Authorization: Bearer good", "X-Forwarded-For: 10.1.1.1"),
		hs.traefikAsk("GET", "/public/x"),
	} {
		if resp.StatusCode != 403 || resp.Header.Get("X-Auth-User") != "" {
			t.Errorf("untrusted client: %d X-Auth-User %q, want 403 and none", resp.StatusCode, resp.Header.Get("X-Auth-User"))
		}
	}
}

// TestForwardAuthDisabled: with forward_auth.enabled false both doors are
// 404 for every client, trusted or not.
func TestForwardAuthDisabled(t *testing.T) {
	hs := newHarness(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	for _, resp := range []*http.Response{hs.nginxAsk("GET", "/public/x"), hs.traefikAsk("GET", "/public/x")} {
		if resp.StatusCode != 404 {
			t.Errorf("disabled: %d, want 404", resp.StatusCode)
		}
	}
}

// TestForwardAuthMetricsAndLog: a decision counts in
// gatehouse_forward_auth_decisions_total only, and logs one access line
// with the described method and path.
func TestForwardAuthMetricsAndLog(t *testing.T) {
	var buf lockedBuffer
	hs := fwdHarness(t, func(o *Options) { o.Logger = slog.New(slog.NewJSONHandler(&buf, nil)) })
	hs.nginxAsk("POST", "/api/things?x=1", "Authorization: Bearer good")
	hs.traefikAsk("GET", "/staff/x", "Authorization: Bearer good")
	hs.traefikAsk("GET", "/public/%2e%2e/api")
	for _, c := range []struct {
		route, outcome string
		want           float64
	}{{"api", "allowed", 1}, {"staff", "forbidden", 1}, {"_refused", "bad_request", 1}} {
		if got := testutil.ToFloat64(hs.m.ForwardAuthDecisions.WithLabelValues(c.route, c.outcome)); got != c.want {
			t.Errorf("forward_auth_decisions{%s,%s} = %v, want %v", c.route, c.outcome, got, c.want)
		}
	}
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("api", "jwt", "allowed")); got != 0 {
		t.Errorf("requests_total{api,jwt,allowed} = %v: a decision must not count as a proxied request", got)
	}
	hs.proxy.Close()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	if len(lines) != 3 {
		t.Fatalf("%d log lines, want 3: %s", len(lines), buf.String())
	}
	if l := lines[0]; l["method"] != "POST" || l["path"] != "/api/things" || l["route"] != "api" || l["user"] != "alice" || l["forward_auth"] != true {
		t.Errorf("access line %v, want the described POST /api/things", l)
	}
	if l := lines[2]; l["path"] != "/public/%2e%2e/api" || l["status"] != 400.0 {
		t.Errorf("refused access line %v", l)
	}
}

// forwardAuthAsk builds a Handler with forward-auth on, the test client
// trusted, no access log, and returns a request asking about a jwt route
// with a known token.
func forwardAuthAsk(tb testing.TB) (http.Handler, *http.Request) {
	tb.Helper()
	m := metrics.New(prometheus.NewRegistry(), "test")
	up, _ := url.Parse("http://127.0.0.1:1")
	h, err := New(Options{
		Routes: testRoutes(), Upstream: up, Metrics: m, ForwardAuth: true, NoAccessLog: true,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Headers:        Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method"},
		Bearer:         tokenTable{"good": {id: alice}},
	})
	if err != nil {
		tb.Fatal(err)
	}
	r := httptest.NewRequest("GET", AuthRequestPath, nil)
	r.Header.Set("X-Original-Method", "GET")
	r.Header.Set("X-Original-URI", "/api/things?x=1")
	r.Header.Set("Authorization", "Bearer good")
	return h, r
}

// TestForwardAuthAllocations: a decision for a cached Bearer token is not
// allocation-heavy (the door's own work: describe, route, decide, answer).
func TestForwardAuthAllocations(t *testing.T) {
	h, r := forwardAuthAsk(t)
	allocs := testing.AllocsPerRun(200, func() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("status %d", w.Code)
		}
	})
	t.Logf("%.0f allocations per decision (httptest.ResponseRecorder included)", allocs)
	if allocs > 40 {
		t.Errorf("%.0f allocations per decision, want at most 40", allocs)
	}
}

// BenchmarkForwardAuthDecision: one auth-request decision in process.
func BenchmarkForwardAuthDecision(b *testing.B) {
	h, r := forwardAuthAsk(b)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
}
