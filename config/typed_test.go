package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

// TestTypedValues: the typed values config hands on are the ones its
// validation accepted, parsed by the same rule.
func TestTypedValues(t *testing.T) {
	c := Default()
	c.Upstream = "http://127.0.0.1:3000/base"
	c.TrustedProxies = []string{"10.1.2.3/8", "192.168.1.10", "::ffff:10.0.0.1", "2001:db8::/32"}
	c.Store.OnError = "allow"
	c.Session.SameSite = "strict"
	c.Login.Rate, c.Login.ClientRate = "5/min", "100/h"
	c.Routes = []Route{{Name: "a", Auth: "any", Upstream: "https://api.internal:8443"}, {Name: "b", Auth: "none"}}

	if u := c.UpstreamURL(); u == nil || u.String() != "http://127.0.0.1:3000/base" {
		t.Errorf("UpstreamURL() = %v, want http://127.0.0.1:3000/base", u)
	}
	if u := c.Routes[0].UpstreamURL(); u == nil || u.Host != "api.internal:8443" || u.Scheme != "https" {
		t.Errorf("routes[0].UpstreamURL() = %v, want https://api.internal:8443", u)
	}
	if u := c.Routes[1].UpstreamURL(); u != nil {
		t.Errorf("routes[1].UpstreamURL() = %v, want nil (the top-level upstream applies)", u)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.10/32"),
		netip.MustParsePrefix("10.0.0.1/32"), netip.MustParsePrefix("2001:db8::/32"),
	}
	got := c.TrustedPrefixes()
	if len(got) != len(want) {
		t.Fatalf("TrustedPrefixes() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("TrustedPrefixes()[%d] = %v, want %v (from %q)", i, got[i], want[i], c.TrustedProxies[i])
		}
	}
	if c.Store.ErrorPolicy() != OnErrorAllow || Default().Store.ErrorPolicy() != OnErrorDeny {
		t.Errorf("ErrorPolicy: allow → %v, default → %v; want OnErrorAllow, OnErrorDeny", c.Store.ErrorPolicy(), Default().Store.ErrorPolicy())
	}
	if c.Session.SameSiteMode() != SameSiteStrict || Default().Session.SameSiteMode() != SameSiteLax {
		t.Errorf("SameSiteMode: strict → %v, default → %v; want SameSiteStrict, SameSiteLax", c.Session.SameSiteMode(), Default().Session.SameSiteMode())
	}
	u, cl := c.Login.Rates()
	if u != (auth.Rate{N: 5, Per: time.Minute}) || cl != (auth.Rate{N: 100, Per: time.Hour}) {
		t.Errorf("Rates() = %v, %v; want 5/min, 100/h", u, cl)
	}
	if c.Routes[0].Mode() != auth.ModeAny || c.Routes[1].Mode() != auth.ModeNone {
		t.Errorf("Mode() = %q, %q; want any, none", c.Routes[0].Mode(), c.Routes[1].Mode())
	}
}

// TestAuthModesOneList: validation accepts exactly auth.Modes, the list the
// proxy applies.
func TestAuthModesOneList(t *testing.T) {
	for _, m := range append([]string{"jtw", "", "ANY"}, "none", "session", "jwt", "any") {
		var p problems
		c := Default()
		c.Users.File, c.JWT.Issue.SigningKeyFile = "users.yaml", "key.pem"
		r := Route{Name: "r", Auth: m}
		c.validateRouteAuth(&p, "routes[0]", &r)
		if valid := p.err() == nil; valid != auth.Mode(m).Valid() {
			t.Errorf("auth %q: config valid %v, auth.Mode.Valid %v", m, valid, auth.Mode(m).Valid())
		}
	}
}
