package oidclogin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
)

type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return time.Now().Add(c.d) }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.d += d; c.mu.Unlock() }

// fakeFixture is a replica in front of the fake IdP ("fake", client_id
// "client"), on a memory store with a clock the test moves.
type fakeFixture struct {
	idp   *fakeIdP
	gate  *gate
	clock *clock
}

func startFake(t *testing.T) *fakeFixture {
	t.Helper()
	idp := newFakeIdP(t)
	idp.replyID(func(nonce string) string { return idp.sign(idp.claims(nonce), nil, "") })
	l := reserve(t)
	c := &clock{}
	store := memstore.New(c.Now)
	t.Cleanup(func() { store.Close() })
	cfg := oidc.Config{Name: "fake", Issuer: idp.Issuer, ClientID: "client", ClientSecret: "s",
		RedirectURL: l.URL() + oidc.CallbackPath, Leeway: 30 * time.Second}
	return &fakeFixture{idp: idp, gate: newGate(t, l, store, cfg), clock: c}
}

// begin starts a sign-in without following the IdP's redirect: the
// browser holds the pre-auth cookie; the answer is the state sent.
func (f *fakeFixture) begin(t *testing.T, b *browser) string {
	t.Helper()
	nb := b.noFollow()
	status, _ := nb.get(f.gate.URL + StartURL("fake", "/app"))
	if status != http.StatusFound {
		t.Fatalf("start = %d, want 302", status)
	}
	loc, _ := url.Parse(nb.last.Header.Get("Location"))
	return loc.Query().Get("state")
}

func TestIDTokenVerification(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	idp := f.idp
	hmac, _ := jwk.FromRaw([]byte("a-shared-secret-of-thirty-two-bytes!"))
	with := func(edit func(c map[string]any)) func(string) string {
		return func(nonce string) string {
			c := idp.claims(nonce)
			edit(c)
			return idp.sign(c, nil, "")
		}
	}
	cases := []struct {
		name   string
		token  func(nonce string) string
		status int
	}{
		{"good", func(n string) string { return idp.sign(idp.claims(n), nil, "") }, 200},
		{"wrong nonce", with(func(c map[string]any) { c["nonce"] = "other" }), 400},
		{"no nonce", with(func(c map[string]any) { delete(c, "nonce") }), 400},
		{"wrong aud", with(func(c map[string]any) { c["aud"] = "someone-else" }), 400},
		{"azp of another client", with(func(c map[string]any) { c["aud"] = []string{"client", "x"}; c["azp"] = "x" }), 400},
		{"wrong iss", with(func(c map[string]any) { c["iss"] = "https://evil.example" }), 400},
		{"expired", with(func(c map[string]any) { c["exp"] = time.Now().Add(-2 * time.Minute).Unix() }), 400},
		{"iat in the future", with(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), 400},
		{"alg none", func(n string) string { return unsigned(idp.claims(n)) }, 400},
		{"HS256 (unlisted)", func(n string) string { return idp.sign(idp.claims(n), hmac, jwa.HS256) }, 400},
		{"another RSA key", func(n string) string { return idp.sign(idp.claims(n), idp.other, jwa.RS256) }, 400},
		{"ES256 key not in the JWKS", func(n string) string { return idp.sign(idp.claims(n), ecKey(t), jwa.ES256) }, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp.replyID(c.token)
			before := sessionsOf(t, f.gate, "dave")
			b := newBrowser(t)
			status, page := b.get(f.gate.URL + StartURL("fake", "/app"))
			if status != c.status {
				t.Fatalf("sign-in = %d, want %d: %.300s", status, c.status, page)
			}
			if c.status != 200 {
				if !strings.Contains(page, "Sign in again") || !strings.Contains(page, `href="/.gatehouse/oidc/start?provider=fake&amp;rd=%2Fapp"`) {
					t.Errorf("error page has no link to start again: %.1500s", page)
				}
				if n := sessionsOf(t, f.gate, "dave"); n != before {
					t.Errorf("%d sessions after a refused token", n)
				}
			}
		})
	}
}

func TestTokenEndpointFailures(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	cases := map[string]func(w http.ResponseWriter, nonce string){
		"500": func(w http.ResponseWriter, _ string) { http.Error(w, "boom", 500) },
		"garbage": func(w http.ResponseWriter, _ string) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, "{not json")
		},
		"no id_token": func(w http.ResponseWriter, _ string) {
			writeJSON(w, map[string]any{"access_token": "at", "token_type": "Bearer"})
		},
	}
	for name, reply := range cases {
		t.Run(name, func(t *testing.T) {
			f.idp.reply(reply)
			status, page := newBrowser(t).get(f.gate.URL + StartURL("fake", "/app"))
			if status != http.StatusBadGateway || !strings.Contains(page, "Sign in again") {
				t.Fatalf("sign-in = %d, want 502 with a link to start again: %.300s", status, page)
			}
		})
	}
	if got := f.gate.m.Logins.WithLabelValues("fake", "error"); got == nil {
		t.Fatal("no error counter")
	}
}

func TestCallbackState(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	cb := f.gate.URL + oidc.CallbackPath
	t.Run("no pre-auth cookie", func(t *testing.T) {
		if status, _ := newBrowser(t).get(cb + "?state=abc&code=x"); status != 400 {
			t.Errorf("= %d, want 400", status)
		}
	})
	t.Run("missing state", func(t *testing.T) {
		b := newBrowser(t)
		f.begin(t, b)
		if status, _ := b.get(cb + "?code=x"); status != 400 {
			t.Errorf("= %d, want 400", status)
		}
	})
	t.Run("wrong state", func(t *testing.T) {
		b := newBrowser(t)
		f.begin(t, b)
		if status, _ := b.get(cb + "?code=x&state=" + randomString()); status != 400 {
			t.Errorf("= %d, want 400", status)
		}
	})
	t.Run("expired state", func(t *testing.T) {
		b := newBrowser(t)
		state := f.begin(t, b)
		f.clock.Add(oidc.PreAuthTTL + time.Second)
		defer f.clock.Add(-oidc.PreAuthTTL - time.Second)
		if status, _ := b.get(cb + "?code=x&state=" + url.QueryEscape(state)); status != 400 {
			t.Errorf("= %d, want 400", status)
		}
	})
	t.Run("reused state", func(t *testing.T) {
		b := newBrowser(t)
		var first *url.URL
		b.c.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == oidc.CallbackPath && first == nil {
				first = req.URL
			}
			return nil
		}
		if status, _ := b.get(f.gate.URL + StartURL("fake", "/app")); status != 200 {
			t.Fatalf("first sign-in = %d", status)
		}
		// The same callback again, with the pre-auth cookie put back.
		c := newBrowser(t)
		u, _ := url.Parse(f.gate.URL)
		c.c.Jar.SetCookies(u, []*http.Cookie{{Name: CookieName, Value: first.Query().Get("state"), Path: "/.gatehouse/oidc/"}})
		if status, _ := c.get(first.String()); status != 400 {
			t.Errorf("replayed callback = %d, want 400", status)
		}
	})
	t.Run("access_denied", func(t *testing.T) {
		b := newBrowser(t)
		state := f.begin(t, b)
		status, page := b.get(cb + "?error=access_denied&state=" + url.QueryEscape(state))
		if status != 403 || !strings.Contains(page, "Sign in again") {
			t.Errorf("= %d, want 403 with a link to start again", status)
		}
	})
}

// TestCodeReplay: a code already exchanged, sent again with a fresh
// state, is refused by the real IdP: 502, no session.
func TestCodeReplay(t *testing.T) {
	t.Parallel()
	fx := startFixture(t, nil)
	b, cb := callbackURL(t, fx, "alice")
	if status, _ := b.get(cb.String()); status != 200 {
		t.Fatalf("first callback = %d", status)
	}
	b2 := newBrowser(t)
	nb := b2.noFollow()
	nb.get(fx.gate.URL + StartURL("corp", "/"))
	loc, _ := url.Parse(nb.last.Header.Get("Location"))
	q := url.Values{"code": {cb.Query().Get("code")}, "state": {loc.Query().Get("state")}}
	if status, _ := b2.get(fx.gate.URL + oidc.CallbackPath + "?" + q.Encode()); status != http.StatusBadGateway {
		t.Errorf("replayed code = %d, want 502", status)
	}
}

// backchannel posts a logout token and returns the status and JSON body.
func backchannel(t *testing.T, g *gate, token string) (int, map[string]string, http.Header) {
	t.Helper()
	res, err := http.PostForm(g.URL+oidc.BackchannelPath, url.Values{"logout_token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body, res.Header
}

func TestBackchannelLogoutTokens(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	idp := f.idp
	b := newBrowser(t)
	if status, page := b.get(f.gate.URL + StartURL("fake", "/app")); status != 200 || !strings.HasPrefix(page, "user=dave ") {
		t.Fatalf("sign-in = %d %q", status, page)
	}
	lt := func(edit func(c map[string]any)) map[string]any {
		now := time.Now()
		c := map[string]any{"iss": idp.Issuer, "aud": "client", "sub": "u1", "sid": "s1", "jti": randomString(),
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(),
			"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	bad := map[string]string{
		"unsigned":       unsigned(lt(nil)),
		"other key":      idp.sign(lt(nil), idp.other, jwa.RS256),
		"nonce":          idp.sign(lt(func(c map[string]any) { c["nonce"] = "n" }), nil, ""),
		"no events":      idp.sign(lt(func(c map[string]any) { delete(c, "events") }), nil, ""),
		"other event":    idp.sign(lt(func(c map[string]any) { c["events"] = map[string]any{"x": map[string]any{}} }), nil, ""),
		"no sub or sid":  idp.sign(lt(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") }), nil, ""),
		"no exp":         idp.sign(lt(func(c map[string]any) { delete(c, "exp") }), nil, ""),
		"no jti":         idp.sign(lt(func(c map[string]any) { delete(c, "jti") }), nil, ""),
		"wrong aud":      idp.sign(lt(func(c map[string]any) { c["aud"] = "other" }), nil, ""),
		"unknown issuer": idp.sign(lt(func(c map[string]any) { c["iss"] = "https://evil.example" }), nil, ""),
		"iat future":     idp.sign(lt(func(c map[string]any) { c["iat"] = time.Now().Add(time.Hour).Unix() }), nil, ""),
		"empty":          "",
		"garbage":        "a.b.c",
	}
	for name, tok := range bad {
		status, body, hdr := backchannel(t, f.gate, tok)
		if status != 400 || body["error"] != "invalid_request" || hdr.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: = %d %v (Cache-Control %q), want 400 invalid_request no-store", name, status, body, hdr.Get("Cache-Control"))
		}
	}
	if status, _ := b.get(f.gate.URL + "/app"); status != 200 {
		t.Fatalf("session ended by a refused token: %d", status)
	}
	good := idp.sign(lt(nil), nil, "")
	if status, _, hdr := backchannel(t, f.gate, good); status != 200 || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("valid logout token = %d, want 200", status)
	}
	if status, _ := b.noFollow().get(f.gate.URL + "/app"); status != http.StatusFound {
		t.Errorf("session after back-channel logout = %d, want 302 to login", status)
	}
	if status, _, _ := backchannel(t, f.gate, good); status != 400 {
		t.Errorf("replayed jti = %d, want 400", status)
	}
	// A valid token whose sessions are already gone: 200.
	if status, _, _ := backchannel(t, f.gate, idp.sign(lt(nil), nil, "")); status != 200 {
		t.Errorf("valid token, no sessions = %d, want 200", status)
	}
}

// TestPreAuthCookie: short-lived, HttpOnly, Lax, scoped to the OIDC
// endpoints (never sent to the upstream), Secure with session.secure.
func TestPreAuthCookie(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	b := newBrowser(t).noFollow()
	b.get(f.gate.URL + StartURL("fake", "/"))
	var c *http.Cookie
	for _, x := range b.last.Cookies() {
		if x.Name == CookieName {
			c = x
		}
	}
	if c == nil || !c.HttpOnly || c.Path != CookiePath || c.MaxAge != int(oidc.PreAuthTTL.Seconds()) || c.SameSite != http.SameSiteLaxMode || len(c.Value) < 40 {
		t.Fatalf("pre-auth cookie = %+v", c)
	}
	h := New(Options{Sessions: f.gate.sessions, Store: f.gate.store, Pages: f.gate.oidc.o.Pages, Secure: true, Providers: f.gate.provs})
	if h.CookieName() != "__Secure-gatehouse_oidc" {
		t.Errorf("secure cookie name = %s", h.CookieName())
	}
}

// TestBackchannelConcurrentReplay: the same logout token posted 10 times at
// once is accepted once.
func TestBackchannelConcurrentReplay(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	now := time.Now()
	tok := f.idp.sign(map[string]any{"iss": f.idp.Issuer, "aud": "client", "sub": "u1", "jti": randomString(),
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}}, nil, "")
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := http.PostForm(f.gate.URL+oidc.BackchannelPath, url.Values{"logout_token": {tok}})
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			if res.StatusCode == 200 {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Errorf("accepted %d times, want once", ok)
	}
}
