package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// sessionConfig has a public route and a session route on everything else.
const sessionConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
store:
  type: {{store}}
  on_error: deny
  timeout: 200ms
  redis: {addrs: ["{{redis}}"]}
users: {file: "{{dir}}/users.yaml"}
session:
  secure: false
  idle_timeout: {{idle}}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

// Test users; cheap bcrypt hashes keep the tests fast.
const (
	sessAlicePassword = "alice-test-password"
	sessBobPassword   = "bob-test-password"
)

var (
	sessUsersOnce sync.Once
	sessUsers     string
)

// sessUsersYAML returns a users file with alice (staff, admins) and bob (staff).
func sessUsersYAML(t *testing.T) string {
	t.Helper()
	sessUsersOnce.Do(func() {
		var b strings.Builder
		for _, u := range []struct{ name, pass, groups string }{
			{"alice", sessAlicePassword, "[staff, admins]"}, {"bob", sessBobPassword, "[staff]"},
		} {
			h, err := bcrypt.GenerateFromPassword([]byte(u.pass), bcrypt.MinCost)
			if err != nil {
				panic(err)
			}
			b.WriteString("- username: " + u.name + "\n  password_hash: \"" + string(h) + "\"\n  email: " +
				u.name + "@example.com\n  groups: " + u.groups + "\n")
		}
		sessUsers = b.String()
	})
	return sessUsers
}

// startSessions starts Gatehouse with sessionConfig on store ("memory" or
// "redis" at redisAddr) and the given idle timeout.
func startSessions(t *testing.T, store, redisAddr string, idle time.Duration) *instance {
	t.Helper()
	return startSessionsTimeout(t, store, redisAddr, idle, 200*time.Millisecond)
}

// startSessionsTimeout is startSessions with another store.timeout.
func startSessionsTimeout(t *testing.T, store, redisAddr string, idle, storeTimeout time.Duration) *instance {
	t.Helper()
	if redisAddr == "" {
		redisAddr = "127.0.0.1:1"
	}
	cfg := strings.NewReplacer("{{store}}", store, "{{redis}}", redisAddr, "{{idle}}", idle.String(),
		"timeout: 200ms", "timeout: "+storeTimeout.String()).Replace(sessionConfig)
	in := startGatehouse(t, cfg, map[string]string{"users.yaml": sessUsersYAML(t)})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	return in
}

// webClient is a browser without JavaScript: a cookie jar of its own, and
// redirects are not followed, so that each answer can be checked.
type webClient struct {
	t    *testing.T
	base *url.URL
	jar  *cookiejar.Jar
	c    *http.Client
}

func newWebClient(t *testing.T, base string) *webClient {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	return &webClient{t: t, base: u, jar: jar, c: &http.Client{
		Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends a request; form, if not nil, is posted form-encoded. Headers are
// "Name: value" lines.
func (w *webClient) do(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	w.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, w.base.String()+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := w.c.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfFieldRE = regexp.MustCompile(`name="csrf_token" value="([A-Za-z0-9_-]{43})"`)

// csrf GETs a form page and returns its csrf_token (its cookie is in the jar).
func (w *webClient) csrf(path string) string {
	w.t.Helper()
	resp, body := w.do("GET", path, nil, "Accept: text/html")
	m := csrfFieldRE.FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		w.t.Fatalf("GET %s: status %d, no csrf_token in the page", path, resp.StatusCode)
	}
	return m[1]
}

// login posts the login form and returns the answer.
func (w *webClient) login(user, password, rd string) (*http.Response, string) {
	w.t.Helper()
	tok := w.csrf("/.gatehouse/login?rd=" + url.QueryEscape(rd))
	return w.do("POST", "/.gatehouse/login", url.Values{
		"username": {user}, "password": {password}, "csrf_token": {tok}, "rd": {rd},
	})
}

// mustLogin logs in and fails the test unless it is a 303 to rd.
func (w *webClient) mustLogin(user, password, rd string) *http.Response {
	w.t.Helper()
	resp, body := w.login(user, password, rd)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != rd {
		w.t.Fatalf("login as %s: status %d, Location %q, want 303 to %q; body %s",
			user, resp.StatusCode, resp.Header.Get("Location"), rd, body)
	}
	return resp
}

// logout posts the logout form and fails the test unless it is a 303 to
// the login page.
func (w *webClient) logout() {
	w.t.Helper()
	tok := w.csrf("/.gatehouse/logout")
	resp, body := w.do("POST", "/.gatehouse/logout", url.Values{"csrf_token": {tok}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/.gatehouse/login?signed_out=1" {
		w.t.Fatalf("logout: status %d, Location %q; body %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
}

// cookie returns the value of the named cookie in the jar, or "".
func (w *webClient) cookie(name string) string {
	for _, c := range w.jar.Cookies(w.base) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// setCookie puts a cookie into the jar, as the browser would keep it.
func (w *webClient) setCookie(name, value string) {
	w.jar.SetCookies(w.base, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

// upstreamSaw GETs path as an API call and decodes what the echo upstream
// received; the status must be 200.
func (w *webClient) upstreamSaw(path string, headers ...string) echo.Request {
	w.t.Helper()
	resp, body := w.do("GET", path, nil, append([]string{"Accept: application/json"}, headers...)...)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: status %d, want 200; body %s", path, resp.StatusCode, body)
	}
	var e echo.Request
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		w.t.Fatalf("GET %s: not the echo upstream's JSON: %v", path, err)
	}
	return e
}

// status GETs path as an API call (no text/html) and returns the status.
func (w *webClient) status(path string) int {
	w.t.Helper()
	resp, _ := w.do("GET", path, nil, "Accept: application/json")
	return resp.StatusCode
}

func echoHeader(e echo.Request, name string) string {
	return strings.Join(e.Headers[name], ",")
}

// TestSessionsTwoReplicasOneRedis logs in through one replica and uses and
// ends the session through the other: no sticky sessions are needed.
func TestSessionsTwoReplicasOneRedis(t *testing.T) {
	r := authtest.StartRedis(t)
	a := startSessions(t, "redis", r.Addr, time.Minute)
	b := startSessions(t, "redis", r.Addr, time.Minute)

	onA := newWebClient(t, a.URL)
	onA.mustLogin("alice", sessAlicePassword, "/dashboard")
	sid := onA.cookie("gatehouse_session")
	if sid == "" {
		t.Fatal("no gatehouse_session cookie after login")
	}
	if e := onA.upstreamSaw("/dashboard"); echoHeader(e, "X-Auth-User") != "alice" {
		t.Errorf("on A: X-Auth-User %q, want %q", echoHeader(e, "X-Auth-User"), "alice")
	}

	onB := newWebClient(t, b.URL)
	onB.setCookie("gatehouse_session", sid)
	e := onB.upstreamSaw("/dashboard")
	if got := echoHeader(e, "X-Auth-User"); got != "alice" {
		t.Errorf("on B: X-Auth-User %q, want %q", got, "alice")
	}
	if got := echoHeader(e, "X-Auth-Groups"); got != "staff,admins" {
		t.Errorf("on B: X-Auth-Groups %q, want %q", got, "staff,admins")
	}
	if got := echoHeader(e, "X-Auth-Method"); got != "session" {
		t.Errorf("on B: X-Auth-Method %q, want %q", got, "session")
	}

	onB.logout()
	// A caches session records for up to 500 ms; B's logout publishes the
	// deletion, and A must drop its copy at once: within the pub/sub
	// delivery time, far below the cache TTL.
	start := time.Now()
	for onA.status("/dashboard") != http.StatusUnauthorized {
		if time.Since(start) > 100*time.Millisecond {
			t.Fatalf("on A after logout on B: still authenticated after %v", time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, _ := onA.do("GET", "/dashboard", nil, "Accept: text/html")
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/.gatehouse/login?rd=") {
		t.Errorf("navigation on A after logout: status %d, Location %q, want 302 to the login page", resp.StatusCode, loc)
	}
	for _, in := range []*instance{a, b} {
		if strings.Contains(in.stdout.String(), sid) || strings.Contains(in.stdout.String(), sessAlicePassword) {
			t.Error("the session ID or the password appears in the log")
		}
	}
}

// TestSessionCookieAttributes checks the Set-Cookie of a login with
// session.secure: false.
func TestSessionCookieAttributes(t *testing.T) {
	t.Parallel()
	in := startSessions(t, "memory", "", time.Minute)
	c := newWebClient(t, in.URL)
	resp := c.mustLogin("bob", sessBobPassword, "/")
	var got *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "gatehouse_session" {
			got = ck
		}
	}
	if got == nil {
		t.Fatal("login set no gatehouse_session cookie")
	}
	if len(got.Value) != 43 || !got.HttpOnly || got.Secure || got.Path != "/" || got.SameSite != http.SameSiteLaxMode {
		t.Errorf("cookie: len %d, HttpOnly %v, Secure %v, Path %q, SameSite %v; want 43, true, false, /, Lax",
			len(got.Value), got.HttpOnly, got.Secure, got.Path, got.SameSite)
	}
	first := got.Value
	c.mustLogin("bob", sessBobPassword, "/")
	if c.cookie("gatehouse_session") == first {
		t.Error("a second login kept the session ID; want a new one at every login")
	}
	c.setCookie("gatehouse_session", first)
	if got := c.status("/x"); got != http.StatusUnauthorized {
		t.Errorf("the session replaced by a new login: status %d, want 401", got)
	}
}

// TestSessionUpstreamCookies: through the real proxy the upstream sees the
// app's own cookies but never Gatehouse's session or CSRF cookie, nor
// identity headers the client sent.
func TestSessionUpstreamCookies(t *testing.T) {
	t.Parallel()
	in := startSessions(t, "memory", "", time.Minute)
	c := newWebClient(t, in.URL)
	c.mustLogin("bob", sessBobPassword, "/app")
	sid, csrf := c.cookie("gatehouse_session"), c.cookie("gatehouse_csrf")
	if sid == "" || csrf == "" {
		t.Fatalf("after login the jar holds session %v, csrf %v; want both", sid != "", csrf != "")
	}
	c.setCookie("app_theme", "dark")
	c.setCookie("app_cart", "42")
	e := c.upstreamSaw("/app", "X-Auth-User: alice", "X-Auth-Groups: admins")
	cookies := echoHeader(e, "Cookie")
	for _, want := range []string{"app_theme=dark", "app_cart=42"} {
		if !strings.Contains(cookies, want) {
			t.Errorf("upstream Cookie %q lacks the app's %q", cookies, want)
		}
	}
	raw, _ := json.Marshal(e)
	for name, v := range map[string]string{"gatehouse_session": sid, "gatehouse_csrf": csrf} {
		if strings.Contains(cookies, name) || strings.Contains(string(raw), v) {
			t.Errorf("the upstream saw Gatehouse's %s cookie", name)
		}
	}
	if got := echoHeader(e, "X-Auth-User"); got != "bob" {
		t.Errorf("X-Auth-User %q, want %q (the client's own value replaced)", got, "bob")
	}
	if got := echoHeader(e, "X-Auth-Groups"); got != "staff" {
		t.Errorf("X-Auth-Groups %q, want %q", got, "staff")
	}
}

// TestSessionIdleTimeout: use slides the idle timeout; 1.5 s without use
// past a 1 s idle timeout ends the session, on both stores.
func TestSessionIdleTimeout(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"memory", "redis"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			addr := ""
			if store == "redis" {
				addr = authtest.StartRedis(t).Addr
			}
			const idle = time.Second
			in := startSessions(t, store, addr, idle)
			// A loaded machine can stretch a 0.5 s gap past the idle
			// timeout; then a 401 is right, and the round is tried again.
			// prev is when the previous use began: the session was touched
			// after it.
			var c *webClient
		rounds:
			for round := 1; ; round++ {
				c = newWebClient(t, in.URL)
				prev := time.Now()
				c.mustLogin("alice", sessAlicePassword, "/")
				for i := range 3 { // 1.5 s in all, more than the idle timeout
					time.Sleep(500 * time.Millisecond)
					start := time.Now()
					if got := c.status("/x"); got != http.StatusOK {
						if gap := time.Since(prev); gap >= idle && round < 3 {
							t.Logf("round %d: %v between uses (the machine stalled); trying again", round, gap)
							continue rounds
						}
						t.Fatalf("used every 0.5 s, request %d: status %d, want 200", i+1, got)
					}
					prev = start
				}
				break
			}
			time.Sleep(1500 * time.Millisecond)
			if got := c.status("/x"); got != http.StatusUnauthorized {
				t.Errorf("after 1.5 s idle: status %d, want 401", got)
			}
		})
	}
}

// TestSessionRedisOutage: with Redis down and on_error: deny, a login gets
// the 503 page and a session request a 503, and Gatehouse keeps running;
// when Redis is back (with its data, as a persistent Redis would be), the
// old session works again and so do new logins.
func TestSessionRedisOutage(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t, "--appendonly", "yes", "--appendfsync", "always")
	// Every write waits for an fsync (the session must survive the kill),
	// which on a busy disk can outlast 200 ms; a killed Redis refuses
	// connections at once, so the longer timeout does not slow the 503s.
	in := startSessionsTimeout(t, "redis", r.Addr, time.Minute, 3*time.Second)
	old := newWebClient(t, in.URL)
	old.mustLogin("alice", sessAlicePassword, "/")

	r.Stop()
	c := newWebClient(t, in.URL)
	resp, body := c.login("bob", sessBobPassword, "/")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "temporarily unavailable") ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Errorf("login with Redis down: status %d, Content-Type %q, want the 503 page; body %s",
			resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if c.cookie("gatehouse_session") != "" {
		t.Error("a failed login set a session cookie")
	}
	if got := old.status("/x"); got != http.StatusServiceUnavailable {
		t.Errorf("session request with Redis down: status %d, want 503", got)
	}
	if got := old.status("/public/x"); got != http.StatusOK {
		t.Errorf("auth: none route with Redis down: status %d, want 200", got)
	}
	if resp, _ := get(t, in.AdminURL+"/healthz"); resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz %d during the outage, want 200", resp.StatusCode)
	}

	r.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for old.status("/x") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the session did not come back within 5 s of Redis")
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.mustLogin("bob", sessBobPassword, "/")
	if e := c.upstreamSaw("/x"); echoHeader(e, "X-Auth-User") != "bob" {
		t.Errorf("login after the outage: X-Auth-User %q, want %q", echoHeader(e, "X-Auth-User"), "bob")
	}
	_, metrics := get(t, in.AdminURL+"/metrics")
	if !strings.Contains(metrics, `gatehouse_logins_total{result="error"} 1`) {
		t.Error(`/metrics lacks gatehouse_logins_total{result="error"} 1`)
	}
}
