package oidclogin

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy"
	"github.com/gatehouse-proxy/gatehouse/proxy/login"
	"github.com/gatehouse-proxy/gatehouse/proxy/pages"
)

// gate is one Gatehouse replica in front of an upstream that echoes the
// identity headers, with OIDC providers configured.
type gate struct {
	URL      string
	srv      *httptest.Server
	store    auth.Store
	sessions *session.Manager
	oidc     *Handler
	m        *metrics.OIDC
	provs    []*oidc.Provider
}

// upstream answers "user=<X-Auth-User> groups=<X-Auth-Groups> uri=<RequestURI>".
func upstream(t *testing.T) *url.URL {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user="+r.Header.Get("X-Auth-User")+" groups="+r.Header.Get("X-Auth-Groups")+" uri="+r.URL.RequestURI())
	}))
	t.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	return u
}

// newGate starts a replica on a fixed listener address (so that the IdP's
// redirect URIs can name it before it starts) with store.
func newGate(t *testing.T, l *listener, store auth.Store, cfgs ...oidc.Config) *gate {
	return newGateAuto(t, l, store, false, cfgs...)
}

func newGateAuto(t *testing.T, l *listener, store auth.Store, autoRedirect bool, cfgs ...oidc.Config) *gate {
	t.Helper()
	g := &gate{store: store, m: metrics.NewOIDC(prometheus.NewRegistry())}
	sm, err := session.New(session.Options{Store: store, Revocations: store})
	if err != nil {
		t.Fatal(err)
	}
	g.sessions = sm
	ps, err := pages.New(pages.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, c := range cfgs {
		p := oidc.New(c, oidc.Options{Store: store, OnUp: g.m.SetProviderUp})
		go p.Run(ctx)
		g.provs = append(g.provs, p)
	}
	g.sessions.SetRevalidator(oidc.NewRevalidator(g.provs, oidc.RevalidatorOptions{
		Store: store, Idle: session.DefaultIdle,
		OnResult: func(p, r string) { g.m.Refreshes.WithLabelValues(p, r).Inc() },
	}))
	g.oidc = New(Options{Providers: g.provs, Sessions: g.sessions, Store: store, Pages: ps, Metrics: g.m})
	mux := http.NewServeMux()
	mux.Handle("/.gatehouse/oidc/", g.oidc)
	lh, err := login.New(login.Options{Sessions: g.sessions, Users: &users.Directory{}, Pages: ps,
		External: g.oidc, NoPassword: true, AutoRedirect: autoRedirect})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle(proxy.ReservedPrefix, lh)
	h, err := proxy.New(proxy.Options{
		Routes:   []proxy.Route{{Name: "app", PathPrefix: "/", Auth: proxy.AuthSession}},
		Upstream: upstream(t), Sessions: g.sessions, Reserved: mux,
		Headers: proxy.Headers{User: "X-Auth-User", Groups: "X-Auth-Groups"},
		Metrics: metrics.New(prometheus.NewRegistry(), "test"),
	})
	if err != nil {
		t.Fatal(err)
	}
	g.srv = httptest.NewUnstartedServer(h)
	g.srv.Listener = l.take(t)
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	g.URL = g.srv.URL
	waitFor(t, "provider discovery", func() bool {
		for _, p := range g.provs {
			if !p.Ready() {
				return false
			}
		}
		return true
	})
	return g
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// browser is an HTTP client with a cookie jar that follows redirects and
// posts the IdP's dev-interaction forms, as a browser without JavaScript.
type browser struct {
	t        *testing.T
	c        *http.Client
	last     *http.Response
	lastPage string
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, c: &http.Client{Jar: jar, Timeout: 20 * time.Second}}
}

// noFollow returns a copy of the browser that does not follow redirects.
func (b *browser) noFollow() *browser {
	c := *b.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &browser{t: b.t, c: &c}
}

func (b *browser) do(method, u string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Accept", "text/html")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, u, err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	b.last, b.lastPage = res, string(out)
	return res.StatusCode, string(out)
}

func (b *browser) get(u string) (int, string) { return b.do(http.MethodGet, u, nil) }

var (
	formRE   = regexp.MustCompile(`<form[^>]*\saction="([^"]+)"`)
	hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)"`)
)

// submit posts the page's first form (relative to the last URL) with its
// hidden fields and fields.
func (b *browser) submit(page string, fields url.Values) (int, string) {
	b.t.Helper()
	m := formRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form on the page: %.2000s", page)
	}
	action, err := b.last.Request.URL.Parse(strings.ReplaceAll(m[1], "&amp;", "&"))
	if err != nil {
		b.t.Fatal(err)
	}
	form := url.Values{}
	for _, h := range hiddenRE.FindAllStringSubmatch(page, -1) {
		form.Set(h[1], h[2])
	}
	for k, v := range fields {
		form[k] = v
	}
	return b.do(http.MethodPost, action.String(), form)
}

// signIn goes through start → the IdP's login form → consent → back.
func (b *browser) signIn(g *gate, provider, user, rd string) (int, string) {
	b.t.Helper()
	status, page := b.get(g.URL + StartURL(provider, rd))
	if status != 200 || !strings.Contains(page, `name="login"`) {
		b.t.Fatalf("start → %d, want the IdP's login form: %.1000s", status, page)
	}
	status, page = b.submit(page, url.Values{"login": {user}, "password": {"any"}})
	if strings.Contains(page, `name="prompt" value="consent"`) {
		status, page = b.submit(page, nil)
	}
	return status, page
}

// listener is a loopback listener opened before its server exists, so
// that the IdP's redirect URIs can name it.
type listener struct{ l net.Listener }

func reserve(t *testing.T) *listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &listener{l: l}
}

func (l *listener) URL() string { return "http://" + l.l.Addr().String() }

func (l *listener) take(t *testing.T) net.Listener { return l.l }
