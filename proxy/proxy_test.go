package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestPathRefusalsNeverReachUpstream(t *testing.T) {
	hs := newHarness(t, nil)
	for _, p := range []string{
		"/public/../api/x", "/public/%2e%2e/api/x", "/public/%2E%2E/api/x", "/api%2fx", "/api%2Fx",
		"/public/..%2fapi", "/public/%5capi", "/public/%00", "/public/./x", "/public/x;jsessionid=1",
		"/public/.%2e/api", "/\\api", "/public/\\..\\api",
	} {
		before := hs.hits.Load()
		conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		// Raw request line: net/http's client would clean some of these.
		_, _ = conn.Write([]byte("GET " + p + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		resp.Body.Close()
		conn.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", p, resp.StatusCode)
		}
		if hs.hits.Load() != before {
			t.Errorf("%s reached the upstream", p)
		}
	}
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_refused", "none", "bad_request")); got < 10 {
		t.Errorf("_refused count %v, want every refusal counted", got)
	}
}

func TestSlashesMergedAndPathForwardedExactly(t *testing.T) {
	hs := newHarness(t, nil)
	e := echoed(t, hs.do("GET", "//public///a//b?q=1"))
	if e.Path != "/public/a/b" || e.Query != "q=1" {
		t.Errorf("upstream saw %q?%q, want /public/a/b?q=1", e.Path, e.Query)
	}
	e = echoed(t, hs.do("GET", "/public/a%20b"))
	if e.Path != "/public/a b" {
		t.Errorf("upstream saw %q, want %q", e.Path, "/public/a b")
	}
}

func TestClientIdentityHeadersStrippedOnNoneRoute(t *testing.T) {
	hs := newHarness(t, nil)
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Raw headers, so that the underscore and lower-case spellings arrive as sent.
	_, _ = conn.Write([]byte("GET /public/x HTTP/1.1\r\nHost: x\r\nX-Auth-User: admin\r\nx-auth-user: admin\r\n" +
		"X_Auth_User: admin\r\nx_auth_groups: admins\r\nX-AUTH-EMAIL: a@b\r\nX-Auth-Tenant: evil\r\nX-Auth-Method: jwt\r\nConnection: close\r\n\r\n"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := echoed(t, resp)
	for k := range e.Headers {
		if strings.HasPrefix(strings.ReplaceAll(strings.ToLower(k), "_", "-"), "x-auth-") {
			t.Errorf("upstream received client-sent %s: %v", k, e.Headers[k])
		}
	}
}

func TestIdentityHeadersReplacedOnJWTRoute(t *testing.T) {
	hs := newHarness(t, nil)
	e := echoed(t, hs.do("GET", "/api/x", "Authorization: Bearer good", "X-Auth-User: admin", "X-Auth-Groups: admins"))
	want := map[string]string{
		"X-Auth-User": "alice", "X-Auth-Email": "alice@example.com", "X-Auth-Groups": "staff,dev",
		"X-Auth-Method": "jwt", "X-Auth-Tenant": "acme", "X-Auth-Org": "7",
	}
	for k, v := range want {
		if got := e.Headers[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %q, want exactly [%q]", k, got, v)
		}
	}
	if _, ok := e.Headers["Authorization"]; ok {
		t.Error("Authorization forwarded without forward_authorization")
	}
	e = echoed(t, hs.do("GET", "/fwd/x", "Authorization: Bearer good"))
	if got := e.Headers["Authorization"]; len(got) != 1 || got[0] != "Bearer good" {
		t.Errorf("forward_authorization route: Authorization = %q", got)
	}
}

func TestConnectionHeaderCannotDropIdentity(t *testing.T) {
	hs := newHarness(t, nil)
	e := echoed(t, hs.do("GET", "/api/x", "Authorization: Bearer good", "Connection: close, X-Auth-User, X-Request-Id, X-Forwarded-For"))
	if got := e.Headers["X-Auth-User"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("X-Auth-User = %q, want [alice]", got)
	}
	if len(e.Headers["X-Request-Id"]) != 1 || len(e.Headers["X-Forwarded-For"]) != 1 {
		t.Errorf("X-Request-Id/X-Forwarded-For dropped: %v", e.Headers)
	}
}

func TestHeaderInjectionFromClaimsRefused(t *testing.T) {
	hs := newHarness(t, nil)
	before := hs.hits.Load()
	resp := hs.do("GET", "/api/x", "Authorization: Bearer newline")
	if resp.StatusCode != http.StatusUnauthorized || hs.hits.Load() != before {
		t.Errorf("status %d, want 401 without reaching the upstream", resp.StatusCode)
	}
}

func TestJWTRouteAnswers(t *testing.T) {
	hs := newHarness(t, nil)
	tests := []struct {
		name, auth string
		status     int
		challenge  string
	}{
		{"no token", "", 401, `Bearer`},
		{"basic auth", "Basic YTpi", 401, `Bearer`},
		{"bad token", "Bearer nope", 401, `Bearer error="invalid_token", error_description="signature invalid"`},
		{"empty bearer", "Bearer ", 401, `Bearer error="invalid_token", error_description="malformed Authorization header"`},
		{"revoked", "Bearer revoked", 401, `Bearer error="invalid_token", error_description="token revoked"`},
		{"store down", "Bearer down", 503, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := hs.hits.Load()
			var hdr []string
			if tc.auth != "" {
				hdr = append(hdr, "Authorization: "+tc.auth)
			}
			resp := hs.do("GET", "/api/x", hdr...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			b := errorBody(t, resp)
			if b["request_id"] == "" || b["request_id"] != resp.Header.Get("X-Request-Id") {
				t.Errorf("request_id %q vs header %q", b["request_id"], resp.Header.Get("X-Request-Id"))
			}
			if strings.Contains(b["error_description"], "nope") {
				t.Error("token echoed in the error body")
			}
			if hs.hits.Load() != before {
				t.Error("refused request reached the upstream")
			}
		})
	}
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("api", "jwt", "revoked")); got != 1 {
		t.Errorf("revoked count %v, want 1", got)
	}
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("api", "jwt", "unavailable")); got != 1 {
		t.Errorf("unavailable count %v, want 1", got)
	}
}

func TestStoreErrorAllowPolicy(t *testing.T) {
	hs := newHarness(t, func(o *Options) { o.AllowOnStoreError = true })
	e := echoed(t, hs.do("GET", "/api/x", "Authorization: Bearer down"))
	if e.Headers["X-Auth-User"][0] != "alice" {
		t.Errorf("X-Auth-User = %q", e.Headers["X-Auth-User"])
	}
	if got := testutil.ToFloat64(hs.m.StoreErrorsAllowed); got != 1 {
		t.Errorf("store_errors_allowed_total %v, want 1", got)
	}
}

func TestRequireForbidden(t *testing.T) {
	hs := newHarness(t, nil)
	if resp := hs.do("GET", "/staff/x", "Authorization: Bearer good"); resp.StatusCode != 403 {
		t.Errorf("groups: status %d, want 403", resp.StatusCode)
	}
	echoed(t, hs.do("GET", "/tenant/x", "Authorization: Bearer good"))
}

func TestRoutingFallThroughAndNotFound(t *testing.T) {
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "api-read", PathPrefix: "/api/", Methods: []string{"GET"}, Auth: AuthNone},
			{Name: "exact", Path: "/exact", Auth: AuthNone},
			{Name: "hosted", PathPrefix: "/h/", Host: "app.example", Auth: AuthNone},
		}
	})
	echoed(t, hs.do("GET", "/api/x"))
	if resp := hs.do("DELETE", "/api/x"); resp.StatusCode != 404 {
		t.Errorf("DELETE: status %d, want 404 (no route allows it)", resp.StatusCode)
	}
	if resp := hs.do("GET", "/exact/more"); resp.StatusCode != 404 {
		t.Errorf("exact path matched a longer path: %d", resp.StatusCode)
	}
	if resp := hs.do("GET", "/API/x"); resp.StatusCode != 404 {
		t.Errorf("matching is case-sensitive: %d", resp.StatusCode)
	}
	if resp := hs.do("GET", "/h/x"); resp.StatusCode != 404 {
		t.Errorf("host route matched another host: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", hs.proxy.URL+"/h/x", nil)
	req.Host = "APP.example:8080"
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	echoed(t, resp)
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_unmatched", "none", "bad_request")); got != 4 {
		t.Errorf("_unmatched count %v, want 4", got)
	}
}

func TestSessionRouteAnswers(t *testing.T) {
	hs := newHarness(t, nil)
	resp := hs.do("GET", "/app/page?x=1&y=2", "Accept: text/html,application/xhtml+xml")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("navigation: status %d, want 302", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Path != "/.gatehouse/login" || loc.Query().Get("rd") != "/app/page?x=1&y=2" {
		t.Errorf("Location %q", resp.Header.Get("Location"))
	}
	if resp := hs.do("GET", "/app/data", "Accept: application/json"); resp.StatusCode != 401 {
		t.Errorf("XHR: status %d, want 401", resp.StatusCode)
	}
	e := echoed(t, hs.do("GET", "/app/page", "Cookie: theme=dark; sid=s1; app_session=xyz"))
	if got := e.Headers["Cookie"]; len(got) != 1 || got[0] != "theme=dark; app_session=xyz" {
		t.Errorf("upstream Cookie = %q, want the app's cookies only", got)
	}
	if got := e.Headers["X-Auth-Method"]; got[0] != "session" {
		t.Errorf("X-Auth-Method = %q", got)
	}
}

func TestAnyRoutePrefersBearer(t *testing.T) {
	hs := newHarness(t, nil)
	e := echoed(t, hs.do("GET", "/mixed/x", "Authorization: Bearer good", "Cookie: sid=s1"))
	if e.Headers["X-Auth-User"][0] != "alice" {
		t.Errorf("user %q, want alice (Bearer wins)", e.Headers["X-Auth-User"])
	}
	e = echoed(t, hs.do("GET", "/mixed/x", "Cookie: sid=s1"))
	if e.Headers["X-Auth-User"][0] != "bob" {
		t.Errorf("user %q, want bob (session)", e.Headers["X-Auth-User"])
	}
	if resp := hs.do("GET", "/mixed/x", "Authorization: Bearer nope", "Cookie: sid=s1"); resp.StatusCode != 401 {
		t.Errorf("bad Bearer with good cookie: %d, want 401", resp.StatusCode)
	}
}

func TestCrossOriginCookiePostRefused(t *testing.T) {
	hs := newHarness(t, nil)
	for _, h := range [][]string{
		{"Origin: https://evil.example"},
		{"Sec-Fetch-Site: cross-site"},
		{"Sec-Fetch-Site: same-site"},
	} {
		before := hs.hits.Load()
		resp := hs.do("POST", "/app/transfer", append(h, "Cookie: sid=s1")...)
		if resp.StatusCode != 403 || hs.hits.Load() != before {
			t.Errorf("%v: status %d (upstream hit %v), want 403 unreached", h, resp.StatusCode, hs.hits.Load() != before)
		}
	}
	echoed(t, hs.do("POST", "/app/transfer", "Cookie: sid=s1", "Sec-Fetch-Site: same-origin"))
	echoed(t, hs.do("POST", "/app/transfer", "Cookie: sid=s1"))
	// Bearer requests are exempt: a browser cannot attach them cross-site.
	echoed(t, hs.do("POST", "/mixed/x", "Authorization: Bearer good", "Origin: https://evil.example"))
}

func TestRequestID(t *testing.T) {
	hs := newHarness(t, nil)
	resp := hs.do("GET", "/public/x", "X-Request-Id: abc-123_x.y")
	if got := resp.Header.Get("X-Request-Id"); got != "abc-123_x.y" {
		t.Errorf("kept id %q", got)
	}
	if e := echoed(t, resp); e.Headers["X-Request-Id"][0] != "abc-123_x.y" {
		t.Errorf("upstream id %q", e.Headers["X-Request-Id"])
	}
	for _, bad := range []string{"has space", strings.Repeat("a", 129), "evil\"quote", "ü"} {
		resp := hs.do("GET", "/public/x", "X-Request-Id: "+bad)
		got := resp.Header.Get("X-Request-Id")
		if got == bad || len(got) != 32 {
			t.Errorf("%q: id %q, want a generated one", bad, got)
		}
	}
}

func TestForwardedHeaders(t *testing.T) {
	hs := newHarness(t, nil)
	e := echoed(t, hs.do("GET", "/public/x", "X-Forwarded-For: 6.6.6.6", "X-Forwarded-Host: evil", "X-Forwarded-Proto: https", "Forwarded: for=6.6.6.6"))
	if got := e.Headers["X-Forwarded-For"]; len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("untrusted peer: X-Forwarded-For %q, want [127.0.0.1]", got)
	}
	if got := e.Headers["X-Forwarded-Proto"]; got[0] != "http" {
		t.Errorf("X-Forwarded-Proto %q", got)
	}
	if _, ok := e.Headers["Forwarded"]; ok {
		t.Error("client Forwarded header passed")
	}
	trusted := newHarness(t, func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")} })
	e = echoed(t, trusted.do("GET", "/public/x", "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https"))
	if got := e.Headers["X-Forwarded-For"]; len(got) != 1 || got[0] != "203.0.113.9, 127.0.0.1" {
		t.Errorf("trusted peer: X-Forwarded-For %q", got)
	}
	if got := e.Headers["X-Forwarded-Proto"]; got[0] != "https" {
		t.Errorf("trusted peer: X-Forwarded-Proto %q", got)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		peer string
		xff  []string
		want string
	}{
		{"1.2.3.4", []string{"9.9.9.9"}, "1.2.3.4"},
		{"10.0.0.1", []string{"9.9.9.9"}, "9.9.9.9"},
		{"10.0.0.1", []string{"6.6.6.6, 9.9.9.9, 10.0.0.2"}, "9.9.9.9"},
		{"10.0.0.1", []string{"garbage, 9.9.9.9"}, "9.9.9.9"},
		{"10.0.0.1", []string{"10.0.0.3"}, "10.0.0.3"},
		{"10.0.0.1", nil, "10.0.0.1"},
	}
	for _, tc := range tests {
		got := clientIP(netip.MustParseAddr(tc.peer), tc.xff, trusted)
		if got.String() != tc.want {
			t.Errorf("clientIP(%s, %q) = %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
}

func TestUpstreamDownAndTimeout(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL, _ := url.Parse(dead.URL)
	dead.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	slowURL, _ := url.Parse(slow.URL)
	hs := newHarness(t, func(o *Options) {
		o.UpstreamTimeout = 200 * time.Millisecond
		o.Routes = []Route{
			{Name: "dead", PathPrefix: "/dead/", Auth: AuthNone, Upstream: deadURL},
			{Name: "slow", PathPrefix: "/slow/", Auth: AuthJWT, Upstream: slowURL},
		}
	})
	resp := hs.do("GET", "/dead/x")
	if resp.StatusCode != 502 || errorBody(t, resp)["error"] != "bad_gateway" {
		t.Errorf("dead upstream: status %d", resp.StatusCode)
	}
	resp = hs.do("GET", "/slow/x", "Authorization: Bearer good")
	if resp.StatusCode != 504 || errorBody(t, resp)["error"] != "gateway_timeout" {
		t.Errorf("slow upstream: status %d", resp.StatusCode)
	}
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("slow", "jwt", "allowed")); got != 1 {
		t.Errorf("a 504 after auth is still outcome allowed: %v", got)
	}
	if got := testutil.ToFloat64(hs.m.UpstreamResponses.WithLabelValues("slow", "5xx")); got != 1 {
		t.Errorf("upstream 5xx count %v", got)
	}
}

func TestReservedPathsNeverProxied(t *testing.T) {
	hs := newHarness(t, func(o *Options) {
		o.Reserved = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if httpx.RequestID(r) == "" {
				t.Error("reserved handler got no request id")
			}
			w.WriteHeader(http.StatusTeapot)
		})
	})
	before := hs.hits.Load()
	if resp := hs.do("GET", "/.gatehouse/anything"); resp.StatusCode != http.StatusTeapot {
		t.Errorf("status %d", resp.StatusCode)
	}
	if hs.hits.Load() != before {
		t.Error("reserved path reached the upstream")
	}
	if got := testutil.ToFloat64(hs.m.Requests.WithLabelValues("_gatehouse", "none", "bad_request")); got != 1 {
		t.Errorf("_gatehouse count %v", got)
	}
}

func TestWebSocketUpgradeAfterAuth(t *testing.T) {
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "websocket" || r.Header.Get("X-Auth-User") != "alice" {
			http.Error(w, "want an authenticated upgrade", 400)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("echo:" + line)
		_ = brw.Flush()
	}))
	defer ws.Close()
	wsURL, _ := url.Parse(ws.URL)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{{Name: "ws", PathPrefix: "/ws", Auth: AuthJWT, Upstream: wsURL}}
	})
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = conn.Write([]byte("GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("status %d, want 101", resp.StatusCode)
	}
	_, _ = conn.Write([]byte("hello\n"))
	got, _ := br.ReadString('\n')
	if got != "echo:hello\n" {
		t.Errorf("got %q over the upgraded connection", got)
	}
}
