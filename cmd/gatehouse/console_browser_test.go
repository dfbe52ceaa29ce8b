package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// TestBrowserConsole walks Chromium through the admin console on replica
// A while bob uses replica B (one Redis): sign in, overview, search, bob's
// page with his session from B, end it (bob is sent to the login page on
// B), end all with its confirmation, a token verified and revoked, a
// forged one, the events. Each page is saved as a PNG.
func TestBrowserConsole(t *testing.T) {
	t.Parallel()
	chromium := browserPath(t)
	r := authtest.StartRedis(t)
	key := signingKey(t, "ES256")
	a := startConsole(t, "redis", r.Addr, key, "[]")
	b := startConsole(t, "redis", r.Addr, key, "[]")

	// Some history: a failed sign-in, bob on B, a reused refresh token.
	bob := newConsoleClient(t, b.URL, "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0")
	postForm(t, b.URL+"/.gatehouse/token", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"wrong"}})
	bob.login("bob")
	status, grant := postForm(t, b.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"bob"}, "password": {consolePassword}})
	_, rt := grantTokens(t, status, grant)
	refreshOK(t, b, rt)
	if s, _ := refreshGrant(t, b, rt); s != http.StatusBadRequest {
		t.Fatalf("reuse: %d", s)
	}

	ctx := newBrowser(t, chromium, 120*time.Second)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)
	p := &pageWalk{t: t, ctx: ctx, base: a.URL, dir: shots}
	click := func(step, sel string, want int64) {
		t.Helper()
		res, err := chromedp.RunResponse(ctx, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if res.Status != want {
			t.Errorf("%s: status %d, want %d", step, res.Status, want)
		}
		browse(t, ctx, step, chromedp.WaitVisible(chromedp.CSS("h1")))
	}

	p.open("/.gatehouse/admin/", 200) // the login page
	onLoginPage(t, ctx, "console before sign-in")
	p.submit("alice", consolePassword, 200)
	p.text("h1", "Overview")
	p.shot("console-01-overview")

	browse(t, ctx, "search", chromedp.SetValue(chromedp.CSS("#q"), "bo"))
	click("find bob", "form.search button", 200)
	p.text("h1", "Users")
	p.shot("console-02-search")
	click("open bob", `a[href="/.gatehouse/admin/users/bob"]`, 200)
	p.text("h1", "User bob")
	page := read(t, ctx, "bob's sessions", chromedp.Text(chromedp.CSS("section")))
	if !strings.Contains(page, "Firefox/128.0") || !strings.Contains(page, "127.0.0.1") {
		t.Errorf("bob's page lacks his session from B: %q", page)
	}
	p.shot("console-03-user")

	click("end bob's session", "td form button", 200)
	p.text("p.notice", "The session is ended.")
	p.shot("console-04-session-ended")
	deadline := time.Now().Add(time.Second)
	for {
		resp, _ := bob.do("GET", "/app", nil)
		if resp.StatusCode == http.StatusFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bob on B after the end of his session: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}

	bob.login("bob")
	p.open("/.gatehouse/admin/users/bob", 200)
	click("end all", `form[action$="/end-all"] button`, 200)
	p.text("h1", "End all sessions of bob?")
	p.shot("console-05-confirm")
	click("confirm end all", "form button.danger", 200)
	p.text("p.notice", "All sessions of the user are ended.")

	status, grant = postForm(t, b.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"bob"}, "password": {consolePassword}})
	access, _ := grantTokens(t, status, grant)
	p.open("/.gatehouse/admin/tokens", 200)
	browse(t, ctx, "paste", chromedp.SetValue(chromedp.CSS("#token"), access))
	click("verify", `form[action$="/tokens"] button`, 200)
	p.text("section:nth-of-type(1) h2", "Verified")
	p.shot("console-06-token")
	click("revoke", `form[action$="/tokens/revoke"] button`, 200)
	p.text("p.notice", "The token is revoked.")
	waitAPI(t, b, access, http.StatusUnauthorized)
	browse(t, ctx, "paste forged", chromedp.SetValue(chromedp.CSS("#token"), access[:len(access)-4]+"AAAA"))
	click("verify forged", `form[action$="/tokens"] button`, 200)
	p.text("section:nth-of-type(1) h2", "Invalid")
	p.shot("console-07-token-invalid")

	p.open("/.gatehouse/admin/events", 200)
	p.text("h1", "Events")
	p.shot("console-08-events")
	p.open("/.gatehouse/admin/events?kind=refresh_reuse", 200)
	ev := read(t, ctx, "reuse event", chromedp.Text(chromedp.CSS("tbody")))
	if !strings.Contains(ev, "refresh_reuse") || !strings.Contains(ev, "reused from 127.0.0.1") {
		t.Errorf("refresh_reuse event: %q", ev)
	}
	p.shot("console-09-events-reuse")
}
