package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// The heavy tests take turns, each kind in its slot: they run in parallel
// with the package's light tests, but two Chromiums, or two Redis
// topologies under traffic, on two cores starve the servers they talk to
// (store timeouts, chromedp deadlines).
var (
	browserSlot = make(chan struct{}, 1)
	trafficSlot = make(chan struct{}, 1)
)

// takeSlot waits for slot and holds it until t ends (its cleanups run
// first: registered before them, this one runs last).
func takeSlot(t *testing.T, slot chan struct{}) {
	slot <- struct{}{}
	t.Cleanup(func() { <-slot })
}

// browserPath finds a Chromium-family browser and waits for the browser
// slot, which t holds until it ends (a browser test calls it first, before
// any setup whose timing matters). Without a browser the test is skipped,
// unless the environment variable CI is non-empty: CI must run it.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			takeSlot(t, browserSlot)
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium, chromium-browser or google-chrome in PATH (required when CI is set)")
	}
	t.Skip("no chromium, chromium-browser or google-chrome in PATH; skipping the browser test")
	return ""
}

// newBrowser starts the browser at path, headless, with a fresh profile, bounded by
// timeout, and returns its tab's context. Everything ends with the test.
func newBrowser(t *testing.T, path string, timeout time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests may run as root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
	)
	t.Cleanup(cancelAlloc) // runs before cancel: waits for the browser to exit
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // start the browser now
		t.Fatalf("start the browser: %v", err)
	}
	return tab
}

// browse runs chromedp actions in order and fails the test, naming step,
// on error.
func browse(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// read runs one chromedp action that returns a value.
func read[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

// onLoginPage waits for the login form and returns the page's URL.
func onLoginPage(t *testing.T, ctx context.Context, step string) *url.URL {
	t.Helper()
	browse(t, ctx, step, chromedp.WaitVisible(chromedp.CSS(`#username`)))
	loc := read(t, ctx, step, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil || u.Path != "/.gatehouse/login" {
		t.Fatalf("%s: at %q, want the login page", step, loc)
	}
	return u
}

// TestBrowserLoginLogout drives headless Chromium through the whole session
// flow against `gatehouse serve`: protected page → login form → wrong then
// right password → the app with X-Auth-User → logout button → login again.
func TestBrowserLoginLogout(t *testing.T) {
	t.Parallel()
	chromium := browserPath(t)
	users, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "users.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("{{store}}", "memory", "{{redis}}", "127.0.0.1:1", "{{idle}}", "5m").Replace(sessionConfig)
	in := startGatehouse(t, cfg, map[string]string{"users.yaml": string(users)})
	ctx := newBrowser(t, chromium, 60*time.Second)

	browse(t, ctx, "open a protected page", chromedp.Navigate(in.URL+"/reports?year=2024"))
	if rd := onLoginPage(t, ctx, "redirect to login").Query().Get("rd"); rd != "/reports?year=2024" {
		t.Errorf("login page rd %q, want %q", rd, "/reports?year=2024")
	}
	shot := read(t, ctx, "screenshot", chromedp.CaptureScreenshot())
	png := filepath.Join(t.TempDir(), "login.png")
	if err := os.WriteFile(png, shot, 0o600); err != nil {
		t.Fatal(err)
	}
	if saved, _ := os.ReadFile(png); len(saved) <= 8 || !bytes.HasPrefix(saved, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s: %d bytes, want a non-empty PNG", png, len(saved))
	}

	browse(t, ctx, "wrong password",
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not-the-password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	msg := read(t, ctx, "error message", chromedp.Text(chromedp.CSS(`p.error`)))
	if msg != "Invalid username or password." {
		t.Errorf("message after a wrong password %q, want %q", msg, "Invalid username or password.")
	}

	if kept := read(t, ctx, "username kept", chromedp.Value(chromedp.CSS(`#username`))); kept != "alice" {
		t.Errorf("username field after a wrong password %q, want %q", kept, "alice")
	}
	browse(t, ctx, "log in",
		chromedp.Clear(chromedp.CSS(`#username`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "alice-demo-password"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS(`body > pre`)))
	loc := read(t, ctx, "location after login", chromedp.Location())
	body := read(t, ctx, "echo JSON", chromedp.TextContent(chromedp.CSS(`body > pre`)))
	if want := in.URL + "/reports?year=2024"; loc != want {
		t.Errorf("after login at %q, want %q", loc, want)
	}
	var e echo.Request
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("after login the page is not the echo upstream's JSON: %v", err)
	}
	for name, want := range map[string]string{"X-Auth-User": "alice", "X-Auth-Email": "alice@example.com", "X-Auth-Method": "session"} {
		if got := echoHeader(e, name); got != want {
			t.Errorf("upstream saw %s %q, want %q", name, got, want)
		}
	}
	if c := echoHeader(e, "Cookie"); strings.Contains(c, "gatehouse_") {
		t.Error("the upstream saw a Gatehouse cookie")
	}
	checkBrowserCookie(t, ctx)

	browse(t, ctx, "log out",
		chromedp.Navigate(in.URL+"/.gatehouse/logout"),
		chromedp.WaitVisible(chromedp.CSS(`button[type=submit]`)),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	onLoginPage(t, ctx, "after logout")

	browse(t, ctx, "protected page after logout", chromedp.Navigate(in.URL+"/reports"))
	if rd := onLoginPage(t, ctx, "back to login").Query().Get("rd"); rd != "/reports" {
		t.Errorf("login page rd %q, want %q", rd, "/reports")
	}
}

// checkBrowserCookie checks the session cookie as the browser stored it.
func checkBrowserCookie(t *testing.T, ctx context.Context) {
	t.Helper()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "gatehouse_session" {
			if !c.HTTPOnly || c.Path != "/" || c.SameSite != network.CookieSameSiteLax {
				t.Errorf("session cookie HttpOnly %v, Path %q, SameSite %q; want true, /, Lax", c.HTTPOnly, c.Path, c.SameSite)
			}
			return
		}
	}
	t.Error("the browser holds no gatehouse_session cookie after login")
}
