package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// pagesConfig has a logo served through an auth: none route, a route alice
// may not use (403) and a route whose upstream is down (502).
const pagesConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
users: {file: "{{dir}}/users.yaml"}
login: {title: "Sign in to Acme", rate: "3/min", logo_url: "/brand/logo.svg"}
session: {secure: false}
routes:
  - {name: brand, match: {path_prefix: "/brand/"}, auth: none, upstream: "{{brand}}"}
  - {name: audit, match: {path_prefix: "/audit/"}, auth: session, require: {groups: [auditors]}}
  - {name: legacy, match: {path_prefix: "/legacy/"}, auth: none, upstream: "{{down}}"}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

const logoSVG = `<svg xmlns="http://www.w3.org/2000/svg" width="150" height="40" viewBox="0 0 150 40">` +
	`<rect width="40" height="40" rx="8" fill="#1d4ed8"/><path d="M11 29 20 10l9 19z" fill="#fff"/>` +
	`<text x="50" y="28" font-family="sans-serif" font-size="22" font-weight="700" fill="#111827">Acme</text></svg>`

// screenshotDir is $SCREENSHOT_DIR (created) or a temporary directory. (Not
// GATEHOUSE_*: serve would take that for a config override.)
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestBrowserPages walks headless Chromium through every state of the
// sign-in, sign-out and error pages and asserts the text a person reads;
// each page is saved as a PNG (the directory is logged).
func TestBrowserPages(t *testing.T) {
	t.Parallel()
	chromium := browserPath(t)
	brand := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, logoSVG)
	}))
	t.Cleanup(brand.Close)
	down := "http://" + authtest.RefusingAddr(t) // connections are refused there
	cfg := strings.NewReplacer("{{brand}}", brand.URL, "{{down}}", down).Replace(pagesConfig)
	in := startGatehouse(t, cfg, map[string]string{"users.yaml": sessUsersYAML(t)})
	ctx := newBrowser(t, chromium, 90*time.Second)
	shots := screenshotDir(t)
	t.Logf("screenshots in %s", shots)
	p := &pageWalk{t: t, ctx: ctx, base: in.URL, dir: shots}

	p.open("/reports?year=2024", 200)
	p.title("Sign in to Acme")
	p.text("h1", "Sign in to Acme")
	p.styled()
	if ok := read(t, ctx, "logo loaded", chromedp.Evaluate[bool](`document.querySelector('img.logo').naturalWidth > 0`)); !ok {
		t.Error("the logo did not load (CSP img-src or route)")
	}
	p.shot("01-login")

	p.submit("alice", "not-the-password", 401)
	p.text("p.error", "Invalid username or password.")
	p.value("#username", "alice")
	p.shot("02-failed-login")

	for range 3 {
		p.submit("bob", "not-the-password", 401)
	}
	p.submit("bob", "not-the-password", 429)
	msg := read(t, ctx, "rate-limit message", chromedp.Text(chromedp.CSS("p.error")))
	if !regexp.MustCompile(`^Too many attempts\. Try again in \d+ seconds?\.$`).MatchString(msg) {
		t.Errorf("rate-limit message %q, want %q", msg, "Too many attempts. Try again in N seconds.")
	}
	p.value("#username", "bob")
	p.shot("03-rate-limited")

	p.submit("alice", sessAlicePassword, 200)
	if loc := read(t, ctx, "after login", chromedp.Location()); loc != in.URL+"/reports?year=2024" {
		t.Errorf("after login at %q, want /reports?year=2024", loc)
	}

	p.open("/.gatehouse/login?rd=%2Freports", 200)
	p.text("h1", "Signed in as alice")
	p.text("a.button", "Continue")
	p.attr("a.button", "href", "/reports")
	p.text("main form button", "Sign out")
	ends := read(t, ctx, "session end", chromedp.Text(chromedp.CSS("p.muted:last-of-type")))
	if !regexp.MustCompile(`^Session ends at \d\d:\d\d UTC if idle\.$`).MatchString(ends) {
		t.Errorf("session end %q, want a readable time", ends)
	}
	p.shot("04-signed-in")

	rid := p.open("/audit/log", 403)
	p.title("Access denied")
	p.text("h1", "Access denied")
	p.text("p.rid code", rid)
	p.text("main > p.center:nth-of-type(2)", "You are signed in, but you do not have access to this page.")
	p.styled()
	p.shot("05-forbidden")

	rid = p.open("/legacy/report", 502)
	p.text("h1", "Application unavailable")
	p.text("p.rid code", rid)
	p.text("a.button", "Try again")
	p.shot("06-bad-gateway")

	p.open("/.gatehouse/logout?rd=%2Freports", 200)
	p.title("Sign out")
	p.text("h1", "Sign out")
	p.text("main > p.center", "You are signed in as alice. Do you want to sign out?")
	p.text("a.secondary", "Cancel")
	p.attr("a.secondary", "href", "/reports")
	browse(t, ctx, "tab to the button", chromedp.KeyEvent("\t"))
	if f := read(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.textContent`)); f != "Sign out" {
		t.Errorf("Tab focuses %q, want the Sign out button", f)
	}
	p.shot("07-sign-out") // with the keyboard focus ring on Sign out

	browse(t, ctx, "sign out", chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	p.text("p.notice", "You have been signed out.")
	if u := onLoginPage(t, ctx, "after sign-out"); u.Query().Get("signed_out") != "1" {
		t.Errorf("after sign-out at %s, want the login page with signed_out=1", u)
	}
	p.shot("08-signed-out")

	p.open("/.gatehouse/logout", 200)
	p.text("h1", "Sign out")
	p.text("main > p.center", "You are not signed in.")
	p.text("a.button", "Sign in")
	p.shot("09-not-signed-in")

	browse(t, ctx, "phone-sized viewport", chromedp.EmulateViewport(375, 667))
	p.open("/.gatehouse/login?signed_out=1", 200)
	p.text("p.notice", "You have been signed out.")
	p.shot("10-login-phone")

	// API clients keep the JSON body.
	resp, body := get(t, in.URL+"/legacy/report", "Accept: application/json")
	var e httpx.ErrorBody
	if err := json.Unmarshal([]byte(body), &e); resp.StatusCode != 502 || err != nil || e.RequestID == "" {
		t.Errorf("API client on a 502: %d %q, want the JSON error body", resp.StatusCode, body)
	}
}

// pageWalk drives one tab through the pages.
type pageWalk struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

// open navigates to path, checks the status, and returns the X-Request-Id.
func (p *pageWalk) open(path string, status int64) string {
	p.t.Helper()
	res := read(p.t, p.ctx, "open "+path, chromedp.NavigateResponse(p.base+path))
	if res.Status != status {
		p.t.Errorf("GET %s: status %d, want %d", path, res.Status, status)
	}
	browse(p.t, p.ctx, "page "+path, chromedp.WaitVisible(chromedp.CSS("h1")))
	id, _ := res.Headers[httpx.RequestIDHeader].(string)
	return id
}

// submit fills in the login form and submits it.
func (p *pageWalk) submit(user, password string, status int64) {
	p.t.Helper()
	res, err := chromedp.RunResponse(p.ctx,
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SetValue(chromedp.CSS("#username"), user),
		chromedp.SetValue(chromedp.CSS("#password"), password),
		chromedp.Click(chromedp.CSS("button[type=submit]")))
	if err != nil {
		p.t.Fatalf("submit %s: %v", user, err)
	}
	if res.Status != status {
		p.t.Errorf("submit %s: status %d, want %d", user, res.Status, status)
	}
	browse(p.t, p.ctx, "page after submit", chromedp.WaitReady(chromedp.CSS("body")))
}

func (p *pageWalk) text(sel, want string) {
	p.t.Helper()
	if got := read(p.t, p.ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel))); strings.TrimSpace(got) != want {
		p.t.Errorf("%s reads %q, want %q", sel, got, want)
	}
}

func (p *pageWalk) value(sel, want string) {
	p.t.Helper()
	if got := read(p.t, p.ctx, "value of "+sel, chromedp.Value(chromedp.CSS(sel))); got != want {
		p.t.Errorf("%s holds %q, want %q", sel, got, want)
	}
}

func (p *pageWalk) attr(sel, name, want string) {
	p.t.Helper()
	got := read(p.t, p.ctx, name+" of "+sel, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if !got.Exists || got.Value != want {
		p.t.Errorf("%s %s=%q, want %q", sel, name, got.Value, want)
	}
}

func (p *pageWalk) title(want string) {
	p.t.Helper()
	if got := read(p.t, p.ctx, "title", chromedp.Title()); got != want {
		p.t.Errorf("title %q, want %q", got, want)
	}
}

// styled checks that the CSP let the stylesheet apply (the card's corners
// are rounded only by it).
func (p *pageWalk) styled() {
	p.t.Helper()
	r := read(p.t, p.ctx, "style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('main')).borderTopLeftRadius`))
	if r != "12px" {
		p.t.Errorf("the stylesheet did not apply (main border radius %q)", r)
	}
}

func (p *pageWalk) shot(name string) {
	p.t.Helper()
	png := read(p.t, p.ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	if err := os.WriteFile(filepath.Join(p.dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}
