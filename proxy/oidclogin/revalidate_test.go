package oidclogin

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc"
	"github.com/gatehouse-proxy/gatehouse/auth/oidc/oidctest"
)

func refreshes(g *gate, result string) float64 {
	return testutil.ToFloat64(g.m.Refreshes.WithLabelValues("corp", result))
}

// TestRevalidateRefreshes: after revalidate, the next request refreshes
// the session at the IdP (rotating its refresh token) and goes through.
func TestRevalidateRefreshes(t *testing.T) {
	f := startFixture(t, func(c *oidc.Config) { c.Revalidate = time.Second })
	b := newBrowser(t)
	if status, _ := b.signIn(f.gate, "corp", "bob", "/"); status != 200 {
		t.Fatalf("sign-in = %d", status)
	}
	recs, _, _ := f.gate.store.UserSessions(t.Context(), "bob", "", 10)
	if len(recs) != 1 || recs[0].RefreshToken == "" {
		t.Fatalf("session = %+v, want one with a refresh token (offline_access)", recs)
	}
	first := recs[0].RefreshToken
	waitFor(t, "a refresh", func() bool {
		status, _ := b.noFollow().get(f.gate.URL + "/")
		if status != 200 {
			t.Fatalf("request during revalidation = %d", status)
		}
		return refreshes(f.gate, "ok") >= 1
	})
	recs, _, _ = f.gate.store.UserSessions(t.Context(), "bob", "", 10)
	if len(recs) != 1 || recs[0].RefreshToken == first || recs[0].RefreshToken == "" {
		t.Errorf("refresh token not rotated: %+v", recs)
	}
}

// TestRevalidateDisabledUser: bob is disabled at the IdP; after revalidate
// 20 concurrent requests on two replicas make one refresh, and the session
// ends (every request refused).
func TestRevalidateDisabledUser(t *testing.T) {
	la, lb := reserve(t), reserve(t)
	idp := oidctest.Start(t, oidctest.Options{RedirectURIs: []string{la.URL() + oidc.CallbackPath}})
	r := authtest.StartRedis(t)
	cfg := oidc.Config{Name: "corp", Issuer: idp.Issuer, ClientID: oidctest.ClientID, ClientSecret: oidctest.ClientSecret,
		Scopes: []string{"openid", "profile", "groups"}, RedirectURL: la.URL() + oidc.CallbackPath, Revalidate: time.Second}
	a := newGate(t, la, redisAt(t, r.Addr), cfg)
	rb := newGate(t, lb, redisAt(t, r.Addr), cfg)
	b := newBrowser(t)
	if status, _ := b.signIn(a, "corp", "bob", "/"); status != 200 {
		t.Fatalf("sign-in = %d", status)
	}
	idp.Disable("bob")
	time.Sleep(1100 * time.Millisecond) // revalidate is due (a duration under test, not a wait for a condition)
	nb := b.noFollow()
	var wg sync.WaitGroup
	statuses := make(chan int, 20)
	for i := range 20 {
		g := a
		if i%2 == 1 {
			g = rb
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, g.URL+"/", nil)
			req.Header.Set("Accept", "text/html")
			res, err := nb.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusFound {
			t.Errorf("request after the user was disabled = %d, want 302 to login", s)
		}
	}
	total := 0.0
	for _, g := range []*gate{a, rb} {
		total += refreshes(g, "ok") + refreshes(g, "ended") + refreshes(g, "error")
	}
	if total != 1 || refreshes(a, "ended")+refreshes(rb, "ended") != 1 {
		t.Errorf("refreshes: %v in all, ended a=%v b=%v; want exactly one, ended", total, refreshes(a, "ended"), refreshes(rb, "ended"))
	}
	if n := sessionsOf(t, a, "bob"); n != 0 {
		t.Errorf("bob has %d sessions, want 0", n)
	}
}
