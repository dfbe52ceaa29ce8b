package oidclogin

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc/oidctest"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/proxy/login"
)

var buttonRE = regexp.MustCompile(`<a class="button" href="([^"]+)">Sign in with Corp</a>`)

// TestLoginPageButton: a protected page → the login page → the provider
// button → the IdP → back on the page (rd kept).
func TestLoginPageButton(t *testing.T) {
	t.Parallel()
	f := startFixture(t, nil)
	b := newBrowser(t)
	status, page := b.get(f.gate.URL + "/reports?q=1")
	m := buttonRE.FindStringSubmatch(page)
	if status != 200 || m == nil || strings.Contains(page, `name="password"`) {
		t.Fatalf("login page = %d, want a provider button and no password form: %.1500s", status, page)
	}
	status, page = b.get(f.gate.URL + strings.ReplaceAll(m[1], "&amp;", "&"))
	if !strings.Contains(page, `name="login"`) {
		t.Fatalf("button → %d, want the IdP's login form", status)
	}
	b.submit(page, url.Values{"login": {"alice"}, "password": {"x"}})
	status, page = b.submit(b.lastPage, nil)
	if status != 200 || page != "user=alice groups=staff,admins uri=/reports?q=1" {
		t.Fatalf("after consent = %d %q", status, page)
	}
}

// TestAutoRedirect: login.auto_redirect with one provider and no local
// users sends the login page straight to the IdP.
func TestAutoRedirect(t *testing.T) {
	t.Parallel()
	l := reserve(t)
	idp := oidctest.Start(t, oidctest.Options{RedirectURIs: []string{l.URL() + oidc.CallbackPath}})
	store := newRedisStore(t)
	g := newGateAuto(t, l, store, true, oidc.Config{Name: "corp", Issuer: idp.Issuer, ClientID: oidctest.ClientID,
		ClientSecret: oidctest.ClientSecret, RedirectURL: l.URL() + oidc.CallbackPath})
	nb := newBrowser(t).noFollow()
	if status, _ := nb.get(g.URL + login.LoginPath + "?rd=%2Fx"); status != http.StatusFound ||
		nb.last.Header.Get("Location") != StartURL("corp", "/x") {
		t.Fatalf("login page = %d → %q, want 302 to the start URL", status, nb.last.Header.Get("Location"))
	}
}

// TestLogoutEndsIdPSession: logout → the IdP's end-session page (with
// id_token_hint) → back on Gatehouse's login page; the old cookie is
// refused.
func TestLogoutEndsIdPSession(t *testing.T) {
	t.Parallel()
	f := startFixture(t, nil)
	b := newBrowser(t)
	if status, _ := b.signIn(f.gate, "corp", "alice", "/"); status != 200 {
		t.Fatalf("sign-in = %d", status)
	}
	old := b.c.Jar.Cookies(mustURL(f.gate.URL))
	_, page := b.get(f.gate.URL + login.LogoutPath)
	nb := b.noFollow()
	nb.last = b.last
	status, _ := nb.submit(page, nil)
	loc, _ := url.Parse(nb.last.Header.Get("Location"))
	if status != http.StatusSeeOther || !strings.HasPrefix(loc.String(), f.idp.Issuer+"/session/end") ||
		loc.Query().Get("id_token_hint") == "" || loc.Query().Get("client_id") != oidctest.ClientID ||
		loc.Query().Get("post_logout_redirect_uri") != f.gate.URL+login.LoginPath {
		t.Fatalf("logout = %d → %s, want 303 to the end-session endpoint", status, loc)
	}
	status, page = b.get(loc.String())
	if status != 200 || !strings.Contains(page, "op.logoutForm") {
		t.Fatalf("end-session page = %d: %.500s", status, page)
	}
	status, page = b.submit(page, url.Values{"logout": {"yes"}})
	if status != 200 || !strings.Contains(page, `Sign in with Corp`) || b.last.Request.URL.Path != login.LoginPath {
		t.Fatalf("after the IdP's logout = %d at %s, want Gatehouse's login page", status, b.last.Request.URL)
	}
	c := newBrowser(t).noFollow()
	c.c.Jar.SetCookies(mustURL(f.gate.URL), old)
	if status, _ := c.get(f.gate.URL + "/"); status != http.StatusFound {
		t.Errorf("old cookie = %d, want 302 to login", status)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func newRedisStore(t *testing.T) auth.Store {
	t.Helper()
	r := authtest.StartRedis(t)
	return redisAt(t, r.Addr)
}

func redisAt(t *testing.T, addr string) auth.Store {
	t.Helper()
	st, err := redisstore.New(redisstore.Options{Addrs: []string{addr}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestBackchannelLogoutTwoReplicas: the IdP sends a back-channel logout
// for alice's session → it is refused on both replicas (one Redis) within
// 1 s.
func TestBackchannelLogoutTwoReplicas(t *testing.T) {
	t.Parallel()
	la, lb := reserve(t), reserve(t)
	idp := oidctest.Start(t, oidctest.Options{
		RedirectURIs:         []string{la.URL() + oidc.CallbackPath},
		BackchannelLogoutURI: la.URL() + oidc.BackchannelPath,
	})
	r := authtest.StartRedis(t)
	cfg := oidc.Config{Name: "corp", Issuer: idp.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
		Scopes: []string{"openid", "profile", "groups"}, RedirectURL: la.URL() + oidc.CallbackPath}
	a := newGate(t, la, redisAt(t, r.Addr), cfg)
	rb := newGate(t, lb, redisAt(t, r.Addr), cfg)
	b := newBrowser(t)
	if status, _ := b.signIn(a, "corp", "alice", "/"); status != 200 {
		t.Fatalf("sign-in = %d", status)
	}
	nb := b.noFollow()
	for _, g := range []*gate{a, rb} { // both replicas have the session (and cache it)
		if status, _ := nb.get(g.URL + "/x"); status != 200 {
			t.Fatalf("replica %s = %d before logout", g.URL, status)
		}
	}
	recs, _, err := a.store.UserSessions(t.Context(), "alice", "", 10)
	if err != nil || len(recs) != 1 || recs[0].SID == "" || recs[0].Subject != "alice" {
		t.Fatalf("alice's sessions = %+v, %v; want one with the IdP's sid and sub", recs, err)
	}
	start := time.Now()
	idp.BackchannelLogout("alice", recs[0].SID)
	for _, g := range []*gate{a, rb} {
		for {
			status, _ := nb.get(g.URL + "/x")
			if status == http.StatusFound {
				break
			}
			if time.Since(start) > time.Second {
				t.Fatalf("replica %s still answers %d %s after the back-channel logout", g.URL, status, time.Since(start))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	t.Logf("session refused on both replicas %s after the logout token was sent", time.Since(start))
	if got := a.m.Backchannel.WithLabelValues("corp", "ok"); got == nil {
		t.Fatal("no counter")
	}
}
