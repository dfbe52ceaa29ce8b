package proxy

// Regression tests for issue 9 (security fixes), proxy parts: host
// normalization, %3b, lower-case methods, strip_headers, upstream Set-Cookie
// for Gatehouse's cookies and complete error bodies. Upgrades are in
// upgrade_test.go, body timeouts and framing in body_test.go.

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rawDo sends a raw HTTP/1.1 request (so headers, methods and hosts arrive
// exactly as written) and returns the response.
func (hs *harness) rawDo(request string) *http.Response {
	hs.t.Helper()
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		hs.t.Fatal(err)
	}
	hs.t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(request)); err != nil {
		hs.t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		hs.t.Fatalf("%q: %v", strings.SplitN(request, "\r\n", 2)[0], err)
	}
	hs.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestIssue9HostNormalizedBeforeMatching: item 4. Trailing dots, case and
// port do not skip a host-scoped route; an empty host is refused.
func TestIssue9HostNormalizedBeforeMatching(t *testing.T) {
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "internal", PathPrefix: "/", Host: "internal.example.com", Auth: AuthJWT},
			{Name: "v6", PathPrefix: "/", Host: "[::1]", Auth: AuthJWT},
			{Name: "catchall", PathPrefix: "/", Auth: AuthNone},
		}
	})
	for _, host := range []string{
		"internal.example.com", "Internal.example.com.:80", "internal.example.com.", "internal.example.com..",
		"INTERNAL.EXAMPLE.COM...:8080", "[::1]", "[::1]:8080",
	} {
		before := hs.hits.Load()
		resp := hs.rawDo("GET /admin HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
		if resp.StatusCode != http.StatusUnauthorized || hs.hits.Load() != before {
			t.Errorf("Host %q: status %d, want 401 from the host-scoped route", host, resp.StatusCode)
		}
	}
	for _, host := range []string{"other.example.com", "internal.example.com.evil", "::1x"} {
		if resp := hs.rawDo("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n"); resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: status %d, want 200 from the catch-all", host, resp.StatusCode)
		}
	}
	refusedBefore := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_refused", "none", "bad_request"))
	empty := []string{".", "..", ":80", ".:80", "[::1", "[::1]x"}
	for _, host := range empty {
		before := hs.hits.Load()
		resp := hs.rawDo("GET /x HTTP/1.1\r\nHost: " + host + "\r\n\r\n")
		if resp.StatusCode != http.StatusBadRequest || hs.hits.Load() != before {
			t.Errorf("Host %q: status %d, want 400 unreached", host, resp.StatusCode)
			continue
		}
		if b := errorBody(t, resp); b["error"] != "bad_request" {
			t.Errorf("Host %q: body %v", host, b)
		}
	}
	got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_refused", "none", "bad_request")) - refusedBefore
	if got != float64(len(empty)) {
		t.Errorf("_refused grew by %v, want %d", got, len(empty))
	}
}

func TestNormalizeHost(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM": "example.com", "example.com.:443": "example.com", "a..": "a", "[::1]:80": "::1",
		"[FE80::1]": "fe80::1", "::1": "::1", ".": "", ":80": "", "": "", "[::1": "", "[::1]:x": "", "[a.]": "", "[1.2.3.4]": "",
	} {
		if got := normalizeHost(in); got != want {
			t.Errorf("normalizeHost(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIssue9EncodedSemicolonAndLowerCaseMethodRefused: item 9. %3b is
// refused like ";", and a method that is not upper case does not fall
// through a method-restricted route.
func TestIssue9EncodedSemicolonAndLowerCaseMethodRefused(t *testing.T) {
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "ro", PathPrefix: "/ro/", Methods: []string{"GET"}, Auth: AuthJWT},
			{Name: "open", PathPrefix: "/", Auth: AuthNone},
		}
	})
	refusedBefore := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_refused", "none", "bad_request"))
	reqs := []string{
		"GET /public/x%3bjsessionid=1 HTTP/1.1", "GET /public/x%3Bjsessionid=1 HTTP/1.1",
		"get /ro/x HTTP/1.1", "Get /ro/x HTTP/1.1", "gET /ro/x HTTP/1.1", "post /ro/x HTTP/1.1",
	}
	for _, line := range reqs {
		before := hs.hits.Load()
		resp := hs.rawDo(line + "\r\nHost: x\r\n\r\n")
		if resp.StatusCode != http.StatusBadRequest || hs.hits.Load() != before {
			t.Errorf("%q: status %d, want 400 without reaching the upstream", line, resp.StatusCode)
		}
	}
	got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_refused", "none", "bad_request")) - refusedBefore
	if got != float64(len(reqs)) {
		t.Errorf("_refused grew by %v, want %d", got, len(reqs))
	}
	// Upper-case extension methods are tokens too.
	if resp := hs.rawDo("M-SEARCH /x HTTP/1.1\r\nHost: x\r\n\r\n"); resp.StatusCode != http.StatusOK {
		t.Errorf("M-SEARCH: status %d, want 200", resp.StatusCode)
	}
}

// defaultStrip is strip_headers' default (README "Configuration reference").
var defaultStrip = []string{"X-HTTP-Method-Override", "X-Method-Override", "X-HTTP-Method", "X-Original-URL",
	"X-Rewrite-URL", "X-Real-IP", "True-Client-IP", "CF-Connecting-IP", "Remote-User", "X-Forwarded-User"}

// TestIssue9StripHeaders: item 9. Every header named in strip_headers is
// removed from client requests, in any case and with _ for -, on every route.
func TestIssue9StripHeaders(t *testing.T) {
	hs := newHarness(t, func(o *Options) { o.StripHeaders = defaultStrip })
	var sent strings.Builder
	for i, name := range defaultStrip {
		switch i % 3 {
		case 1:
			name = strings.ToLower(name)
		case 2:
			name = strings.ReplaceAll(name, "-", "_")
		}
		sent.WriteString(name + ": evil\r\n")
	}
	for _, target := range []string{"/public/x", "/api/x"} {
		resp := hs.rawDo("GET " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nX-App: kept\r\n" + sent.String() + "\r\n")
		e := echoed(t, resp)
		for k, v := range e.Headers {
			folded := httpx.FoldHeader(k)
			for _, name := range defaultStrip {
				if folded == httpx.FoldHeader(name) {
					t.Errorf("%s: upstream received %s: %q", target, k, v)
				}
			}
		}
		if got := e.Headers["X-App"]; len(got) != 1 || got[0] != "kept" {
			t.Errorf("%s: X-App = %q, want [kept]", target, got)
		}
	}
}

// TestIssue9UpstreamCannotSetGatehouseCookies: item 9.
func TestIssue9UpstreamCannotSetGatehouseCookies(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, c := range []string{
			"gatehouse_session=fixed; Path=/; HttpOnly", "app=1; Path=/", "__Host-gatehouse_csrf=x; Path=/; Secure",
			" gatehouse_csrf =y", "GATEHOUSE_SESSION=z", "theme=dark",
		} {
			w.Header().Add("Set-Cookie", c)
		}
	}))
	defer up.Close()
	u, _ := url.Parse(up.URL)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: u}}
		o.ProtectedCookies = []string{"gatehouse_session", "gatehouse_csrf", "__Host-gatehouse_csrf"}
	})
	resp := hs.do("GET", "/x")
	got := resp.Header.Values("Set-Cookie")
	if len(got) != 2 || got[0] != "app=1; Path=/" || got[1] != "theme=dark" {
		t.Errorf("Set-Cookie %q, want only the app's cookies", got)
	}
}

// TestIssue9ErrorBodiesHaveAllMembers: contract. Every JSON error body the
// proxy answers has error, error_description and request_id.
func TestIssue9ErrorBodiesHaveAllMembers(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close()
	hs := newHarness(t, func(o *Options) {
		o.Routes = append([]Route{{Name: "dead", PathPrefix: "/dead/", Auth: AuthNone, Upstream: deadURL}}, testRoutes()...)
		o.Routes = o.Routes[:len(o.Routes)-1] // no catch-all: 404 is reachable
		o.Routes = append(o.Routes, Route{Name: "app", PathPrefix: "/app/", Auth: AuthSession})
		o.Reserved = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// As proxy/login answers an unknown reserved path.
			httpx.WriteError(w, r, http.StatusNotFound, "not_found", "")
		})
	})
	check := func(what string, resp *http.Response, status int) {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("%s: status %d, want %d", what, resp.StatusCode, status)
			return
		}
		var b map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		for _, k := range []string{"error", "error_description", "request_id"} {
			if s, ok := b[k].(string); !ok || s == "" {
				t.Errorf("%s: member %q missing or empty in %v", what, k, b)
			}
		}
	}
	check("refused path", hs.rawDo("GET /a/%2e%2e/b HTTP/1.1\r\nHost: x\r\n\r\n"), 400)
	check("refused method", hs.rawDo("get /a HTTP/1.1\r\nHost: x\r\n\r\n"), 400)
	check("refused host", hs.rawDo("GET /a HTTP/1.1\r\nHost: .\r\n\r\n"), 400)
	check("unmatched", hs.do("GET", "/nowhere"), 404)
	check("reserved", hs.do("GET", "/.gatehouse/nope"), 404)
	check("no token", hs.do("GET", "/api/x"), 401)
	check("bad token", hs.do("GET", "/api/x", "Authorization: Bearer nope"), 401)
	check("no session", hs.do("GET", "/app/x"), 401)
	check("forbidden", hs.do("GET", "/staff/x", "Authorization: Bearer good"), 403)
	check("cross-origin", hs.do("POST", "/app/x", "Cookie: sid=s1", "Origin: https://evil.test"), 403)
	check("store down", hs.do("GET", "/api/x", "Authorization: Bearer down"), 503)
	check("bad identity", hs.do("GET", "/api/x", "Authorization: Bearer newline"), 401)
	check("upstream down", hs.do("GET", "/dead/x"), 502)
	check("bad chunking", hs.rawDo("POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n"), 400)
	hsNil := newHarness(t, nil)
	check("no reserved handler", hsNil.do("GET", "/.gatehouse/nope"), 404)
}

// FuzzNormalizeHost: any Host header gives a lower-case host without
// trailing dots, or "" (refused), and never panics.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"Internal.example.com.:80", "[::1]:8080", "..", ":80", "[::1", "[::1]x", "a:b:c", "[]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got := normalizeHost(host)
		if got != strings.ToLower(got) || strings.HasSuffix(got, ".") {
			t.Errorf("normalizeHost(%q) = %q", host, got)
		}
	})
}
