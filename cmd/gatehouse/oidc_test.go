package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc/oidctest"
)

const oidcConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
session: {secure: false}
login: {auto_redirect: true}
oidc:
  providers:
    - name: corp
      title: "Sign in with Corp SSO"
      issuer: "{{issuer}}"
      client_id: gatehouse
      client_secret_file: "{{dir}}/secret"
      scopes: [openid, email, profile, groups]
      redirect_url: "http://{{listen}}/.gatehouse/oidc/callback"
      allowed_groups: [staff]
routes:
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

// TestOIDCStartsWithIdPDown: Gatehouse starts while the IdP is
// unreachable (ready, gauge 0, a sign-in gets the 503 page), keeps
// retrying discovery, and once the IdP is up a sign-in works end to end
// with the identity at the upstream.
func TestOIDCStartsWithIdPDown(t *testing.T) {
	t.Parallel()
	port := authtest.FreePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	in := startGatehouse(t, strings.ReplaceAll(oidcConfig, "{{issuer}}", issuer),
		map[string]string{"secret": oidctest.ClientSecret + "\n"})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	if m := metricsText(t, in); !strings.Contains(m, `gatehouse_oidc_provider_up{provider="corp"} 0`) {
		t.Fatalf("gauge while the IdP is down: %s", oidcGrep(m, "oidc"))
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	res, body := fetch(t, c, in.URL+"/dash")
	if res.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "Sign in again") {
		t.Fatalf("sign-in with the IdP down = %d, want the 503 page: %.500s", res.StatusCode, body)
	}

	oidctest.Start(t, oidctest.Options{Port: port, RedirectURIs: []string{in.URL + "/.gatehouse/oidc/callback"}})
	deadline := time.Now().Add(40 * time.Second)
	for !strings.Contains(metricsText(t, in), `gatehouse_oidc_provider_up{provider="corp"} 1`) {
		if time.Now().After(deadline) {
			t.Fatal("provider not up 40 s after the IdP started")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// auto_redirect: the protected page → login page → straight to the IdP.
	res, body = fetch(t, c, in.URL+"/dash?x=1")
	if !strings.Contains(body, `name="login"`) {
		t.Fatalf("protected page = %d, want the IdP's login form: %.500s", res.StatusCode, body)
	}
	res, body = post(t, c, res, body, url.Values{"login": {"alice"}, "password": {"x"}})
	if strings.Contains(body, `value="consent"`) {
		res, body = post(t, c, res, body, nil)
	}
	if res.StatusCode != 200 || res.Request.URL.Path != "/dash" || !strings.Contains(body, "alice") {
		t.Fatalf("after sign-in = %d at %s: %.800s", res.StatusCode, res.Request.URL, body)
	}
	if res.Request.URL.RawQuery != "x=1" {
		t.Errorf("rd lost its query: %s", res.Request.URL)
	}
	for _, h := range []string{`"X-Auth-User":\s*\[\s*"alice"`, `"X-Auth-Groups":\s*\[\s*"staff,admins"`} {
		if !regexp.MustCompile(h).MatchString(body) {
			t.Errorf("upstream did not see %s: %.800s", h, body)
		}
	}
	if m := metricsText(t, in); !strings.Contains(m, `gatehouse_oidc_logins_total{provider="corp",result="success"} 1`) {
		t.Errorf("logins: %s", oidcGrep(m, "oidc_logins"))
	}
}

func fetch(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Accept", "text/html")
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

var (
	oidcFormRE   = regexp.MustCompile(`<form[^>]*\saction="([^"]+)"`)
	oidcHiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// post submits the page's first form with its hidden fields and fields.
func post(t *testing.T, c *http.Client, last *http.Response, page string, fields url.Values) (*http.Response, string) {
	t.Helper()
	m := oidcFormRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form: %.500s", page)
	}
	action, _ := last.Request.URL.Parse(m[1])
	form := url.Values{}
	for _, h := range oidcHiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(h[1], h[2])
	}
	for k, v := range fields {
		form[k] = v
	}
	res, err := c.PostForm(action.String(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func metricsText(t *testing.T, in *instance) string {
	t.Helper()
	res, err := http.Get(in.AdminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func oidcGrep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
