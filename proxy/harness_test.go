package proxy

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// tokenTable is the trivial implementation of BearerVerifier: a fixed map
// from token to identity or error. The JWT verifier itself is tested in
// auth/jwtauth; here only the proxy's handling of its answers is.
type tokenTable map[string]struct {
	id  *auth.Identity
	err error
}

func (t tokenTable) Verify(_ context.Context, token string) (*auth.Identity, error) {
	e, ok := t[token]
	if !ok {
		return nil, &auth.Error{Kind: auth.ErrInvalid, Description: "signature invalid"}
	}
	return e.id, e.err
}

// cookieTable is the trivial SessionAuthenticator: cookie "sid" value → identity.
type cookieTable map[string]*auth.Identity

func (c cookieTable) Authenticate(r *http.Request) (*auth.Identity, error) {
	ck, err := r.Cookie("sid")
	if err != nil {
		return nil, auth.ErrNoCredentials
	}
	id, ok := c[ck.Value]
	if !ok {
		return nil, &auth.Error{Kind: auth.ErrInvalid, Description: "no such session"}
	}
	return id, nil
}

func (cookieTable) CookieName() string { return "sid" }

var alice = &auth.Identity{
	Subject: "alice", User: "alice", Email: "alice@example.com", Groups: []string{"staff", "dev"},
	Scopes: []string{"read"}, Method: auth.MethodJWT, ExpiresAt: time.Now().Add(time.Hour),
	Claims: map[string]any{"sub": "alice", "tenant": "acme", "org": map[string]any{"id": 7.0}},
}

func testRoutes() []Route {
	return []Route{
		{Name: "public", PathPrefix: "/public/", Auth: AuthNone},
		{Name: "health", Path: "/healthz", Auth: AuthNone},
		{Name: "api", PathPrefix: "/api/", Methods: []string{"GET", "POST"}, Auth: AuthJWT},
		{Name: "staff", PathPrefix: "/staff/", Auth: AuthJWT, Require: Require{Groups: []string{"admins"}}},
		{Name: "tenant", PathPrefix: "/tenant/", Auth: AuthJWT, Require: Require{Scopes: []string{"read"}, Claims: map[string]string{"tenant": "acme"}}},
		{Name: "fwd", PathPrefix: "/fwd/", Auth: AuthJWT, ForwardAuthorization: true},
		{Name: "mixed", PathPrefix: "/mixed/", Auth: AuthAny},
		{Name: "app", PathPrefix: "/", Auth: AuthSession},
	}
}

type harness struct {
	t        *testing.T
	proxy    *httptest.Server
	upstream *httptest.Server
	hits     atomic.Int64
	reg      *prometheus.Registry
	m        *metrics.Metrics
}

func newHarness(t *testing.T, tune func(*Options)) *harness {
	t.Helper()
	hs := &harness{t: t, reg: prometheus.NewRegistry()}
	hs.m = metrics.New(hs.reg, "test")
	echoH := echo.Handler()
	hs.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.hits.Add(1)
		echoH.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.upstream.Close)
	up, _ := url.Parse(hs.upstream.URL)
	o := Options{
		Routes:   testRoutes(),
		Upstream: up,
		Headers: Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method",
			Extra: map[string]string{"X-Auth-Tenant": "tenant", "X-Auth-Org": "org.id"}},
		Bearer: tokenTable{
			"good":    {id: alice},
			"revoked": {err: &auth.Error{Kind: auth.ErrRevoked, Description: "token revoked"}},
			"down":    {id: alice, err: &auth.Error{Kind: auth.ErrUnavailable, Description: "revocation list unavailable"}},
			"newline": {id: &auth.Identity{User: "eve\r\nX-Evil: 1", Method: auth.MethodJWT}},
		},
		Sessions: cookieTable{"s1": {Subject: "bob", User: "bob", Groups: []string{"staff"}, Method: auth.MethodSession}},
		Metrics:  hs.m,
	}
	if tune != nil {
		tune(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	hs.proxy = httptest.NewServer(h)
	t.Cleanup(hs.proxy.Close)
	return hs
}

// do sends a request with the given headers ("Name: value" lines).
func (hs *harness) do(method, target string, headers ...string) *http.Response {
	hs.t.Helper()
	req, err := http.NewRequest(method, hs.proxy.URL+target, nil)
	if err != nil {
		hs.t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		hs.t.Fatal(err)
	}
	hs.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

var noRedirect = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       10 * time.Second,
}

// echoed decodes what the upstream received.
func echoed(t *testing.T, resp *http.Response) echo.Request {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200 from the upstream", resp.StatusCode)
	}
	var e echo.Request
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func errorBody(t *testing.T, resp *http.Response) map[string]string {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var b map[string]string
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return b
}
