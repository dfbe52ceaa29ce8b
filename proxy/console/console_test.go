package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/proxy"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// cookieUsers authenticates the cookie "sid=<user>": alice is an admin,
// bob is not.
type cookieUsers struct{}

func (cookieUsers) CookieName() string { return "sid" }

func (cookieUsers) Authenticate(r *http.Request) (*auth.Identity, error) {
	c, err := r.Cookie("sid")
	if err != nil {
		return nil, auth.ErrNoCredentials
	}
	switch c.Value {
	case "alice":
		return &auth.Identity{User: "alice", Subject: "alice", Groups: []string{"admins"}, Method: auth.MethodSession}, nil
	case "bob":
		return &auth.Identity{User: "bob", Subject: "bob", Groups: []string{"staff"}, Method: auth.MethodSession}, nil
	}
	return nil, &auth.Error{Kind: auth.ErrInvalid, Description: "no session"}
}

type recorder struct{ s *memstore.Store }

func (r recorder) Audit(ctx context.Context, e auth.AuditEvent) { _ = r.s.AppendAudit(ctx, e) }

type fixture struct {
	h     http.Handler
	store *memstore.Store
}

func newFixture(t *testing.T, networks ...string) *fixture {
	t.Helper()
	st := memstore.New(nil)
	t.Cleanup(func() { _ = st.Close() })
	ps, err := pages.New(pages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var nets []netip.Prefix
	for _, n := range networks {
		nets = append(nets, netip.MustParsePrefix(n))
	}
	h, err := New(Options{
		Groups: []string{"admins"}, Networks: nets, Store: st, Pages: ps, Audit: recorder{st},
		Decider: proxy.NewDecider(proxy.DeciderOptions{Sessions: cookieUsers{}}),
		Users:   func() []string { return []string{"alice", "bob", "bobby"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{h: h, store: st}
}

func (f *fixture) do(t *testing.T, method, path, user string, form url.Values, headers ...string) *httptest.ResponseRecorder {
	t.Helper()
	var r *http.Request
	if form != nil {
		r = httptest.NewRequest(method, "http://gate.test"+path, strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r = httptest.NewRequest(method, "http://gate.test"+path, nil)
	}
	r.Header.Set("Accept", "text/html")
	if user != "" {
		r.AddCookie(&http.Cookie{Name: "sid", Value: user})
	}
	r.AddCookie(&http.Cookie{Name: "gatehouse_console_csrf", Value: testCSRF})
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	r = r.WithContext(httpx.WithRequestInfo(r.Context(), "rid-1", netip.MustParseAddr("192.0.2.10")))
	w := httptest.NewRecorder()
	f.h.ServeHTTP(w, r)
	return w
}

var testCSRF = strings.Repeat("A", csrfLen)

func (f *fixture) session(t *testing.T, user, ua string) string {
	t.Helper()
	key := strings.Repeat("0", 63) + string(rune('a'+len(ua)%6))
	now := time.Now()
	err := f.store.CreateSession(context.Background(), auth.SessionRecord{
		Key: key, User: user, Created: now, LastSeen: now, IP: "198.51.100.7", UserAgent: ua,
	}, time.Hour, 0)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func TestPagesForAnAdmin(t *testing.T) {
	f := newFixture(t)
	f.session(t, "bob", "<b>Firefox</b>")
	for path, want := range map[string]string{
		"/.gatehouse/admin/":                  "sign-ins in the last hour",
		"/.gatehouse/admin/users?q=bo":        `href="/.gatehouse/admin/users/bobby"`,
		"/.gatehouse/admin/users/bob":         "&lt;b&gt;Firefox&lt;/b&gt;",
		"/.gatehouse/admin/tokens":            "Check a token",
		"/.gatehouse/admin/events?kind=login": "<option value=\"login\" selected>",
	} {
		w := f.do(t, "GET", path, "alice", nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("GET %s: %d, want 200 with %q: %.400s", path, w.Code, want, w.Body.String())
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, "default-src 'none'; style-src 'sha256-") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: CSP %q", path, csp)
		}
		if w.Header().Get("Cache-Control") != "no-store" || strings.Contains(w.Body.String(), "<script") {
			t.Errorf("GET %s: cache %q or a script", path, w.Header().Get("Cache-Control"))
		}
	}
}

func TestOverviewCountsActiveSessions(t *testing.T) {
	f := newFixture(t)
	card := func(n int) string {
		return `<div class="n">` + strconv.Itoa(n) + `</div><div class="l">active sessions</div>`
	}
	check := func(n int) {
		t.Helper()
		w := f.do(t, "GET", "/.gatehouse/admin/", "alice", nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), card(n)) {
			t.Errorf("overview: %d, want 200 with %q: %.600s", w.Code, card(n), w.Body.String())
		}
		if i, j := strings.Index(w.Body.String(), "active sessions"), strings.Index(w.Body.String(), "sign-ins in the last hour"); i < 0 || i > j {
			t.Errorf("overview: the active sessions card is not the first")
		}
	}
	check(0)
	f.session(t, "bob", "a")
	f.session(t, "bob", "ab")
	k := f.session(t, "carol", "abc")
	check(3)
	if ok, err := f.store.DeleteSession(context.Background(), k); !ok || err != nil {
		t.Fatalf("DeleteSession = %v, %v", ok, err)
	}
	check(2)
	if _, err := f.store.DeleteUserSessions(context.Background(), "bob"); err != nil {
		t.Fatal(err)
	}
	check(0)
}

func TestRefusals(t *testing.T) {
	f := newFixture(t)
	if w := f.do(t, "GET", "/.gatehouse/admin/", "", nil); w.Code != http.StatusFound ||
		w.Header().Get("Location") != "/.gatehouse/login?rd=%2F.gatehouse%2Fadmin%2F" {
		t.Errorf("no session: %d %q", w.Code, w.Header().Get("Location"))
	}
	if w := f.do(t, "GET", "/.gatehouse/admin/", "bob", nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "not in a group") {
		t.Errorf("non-admin: %d", w.Code)
	}
	if w := f.do(t, "GET", "/.gatehouse/admin/", "", nil, "Authorization", "Bearer x"); w.Code == http.StatusOK {
		t.Errorf("a Bearer token without a session: %d", w.Code)
	}
	far := newFixture(t, "10.0.0.0/8")
	if w := far.do(t, "GET", "/.gatehouse/admin/", "alice", nil); w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "network") {
		t.Errorf("outside networks: %d", w.Code)
	}
	if w := f.do(t, "GET", "/.gatehouse/admin/nope", "alice", nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown page: %d", w.Code)
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/users/bob/end-all", "", url.Values{"csrf_token": {testCSRF}, "confirm": {"yes"}}); w.Code != http.StatusSeeOther ||
		!strings.HasPrefix(w.Header().Get("Location"), "/.gatehouse/login") {
		t.Errorf("POST without a session: %d", w.Code)
	}
}

func TestActionsNeedCSRFAndSameOrigin(t *testing.T) {
	f := newFixture(t)
	f.session(t, "bob", "ua")
	for name, tc := range map[string]struct {
		form    url.Values
		headers []string
	}{
		"no token":     {url.Values{"confirm": {"yes"}}, nil},
		"wrong token":  {url.Values{"confirm": {"yes"}, "csrf_token": {strings.Repeat("B", csrfLen)}}, nil},
		"cross-origin": {url.Values{"confirm": {"yes"}, "csrf_token": {testCSRF}}, []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}},
	} {
		w := f.do(t, "POST", "/.gatehouse/admin/users/bob/end-all", "alice", tc.form, tc.headers...)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", name, w.Code)
		}
	}
	if recs, _, _ := f.store.UserSessions(context.Background(), "bob", "", 10); len(recs) != 1 {
		t.Fatalf("a refused POST changed bob's sessions: %d left", len(recs))
	}
	if evs, _ := f.store.ListAudit(context.Background(), auth.AuditFilter{}); len(evs) != 0 {
		t.Errorf("refused POSTs wrote events: %+v", evs)
	}
}

func TestEndAllConfirmsThenActs(t *testing.T) {
	f := newFixture(t)
	f.session(t, "bob", "ua")
	w := f.do(t, "POST", "/.gatehouse/admin/users/bob/end-all", "alice", url.Values{"csrf_token": {testCSRF}})
	if w.Code != 200 || !strings.Contains(w.Body.String(), `name="confirm" value="yes"`) {
		t.Fatalf("first step: %d %.300s", w.Code, w.Body.String())
	}
	if recs, _, _ := f.store.UserSessions(context.Background(), "bob", "", 10); len(recs) != 1 {
		t.Fatal("end-all acted before its confirmation")
	}
	for range 2 { // a double submission is harmless
		w = f.do(t, "POST", "/.gatehouse/admin/users/bob/end-all", "alice", url.Values{"csrf_token": {testCSRF}, "confirm": {"yes"}})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("confirmed: %d", w.Code)
		}
	}
	if recs, _, _ := f.store.UserSessions(context.Background(), "bob", "", 10); len(recs) != 0 {
		t.Error("bob's sessions survived end-all")
	}
	evs, _ := f.store.ListAudit(context.Background(), auth.AuditFilter{Kind: auth.AuditAdminAction})
	if len(evs) != 2 || evs[0].Actor != "alice" || evs[0].User != "bob" || evs[0].IP != "192.0.2.10" || evs[1].Detail != "ended all sessions (1)" {
		t.Errorf("events: %+v", evs)
	}
}

func TestRevokeAllAndEndOne(t *testing.T) {
	f := newFixture(t)
	key := f.session(t, "bob", "ua")
	page := f.do(t, "GET", "/.gatehouse/admin/users/bob", "alice", nil).Body.String()
	id := regexp.MustCompile(`name="id" value="([^"]+)"`).FindStringSubmatch(page)
	if id == nil {
		t.Fatal("no session handle on the page")
	}
	if strings.Contains(page, key) {
		t.Error("the page shows the session's stored key")
	}
	// Another user's session cannot be ended from bob's page.
	if w := f.do(t, "POST", "/.gatehouse/admin/users/carol/end-session", "alice", url.Values{"csrf_token": {testCSRF}, "id": {id[1]}}); w.Code != 200 ||
		!strings.Contains(w.Body.String(), "already ended") {
		t.Errorf("end bob's session from carol's page: %d", w.Code)
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/users/bob/end-session", "alice", url.Values{"csrf_token": {testCSRF}, "id": {id[1]}}); w.Code != http.StatusSeeOther {
		t.Errorf("end session: %d", w.Code)
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/users/bob/end-session", "alice", url.Values{"csrf_token": {testCSRF}, "id": {"garbage"}}); w.Code != http.StatusBadRequest {
		t.Errorf("garbage id: %d", w.Code)
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/users/bob/revoke-all", "alice", url.Values{"csrf_token": {testCSRF}, "confirm": {"yes"}}); w.Code != http.StatusSeeOther {
		t.Errorf("revoke all: %d", w.Code)
	}
	if at, _ := f.store.SubjectRevokedAt(context.Background(), "bob"); at.IsZero() {
		t.Error("bob is not revoked")
	}
}

type verifier struct{}

func (verifier) VerifyIgnoringRevocation(_ context.Context, tok string) (*auth.Identity, error) {
	if tok != "good.token.sig" {
		return nil, &auth.Error{Kind: auth.ErrInvalid, Description: "signature is invalid"}
	}
	return &auth.Identity{User: "bob", Subject: "bob", TokenID: "jti-1", ExpiresAt: time.Now().Add(time.Hour),
		Claims: map[string]any{"sub": "bob", "scope": "<read>"}}, nil
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	f.h.(*Handler).o.Tokens = verifier{}
	w := f.do(t, "POST", "/.gatehouse/admin/tokens", "alice", url.Values{"csrf_token": {testCSRF}, "token": {"good.token.sig"}})
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "Verified") || !strings.Contains(body, "&lt;read&gt;") || strings.Contains(body, "good.token.sig") {
		t.Fatalf("verified token: %d %.600s", w.Code, body)
	}
	exp := regexp.MustCompile(`name="exp" value="(\d+)"`).FindStringSubmatch(body)
	if exp == nil {
		t.Fatal("no revoke form")
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/tokens/revoke", "alice", url.Values{"csrf_token": {testCSRF}, "jti": {"jti-1"}, "exp": {exp[1]}, "sub": {"bob"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("revoke: %d", w.Code)
	}
	if ok, _ := f.store.JTIRevoked(context.Background(), "jti-1"); !ok {
		t.Error("jti-1 not revoked")
	}
	for tok, want := range map[string]string{"forged": "Invalid", "": "Paste a token", strings.Repeat("x", 70<<10): "longer than"} {
		w := f.do(t, "POST", "/.gatehouse/admin/tokens", "alice", url.Values{"csrf_token": {testCSRF}, "token": {tok}})
		if w.Code != 200 || !strings.Contains(w.Body.String(), want) {
			t.Errorf("token %.10q: %d, want %q", tok, w.Code, want)
		}
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/tokens", "alice", url.Values{"csrf_token": {testCSRF}, "token": {strings.Repeat("x", 1<<20)}}); w.Code != http.StatusBadRequest {
		t.Errorf("1 MB token: %d", w.Code)
	}
	if w := f.do(t, "POST", "/.gatehouse/admin/tokens/revoke", "alice", url.Values{"csrf_token": {testCSRF}, "jti": {"x"}, "exp": {"soon"}}); w.Code != http.StatusBadRequest {
		t.Errorf("bad exp: %d", w.Code)
	}
}
