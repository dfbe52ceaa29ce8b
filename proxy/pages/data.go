package pages

import (
	"html/template"
	"time"
)

// Page is the data every template gets. Fields that do not apply to a page
// are zero. Templates override with login.templates_dir receive exactly
// this; the README lists the fields per page.
type Page struct {
	// Set on every page by the Set.
	Title     string       // login.title ("Sign in" by default)
	PageTitle string       // the document's <title>: Title, "Sign out", or the error's heading
	LogoURL   string       // login.logo_url; "" for none
	Style     template.CSS // the stylesheet the CSP allows (built-in or style.css)

	Error  string // an error to show (role=alert), e.g. "Invalid username or password."
	Notice string // information to show (role=status), e.g. "You have been signed out."

	// Sign-in and sign-out pages.
	CSRF     string // the csrf_token form field's value
	Redirect string // rd: a local path to continue to (sign-in) or go back to (cancel)
	Username string // the username field's value (kept after a failed attempt)
	SignedIn bool   // sign-out page: a session may exist (User is nil when it could not be read)
	User     *User  // the signed-in user, nil when there is none
	// Sign-in page: one button per OIDC provider (oidc.providers), and
	// whether the password form is left out (no local users, only
	// providers).
	Providers    []Provider
	HidePassword bool

	// Error page.
	Status    int    // the HTTP status, e.g. 403
	Heading   string // e.g. "Access denied"
	Message   string // a sentence for a person
	Detail    string // for 4xx: the JSON body's error_description as a sentence
	RequestID string // the X-Request-Id of this answer
	Retry     bool   // trying again may help (502, 503, 504): the template links to href=""
	Again     string // a local URL that starts the action again (an OIDC sign-in's error page); "" for none
}

// Provider is an OIDC provider's button on the sign-in page.
type Provider struct {
	Name  string // oidc.providers[].name
	Title string // the button's text
	URL   string // /.gatehouse/oidc/start?provider=NAME&rd=…
}

// User is the signed-in user shown on the pages.
type User struct {
	Name       string
	Email      string
	Groups     []string
	SignedInAt time.Time // when the session started
	ExpiresAt  time.Time // when the session ends unless it is used
	Since      string    // SignedInAt, readable ("09:12 UTC"); filled in by the Set
	Ends       string    // ExpiresAt, readable ("14:05 UTC"); filled in by the Set
}

// sample is one state of one page, rendered at load to check a template.
type sample struct {
	name, state string
	page        Page
	fields      []string // form fields the output must contain
}

func samples(now time.Time) []sample {
	alice := &User{Name: "alice", Email: "alice@example.com", Groups: []string{"staff"},
		SignedInAt: now.Add(-time.Hour), ExpiresAt: now.Add(30 * time.Minute)}
	const tok = "sample-csrf-token-0123456789abcdefghijklmnopq"
	return []sample{
		{Login, "sign-in form", Page{CSRF: tok, Redirect: "/"}, []string{"username", "password", "csrf_token", "rd"}},
		{Login, "failed sign-in", Page{CSRF: tok, Redirect: "/app", Username: "alice",
			Error: "Invalid username or password."}, []string{"username", "password", "csrf_token", "rd"}},
		{Login, "providers", Page{CSRF: tok, Redirect: "/app", Providers: []Provider{{Name: "corp", Title: "Sign in with Corp SSO",
			URL: "/.gatehouse/oidc/start?provider=corp&rd=%2Fapp"}}}, []string{"username", "password", "csrf_token", "rd"}},
		{Login, "providers only", Page{CSRF: tok, Redirect: "/", HidePassword: true, Providers: []Provider{{Name: "corp", Title: "Sign in with Corp SSO",
			URL: "/.gatehouse/oidc/start?provider=corp&rd=%2F"}}}, nil},
		{Login, "signed out", Page{CSRF: tok, Redirect: "/", Notice: "You have been signed out."}, nil},
		{Login, "signed in", Page{CSRF: tok, Redirect: "/app", User: alice}, []string{"csrf_token"}},
		{Logout, "signed in", Page{CSRF: tok, Redirect: "/", SignedIn: true, User: alice}, []string{"csrf_token"}},
		{Logout, "session unreadable", Page{CSRF: tok, Redirect: "/", SignedIn: true}, []string{"csrf_token"}},
		{Logout, "not signed in", Page{CSRF: tok, Redirect: "/"}, nil},
		{Error, "403", errorPage(403, "forbidden", "authenticated, but this route requires other groups", "req-1", false), nil},
		{Error, "502", errorPage(502, "bad_gateway", "the upstream could not be reached", "req-2", true), nil},
	}
}
