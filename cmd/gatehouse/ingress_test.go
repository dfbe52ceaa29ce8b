package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// The forward-auth tests run the configs shipped in deploy/forward-auth
// with the real nginx and Caddy in front of an echo upstream, Gatehouse
// deciding (README "Behind an existing ingress").

const ingressConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
trusted_proxies: ["127.0.0.1/32"]
forward_auth: {enabled: true}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: admin, match: {path_prefix: "/admin/"}, auth: jwt, require: {groups: [admins]}}
  - {name: mixed, match: {path_prefix: "/mixed/"}, auth: any}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

// ingressBinary finds an ingress's binary. Without it the test is skipped,
// unless CI is set: CI must run it (.ci/run installs nginx-light and caddy).
func ingressBinary(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin"} {
		if p := filepath.Join(dir, name); fileExists(p) {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no %s in PATH (required when CI is set)", name)
	}
	t.Skipf("no %s in PATH; skipping the %s forward-auth test", name, name)
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// deployFile reads a file of deploy/forward-auth.
func deployFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "forward-auth", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustReplace replaces old (which must occur) with new in s.
func mustReplace(t *testing.T, s, old, new string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("the shipped config no longer contains %q", old)
	}
	return strings.ReplaceAll(s, old, new)
}

// startIngress runs cmd until the test ends and waits until base answers.
func startIngress(t *testing.T, cmd *exec.Cmd, base string, logs ...string) {
	t.Helper()
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(cmd.Path), out)
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %v\n%s", cmd.Path, waitErr, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %s: %v\n%s", cmd.Path, base, err, out)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// startNginx renders deploy/forward-auth/nginx.conf onto a free port, with
// Gatehouse at gatehouse and the app at app, and runs nginx (non-root
// friendly: its own prefix, pid, logs and temp paths in a temp dir).
func startNginx(t *testing.T, gatehouse, app string) string {
	bin := ingressBinary(t, "nginx")
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", authtest.FreePort(t))
	site := deployFile(t, "nginx.conf")
	site = mustReplace(t, site, "listen 80;", "listen "+listen+";")
	site = mustReplace(t, site, "server 127.0.0.1:8080;", "server "+gatehouse+";")
	site = mustReplace(t, site, "server 127.0.0.1:3000;", "server "+app+";")
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // workers must read the temp dir
	}
	main := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[2]s/access.log;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
    include %[2]s/site.conf;
}
`, user, dir)
	writeFiles(t, dir, map[string]string{"nginx.conf": main, "site.conf": site})
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", filepath.Join(dir, "nginx.conf"), "-g", "daemon off;")
	base := "http://" + listen
	startIngress(t, cmd, base, filepath.Join(dir, "error.log"))
	return base
}

// startCaddy renders deploy/forward-auth/Caddyfile onto a free port (plain
// HTTP, admin API off) and runs caddy with HOME and XDG dirs in a temp dir.
func startCaddy(t *testing.T, gatehouse, app string) string {
	bin := ingressBinary(t, "caddy")
	dir := t.TempDir()
	listen := fmt.Sprintf("127.0.0.1:%d", authtest.FreePort(t))
	cf := deployFile(t, "Caddyfile")
	cf = mustReplace(t, cf, "app.example.com {", "{\n\tadmin off\n\tauto_https off\n}\n\nhttp://"+listen+" {")
	cf = mustReplace(t, cf, "127.0.0.1:8080", gatehouse)
	cf = mustReplace(t, cf, "127.0.0.1:3000", app)
	writeFiles(t, dir, map[string]string{"Caddyfile": cf})
	cmd := exec.Command(bin, "run", "--config", filepath.Join(dir, "Caddyfile"), "--adapter", "caddyfile")
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir+"/data", "XDG_CONFIG_HOME="+dir+"/config")
	base := "http://" + listen
	startIngress(t, cmd, base)
	return base
}

// rawGet sends target exactly as given (no client-side cleaning) and
// returns the status and body.
func rawGet(t *testing.T, base, target string, headers ...string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + target + " HTTP/1.1\r\nHost: " + strings.TrimPrefix(base, "http://") + "\r\nConnection: close\r\n"
	for _, h := range headers {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// identityCopies lists the header names in e that fold to X-Auth-User
// (any case, "_" for "-"), with their values.
func identityCopies(e echo.Request) []string {
	var out []string
	for k, v := range e.Headers {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "X-Auth-User") {
			out = append(out, k+"="+strings.Join(v, ","))
		}
	}
	return out
}

// TestForwardAuthIngresses: the points 1, 2, 4 and 5 through real
// nginx (auth_request) and real Caddy (forward_auth), each in front of an
// echo app, with the configs shipped in deploy/forward-auth.
func TestForwardAuthIngresses(t *testing.T) {
	t.Parallel()
	in := startGatehouse(t, ingressConfig, map[string]string{"users.yaml": usersFile(t), "issuing.pem": signingKey(t, "ES256")})
	app, hits := upstream(t)
	gh, appAddr := strings.TrimPrefix(in.URL, "http://"), strings.TrimPrefix(app.URL, "http://")
	for _, ing := range []struct {
		name  string
		start func(*testing.T, string, string) string
		login func(base string) string // the Location of a navigation to /dash?x=1
	}{
		{"nginx", startNginx, func(string) string { return "/.gatehouse/login?rd=%2Fdash%3Fx%3D1" }},
		{"caddy", startCaddy, func(base string) string { return base + "/.gatehouse/login?rd=%2Fdash%3Fx%3D1" }},
	} {
		t.Run(ing.name, func(t *testing.T) {
			base := ing.start(t, gh, appAddr)
			checkIngress(t, base, ing.login(base), hits)
		})
	}
}

var spoofs = []string{"X-Auth-User: admin", "x-auth-user: admin", "X_Auth_User: admin", "X-AUTH_USER: admin", "X_auth-user: admin"}

func checkIngress(t *testing.T, base, loginURL string, hits *atomic.Int64) {
	w := newWebClient(t, base)
	// 1. auth: none: allowed, no identity, whatever the client sent (2).
	e := w.upstreamSaw("/public/x", spoofs...)
	if c := identityCopies(e); len(c) != 0 {
		t.Errorf("public route: the upstream received %v", c)
	}
	// jwt: 401 as JSON without a token; with one, the identity, and never
	// the client's copies (2).
	resp, body := w.do("GET", "/api/things", nil, append([]string{"Accept: application/json"}, spoofs...)...)
	var eb map[string]string
	if resp.StatusCode != 401 || json.Unmarshal([]byte(body), &eb) != nil || eb["error"] == "" {
		t.Errorf("jwt route without a token: %d %q, want 401 with a JSON error", resp.StatusCode, body)
	}
	status, grant := postForm(t, base+"/.gatehouse/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}})
	access, _ := grantTokens(t, status, grant)
	e = w.upstreamSaw("/api/things?q=1", append([]string{"Authorization: Bearer " + access}, spoofs...)...)
	if c := identityCopies(e); len(c) != 1 || c[0] != "X-Auth-User=alice" {
		t.Errorf("jwt route: the upstream received %v, want only X-Auth-User=alice", c)
	}
	if got := echoHeader(e, "X-Auth-Method"); got != "jwt" {
		t.Errorf("jwt route: X-Auth-Method %q", got)
	}
	// require: 403.
	if resp, body := w.do("GET", "/admin/x", nil, "Authorization: Bearer "+access); resp.StatusCode != 403 {
		t.Errorf("require.groups not met: %d %q, want 403", resp.StatusCode, body)
	}
	// session: a navigation goes to the login page, an API call is 401.
	resp, _ = w.do("GET", "/dash?x=1", nil, "Accept: text/html")
	if resp.StatusCode != 302 || resp.Header.Get("Location") != loginURL {
		t.Errorf("session navigation: %d Location %q, want 302 to %q", resp.StatusCode, resp.Header.Get("Location"), loginURL)
	}
	if s := w.status("/dash"); s != 401 {
		t.Errorf("session route, API call without a session: %d, want 401", s)
	}
	// Login through the ingress, then the session and any routes.
	w.mustLogin("alice", testPassword, "/dash")
	for _, p := range []string{"/dash", "/mixed/x"} {
		e = w.upstreamSaw(p, spoofs...)
		if c := identityCopies(e); len(c) != 1 || c[0] != "X-Auth-User=alice" || echoHeader(e, "X-Auth-Method") != "session" {
			t.Errorf("%s with a session: the upstream received %v (method %q), want only X-Auth-User=alice", p, c, echoHeader(e, "X-Auth-Method"))
		}
	}
	// A cookie-authenticated cross-origin write is refused.
	if resp, _ := w.do("POST", "/dash", url.Values{"a": {"1"}}, "Origin: http://evil.example", "Sec-Fetch-Site: cross-site"); resp.StatusCode != 403 {
		t.Errorf("cross-origin POST with the session: %d, want 403", resp.StatusCode)
	}
	w.logout()
	if s := w.status("/dash"); s != 401 {
		t.Errorf("after logout: %d, want 401", s)
	}

	// 4. Path tricks: whatever the ingress does with them, what the app
	// receives is what Gatehouse decided on: a public decision never lets a
	// protected path through.
	for _, target := range []string{
		"/public/%2e%2e/api/x", "/public/%2E%2E/admin/x", "/public/..%2fapi/x", "/public/../api/x",
		"//api/x", "/public//../api/x", "/public/x;/../../api/x", "/public;/../api/x", "/api;/x", "/public/%2f../api/x",
	} {
		before := hits.Load()
		status, body := rawGet(t, base, target)
		if status != 200 {
			if hits.Load() != before && status != 404 {
				t.Errorf("%s: %d, but the app was called", target, status)
			}
			continue
		}
		var e echo.Request
		if err := json.Unmarshal([]byte(body), &e); err != nil {
			t.Errorf("%s: 200 but not from the app: %q", target, body)
			continue
		}
		if p := path.Clean(e.Path); !strings.HasPrefix(p, "/public/") {
			t.Errorf("%s: allowed without credentials, and the app received %q (%s)", target, e.Path, p)
		}
	}

	// 5. The decision endpoints are not reachable by clients through the
	// ingress.
	for _, p := range []string{"/.gatehouse/auth/auth-request", "/.gatehouse/auth/forward-auth"} {
		if resp, _ := w.do("GET", p, nil, "X-Original-URI: /api/x", "X-Forwarded-Uri: /api/x"); resp.StatusCode != 404 {
			t.Errorf("%s through the ingress: %d, want 404", p, resp.StatusCode)
		}
	}
}

// TestForwardAuthUntrustedCaller: a forward-auth request from a client
// outside trusted_proxies gets 403, through `gatehouse serve`.
func TestForwardAuthUntrustedCaller(t *testing.T) {
	t.Parallel()
	cfg := strings.Replace(ingressConfig, `["127.0.0.1/32"]`, `["10.0.0.0/8"]`, 1)
	in := startGatehouse(t, cfg, map[string]string{"users.yaml": usersFile(t), "issuing.pem": signingKey(t, "ES256")})
	for _, c := range []struct{ path, header string }{
		{"/.gatehouse/auth/auth-request", "X-Original-URI: /public/x"},
		{"/.gatehouse/auth/forward-auth", "X-Forwarded-Uri: /public/x"},
	} {
		resp, _ := get(t, in.URL+c.path, c.header, "X-Forwarded-Host: a.example", "X-Forwarded-For: 10.0.0.1")
		if resp.StatusCode != 403 {
			t.Errorf("%s from an untrusted client: %d, want 403", c.path, resp.StatusCode)
		}
	}
}

// TestForwardAuthBrowserLogin drives Chromium through the whole sign-in
// behind real nginx and real Caddy (issue point 3): protected page → login
// page → back on the page with the identity → logout → login page again.
func TestForwardAuthBrowserLogin(t *testing.T) {
	t.Parallel()
	chromium := browserPath(t)
	in := startGatehouse(t, ingressConfig, map[string]string{"users.yaml": usersFile(t), "issuing.pem": signingKey(t, "ES256")})
	app, _ := upstream(t)
	gh, appAddr := strings.TrimPrefix(in.URL, "http://"), strings.TrimPrefix(app.URL, "http://")
	for _, ing := range []struct {
		name  string
		start func(*testing.T, string, string) string
	}{{"nginx", startNginx}, {"caddy", startCaddy}} {
		t.Run(ing.name, func(t *testing.T) {
			base := ing.start(t, gh, appAddr)
			ctx := newBrowser(t, chromium, 60*time.Second)
			browse(t, ctx, "open a protected page", chromedp.Navigate(base+"/reports?year=2024"))
			if rd := onLoginPage(t, ctx, "redirect to login").Query().Get("rd"); rd != "/reports?year=2024" {
				t.Errorf("login page rd %q, want %q", rd, "/reports?year=2024")
			}
			browse(t, ctx, "log in",
				chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
				chromedp.SendKeys(chromedp.CSS(`#password`), testPassword),
				chromedp.Click(chromedp.CSS(`button[type=submit]`)),
				chromedp.WaitReady(chromedp.CSS(`body > pre`)))
			if loc := read(t, ctx, "location after login", chromedp.Location()); loc != base+"/reports?year=2024" {
				t.Errorf("after login at %q, want %q", loc, base+"/reports?year=2024")
			}
			body := read(t, ctx, "echo JSON", chromedp.TextContent(chromedp.CSS(`body > pre`)))
			var e echo.Request
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("after login the page is not the app's JSON: %v", err)
			}
			if u, m := echoHeader(e, "X-Auth-User"), echoHeader(e, "X-Auth-Method"); u != "alice" || m != "session" {
				t.Errorf("the app saw X-Auth-User %q, X-Auth-Method %q; want alice, session", u, m)
			}
			browse(t, ctx, "log out",
				chromedp.Navigate(base+"/.gatehouse/logout"),
				chromedp.WaitVisible(chromedp.CSS(`button[type=submit]`)),
				chromedp.Click(chromedp.CSS(`button[type=submit]`)))
			onLoginPage(t, ctx, "after logout")
			browse(t, ctx, "protected page after logout", chromedp.Navigate(base+"/reports"))
			if rd := onLoginPage(t, ctx, "back to login").Query().Get("rd"); rd != "/reports" {
				t.Errorf("login page rd %q, want %q", rd, "/reports")
			}
		})
	}
}
