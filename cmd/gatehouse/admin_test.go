package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// adminTestConfig has JWT, session and a slow session route, and the admin
// API enabled. {{store}}, {{redis}}, {{slow}} and {{token_file}} are filled
// in by admFixture.start.
const adminTestConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}", token_file: "{{token_file}}"}
store:
  type: {{store}}
  on_error: deny
  timeout: 200ms
  redis: {addrs: ["{{redis}}"]}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issuers:
    - issuer: "https://idp.test"
      audiences: [my-api]
      algorithms: [ES256]
      public_key_files: ["{{dir}}/idp.pub.pem"]
      claims: {user: preferred_username}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: slow, match: {path_prefix: "/slow/"}, auth: session, upstream: "{{slow}}"}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

const (
	admAdminToken    = "e2e-admin-token-7f3a9c1d2b4e6f80"
	admAlicePassword = "alice-admin-e2e-password"
)

var (
	admUsersOnce sync.Once
	admUsers     string
)

// admUsersYAML is a users file with alice; bcrypt.MinCost keeps it fast.
func admUsersYAML() string {
	admUsersOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte(admAlicePassword), bcrypt.MinCost)
		if err != nil {
			panic(err)
		}
		admUsers = "- username: alice\n  password_hash: \"" + string(h) + "\"\n  email: alice@example.com\n"
	})
	return admUsers
}

// admFixture is what several replicas share: the IdP key, the users file
// and the admin token.
type admFixture struct {
	idp    idp
	pubPEM string
}

func newAdmFixture(t *testing.T) *admFixture {
	key, _, pub := ecKeyPEM(t)
	return &admFixture{idp: idp{key}, pubPEM: pub}
}

// start runs one Gatehouse with adminTestConfig. store is "memory" or
// "redis" (at redisAddr); slow is the /slow/ route's upstream ("" → the
// echo upstream); withToken false leaves the admin API disabled.
func (f *admFixture) start(t *testing.T, store, redisAddr, slow string, withToken bool) *instance {
	t.Helper()
	if redisAddr == "" {
		redisAddr = "127.0.0.1:1"
	}
	if slow == "" {
		slow = "{{upstream}}"
	}
	tokenFile := ""
	if withToken {
		tokenFile = "{{dir}}/admin.token"
	}
	cfg := strings.NewReplacer("{{store}}", store, "{{redis}}", redisAddr, "{{slow}}", slow, "{{token_file}}", tokenFile).Replace(adminTestConfig)
	in := startGatehouse(t, cfg, map[string]string{
		"users.yaml": admUsersYAML(), "idp.pub.pem": f.pubPEM, "admin.token": admAdminToken + "\n",
	})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	return in
}

// adminDo calls the admin API of in with authorization authz ("" for none)
// and returns the status and body.
func adminDo(t *testing.T, in *instance, authz, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, in.AdminURL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

// adminOK calls the admin API of in with the right token and fails the test
// unless the answer is 200 with want as its body.
func adminOK(t *testing.T, in *instance, method, path, body, want string) {
	t.Helper()
	status, got := adminDo(t, in, "Bearer "+admAdminToken, method, path, body)
	if status != http.StatusOK || got != want {
		t.Fatalf("%s %s: got %d %s, want 200 %s", method, path, status, got, want)
	}
}

var admCSRFRE = regexp.MustCompile(`name="csrf_token" value="([A-Za-z0-9_-]+)"`)

// browserLogin logs alice in through the login form of base, as a browser
// with a cookie jar would, and returns the session cookie's value.
func browserLogin(t *testing.T, base string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", base+"/.gatehouse/login?rd=/", nil)
	req.Header.Set("Accept", "text/html")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := admCSRFRE.FindSubmatch(page)
	if m == nil {
		t.Fatalf("GET /.gatehouse/login: %d, no csrf_token", resp.StatusCode)
	}
	form := url.Values{"username": {"alice"}, "password": {admAlicePassword}, "csrf_token": {string(m[1])}, "rd": {"/"}}
	resp, err = c.PostForm(base+"/.gatehouse/login", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, ck := range resp.Cookies() {
		if ck.Name == "gatehouse_session" && ck.Value != "" {
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: status %d, want 303", resp.StatusCode)
			}
			return ck.Value
		}
	}
	t.Fatalf("login: status %d, no session cookie", resp.StatusCode)
	return ""
}

// sessionHeader is the Cookie header that presents a session.
func sessionHeader(cookie string) string { return "Cookie: gatehouse_session=" + cookie }

func TestAdminAPIDisabledWithoutToken(t *testing.T) {
	t.Parallel()
	in := newAdmFixture(t).start(t, "memory", "", "", false)
	status, body := adminDo(t, in, "Bearer "+admAdminToken, "POST", "/admin/revoke", `{"subject": "alice"}`)
	if status != http.StatusNotFound {
		t.Errorf("admin API without admin.token_file: got %d %s, want 404", status, body)
	}
}

func TestAdminAPIRefusesBadTokens(t *testing.T) {
	t.Parallel()
	in := newAdmFixture(t).start(t, "memory", "", "", true)
	const wrong = "wrong-admin-token-0123456789abcdef"
	cases := []struct{ name, authz, path string }{
		{"no token", "", "/admin/sessions?user=alice"},
		{"wrong token", "Bearer " + wrong, "/admin/sessions?user=alice"},
		{"token in query", "", "/admin/sessions?user=alice&token=" + admAdminToken},
		{"access_token in query", "", "/admin/sessions?user=alice&access_token=" + admAdminToken},
		{"query and header", "Bearer " + admAdminToken, "/admin/sessions?user=alice&access_token=" + admAdminToken},
	}
	for _, c := range cases {
		if status, body := adminDo(t, in, c.authz, "GET", c.path, ""); status != http.StatusUnauthorized {
			t.Errorf("%s: got %d %s, want 401", c.name, status, body)
		}
	}
	adminOK(t, in, "GET", "/admin/sessions?user=alice", "", `{"sessions":[]}`)
	logs := in.stdout.String()
	for _, secret := range []string{admAdminToken, wrong} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the token %q", secret)
		}
	}
	if n := strings.Count(logs, `"action":"unauthorized"`); n != len(cases) {
		t.Errorf("got %d unauthorized audit lines, want %d", n, len(cases))
	}
	if !strings.Contains(logs, `"action":"list_sessions"`) || !strings.Contains(logs, `"client_ip":"127.0.0.1"`) {
		t.Errorf("no list_sessions audit line with the client IP:\n%s", logs)
	}
}

// runCLI runs `gatehouse args...` and returns its stdout, failing the test
// on an error unless wantErr.
func runCLI(t *testing.T, wantErr bool, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, nil, &out, &errb)
	if (err != nil) != wantErr {
		t.Fatalf("gatehouse %s: error %v, want error %v; stderr %s", strings.Join(args, " "), err, wantErr, errb.String())
	}
	if err != nil {
		return err.Error() + errb.String()
	}
	return out.String()
}

func TestAdminCLI(t *testing.T) {
	t.Parallel()
	f := newAdmFixture(t)
	in := f.start(t, "memory", "", "", true)
	tokenFile := in.Dir + "/admin.token"
	tok := f.idp.token(t, "bob", time.Now(), map[string]any{"jti": "cli-jti"})
	waitStatus(t, time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+tok)

	exp := strconv.FormatInt(time.Now().Add(5*time.Minute).Unix(), 10)
	if out := runCLI(t, false, "revoke", "-admin", in.AdminURL, "-token-file", tokenFile, "-jti", "cli-jti", "-exp", exp); out != "revoked jti\n" {
		t.Errorf("revoke -jti: got %q, want %q", out, "revoked jti\n")
	}
	if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+tok); resp.StatusCode != 401 {
		t.Errorf("revoked token: got %d, want 401", resp.StatusCode)
	}
	if out := runCLI(t, false, "revoke", "-admin", in.AdminURL, "-token-file", tokenFile, "-subject", "carol"); out != "revoked subject\n" {
		t.Errorf("revoke -subject: got %q", out)
	}

	cookie := browserLogin(t, in.URL)
	out := runCLI(t, false, "sessions", "-admin", in.AdminURL, "-token-file", tokenFile, "-user", "alice")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 3 || !strings.Contains(lines[1], "127.0.0.1") || lines[2] != "1 session of alice" {
		t.Errorf("sessions: got %q, want a header, one session from 127.0.0.1 and \"1 session of alice\"", out)
	}
	if strings.Contains(out, cookie) {
		t.Error("sessions shows the session cookie")
	}
	if out := runCLI(t, false, "sessions", "-admin", in.AdminURL, "-token-file", tokenFile, "-user", "alice", "-delete"); out != "deleted 1 session of alice\n" {
		t.Errorf("sessions -delete: got %q", out)
	}
	if resp, _ := get(t, in.URL+"/x", sessionHeader(cookie)); resp.StatusCode != 401 {
		t.Errorf("cookie after forced logout: got %d, want 401", resp.StatusCode)
	}
	if out := runCLI(t, false, "sessions", "-admin", in.AdminURL, "-token-file", tokenFile, "-user", "alice", "-delete"); out != "deleted 0 sessions of alice\n" {
		t.Errorf("sessions -delete with none left: got %q", out)
	}

	writeFiles(t, in.Dir, map[string]string{"wrong.token": "not-the-admin-token-at-all"})
	if msg := runCLI(t, true, "sessions", "-admin", in.AdminURL, "-token-file", in.Dir+"/wrong.token", "-user", "alice"); !strings.Contains(msg, "401") || strings.Contains(msg, "not-the-admin") {
		t.Errorf("wrong token: got %q, want a 401 error without the token", msg)
	}
	if msg := runCLI(t, true, "revoke", "-admin", in.AdminURL, "-token-file", tokenFile, "-jti", "x", "-exp", "1"); !strings.Contains(msg, "400") || !strings.Contains(msg, "past") {
		t.Errorf("revoke with exp in the past: got %q, want the 400 and its reason", msg)
	}
}

// TestAdminJTIIsData revokes jtis that look like patterns or carry
// newlines, or are 10 KB long, from real tokens: each revokes exactly
// its own token.
func TestAdminJTIIsData(t *testing.T) {
	t.Parallel()
	f := newAdmFixture(t)
	in := f.start(t, "memory", "", "", true)
	long := strings.Repeat("L", 10<<10)
	tokens := map[string]string{}
	for _, jti := range []string{"a*", "abc", "a", "line\nbreak", "line", long, long + "x"} {
		tokens[jti] = f.idp.token(t, "bob", time.Now(), map[string]any{"jti": jti})
		waitStatus(t, time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+tokens[jti])
	}
	exp := time.Now().Add(5 * time.Minute).Unix()
	for _, jti := range []string{"a*", "line\nbreak", long} {
		b, _ := json.Marshal(map[string]any{"jti": jti, "exp": exp})
		adminOK(t, in, "POST", "/admin/revoke", string(b), `{"revoked":"jti"}`)
	}
	want := map[string]int{"a*": 401, "abc": 200, "a": 200, "line\nbreak": 401, "line": 200, long: 401, long + "x": 200}
	for jti, code := range want {
		if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+tokens[jti]); resp.StatusCode != code {
			t.Errorf("token with jti %.12q: got %d, want %d", jti, resp.StatusCode, code)
		}
	}
}

// TestForcedLogoutDuringRequest: a request already past authentication
// finishes; the next one with the cookie is refused.
func TestForcedLogoutDuringRequest(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	slow := newBlockingUpstream(t, arrived, release)
	in := newAdmFixture(t).start(t, "memory", "", slow, true)
	cookie := browserLogin(t, in.URL)

	result := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", in.URL+"/slow/x", nil)
		req.Header.Set("Cookie", "gatehouse_session="+cookie)
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
	adminOK(t, in, "DELETE", "/admin/sessions?user=alice", "", `{"deleted":1}`)
	close(release)
	if got := <-result; got != 200 {
		t.Errorf("in-flight request: got %d, want 200", got)
	}
	if resp, _ := get(t, in.URL+"/x", sessionHeader(cookie)); resp.StatusCode != 401 {
		t.Errorf("next request with the cookie: got %d, want 401", resp.StatusCode)
	}
	if _, body := get(t, in.AdminURL+"/metrics"); !strings.Contains(body, `gatehouse_revocations_total{kind="session"} 1`) {
		t.Error(`/metrics lacks gatehouse_revocations_total{kind="session"} 1`)
	}
}

// newBlockingUpstream starts an upstream that signals arrived for each
// request and answers 200 only once release is closed.
func newBlockingUpstream(t *testing.T, arrived chan<- struct{}, release <-chan struct{}) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "done")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
