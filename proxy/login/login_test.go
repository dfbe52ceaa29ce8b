package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
)

func TestLoginPage(t *testing.T) {
	e := newEnv(t, nil)
	res := e.do(t, request{method: "GET", path: LoginPath + "?rd=" + url.QueryEscape("/app/x?y=1")})
	if res.StatusCode != 200 {
		t.Fatalf("status = %d, want 200", res.StatusCode)
	}
	for _, want := range []string{
		"<title>Acme sign-in</title>", `<label for="username">`, `id="username" name="username"`,
		`<label for="password">`, `type="password" id="password" name="password"`,
		`name="rd" value="/app/x?y=1"`, `name="csrf_token" value="`, `action="/.gatehouse/login"`,
	} {
		if !strings.Contains(res.body, want) {
			t.Errorf("login page lacks %q", want)
		}
	}
	if strings.Contains(res.body, "<script") || strings.Contains(res.body, "http") {
		t.Error("login page has a script or an external reference")
	}
	checkSecurityHeaders(t, res)
	c := cookieNamed(res.Response, CSRFCookieName)
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
		t.Errorf("CSRF cookie = %+v, want HttpOnly SameSite=Strict Path=/", c)
	}
	evil := e.do(t, request{method: "GET", path: LoginPath + "?rd=" + url.QueryEscape("//evil.com")})
	if !strings.Contains(evil.body, `name="rd" value="/"`) {
		t.Error(`rd=//evil.com not rendered as "/"`)
	}
}

func checkSecurityHeaders(t *testing.T, res response) {
	t.Helper()
	h := res.Header
	csp := h.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") ||
		!strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("Content-Security-Policy = %q, want default-src 'none' and no scripts", csp)
	}
	for k, v := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if h.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, h.Get(k), v)
		}
	}
}

func TestLoginSuccess(t *testing.T) {
	e := newEnv(t, nil)
	res := e.login(t, "alice", alicePassword, "/app?x=1")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/app?x=1" {
		t.Fatalf("login = %d Location %q, want 303 /app?x=1", res.StatusCode, res.Header.Get("Location"))
	}
	checkSecurityHeaders(t, res)
	c := cookieNamed(res.Response, session.DefaultCookieName)
	if c == nil {
		t.Fatal("no session cookie")
	}
	id, err := e.whoami(c)
	if err != nil || id.User != "alice" || id.Email != "alice@example.com" {
		t.Fatalf("session = %+v, %v; want alice", id, err)
	}
	if got := testutil.ToFloat64(e.metrics.Logins.WithLabelValues("success")); got != 1 {
		t.Errorf("logins_total{result=success} = %v, want 1", got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, `"msg":"login succeeded"`) || !strings.Contains(logs, `"user":"alice"`) ||
		!strings.Contains(logs, `"client_ip":"192.0.2.7"`) {
		t.Errorf("audit log lacks the login line: %s", logs)
	}
	if strings.Contains(logs, alicePassword) || strings.Contains(logs, c.Value) {
		t.Errorf("log contains the password or the session ID: %s", logs)
	}
}

func TestLoginCSRF(t *testing.T) {
	e := newEnv(t, nil)
	c, tok := e.csrf(t)
	other, _ := e.csrf(t)
	base := func() url.Values {
		return url.Values{"username": {"alice"}, "password": {alicePassword}, "rd": {"/"}}
	}
	withTok := func(v string) url.Values { f := base(); f.Set("csrf_token", v); return f }
	tests := []struct {
		name    string
		form    url.Values
		cookies []*http.Cookie
	}{
		{"no token", base(), []*http.Cookie{c}},
		{"wrong token", withTok(other.Value), []*http.Cookie{c}},
		{"empty token", withTok(""), []*http.Cookie{c}},
		{"no cookie", withTok(tok), nil},
	}
	for _, tt := range tests {
		res := e.do(t, request{method: "POST", path: LoginPath, form: tt.form, cookies: tt.cookies})
		if res.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status = %d, want 403", tt.name, res.StatusCode)
		}
		if cookieNamed(res.Response, session.DefaultCookieName) != nil {
			t.Errorf("%s: a session cookie was set", tt.name)
		}
	}
	if got := testutil.ToFloat64(e.metrics.Logins.WithLabelValues("success")); got != 0 {
		t.Errorf("logins_total{result=success} = %v, want 0", got)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	e := newEnv(t, nil)
	for _, hdr := range []map[string]string{
		{"Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "cross-site"},
	} {
		for _, path := range []string{LoginPath, LogoutPath} {
			c, tok := e.csrf(t)
			form := url.Values{"username": {"alice"}, "password": {alicePassword}, "csrf_token": {tok}}
			res := e.do(t, request{method: "POST", path: path, form: form, cookies: []*http.Cookie{c}, header: hdr})
			if res.StatusCode != http.StatusForbidden || cookieNamed(res.Response, session.DefaultCookieName) != nil {
				t.Errorf("POST %s with %v = %d, want 403 and no cookie", path, hdr, res.StatusCode)
			}
		}
	}
	c, tok := e.csrf(t)
	form := url.Values{"username": {"alice"}, "password": {alicePassword}, "csrf_token": {tok}}
	res := e.do(t, request{method: "POST", path: LoginPath, form: form, cookies: []*http.Cookie{c},
		header: map[string]string{"Origin": "http://" + testHost, "Sec-Fetch-Site": "same-origin"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin POST = %d, want 303", res.StatusCode)
	}
}

func TestLoginRedirectIsLocal(t *testing.T) {
	e := newEnv(t, nil)
	for _, rd := range []string{"//evil.com", "/\\evil.com", "https://evil.com", "%2F%2Fevil.com",
		"javascript:alert(1)", "/%0d%0aSet-Cookie:x"} {
		res := e.login(t, "alice", alicePassword, rd)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Errorf("login with rd=%q = %d Location %q, want 303 /", rd, res.StatusCode, res.Header.Get("Location"))
		}
	}
}

func TestBadCredentialsLookTheSame(t *testing.T) {
	e := newEnv(t, nil)
	c, tok := e.csrf(t)
	post := func(user, pw string) response {
		form := url.Values{"username": {user}, "password": {pw}, "rd": {"/x"}, "csrf_token": {tok}}
		return e.do(t, request{method: "POST", path: LoginPath, form: form, cookies: []*http.Cookie{c}})
	}
	wrong, unknown := post("alice", "wrong password"), post("mallory", "wrong password")
	if wrong.StatusCode != 401 || unknown.StatusCode != 401 {
		t.Fatalf("statuses = %d, %d; want 401, 401", wrong.StatusCode, unknown.StatusCode)
	}
	// The username is kept in the field; apart from it the answers are the same.
	if wrong.body != strings.ReplaceAll(unknown.body, `value="mallory"`, `value="alice"`) {
		t.Errorf("bodies differ:\nwrong password: %s\nunknown user: %s", wrong.body, unknown.body)
	}
	if !strings.Contains(wrong.body, msgBadCredentials) || !strings.Contains(wrong.body, `name="rd" value="/x"`) {
		t.Errorf("401 body lacks the message or the form: %s", wrong.body)
	}
	if got := testutil.ToFloat64(e.metrics.Logins.WithLabelValues("failure")); got != 2 {
		t.Errorf("logins_total{result=failure} = %v, want 2", got)
	}
	if strings.Contains(e.logs.String(), "wrong password") {
		t.Error("log contains a password")
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, nil)
	for i := 1; i <= 5; i++ {
		if res := e.login(t, "alice", "wrong", "/"); res.StatusCode != 401 {
			t.Fatalf("wrong password %d: status %d, want 401", i, res.StatusCode)
		}
		e.clock.Add(time.Second)
	}
	for _, pw := range []string{"wrong", alicePassword} {
		res := e.login(t, "alice", pw, "/")
		ra, err := strconv.Atoi(res.Header.Get("Retry-After"))
		if res.StatusCode != http.StatusTooManyRequests || err != nil || ra < 1 || ra > 12 {
			t.Fatalf("attempt 6 (%s) = %d Retry-After %q, want 429 with 1..12", pw[:1], res.StatusCode, res.Header.Get("Retry-After"))
		}
		if !strings.Contains(res.body, `name="username"`) {
			t.Error("429 answer lacks the form")
		}
	}
	if got := testutil.ToFloat64(e.metrics.Logins.WithLabelValues("rate_limited")); got != 2 {
		t.Errorf("logins_total{result=rate_limited} = %v, want 2", got)
	}
	e.clock.Add(12 * time.Second)
	if res := e.login(t, "alice", alicePassword, "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("right password after the window = %d, want 303", res.StatusCode)
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t, nil)
	sc := cookieNamed(e.login(t, "alice", alicePassword, "/").Response, session.DefaultCookieName)
	page := e.do(t, request{method: "GET", path: LogoutPath, cookies: []*http.Cookie{sc}})
	if page.StatusCode != 200 || !strings.Contains(page.body, `action="/.gatehouse/logout"`) {
		t.Fatalf("GET logout = %d, want 200 with a logout form", page.StatusCode)
	}
	if _, err := e.whoami(sc); err != nil {
		t.Fatalf("GET logout ended the session: %v", err)
	}
	csrfC, tok := e.csrf(t)
	noTok := e.do(t, request{method: "POST", path: LogoutPath, form: url.Values{}, cookies: []*http.Cookie{sc, csrfC}})
	if noTok.StatusCode != http.StatusForbidden {
		t.Errorf("POST logout without csrf_token = %d, want 403", noTok.StatusCode)
	}
	if _, err := e.whoami(sc); err != nil {
		t.Fatalf("refused logout ended the session: %v", err)
	}
	res := e.do(t, request{method: "POST", path: LogoutPath, form: url.Values{"csrf_token": {tok}}, cookies: []*http.Cookie{sc, csrfC}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != LoginPath+"?signed_out=1" {
		t.Fatalf("POST logout = %d Location %q, want 303 %s?signed_out=1", res.StatusCode, res.Header.Get("Location"), LoginPath)
	}
	if c := cookieNamed(res.Response, session.DefaultCookieName); c == nil || c.MaxAge >= 0 {
		t.Errorf("logout did not expire the cookie: %+v", c)
	}
	if _, err := e.whoami(sc); !errors.Is(err, auth.ErrInvalid) {
		t.Errorf("old cookie after logout: err = %v, want ErrInvalid", err)
	}
	if !strings.Contains(e.logs.String(), `"event":"logout"`) {
		t.Error("no audit line for logout")
	}
}

func TestUserinfo(t *testing.T) {
	e := newEnv(t, nil)
	sc := cookieNamed(e.login(t, "alice", alicePassword, "/").Response, session.DefaultCookieName)
	res := e.do(t, request{method: "GET", path: UserinfoPath, cookies: []*http.Cookie{sc}})
	var got map[string]any
	if err := json.Unmarshal([]byte(res.body), &got); err != nil || res.StatusCode != 200 {
		t.Fatalf("userinfo = %d %s (%v)", res.StatusCode, res.body, err)
	}
	want := map[string]any{"user": "alice", "email": "alice@example.com", "groups": []any{"staff", "ops"},
		"method": "session", "expires_at": float64(e.clock.Now().Add(session.DefaultIdle).Unix())}
	for k, v := range want {
		if gb, _ := json.Marshal(got[k]); string(gb) != mustJSON(v) {
			t.Errorf("userinfo %s = %s, want %s", k, gb, mustJSON(v))
		}
	}
	anon := e.do(t, request{method: "GET", path: UserinfoPath})
	if anon.StatusCode != 401 || !strings.Contains(anon.body, `"error":"unauthenticated"`) {
		t.Errorf("userinfo without identity = %d %s, want 401 JSON", anon.StatusCode, anon.body)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestOtherPaths(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		method, path string
		status       int
	}{
		{"GET", "/.gatehouse/nope", 404},
		{"GET", "/.gatehouse/", 404},
		{"GET", "/.gatehouse/login/x", 404},
		{"DELETE", LoginPath, 405},
		{"POST", UserinfoPath, 405},
	}
	for _, tt := range tests {
		res := e.do(t, request{method: tt.method, path: tt.path})
		if res.StatusCode != tt.status || res.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s = %d %s, want %d JSON", tt.method, tt.path, res.StatusCode, res.Header.Get("Content-Type"), tt.status)
		}
		checkSecurityHeaders(t, res)
	}
}

// TestRefusalsAreJSON pins the answers httpx.Mux gives for what no pattern
// matches: ServeMux's Allow header, the JSON body with all three members.
func TestRefusalsAreJSON(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		method, path string
		status       int
		allow, code  string
	}{
		{"PUT", LoginPath, 405, "GET, HEAD, POST", "method_not_allowed"},
		{"DELETE", LogoutPath, 405, "GET, HEAD, POST", "method_not_allowed"},
		{"POST", UserinfoPath, 405, "GET, HEAD", "method_not_allowed"},
		{"GET", "/.gatehouse/nope", 404, "", "not_found"},
		{"POST", "/.gatehouse/login/", 404, "", "not_found"},
	}
	for _, tt := range tests {
		res := e.do(t, request{method: tt.method, path: tt.path})
		var body map[string]string
		if err := json.Unmarshal([]byte(res.body), &body); err != nil {
			t.Errorf("%s %s: body %q: %v", tt.method, tt.path, res.body, err)
			continue
		}
		if res.StatusCode != tt.status || res.Header.Get("Allow") != tt.allow || body["error"] != tt.code ||
			body["error_description"] == "" || body["request_id"] == "" {
			t.Errorf("%s %s = %d Allow %q %v, want %d Allow %q error %q with a description and request_id",
				tt.method, tt.path, res.StatusCode, res.Header.Get("Allow"), body, tt.status, tt.allow, tt.code)
		}
	}
	// HEAD is served wherever GET is.
	if res := e.do(t, request{method: "HEAD", path: LoginPath}); res.StatusCode != 200 {
		t.Errorf("HEAD %s = %d, want 200", LoginPath, res.StatusCode)
	}
}

func TestNewRefusesMissingParts(t *testing.T) {
	ms := memstore.New(nil)
	t.Cleanup(func() { ms.Close() })
	m := mustSessions(t, session.Options{Store: ms})
	for name, o := range map[string]Options{"no sessions": {Users: &users.Directory{}}, "no users": {Sessions: m}} {
		if h, err := New(o); err == nil || h != nil {
			t.Errorf("%s: New = %v, %v; want nil and an error", name, h, err)
		}
	}
}

func TestStoreErrorDuringLogin(t *testing.T) {
	r := authtest.StartRedis(t)
	st, err := redisstore.New(redisstore.Options{Addrs: []string{r.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := newEnv(t, st)
	ok := e.login(t, "alice", alicePassword, "/")
	sc := cookieNamed(ok.Response, session.DefaultCookieName)
	if ok.StatusCode != http.StatusSeeOther || sc == nil {
		t.Fatalf("login with Redis up = %d, want 303 with a cookie", ok.StatusCode)
	}
	if id, err := e.whoami(sc); err != nil || id.User != "alice" {
		t.Fatalf("session in Redis = %v, %v", id, err)
	}
	r.Stop()
	// The store answers from its 500 ms cache only while its pub/sub
	// subscription is healthy; this test is about what happens once it is
	// not, so wait until the store has seen the connection close.
	waitFor(t, "the store's subscription seen down", func() bool { return !st.SubscriptionUp() })
	res := e.login(t, "alice", alicePassword, "/")
	if res.StatusCode != http.StatusServiceUnavailable || cookieNamed(res.Response, session.DefaultCookieName) != nil {
		t.Errorf("login with Redis down = %d, want 503 and no session cookie", res.StatusCode)
	}
	if !strings.Contains(res.body, msgUnavailable) {
		t.Errorf("503 page lacks its message: %s", res.body)
	}
	if got := testutil.ToFloat64(e.metrics.Logins.WithLabelValues("error")); got != 1 {
		t.Errorf("logins_total{result=error} = %v, want 1", got)
	}
	if _, err := e.whoami(sc); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("Authenticate with Redis down: err = %v, want ErrUnavailable", err)
	}
	info := e.do(t, request{method: "GET", path: UserinfoPath, cookies: []*http.Cookie{sc}})
	if info.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("userinfo with Redis down = %d, want 503", info.StatusCode)
	}
}

func TestUsersReloadKeepsSessions(t *testing.T) {
	e := newEnv(t, nil)
	file := writeUsers(t, e.usersDir, alicePassword)
	w, err := users.NewWatcher(file, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	e.h = mustNew(t, Options{Sessions: e.sessions, Users: w, Limiter: e.limiter})

	sc := cookieNamed(e.login(t, "alice", alicePassword, "/").Response, session.DefaultCookieName)
	writeUsers(t, e.usersDir, "a new password")
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, ok := w.CheckPassword("alice", "a new password"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("users file change not applied within 5s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if id, err := e.whoami(sc); err != nil || id.User != "alice" {
		t.Errorf("session after users reload = %v, %v; want alice", id, err)
	}
	if res := e.login(t, "alice", "a new password", "/"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("new password = %d, want 303", res.StatusCode)
	}
	if res := e.login(t, "alice", alicePassword, "/"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("old password = %d, want 401", res.StatusCode)
	}
}
