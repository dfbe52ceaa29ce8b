package pages

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2027, 1, 15, 9, 0, 0, 0, time.UTC)

func newSet(t *testing.T, o Options) *Set {
	t.Helper()
	o.Now = func() time.Time { return now }
	s, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return s
}

func render(t *testing.T, s *Set, status int, name string, p Page) *httptest.ResponseRecorder {
	t.Helper()
	w := httptest.NewRecorder()
	if err := s.Render(w, status, name, p); err != nil {
		t.Fatalf("Render %s: %v", name, err)
	}
	if w.Code != status {
		t.Fatalf("Render %s: status %d, want %d", name, w.Code, status)
	}
	return w
}

var styleBlock = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// checkCSP checks that the page's only style block is the one the CSP
// allows by hash, and that the CSP allows no script.
func checkCSP(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	csp := w.Header().Get("Content-Security-Policy")
	m := styleBlock.FindAllStringSubmatch(w.Body.String(), -1)
	if len(m) != 1 {
		t.Fatalf("%d <style> blocks, want 1", len(m))
	}
	sum := sha256.Sum256([]byte(m[0][1]))
	if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("CSP %q does not allow the page's style (want %s)", csp, want)
	}
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "base-uri 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %s", csp, want)
		}
	}
	if strings.Contains(csp, "script-src") || strings.Contains(w.Body.String(), "<script") {
		t.Errorf("a script is allowed or present")
	}
	for k, v := range map[string]string{"Cache-Control": "no-store", "X-Frame-Options": "DENY",
		"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff", "Content-Type": "text/html; charset=utf-8"} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestBuiltinPages(t *testing.T) {
	s := newSet(t, Options{Title: "Acme Corp"})
	alice := &User{Name: "alice", Email: "alice@example.com", ExpiresAt: now.Add(65 * time.Minute)}
	tests := []struct {
		name, page string
		p          Page
		want       []string
		not        []string
	}{
		{"sign-in form", Login, Page{CSRF: "tok", Redirect: "/app?x=1"},
			[]string{"<title>Acme Corp</title>", "<h1>Acme Corp</h1>", `<label for="username">Username</label>`,
				`name="rd" value="/app?x=1"`, `value="" autocomplete="username"`, `required autofocus>`},
			[]string{"Signed in as", `class="logo"`}},
		{"failed sign-in keeps the username", Login, Page{CSRF: "tok", Redirect: "/", Username: "alice", Error: "Invalid username or password."},
			[]string{`<p class="error" role="alert">Invalid username or password.</p>`, `name="username" value="alice"`,
				`autocomplete="current-password" required autofocus>`}, nil},
		{"signed out", Login, Page{CSRF: "tok", Redirect: "/", Notice: "You have been signed out."},
			[]string{`<p class="notice" role="status">You have been signed out.</p>`}, nil},
		{"signed in", Login, Page{CSRF: "tok", Redirect: "/reports", User: alice},
			[]string{"<h1>Signed in as alice</h1>", "alice@example.com", "Session ends at 10:05 UTC if idle.",
				`<a class="button" href="/reports">Continue</a>`, `action="/.gatehouse/logout"`, ">Sign out</button>"},
			[]string{`name="password"`}},
		{"providers beside the password form", Login, Page{CSRF: "tok", Redirect: "/", Providers: []Provider{
			{Name: "corp", Title: "Sign in with Corp SSO", URL: "/.gatehouse/oidc/start?provider=corp&rd=%2f"},
			{Name: "google", Title: "Sign in with Google", URL: "/.gatehouse/oidc/start?provider=google&rd=%2f"}}},
			[]string{`<a class="button" href="/.gatehouse/oidc/start?provider=corp&amp;rd=%2f">Sign in with Corp SSO</a>`,
				`<a class="button next" href="/.gatehouse/oidc/start?provider=google&amp;rd=%2f">Sign in with Google</a>`,
				`<p class="divider">or with a password</p>`, `name="password"`}, nil},
		{"providers only", Login, Page{CSRF: "tok", Redirect: "/", HidePassword: true, Providers: []Provider{
			{Name: "corp", Title: "Sign in with Corp SSO", URL: "/.gatehouse/oidc/start?provider=corp&rd=%2f"}}},
			[]string{">Sign in with Corp SSO</a>"}, []string{`class="divider"`, `name="password"`}},
		{"sign-in error with a way to start again", Error, Page{Status: 503, Heading: "Temporarily unavailable",
			Message: "Sign-in is temporarily unavailable.", Retry: true, Again: "/.gatehouse/oidc/start?provider=corp&rd=%2f"},
			[]string{`<a class="button" href="/.gatehouse/oidc/start?provider=corp&amp;rd=%2f">Sign in again</a>`,
				`<a class="button secondary" href="/">Go to the start page</a>`}, []string{"Try again"}},
		{"sign out", Logout, Page{CSRF: "tok", Redirect: "/app", SignedIn: true, User: alice},
			[]string{"<title>Sign out</title>", "<h1>Sign out</h1>", "You are signed in as <strong>alice</strong>. Do you want to sign out?",
				`<a class="button secondary" href="/app">Cancel</a>`, ">Sign out</button>"}, nil},
		{"sign out, session unreadable", Logout, Page{CSRF: "tok", Redirect: "/", SignedIn: true},
			[]string{"<p class=\"center\">Do you want to sign out?</p>", ">Sign out</button>"}, []string{"signed in as"}},
		{"not signed in", Logout, Page{CSRF: "tok", Redirect: "/a b?c=d&e"},
			[]string{"You are not signed in.", `href="/.gatehouse/login?rd=%2fa%20b%3fc%3dd%26e">Sign in</a>`},
			[]string{"<button"}},
		{"error", Error, errorPage(403, "forbidden", "needs group staff", "req-42", false),
			[]string{"<title>Access denied</title>", "Error 403", "<h1>Access denied</h1>", "Needs group staff.",
				"<code>req-42</code>", `href="/.gatehouse/logout">Sign in as someone else`},
			[]string{"Try again"}},
		{"bad gateway", Error, errorPage(502, "bad_gateway", "", "req-43", true),
			[]string{"Application unavailable", `<a class="button" href="">Try again</a>`}, []string{"someone else", "muted center\">"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := render(t, s, 200, tt.page, tt.p)
			body := w.Body.String()
			for _, want := range tt.want {
				if !strings.Contains(body, want) {
					t.Errorf("page lacks %q:\n%s", want, body)
				}
			}
			for _, not := range tt.not {
				if strings.Contains(body, not) {
					t.Errorf("page has %q", not)
				}
			}
			checkCSP(t, w)
		})
	}
}

func TestLogo(t *testing.T) {
	for _, tt := range []struct{ logo, imgSrc string }{
		{"https://cdn.example.com:8443/brand/logo.svg?v=2", "img-src https://cdn.example.com:8443;"},
		{"/static/logo.png", "img-src 'self';"},
	} {
		s := newSet(t, Options{Title: "Acme", LogoURL: tt.logo})
		w := render(t, s, 200, Login, Page{})
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, tt.imgSrc) {
			t.Errorf("logo %s: CSP %q lacks %q", tt.logo, csp, tt.imgSrc)
		}
		want := `<img class="logo" src="` + strings.ReplaceAll(tt.logo, "&", "&amp;") + `" alt="Acme">`
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("logo %s: page lacks %s", tt.logo, want)
		}
	}
	s := newSet(t, Options{})
	if csp := s.CSP(); strings.Contains(csp, "img-src") {
		t.Errorf("CSP without a logo %q allows images", csp)
	}
	for _, bad := range []string{"http://x.example/l.png", "//x.example/l.png", "https://x.example;script-src/l.png"} {
		if _, err := New(Options{LogoURL: bad}); err == nil {
			t.Errorf("logo %q accepted", bad)
		}
	}
}

func TestClock(t *testing.T) {
	s := newSet(t, Options{})
	for in, want := range map[time.Time]string{
		now.Add(5*time.Hour + 5*time.Minute):             "14:05 UTC",
		now.In(time.FixedZone("X", 3600)).Add(time.Hour): "10:00 UTC",
		now.Add(20 * time.Hour):                          "Sat 16 Jan 05:00 UTC",
		now.AddDate(1, 0, 0):                             "15 Jan 2028 09:00 UTC",
	} {
		if got := s.Clock(in); got != want {
			t.Errorf("Clock(%v) = %q, want %q", in, got, want)
		}
	}
}

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOverrides(t *testing.T) {
	dir := writeDir(t, map[string]string{
		"error.html": `{{template "head" .}}<h1>Oops {{.Status}}</h1><p>Ref {{.RequestID}}</p>{{template "foot" .}}`,
		"style.css":  `body{background:#000}`,
	})
	s := newSet(t, Options{Dir: dir})
	w := render(t, s, 503, Error, errorPage(503, "unavailable", "", "req-7", true))
	if body := w.Body.String(); !strings.Contains(body, "<h1>Oops 503</h1><p>Ref req-7</p>") ||
		!strings.Contains(body, "<style>body{background:#000}</style>") {
		t.Errorf("override not used:\n%s", body)
	}
	checkCSP(t, w)
	// The pages that are not overridden are the built-in ones, with the new style.
	w = render(t, s, 200, Login, Page{CSRF: "tok"})
	if !strings.Contains(w.Body.String(), `<label for="username">`) {
		t.Error("built-in login.html not used")
	}
	checkCSP(t, w)
}

func TestOverrideErrors(t *testing.T) {
	form := `<form><input name="csrf_token"><input name="rd"><input name="username"><input name="password"></form>`
	tests := []struct {
		name  string
		files map[string]string
		want  string // in the error, after the directory
	}{
		{"parse error", map[string]string{"login.html": `{{if .User}}`}, `login.html: template: login.html:1: unexpected EOF`},
		{"unknown field", map[string]string{"error.html": `{{.Nope}}`},
			`error.html: 403: template: error.html:1:2: executing "error.html" at <.Nope>: can't evaluate field Nope`},
		{"nil user", map[string]string{"logout.html": `<input name="csrf_token">{{.User.Name}}`},
			`logout.html: session unreadable: template: logout.html:1:32: executing "logout.html" at <.User.Name>: nil pointer evaluating *pages.User.Name`},
		{"script", map[string]string{"login.html": form + `<script>alert(1)</script>`},
			`login.html: sign-in form: has a <script>; the pages' Content-Security-Policy forbids scripts`},
		{"no csrf field", map[string]string{"login.html": `<form><input name="rd"><input name="username"><input name="password"></form>`},
			`login.html: sign-in form: the form lacks the field csrf_token (copy the form of the built-in template)`},
		{"misspelt file", map[string]string{"logon.html": form}, `: unknown file logon.html (want login.html, logout.html, error.html, base.html or style.css)`},
		{"broken base", map[string]string{"base.html": `{{define "head"}}`}, `base.html: template: base.html:1: unexpected EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeDir(t, tt.files)
			_, err := New(Options{Dir: dir})
			if err == nil {
				t.Fatalf("New accepted %v", tt.files)
			}
			if !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q\nwant it to name %s and contain %q", err, dir, tt.want)
			}
		})
	}
	if _, err := New(Options{Dir: filepath.Join(t.TempDir(), "missing")}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestRenderFailureIsPlain500(t *testing.T) {
	s := newSet(t, Options{})
	w := httptest.NewRecorder()
	if err := s.Render(w, 200, "nope.html", Page{}); err == nil || w.Code != http.StatusInternalServerError {
		t.Errorf("Render of an unknown page = %d, %v; want 500 and an error", w.Code, err)
	}
}
