package proxy

// Regression tests for issue 9 (security fixes), proxy parts: h2c and other
// upgrades, cross-origin WebSocket handshakes, host normalization, body
// timeouts and framing, %3b, lower-case methods, strip_headers and
// upstream Set-Cookie for Gatehouse's cookies.

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
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

// recorder is a lenient upstream: it records each request's headers and,
// like an h2c-accepting server, switches protocols whenever it is asked to
// (answering 101 and echoing a line over the raw connection).
type recorder struct {
	mu   sync.Mutex
	seen []http.Header
	srv  *httptest.Server
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen = append(rec.seen, r.Header.Clone())
		rec.mu.Unlock()
		up := r.Header.Get("Upgrade")
		if up == "" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: " + up + "\r\nConnection: Upgrade\r\n\r\n")
		_ = brw.Flush()
		line, _ := brw.ReadString('\n')
		_, _ = brw.WriteString("tunnel:" + line)
		_ = brw.Flush()
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) last(t *testing.T) http.Header {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.seen) == 0 {
		t.Fatal("the upstream received nothing")
	}
	return rec.seen[len(rec.seen)-1]
}

func (rec *recorder) url() *url.URL {
	u, _ := url.Parse(rec.srv.URL)
	return u
}

// TestIssue9H2CUpgradeNeverReachesUpstream: item 3. An h2c upgrade on an
// auth: none route (and on a jwt route) is stripped with HTTP2-Settings;
// the request goes on as plain HTTP/1.1 and no tunnel opens.
func TestIssue9H2CUpgradeNeverReachesUpstream(t *testing.T) {
	rec := newRecorder(t)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "open", PathPrefix: "/public/", Auth: AuthNone, Upstream: rec.url()},
			{Name: "api", PathPrefix: "/api/", Auth: AuthJWT, Upstream: rec.url()},
		}
	})
	for _, tc := range []struct{ target, extra string }{
		{"/public/x", "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
		{"/public/x", "Connection: Upgrade\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
		{"/public/x", "Connection: keep-alive, upgrade\r\nUpgrade: H2C\r\n"},
		{"/public/x", "Connection: Upgrade\r\nUpgrade: TLS/1.2, h2c\r\n"},
		{"/api/x", "Authorization: Bearer good\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"},
	} {
		resp := hs.rawDo("GET " + tc.target + " HTTP/1.1\r\nHost: x\r\n" + tc.extra + "\r\n")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%q: status %d, want 200 as plain HTTP/1.1 (no tunnel)", tc.extra, resp.StatusCode)
			continue
		}
		got := rec.last(t)
		for _, name := range []string{"Upgrade", "Http2-Settings"} {
			if v, ok := got[name]; ok {
				t.Errorf("%q: upstream received %s: %q", tc.extra, name, v)
			}
		}
		if hasToken(got.Values("Connection"), "upgrade") {
			t.Errorf("%q: upstream received Connection: %q", tc.extra, got.Values("Connection"))
		}
	}
}

// TestIssue9WebSocketUpgradeStillPasses: only websocket is passed, exactly.
func TestIssue9WebSocketUpgradeStillPasses(t *testing.T) {
	rec := newRecorder(t)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: rec.url()}}
	})
	for _, offer := range []string{"websocket", "WebSocket", "websocket, h2c"} {
		conn, br := wsHandshake(t, hs, "/ws", "Upgrade: "+offer)
		if got := rec.last(t).Values("Upgrade"); len(got) != 1 || got[0] != "websocket" {
			t.Errorf("offer %q: upstream Upgrade %q, want [websocket]", offer, got)
		}
		_, _ = conn.Write([]byte("hi\n"))
		if line, _ := br.ReadString('\n'); line != "tunnel:hi\n" {
			t.Errorf("offer %q: got %q over the tunnel", offer, line)
		}
	}
}

// wsHandshake sends a WebSocket handshake with extra header lines and
// expects 101.
func wsHandshake(t *testing.T, hs *harness, target string, extra ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, br, resp := wsAttempt(t, hs, target, extra...)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("%v: status %d, want 101", extra, resp.StatusCode)
	}
	return conn, br
}

func wsAttempt(t *testing.T, hs *harness, target string, extra ...string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	hasUpgrade := false
	for _, h := range extra {
		req += h + "\r\n"
		hasUpgrade = hasUpgrade || strings.HasPrefix(strings.ToLower(h), "upgrade:")
	}
	if !hasUpgrade {
		req += "Upgrade: websocket\r\n"
	}
	_, _ = conn.Write([]byte(req + "\r\n"))
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%v: %v", extra, err)
	}
	return conn, br, resp
}

// TestIssue9CrossOriginWebSocketRefused: item 3. A cookie-authenticated
// WebSocket handshake from another origin is refused like a cross-origin
// write; same-origin and Bearer handshakes pass.
func TestIssue9CrossOriginWebSocketRefused(t *testing.T) {
	rec := newRecorder(t)
	hs := newHarness(t, func(o *Options) {
		o.Routes = []Route{
			{Name: "mixed", PathPrefix: "/mixed/", Auth: AuthAny, Upstream: rec.url()},
			{Name: "app", PathPrefix: "/", Auth: AuthSession, Upstream: rec.url()},
		}
	})
	for _, target := range []string{"/app/ws", "/mixed/ws"} {
		for _, h := range []string{"Origin: https://evil.test", "Sec-Fetch-Site: cross-site", "Sec-Fetch-Site: same-site", "Origin: http://x.evil.test"} {
			before := len(rec.seen)
			_, _, resp := wsAttempt(t, hs, target, "Cookie: sid=s1", h)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s %q: status %d, want 403", target, h, resp.StatusCode)
			}
			rec.mu.Lock()
			if len(rec.seen) != before {
				t.Errorf("%s %q: the handshake reached the upstream", target, h)
			}
			rec.mu.Unlock()
		}
	}
	wsHandshake(t, hs, "/app/ws", "Cookie: sid=s1", "Origin: http://x")
	wsHandshake(t, hs, "/app/ws", "Cookie: sid=s1", "Sec-Fetch-Site: same-origin", "Origin: http://x")
	wsHandshake(t, hs, "/app/ws", "Cookie: sid=s1")
	// A browser cannot attach a Bearer token cross-site: not affected.
	wsHandshake(t, hs, "/mixed/ws", "Authorization: Bearer good", "Origin: https://evil.test", "Sec-Fetch-Site: cross-site")
	// A plain cross-site GET with the cookie stays allowed (a navigation).
	if resp := hs.do("GET", "/app/page", "Cookie: sid=s1", "Sec-Fetch-Site: cross-site"); resp.StatusCode != http.StatusOK {
		t.Errorf("cross-site GET navigation: status %d, want 200", resp.StatusCode)
	}
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
		"[FE80::1]": "fe80::1", "::1": "::1", ".": "", ":80": "", "": "", "[::1": "", "[::1]:x": "",
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

// defaultStrip is strip_headers' default (PRODUCT.md §2).
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
			folded := headerKey(k)
			for _, name := range defaultStrip {
				if folded == headerKey(name) {
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

// TestIssue9MalformedChunkedBodyIs400: item 9. A bad chunked body is the
// client's fault: 400, never 502.
func TestIssue9MalformedChunkedBodyIs400(t *testing.T) {
	hs := newHarness(t, nil)
	for _, body := range []string{"zz\r\nabc\r\n0\r\n\r\n", "3\r\nabcXY0\r\n\r\n", "-1\r\n\r\n"} {
		resp := hs.rawDo("POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%q: status %d, want 400", body, resp.StatusCode)
			continue
		}
		if b := errorBody(t, resp); b["error"] != "bad_request" || b["request_id"] == "" {
			t.Errorf("%q: body %v", body, b)
		}
	}
	if got := testutil.ToFloat64(hs.m.UpstreamResponses.WithLabelValues("public", "5xx")); got != 0 {
		t.Errorf("a client's bad body counted as upstream 5xx: %v", got)
	}
	// A well-formed chunked body still passes.
	resp := hs.rawDo("POST /public/x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if e := echoed(t, resp); e.Body != "abc" {
		t.Errorf("body %q, want abc", e.Body)
	}
}

// bodyUpstream reads each request's body and reports how that ended.
func bodyUpstream(t *testing.T) (*url.URL, chan error) {
	ended := make(chan error, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		ended <- err
		_, _ = w.Write(b)
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	return u, ended
}

// TestIssue9StalledBodyIsCut: item 8. A body that sends one byte and then
// nothing is cut after server.body_timeout: the client gets 408 and the
// upstream's read of the body ends (its connection is released).
func TestIssue9StalledBodyIsCut(t *testing.T) {
	const timeout = 300 * time.Millisecond
	u, ended := bodyUpstream(t)
	hs := newHarness(t, func(o *Options) {
		o.BodyTimeout = timeout
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: u}}
	})
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	start := time.Now()
	_, _ = conn.Write([]byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\na"))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("no response to a stalled body: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Errorf("status %d, want 408", resp.StatusCode)
	}
	if elapsed < timeout {
		t.Errorf("cut after %v, before the %v timeout", elapsed, timeout)
	}
	select {
	case err := <-ended:
		if err == nil {
			t.Error("the upstream read a complete body")
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the upstream is still reading the body: its connection was not released")
	}
	// The client connection is closed too.
	_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.Copy(io.Discard, conn); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Error("the client connection stayed open")
		}
	}
}

// TestIssue9SlowButSteadyBodyPasses: the timeout is per silence, not per body.
func TestIssue9SlowButSteadyBodyPasses(t *testing.T) {
	const timeout = 600 * time.Millisecond
	u, _ := bodyUpstream(t)
	hs := newHarness(t, func(o *Options) {
		o.BodyTimeout = timeout
		o.Routes = []Route{{Name: "open", PathPrefix: "/", Auth: AuthNone, Upstream: u}}
	})
	conn, err := net.Dial("tcp", hs.proxy.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = conn.Write([]byte("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n"))
	for range 12 { // 12 × 100 ms: longer than the timeout in total
		time.Sleep(100 * time.Millisecond)
		_, _ = conn.Write([]byte("z"))
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != strings.Repeat("z", 12) {
		t.Errorf("status %d body %q, want 200 with the whole body", resp.StatusCode, b)
	}
	// The connection is reusable: no deadline left behind.
	time.Sleep(2 * timeout)
	_, _ = conn.Write([]byte("GET /again HTTP/1.1\r\nHost: x\r\n\r\n"))
	resp, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("second request on the connection: %v %v", resp, err)
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
