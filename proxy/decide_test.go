package proxy

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"
	"testing"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// TestDecide asks the decision function about described requests (as a
// forward-auth door would build them, no *http.Request behind them) and
// checks each answer: identity, outcome, status and the refusal's headers.
func TestDecide(t *testing.T) {
	alice := &auth.Identity{Subject: "alice", User: "alice", Groups: []string{"staff"}, Method: auth.MethodJWT}
	bob := &auth.Identity{Subject: "bob", User: "bob", Groups: []string{"staff"}, Method: auth.MethodSession}
	bearer := tokenTable{
		"good":    {id: alice},
		"revoked": {err: &auth.Error{Kind: auth.ErrRevoked, Description: "token revoked"}},
		"down":    {id: alice, err: &auth.Error{Kind: auth.ErrUnavailable, Description: "revocation list unavailable"}},
	}
	sessions := cookieTable{"s1": bob}
	deny := NewDecider(DeciderOptions{Bearer: bearer, Sessions: sessions})
	allow := NewDecider(DeciderOptions{Bearer: bearer, Sessions: sessions, AllowOnStoreError: true})
	req := func(method, target string, headers ...string) Request {
		u, _ := url.Parse(target)
		h := http.Header{}
		for i := 0; i+1 < len(headers); i += 2 {
			h.Add(headers[i], headers[i+1])
		}
		return Request{Method: method, URL: u, Host: "app.example", Header: h, ClientIP: netip.MustParseAddr("192.0.2.1")}
	}
	anyRoute := Route{Name: "r", Auth: AuthAny}
	tests := []struct {
		name    string
		d       *Decider
		req     Request
		rt      Route
		user    string // "" means no identity
		outcome string
		status  int
		code    string
		header  [2]string // a refusal header and its value
		unknown bool      // RevocationUnknown
	}{
		{"bearer", deny, req("GET", "/x", "Authorization", "Bearer good"), anyRoute, "alice", metrics.OutcomeAllowed, 0, "", [2]string{}, false},
		{"cookie", deny, req("GET", "/x", "Cookie", "sid=s1"), anyRoute, "bob", metrics.OutcomeAllowed, 0, "", [2]string{}, false},
		{"none", deny, req("GET", "/x"), Route{Auth: AuthNone}, "", metrics.OutcomeAllowed, 0, "", [2]string{}, false},
		{"no credentials", deny, req("GET", "/x"), Route{Auth: AuthJWT}, "", metrics.OutcomeUnauthenticated, 401, "unauthorized", [2]string{"WWW-Authenticate", "Bearer"}, false},
		{"revoked", deny, req("GET", "/x", "Authorization", "Bearer revoked"), anyRoute, "", metrics.OutcomeRevoked, 401, "invalid_token",
			[2]string{"WWW-Authenticate", `Bearer error="invalid_token", error_description="token revoked"`}, false},
		{"login redirect", deny, req("GET", "/a/b?c=d", "Accept", "text/html"), Route{Auth: AuthSession}, "", metrics.OutcomeUnauthenticated, 302, "",
			[2]string{"Location", "/.gatehouse/login?rd=%2Fa%2Fb%3Fc%3Dd"}, false},
		{"store down, deny", deny, req("GET", "/x", "Authorization", "Bearer down"), anyRoute, "", metrics.OutcomeUnavailable, 503, "unavailable", [2]string{"Retry-After", "1"}, false},
		{"store down, allow", allow, req("GET", "/x", "Authorization", "Bearer down"), anyRoute, "alice", metrics.OutcomeAllowed, 0, "", [2]string{}, true},
		{"require", deny, req("GET", "/x", "Authorization", "Bearer good"), Route{Auth: AuthAny, Require: Require{Groups: []string{"ops"}}}, "alice", metrics.OutcomeForbidden, 403, "forbidden", [2]string{}, false},
		{"cross-origin write", deny, req("POST", "/x", "Cookie", "sid=s1", "Sec-Fetch-Site", "cross-site"), anyRoute, "bob", metrics.OutcomeForbidden, 403, "forbidden", [2]string{}, false},
		{"cross-origin websocket", deny, req("GET", "/ws", "Cookie", "sid=s1", "Origin", "https://evil.example", "Upgrade", "websocket", "Connection", "Upgrade"), anyRoute, "bob", metrics.OutcomeForbidden, 403, "forbidden", [2]string{}, false},
		{"same-origin write", deny, req("POST", "/x", "Cookie", "sid=s1", "Sec-Fetch-Site", "same-origin"), anyRoute, "bob", metrics.OutcomeAllowed, 0, "", [2]string{}, false},
		{"bearer cross-origin write", deny, req("POST", "/x", "Authorization", "Bearer good", "Sec-Fetch-Site", "cross-site"), anyRoute, "alice", metrics.OutcomeAllowed, 0, "", [2]string{}, false},
	}
	for _, tt := range tests {
		d := tt.d.Decide(context.Background(), tt.req, tt.rt)
		user := ""
		if d.Identity != nil {
			user = d.Identity.User
		}
		if user != tt.user || d.Outcome != tt.outcome || d.Status != tt.status || d.Code != tt.code || d.RevocationUnknown != tt.unknown {
			t.Errorf("%s: got user %q, outcome %q, status %d, code %q, revocation unknown %v; want %q, %q, %d, %q, %v",
				tt.name, user, d.Outcome, d.Status, d.Code, d.RevocationUnknown, tt.user, tt.outcome, tt.status, tt.code, tt.unknown)
		}
		if d.Allowed() != (tt.status == 0) {
			t.Errorf("%s: Allowed() = %v with status %d", tt.name, d.Allowed(), d.Status)
		}
		if tt.header[0] != "" && d.Header.Get(tt.header[0]) != tt.header[1] {
			t.Errorf("%s: %s = %q, want %q", tt.name, tt.header[0], d.Header.Get(tt.header[0]), tt.header[1])
		}
	}
}

// TestDescribedClientIP: a described request's client IP is what the
// session authenticator sees (it records the IP of a session's use).
func TestDescribedClientIP(t *testing.T) {
	var seen netip.Addr
	s := ipSessions(func(r *http.Request) { seen = httpx.ClientIP(r) })
	d := NewDecider(DeciderOptions{Sessions: s})
	ip := netip.MustParseAddr("198.51.100.9")
	d.Decide(context.Background(), Request{Method: "GET", URL: &url.URL{Path: "/"}, Host: "h", Header: http.Header{}, ClientIP: ip}, Route{Auth: AuthSession})
	if seen != ip {
		t.Errorf("session authenticator saw client %v, want %v", seen, ip)
	}
}

type ipSessions func(r *http.Request)

func (f ipSessions) Authenticate(r *http.Request) (*auth.Identity, error) {
	f(r)
	return nil, auth.ErrNoCredentials
}
func (ipSessions) CookieName() string { return "" }
