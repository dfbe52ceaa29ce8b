package oidclogin

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc/oidctest"
)

// fixture is one IdP and one Gatehouse replica (memory store) in front of
// it, with the confidential client as "corp".
type fixture struct {
	idp  *oidctest.Provider
	gate *gate
	cfg  oidc.Config
}

func startFixture(t *testing.T, edit func(*oidc.Config)) *fixture {
	t.Helper()
	l := reserve(t)
	idp := oidctest.Start(t, oidctest.Options{
		RedirectURIs:           []string{l.URL() + oidc.CallbackPath},
		PostLogoutRedirectURIs: []string{l.URL() + "/.gatehouse/login"},
		BackchannelLogoutURI:   l.URL() + oidc.BackchannelPath,
	})
	cfg := oidc.Config{
		Name: "corp", Title: "Sign in with Corp", Issuer: idp.Issuer, ClientID: oidctest.ClientID,
		ClientSecret: oidctest.ClientSecret, Scopes: []string{"openid", "email", "profile", "groups"},
		RedirectURL: l.URL() + oidc.CallbackPath, EndSession: true,
	}
	if edit != nil {
		edit(&cfg)
	}
	store := memstore.New(nil)
	t.Cleanup(func() { store.Close() })
	return &fixture{idp: idp, gate: newGate(t, l, store, cfg), cfg: cfg}
}

func TestSignIn(t *testing.T) {
	t.Parallel()
	f := startFixture(t, nil)
	b := newBrowser(t)
	status, page := b.signIn(f.gate, "corp", "alice", "/dash?tab=1")
	if want := "user=alice groups=staff,admins uri=/dash?tab=1"; status != 200 || page != want {
		t.Fatalf("after sign-in = %d %q, want %q", status, page, want)
	}
	if got := testutil.ToFloat64(f.gate.m.Logins.WithLabelValues("corp", "success")); got != 1 {
		t.Errorf("logins success = %v, want 1", got)
	}
	if got := testutil.ToFloat64(f.gate.m.ProviderUp.WithLabelValues("corp")); got != 1 {
		t.Errorf("provider_up = %v, want 1", got)
	}
	// The pre-auth cookie is gone; the session cookie works again.
	if status, page := b.get(f.gate.URL + "/other"); status != 200 || !strings.HasPrefix(page, "user=alice ") {
		t.Errorf("next request = %d %q", status, page)
	}
}

func TestSignInPublicClient(t *testing.T) {
	t.Parallel()
	f := startFixture(t, func(c *oidc.Config) { c.ClientID, c.ClientSecret = oidctest.PublicClientID, "" })
	status, page := newBrowser(t).signIn(f.gate, "corp", "bob", "/")
	if want := "user=bob groups=staff uri=/"; status != 200 || page != want {
		t.Fatalf("after sign-in = %d %q, want %q", status, page, want)
	}
}

func TestAllowedGroupsDenied(t *testing.T) {
	t.Parallel()
	f := startFixture(t, func(c *oidc.Config) { c.AllowedGroups = []string{"admins"} })
	b := newBrowser(t)
	status, page := b.signIn(f.gate, "corp", "bob", "/dash")
	if status != http.StatusForbidden || !strings.Contains(page, "Sign in again") {
		t.Fatalf("bob (staff only) = %d, want the 403 page with a link to start again: %.500s", status, page)
	}
	if got := testutil.ToFloat64(f.gate.m.Logins.WithLabelValues("corp", "denied")); got != 1 {
		t.Errorf("logins denied = %v, want 1", got)
	}
	// No session: the app sends the browser to the login page.
	nb := b.noFollow()
	if status, _ := nb.get(f.gate.URL + "/dash"); status != http.StatusFound {
		t.Errorf("app after denial = %d, want 302 to login", status)
	}
	if n := sessionsOf(t, f.gate, "bob"); n != 0 {
		t.Errorf("bob has %d sessions, want 0", n)
	}
}

func sessionsOf(t *testing.T, g *gate, user string) int {
	t.Helper()
	page, _, err := g.store.UserSessions(t.Context(), user, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(page)
}

// TestStartRedirects: rd open-redirect payloads through start end at "/".
func TestStartRedirects(t *testing.T) {
	t.Parallel()
	f := startFixture(t, nil)
	for _, rd := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "/%2F%2Fevil.example", "javascript:alert(1)", "/%0d%0aSet-Cookie:x=1"} {
		b := newBrowser(t)
		status, page := b.signIn(f.gate, "corp", "alice", rd)
		if status != 200 || !strings.HasSuffix(page, " uri=/") {
			t.Errorf("rd %q: after sign-in = %d %q, want the app at /", rd, status, page)
		}
	}
}

func TestStartUnknownProvider(t *testing.T) {
	t.Parallel()
	f := startFixture(t, nil)
	status, _ := newBrowser(t).get(f.gate.URL + StartURL("nope", "/"))
	if status != http.StatusNotFound {
		t.Errorf("unknown provider = %d, want 404", status)
	}
}

// callbackURL returns the IdP's redirect back to Gatehouse (not followed),
// after a sign-in at the IdP, and the browser that holds the pre-auth cookie.
func callbackURL(t *testing.T, f *fixture, user string) (*browser, *url.URL) {
	t.Helper()
	b := newBrowser(t)
	var cb *url.URL
	b.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if req.URL.Path == oidc.CallbackPath {
			cb = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}
	b.signIn(f.gate, "corp", user, "/x")
	if cb == nil {
		t.Fatal("no redirect to the callback")
	}
	b.c.CheckRedirect = nil
	return b, cb
}

// TestUserinfoProvider: /.gatehouse/userinfo of an OIDC session names its
// provider.
func TestUserinfoProvider(t *testing.T) {
	t.Parallel()
	f := startFixture(t, nil)
	b := newBrowser(t)
	b.signIn(f.gate, "corp", "alice", "/")
	status, body := b.get(f.gate.URL + "/.gatehouse/userinfo")
	if status != 200 || !strings.Contains(body, `"provider":"corp"`) || !strings.Contains(body, `"user":"alice"`) {
		t.Errorf("userinfo = %d %s", status, body)
	}
}
