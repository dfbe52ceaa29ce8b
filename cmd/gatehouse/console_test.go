package main

import (
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
)

// consoleTestConfig: the console for group admins, sessions and tokens,
// on the store {{store}}; {{networks}} is admin.console.networks.
const consoleTestConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}", token_file: "{{dir}}/admin.token", console: {groups: [admins], networks: {{networks}}}}
store: {type: {{store}}, redis: {addrs: ["{{redis}}"]}}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
routes:
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

const consolePassword = "console-e2e-password"

var (
	consoleUsersOnce sync.Once
	consoleUsersText string
)

// consoleUsers: alice is an admin, bob is not.
func consoleUsers() string {
	consoleUsersOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(consolePassword), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		consoleUsersText = "- username: alice\n  password_hash: \"" + string(h) + "\"\n  groups: [admins]\n" +
			"- username: bob\n  password_hash: \"" + string(h) + "\"\n  groups: [staff]\n"
	})
	return consoleUsersText
}

func startConsole(t *testing.T, store, redisAddr, key, networks string) *instance {
	t.Helper()
	if redisAddr == "" {
		redisAddr = "127.0.0.1:1"
	}
	cfg := strings.NewReplacer("{{store}}", store, "{{redis}}", redisAddr, "{{networks}}", networks).Replace(consoleTestConfig)
	in := startGatehouse(t, cfg, map[string]string{
		"users.yaml": consoleUsers(), "issuing.pem": key, "admin.token": admAdminToken + "\n",
	})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	return in
}

// consoleClient is a client with a cookie jar that does not follow redirects
// and sends a browser's Accept and User-Agent.
type consoleClient struct {
	t    *testing.T
	c    *http.Client
	base string
	ua   string
}

func newConsoleClient(t *testing.T, base, ua string) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: base, ua: ua, c: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *consoleClient) do(method, path string, form url.Values, headers ...string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	req.Header.Set("User-Agent", b.ua)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	// The jar only follows the base URL's host, which all replicas share
	// (127.0.0.1): sessions carry over between replicas as in one site.
	return resp, string(out)
}

func (b *consoleClient) login(user string) {
	b.t.Helper()
	_, page := b.do("GET", "/.gatehouse/login?rd=/", nil)
	m := admCSRFRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatal("no csrf_token on the login page")
	}
	resp, _ := b.do("POST", "/.gatehouse/login", url.Values{"username": {user}, "password": {consolePassword}, "csrf_token": {m[1]}, "rd": {"/"}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
}

var consoleCSRFRE = regexp.MustCompile(`name="csrf_token" value="([A-Za-z0-9_-]+)"`)

// page GETs a console page and returns its body and CSRF token.
func (b *consoleClient) page(path string, want int) (string, string) {
	b.t.Helper()
	resp, body := b.do("GET", path, nil)
	if resp.StatusCode != want {
		b.t.Fatalf("GET %s: %d, want %d: %.300s", path, resp.StatusCode, want, body)
	}
	m := consoleCSRFRE.FindStringSubmatch(body)
	if m == nil {
		return body, ""
	}
	return body, m[1]
}

func (b *consoleClient) post(path string, form url.Values, want int, headers ...string) (*http.Response, string) {
	b.t.Helper()
	resp, body := b.do("POST", path, form, headers...)
	if resp.StatusCode != want {
		b.t.Fatalf("POST %s: %d, want %d: %.300s", path, resp.StatusCode, want, body)
	}
	return resp, body
}

// TestConsoleTwoReplicas: bob signs in on B; alice, an admin, ends his
// session from A's console; his next request on B goes to the login page;
// the events show the action with alice as actor. Then revoke all tokens,
// a pasted token verified and revoked, a forged one invalid.
func TestConsoleTwoReplicas(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	key := signingKey(t, "ES256")
	a := startConsole(t, "redis", r.Addr, key, "[]")
	b := startConsole(t, "redis", r.Addr, key, "[]")

	bob := newConsoleClient(t, b.URL, "BobBrowser/1.0 (X11)")
	bob.login("bob")
	if resp, _ := bob.do("GET", "/app", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob on B: %d", resp.StatusCode)
	}
	admin := newConsoleClient(t, a.URL, "AdminBrowser/2.0")
	// Before signing in: the login page.
	if resp, _ := admin.do("GET", "/.gatehouse/admin/", nil); resp.StatusCode != http.StatusFound ||
		!strings.HasPrefix(resp.Header.Get("Location"), "/.gatehouse/login?rd=") {
		t.Fatalf("console without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	admin.login("alice")
	resp, overview := admin.do("GET", "/.gatehouse/admin/", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		!strings.Contains(overview, "sign-ins in the last hour") || strings.Contains(overview, "<script") {
		t.Fatalf("overview: %d %q %.500s", resp.StatusCode, resp.Header.Get("Content-Security-Policy"), overview)
	}
	// The count of active sessions is shared by the replicas: bob's on B,
	// alice's on A.
	if !strings.Contains(overview, `<div class="n">2</div><div class="l">active sessions</div>`) {
		t.Errorf("overview does not count 2 active sessions: %.1200s", overview)
	}
	search, _ := admin.page("/.gatehouse/admin/users?q=bo", 200)
	if !strings.Contains(search, `href="/.gatehouse/admin/users/bob"`) {
		t.Fatalf("search for bo: %.800s", search)
	}
	userPage, csrf := admin.page("/.gatehouse/admin/users/bob", 200)
	if !strings.Contains(userPage, "BobBrowser/1.0 (X11)") || !strings.Contains(userPage, "127.0.0.1") || csrf == "" {
		t.Fatalf("bob's page lacks his session: %.1500s", userPage)
	}
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(userPage)
	if id == nil {
		t.Fatal("no session id on bob's page")
	}
	// A POST without the CSRF token, and a cross-origin one, change nothing.
	admin.post("/.gatehouse/admin/users/bob/end-session", url.Values{"id": {id[1]}}, http.StatusForbidden)
	admin.post("/.gatehouse/admin/users/bob/end-session", url.Values{"id": {id[1]}, "csrf_token": {csrf}}, http.StatusForbidden,
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if resp, _ := bob.do("GET", "/app", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("bob's session ended by a refused POST: %d", resp.StatusCode)
	}
	resp, _ = admin.post("/.gatehouse/admin/users/bob/end-session", url.Values{"id": {id[1]}, "csrf_token": {csrf}}, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); loc != "/.gatehouse/admin/users/bob?done=session" {
		t.Errorf("after end-session: Location %q", loc)
	}
	waitSignedOut(t, bob, "bob on B after his session was ended")
	// Double submit: harmless.
	admin.post("/.gatehouse/admin/users/bob/end-session", url.Values{"id": {id[1]}, "csrf_token": {csrf}}, http.StatusOK)
	if overview, _ := admin.page("/.gatehouse/admin/", 200); !strings.Contains(overview, `<div class="n">1</div><div class="l">active sessions</div>`) {
		t.Errorf("overview after bob's session was ended does not count 1 active session: %.1200s", overview)
	}
	events, _ := admin.page("/.gatehouse/admin/events?kind=admin_action", 200)
	if !strings.Contains(events, "ended session") || !strings.Contains(events, "<td class=\"wrap\">alice</td>") {
		t.Fatalf("events lack the admin action by alice: %.2000s", events)
	}

	// End all: a confirmation step first.
	bob.login("bob")
	_, body := admin.post("/.gatehouse/admin/users/bob/end-all", url.Values{"csrf_token": {csrf}}, http.StatusOK)
	if !strings.Contains(body, `name="confirm" value="yes"`) {
		t.Fatalf("end-all without confirm: %.800s", body)
	}
	if resp, _ := bob.do("GET", "/app", nil); resp.StatusCode != http.StatusOK {
		t.Fatal("end-all acted before its confirmation")
	}
	admin.post("/.gatehouse/admin/users/bob/end-all", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, http.StatusSeeOther)
	// B learns of the deletion by pub/sub: at once, but not synchronously.
	waitSignedOut(t, bob, "bob on B after end-all")

	// Revoke all tokens: bob's Bearer token refused on both replicas.
	status, grant := postForm(t, b.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"bob"}, "password": {consolePassword}})
	access, _ := grantTokens(t, status, grant)
	for _, in := range []*instance{a, b} {
		if s, _ := callAPI(t, in, "/api/x", access); s != http.StatusOK {
			t.Fatalf("bob's token before revocation: %d", s)
		}
	}
	time.Sleep(1100 * time.Millisecond) // subject revocation has 1 s resolution: the token's iat must be before it
	admin.post("/.gatehouse/admin/users/bob/revoke-all", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}}, http.StatusSeeOther)
	for _, in := range []*instance{a, b} {
		waitAPI(t, in, access, http.StatusUnauthorized)
	}

	// Tokens: a fresh token verified, revoked; a forged one invalid.
	time.Sleep(1100 * time.Millisecond)
	status, grant = postForm(t, b.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"bob"}, "password": {consolePassword}})
	access, _ = grantTokens(t, status, grant)
	_, csrf = admin.page("/.gatehouse/admin/tokens", 200)
	_, body = admin.post("/.gatehouse/admin/tokens", url.Values{"csrf_token": {csrf}, "token": {access}}, http.StatusOK)
	if !strings.Contains(body, "Verified") || !strings.Contains(body, "<dt>sub</dt><dd><code>bob</code></dd>") {
		t.Fatalf("token page: %.2000s", body)
	}
	if strings.Contains(body, access) {
		t.Error("the token page echoes the token")
	}
	m := regexp.MustCompile(`name="jti" value="([^"]+)"><input type="hidden" name="exp" value="(\d+)"><input type="hidden" name="sub" value="bob"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no revoke form: %.2000s", body)
	}
	admin.post("/.gatehouse/admin/tokens/revoke", url.Values{"csrf_token": {csrf}, "jti": {m[1]}, "exp": {m[2]}, "sub": {"bob"}}, http.StatusSeeOther)
	for _, in := range []*instance{a, b} {
		waitAPI(t, in, access, http.StatusUnauthorized)
	}
	forged := access[:len(access)-4] + "AAAA"
	_, body = admin.post("/.gatehouse/admin/tokens", url.Values{"csrf_token": {csrf}, "token": {forged}}, http.StatusOK)
	if !strings.Contains(body, "Invalid") || strings.Contains(body, "Verified") {
		t.Errorf("forged token: %.1500s", body)
	}
	for _, garbage := range []string{"garbage", strings.Repeat("x", 70<<10)} {
		resp, body := admin.do("POST", "/.gatehouse/admin/tokens", url.Values{"csrf_token": {csrf}, "token": {garbage}})
		if resp.StatusCode != 200 || !strings.Contains(body, "Invalid") && !strings.Contains(body, "longer than") {
			t.Errorf("token %.20q…: %d %.500s", garbage, resp.StatusCode, body)
		}
	}
	resp, _ = admin.do("POST", "/.gatehouse/admin/tokens", url.Values{"csrf_token": {csrf}, "token": {strings.Repeat("x", 1<<20)}})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("1 MB token: %d, want 400", resp.StatusCode)
	}

	// Events: all admin actions by alice, through the admin API too.
	evs := auditEvents(t, b, "?kind=admin_action")
	if len(evs) != 4 {
		t.Errorf("admin_action events: %d, want 4 (end session, end all, revoke all, revoke token): %+v", len(evs), evs)
	}
	for _, e := range evs {
		if e.Actor != "alice" || e.User != "bob" {
			t.Errorf("admin action %+v", e)
		}
	}
}

// waitAPI polls /api/x with the token until it answers want (1 s).
func waitAPI(t *testing.T, in *instance, access string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		s, _ := callAPI(t, in, "/api/x", access)
		if s == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/api/x: %d, want %d within 1 s", in.URL, s, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsoleRefusals: off without groups (404); a non-admin gets the
// 403 page; outside networks 403; hostile usernames are escaped; a POST
// whose session ended goes to the login page; a demoted admin is refused.
func TestConsoleRefusals(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "ES256")
	off := startAudit(t, "memory", "127.0.0.1:1", key)
	if resp, _ := newConsoleClient(t, off.URL, "x").do("GET", "/.gatehouse/admin/", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("console without groups: %d, want 404", resp.StatusCode)
	}
	far := startConsole(t, "memory", "", key, `["10.0.0.0/8"]`)
	alice := newConsoleClient(t, far.URL, "x")
	alice.login("alice")
	if resp, body := alice.do("GET", "/.gatehouse/admin/", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "network") {
		t.Errorf("client outside networks: %d %.300s", resp.StatusCode, body)
	}

	in := startConsole(t, "memory", "", key, `["127.0.0.0/8", "::1/128"]`)
	bob := newConsoleClient(t, in.URL, "x")
	bob.login("bob")
	if resp, body := bob.do("GET", "/.gatehouse/admin/", nil); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "not in a group") {
		t.Errorf("non-admin: %d %.300s", resp.StatusCode, body)
	}
	if resp, _ := bob.do("POST", "/.gatehouse/admin/users/alice/end-all", url.Values{"confirm": {"yes"}}); resp.StatusCode != http.StatusForbidden {
		t.Errorf("non-admin POST: %d", resp.StatusCode)
	}
	admin := newConsoleClient(t, in.URL, "x")
	admin.login("alice")
	_, csrf := admin.page("/.gatehouse/admin/users", 200)
	for _, name := range []string{"<script>alert(1)</script>", "<b>x", "*", "%", "a\r\nb", strings.Repeat("u", 1024)} {
		body, _ := admin.page("/.gatehouse/admin/users?q="+url.QueryEscape(name), 200)
		if strings.Contains(body, "<script>alert") {
			t.Errorf("search %.20q: not escaped", name)
		}
		want := 200
		if strings.Contains(name, "/") {
			want = 400 // an encoded slash is refused before routing (README "Path matching")
		}
		body, _ = admin.page("/.gatehouse/admin/users/"+url.PathEscape(name), want)
		if strings.Contains(body, "<script>alert") || want == 200 && !strings.Contains(body, "No live sessions") {
			t.Errorf("user page %.20q: %.300s", name, body)
		}
		admin.page("/.gatehouse/admin/events?user="+url.QueryEscape(name), 200)
	}
	admin.page("/.gatehouse/admin/users/"+strings.Repeat("u", 1025), 400)
	admin.page("/.gatehouse/admin/users?q="+strings.Repeat("u", 1025), 400)
	admin.page("/.gatehouse/admin/events?kind=nope", 400)

	// An admin demoted in the users file while the console is open: the
	// next action is refused.
	demoted := newConsoleClient(t, in.URL, "x")
	demoted.login("alice")
	_, dcsrf := demoted.page("/.gatehouse/admin/users/bob", 200)
	writeFiles(t, in.Dir, map[string]string{"users.yaml": strings.Replace(consoleUsers(), "groups: [admins]", "groups: [staff]", 1)})
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, _ := demoted.do("POST", "/.gatehouse/admin/users/bob/end-all", url.Values{"csrf_token": {dcsrf}, "confirm": {"yes"}})
		if resp.StatusCode == http.StatusForbidden {
			break
		}
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther || time.Now().After(deadline) {
			t.Fatalf("demoted admin's action: %d", resp.StatusCode)
		}
		time.Sleep(50 * time.Millisecond)
	}
	writeFiles(t, in.Dir, map[string]string{"users.yaml": consoleUsers()})
	bob.login("bob") // the demoted admin's first tries may have ended his sessions

	// The session ends between page load and POST: the login page.
	adminOK(t, in, "DELETE", "/admin/sessions?user=alice", "", `{"deleted":2}`) // both alice clients
	resp, _ := admin.do("POST", "/.gatehouse/admin/users/bob/end-all", url.Values{"csrf_token": {csrf}, "confirm": {"yes"}})
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/.gatehouse/login") {
		t.Errorf("POST after the session ended: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := bob.do("GET", "/app", nil); resp.StatusCode != http.StatusOK {
		t.Error("the refused POST ended bob's sessions")
	}

	// bob signs out: a logout event.
	_, page := bob.do("GET", "/.gatehouse/logout", nil)
	m := consoleCSRFRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no csrf_token on the logout page")
	}
	if resp, _ := bob.do("POST", "/.gatehouse/logout", url.Values{"csrf_token": {m[1]}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", resp.StatusCode)
	}
	if evs := auditEvents(t, in, "?kind=logout"); len(evs) != 1 || evs[0].User != "bob" {
		t.Errorf("logout events: %+v", evs)
	}
}

// waitSignedOut polls c's /app for at most 1 s until it is sent to the
// login page: a replica learns of a session deletion made on another by
// pub/sub, which is fast but not synchronous.
func waitSignedOut(t *testing.T, c *consoleClient, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		resp, _ := c.do("GET", "/app", nil)
		if resp.StatusCode == http.StatusFound && strings.HasPrefix(resp.Header.Get("Location"), "/.gatehouse/login") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s, 1 s later: %d", what, resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
