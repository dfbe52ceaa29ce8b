package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc/oidctest"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// oidcBrowserConfig: one provider, no users file (the login page shows the
// provider's button only), revalidate 1s for flow 5.
const oidcBrowserConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
session: {secure: false}
store:
  type: {{store}}
  redis: {addrs: ["{{redis}}"]}
oidc:
  providers:
    - name: corp
      title: "Sign in with Corp SSO"
      issuer: "{{issuer}}"
      client_id: gatehouse
      client_secret_file: "{{dir}}/secret"
      scopes: [openid, email, profile, groups]
      redirect_url: "{{redirect}}"
      allowed_groups: [staff]
      revalidate: 1s
routes:
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

func startOIDCGate(t *testing.T, issuer, store, redisAddr, redirect string) *instance {
	t.Helper()
	cfg := strings.NewReplacer("{{issuer}}", issuer, "{{store}}", store, "{{redis}}", redisAddr, "{{redirect}}", redirect).Replace(oidcBrowserConfig)
	return startGatehouse(t, cfg, map[string]string{"secret": oidctest.ClientSecret})
}

// waitProviderUp waits until in has discovered the IdP. Gatehouse starts
// first and retries discovery with back-off, so when the IdP answers,
// Gatehouse may not know it yet, and a login page rendered then has no
// provider button (a slow IdP start on a loaded machine).
func waitProviderUp(t *testing.T, in *instance) {
	t.Helper()
	waitFor(t, 40*time.Second, in.URL+": provider corp up", func() bool {
		return strings.Contains(metricsText(t, in), `gatehouse_oidc_provider_up{provider="corp"} 1`)
	})
}

// idpSignIn goes from Gatehouse's login page through the provider button,
// the IdP's login form (user, any password) and its consent page.
func idpSignIn(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	browse(t, ctx, "provider button",
		chromedp.WaitVisible(chromedp.CSS(`a.button[href^="/.gatehouse/oidc/start"]`)),
		chromedp.Click(chromedp.CSS(`a.button[href^="/.gatehouse/oidc/start"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=login]`)))
	browse(t, ctx, "the IdP's login form",
		chromedp.SendKeys(chromedp.CSS(`input[name=login]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "any-password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=prompt][value=consent] ~ button`)))
	browse(t, ctx, "consent", chromedp.Click(chromedp.CSS(`input[name=prompt][value=consent] ~ button`)))
}

// appPage waits for the echo upstream's JSON and returns it.
func appPage(t *testing.T, ctx context.Context, step string) echo.Request {
	t.Helper()
	browse(t, ctx, step, chromedp.WaitReady(chromedp.CSS(`body > pre`)))
	body := read(t, ctx, step, chromedp.TextContent(chromedp.CSS(`body > pre`)))
	var e echo.Request
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("%s: not the echo upstream's JSON: %v", step, err)
	}
	return e
}

func sessionCookie(t *testing.T, ctx context.Context) string {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == "gatehouse_session" {
			return c.Value
		}
	}
	return ""
}

// statusWith is the status of GET url with the session cookie, not
// following redirects, as a browser navigation.
func statusWith(t *testing.T, url, cookie string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/html")
	req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: cookie})
	c := &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestBrowserOIDC drives Chromium through the flows 1, 2, 3 and 5
// against `gatehouse serve` and the real oidc-provider.
func TestBrowserOIDC(t *testing.T) {
	t.Parallel()
	chromium := browserPath(t)
	port := authtest.FreePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	in := startOIDCGate(t, issuer, "memory", "127.0.0.1:1", "http://{{listen}}/.gatehouse/oidc/callback")
	idp := oidctest.Start(t, oidctest.Options{Port: port,
		RedirectURIs:           []string{in.URL + "/.gatehouse/oidc/callback"},
		PostLogoutRedirectURIs: []string{in.URL + "/.gatehouse/login"}})
	waitProviderUp(t, in)
	ctx := newBrowser(t, chromium, 120*time.Second)

	// 1. protected page → login page → button → IdP → back with the identity.
	browse(t, ctx, "open a protected page", chromedp.Navigate(in.URL+"/reports?year=2024"))
	idpSignIn(t, ctx, "alice")
	e := appPage(t, ctx, "back on the app")
	if loc := read(t, ctx, "location", chromedp.Location()); loc != in.URL+"/reports?year=2024" {
		t.Errorf("after sign-in at %q, want rd kept", loc)
	}
	for name, want := range map[string]string{"X-Auth-User": "alice", "X-Auth-Groups": "staff,admins", "X-Auth-Method": "session"} {
		if got := echoHeader(e, name); got != want {
			t.Errorf("upstream saw %s %q, want %q", name, got, want)
		}
	}
	old := sessionCookie(t, ctx)

	// 3. logout → the IdP's end-session page → Gatehouse's login page; the
	// old cookie is refused.
	browse(t, ctx, "log out",
		chromedp.Navigate(in.URL+"/.gatehouse/logout"),
		chromedp.WaitVisible(chromedp.CSS(`button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`button[value=yes]`)),
		chromedp.Click(chromedp.CSS(`button[value=yes]`)),
		chromedp.WaitVisible(chromedp.CSS(`a.button[href^="/.gatehouse/oidc/start"]`)))
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasPrefix(loc, in.URL+"/.gatehouse/login") {
		t.Errorf("after logout at %q, want Gatehouse's login page", loc)
	}
	if s := statusWith(t, in.URL+"/reports", old); s != http.StatusFound {
		t.Errorf("old cookie after logout = %d, want 302 to login", s)
	}

	// 2. carol is in no allowed group: the 403 page, no session.
	browse(t, ctx, "carol", chromedp.Navigate(in.URL+"/x"))
	idpSignIn(t, ctx, "carol")
	browse(t, ctx, "403 page", chromedp.WaitVisible(chromedp.CSS(`p.status`)))
	if txt := read(t, ctx, "status", chromedp.TextContent(chromedp.CSS(`p.status`))); txt != "Error 403" {
		t.Errorf("carol sees %q, want Error 403", txt)
	}
	if c := sessionCookie(t, ctx); c != "" {
		t.Error("carol holds a session cookie")
	}

	// 5. bob signs in, is disabled at the IdP; after revalidate, 20
	// concurrent requests make one refresh and the session ends.
	// carol is still signed in at the IdP: bob uses a fresh browser profile.
	if _, err := chromedp.Call(ctx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	browse(t, ctx, "bob", chromedp.Navigate(in.URL+"/bob"))
	idpSignIn(t, ctx, "bob")
	appPage(t, ctx, "bob on the app")
	// On a loaded machine, sign-in to here may take over the 1 s
	// revalidate period: a refresh while bob was still enabled is right
	// (ok) and not the one under test, so count from here.
	okBefore := oidcGrep(metricsText(t, in), `result="ok"`)
	idp.Disable("bob")
	time.Sleep(1100 * time.Millisecond) // revalidate (1s) is due: a duration under test, not a wait for a condition
	statuses := read(t, ctx, "20 concurrent requests", chromedp.Evaluate[[]int](`Promise.all(Array.from({length: 20},
		() => fetch('/poll', {redirect: 'manual'}).then(r => r.type === 'opaqueredirect' ? 302 : r.status)))`,
		chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	for _, s := range statuses {
		if s != 302 && s != 401 {
			t.Errorf("a request after bob was disabled = %d, want refused (302 or 401)", s)
		}
	}
	m := metricsText(t, in)
	if !strings.Contains(m, `gatehouse_oidc_refreshes_total{provider="corp",result="ended"} 1`) ||
		oidcGrep(m, `result="ok"`) != okBefore || strings.Contains(m, `gatehouse_oidc_refreshes_total{provider="corp",result="error"}`) {
		t.Errorf("want exactly one refresh (ended) and no new result=\"ok\" (before bob was disabled: %q): %s", okBefore, oidcGrep(m, "refreshes"))
	}
}

// TestBrowserOIDCBackchannel: flow 4. The IdP sends a back-channel logout
// for the signed-in user: both replicas (one Redis) refuse the session
// within 1 s.
func TestBrowserOIDCBackchannel(t *testing.T) {
	t.Parallel()
	chromium := browserPath(t)
	r := authtest.StartRedis(t)
	port := authtest.FreePort(t)
	issuer := fmt.Sprintf("http://127.0.0.1:%d", port)
	a := startOIDCGate(t, issuer, "redis", r.Addr, "http://{{listen}}/.gatehouse/oidc/callback")
	b := startOIDCGate(t, issuer, "redis", r.Addr, a.URL+"/.gatehouse/oidc/callback")
	idp := oidctest.Start(t, oidctest.Options{Port: port,
		RedirectURIs:         []string{a.URL + "/.gatehouse/oidc/callback"},
		BackchannelLogoutURI: a.URL + "/.gatehouse/oidc/backchannel-logout"})
	waitProviderUp(t, a)
	waitProviderUp(t, b)
	ctx := newBrowser(t, chromium, 120*time.Second)
	browse(t, ctx, "open a protected page", chromedp.Navigate(a.URL+"/"))
	idpSignIn(t, ctx, "alice")
	appPage(t, ctx, "signed in")
	cookie := sessionCookie(t, ctx)
	browse(t, ctx, "the other replica", chromedp.Navigate(b.URL+"/"))
	appPage(t, ctx, "the session works on the other replica")

	start := time.Now()
	idp.BackchannelLogout("alice", "") // every session of alice's at the IdP's client
	for _, in := range []*instance{a, b} {
		for statusWith(t, in.URL+"/", cookie) != http.StatusFound {
			if time.Since(start) > time.Second {
				t.Fatalf("%s still accepts the session %s after the back-channel logout", in.URL, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("refused on both replicas %s after the IdP sent the logout token", time.Since(start))
	browse(t, ctx, "browser after the logout", chromedp.Navigate(b.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`a.button[href^="/.gatehouse/oidc/start"]`)))
}
