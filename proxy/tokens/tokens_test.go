package tokens

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

func TestPasswordGrant(t *testing.T) {
	e := newEnv(t)
	access, _ := e.password(t, "alice", alicePassword).grant(t)
	e.accessOK(t, access, true)
	if got := counter(e.metrics.Logins.WithLabelValues("success")); got != 1 {
		t.Errorf("got %v successful logins counted, want 1", got)
	}
}

func TestWrongPassword(t *testing.T) {
	e := newEnv(t)
	for _, tt := range []struct{ user, pw string }{{"alice", "wrong"}, {"mallory", alicePassword}} {
		e.password(t, tt.user, tt.pw).oauthError(t, http.StatusBadRequest, "invalid_grant")
	}
	if got := counter(e.metrics.Logins.WithLabelValues("failure")); got != 2 {
		t.Errorf("got %v failed logins counted, want 2", got)
	}
}

func TestPasswordGrantRateLimited(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		e.password(t, "alice", "wrong").oauthError(t, http.StatusBadRequest, "invalid_grant")
	}
	r := e.password(t, "alice", alicePassword) // right password, but limited
	r.oauthError(t, http.StatusTooManyRequests, "slow_down")
	if r.header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	if got := counter(e.metrics.Logins.WithLabelValues("rate_limited")); got != 1 {
		t.Errorf("got %v rate-limited logins counted, want 1", got)
	}
}

func TestUnknownGrantType(t *testing.T) {
	e := newEnv(t)
	for _, gt := range []string{"client_credentials", "authorization_code", "PASSWORD"} {
		e.form(t, TokenPath, url.Values{"grant_type": {gt}}).oauthError(t, http.StatusBadRequest, "unsupported_grant_type")
	}
}

func TestMissingFields(t *testing.T) {
	e := newEnv(t)
	tests := []url.Values{
		{},
		{"grant_type": {""}},
		{"grant_type": {"password"}},
		{"grant_type": {"password"}, "username": {"alice"}},
		{"grant_type": {"password"}, "password": {alicePassword}},
		{"grant_type": {"refresh_token"}},
		{"grant_type": {"password", "refresh_token"}, "username": {"alice"}, "password": {alicePassword}},
	}
	for _, v := range tests {
		t.Run(v.Encode(), func(t *testing.T) {
			e.form(t, TokenPath, v).oauthError(t, http.StatusBadRequest, "invalid_request")
		})
	}
}

func TestJSONBodyRefused(t *testing.T) {
	e := newEnv(t)
	body := `{"grant_type":"password","username":"alice","password":"` + alicePassword + `"}`
	for _, ct := range []string{"application/json", "text/plain", "", "multipart/form-data; boundary=x"} {
		e.post(t, TokenPath, ct, body).oauthError(t, http.StatusBadRequest, "invalid_request")
	}
	e.post(t, RevokePath, "application/json", `{"token":"x"}`).oauthError(t, http.StatusBadRequest, "invalid_request")
}

func TestHugeBody(t *testing.T) {
	e := newEnv(t)
	body := "grant_type=password&username=alice&password=" + url.QueryEscape(alicePassword) + "&pad=" + strings.Repeat("a", 1<<20)
	e.post(t, TokenPath, "application/x-www-form-urlencoded", body).oauthError(t, http.StatusRequestEntityTooLarge, "invalid_request")
	e.post(t, RevokePath, "application/x-www-form-urlencoded", "token="+strings.Repeat("a", 1<<20)).
		oauthError(t, http.StatusRequestEntityTooLarge, "invalid_request")
}

func TestWrongMethod(t *testing.T) {
	e := newEnv(t)
	for path, allow := range map[string]string{TokenPath: "POST", RevokePath: "POST", JWKSPath: "GET, HEAD"} {
		method := http.MethodGet
		if path == JWKSPath {
			method = http.MethodPost
		}
		req, _ := http.NewRequest(method, e.srv.URL+path, nil)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != allow {
			t.Errorf("%s %s: got %d Allow %q, want 405 Allow %q", method, path, resp.StatusCode, resp.Header.Get("Allow"), allow)
		}
	}
}

func TestRefreshGrant(t *testing.T) {
	e := newEnv(t)
	_, rt1 := e.password(t, "alice", alicePassword).grant(t)
	access2, rt2 := e.refresh(t, rt1).grant(t)
	if rt2 == rt1 {
		t.Fatal("refresh returned the same refresh token")
	}
	e.accessOK(t, access2, true)
	_, rt3 := e.refresh(t, rt2).grant(t)
	if rt3 == rt2 {
		t.Fatal("refresh returned the same refresh token")
	}
}

// TestRefreshReuse: a refresh token used twice fails the second time, and
// the newer access and refresh tokens of its family stop working.
func TestRefreshReuse(t *testing.T) {
	e := newEnv(t)
	access1, rt1 := e.password(t, "alice", alicePassword).grant(t)
	access2, rt2 := e.refresh(t, rt1).grant(t)
	e.refresh(t, rt1).oauthError(t, http.StatusBadRequest, "invalid_grant")
	e.refresh(t, rt2).oauthError(t, http.StatusBadRequest, "invalid_grant")
	e.accessOK(t, access1, false)
	e.accessOK(t, access2, false)
	if got := counter(e.metrics.Revocations.WithLabelValues("family")); got != 1 {
		t.Errorf("got %v family revocations counted, want 1", got)
	}
	// Another login of the same user is a new family and works.
	access3, rt3 := e.password(t, "alice", alicePassword).grant(t)
	e.accessOK(t, access3, true)
	e.refresh(t, rt3).grant(t)
}

func TestRefreshOfRevokedSubject(t *testing.T) {
	e := newEnv(t)
	_, rt := e.password(t, "alice", alicePassword).grant(t)
	if err := e.store.RevokeSubject(t.Context(), "alice", time.Now()); err != nil {
		t.Fatal(err)
	}
	e.refresh(t, rt).oauthError(t, http.StatusBadRequest, "invalid_grant")
}

// TestTokensNotInterchangeable: an access token is not a refresh token and
// a refresh token is not an access token.
func TestTokensNotInterchangeable(t *testing.T) {
	e := newEnv(t)
	access, rt := e.password(t, "alice", alicePassword).grant(t)
	e.refresh(t, access).oauthError(t, http.StatusBadRequest, "invalid_grant")
	e.accessOK(t, rt, false)
	e.refresh(t, rt).grant(t) // neither attempt spent the real one
}

func TestRevoke(t *testing.T) {
	e := newEnv(t)
	revoke := func(tok string) {
		t.Helper()
		r := e.form(t, RevokePath, url.Values{"token": {tok}, "token_type_hint": {"refresh_token"}})
		if r.status != http.StatusOK {
			t.Errorf("revoke: got %d %s, want 200", r.status, r.raw)
		}
	}
	access1, rt1 := e.password(t, "alice", alicePassword).grant(t)
	access2, rt2 := e.refresh(t, rt1).grant(t)
	revoke(rt2)
	e.refresh(t, rt2).oauthError(t, http.StatusBadRequest, "invalid_grant")
	e.accessOK(t, access1, false)
	e.accessOK(t, access2, false)

	access3, rt3 := e.password(t, "alice", alicePassword).grant(t)
	revoke(access3)
	e.accessOK(t, access3, false)
	e.refresh(t, rt3).grant(t) // revoking an access token leaves its grant

	for _, tok := range []string{"unknown", strings.Repeat("A", 43), "a.b.c"} {
		revoke(tok)
	}
	e.form(t, RevokePath, url.Values{}).oauthError(t, http.StatusBadRequest, "invalid_request")
}

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.Client().Get(e.srv.URL + JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("got Cache-Control %q, want %q", got, "public, max-age=300")
	}
	var raw map[string][]map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw["keys"]) != 1 || raw["keys"][0]["d"] != nil {
		t.Fatalf("got %v, want one public key", raw)
	}
	b, _ := json.Marshal(raw)
	set, err := jwk.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := set.Key(0)
	tp, err := jwtauth.Thumbprint(k)
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID() != tp || k.KeyID() != e.signer.KeyID() {
		t.Errorf("got kid %q, want the RFC 7638 thumbprint %q", k.KeyID(), tp)
	}
}

func TestUnknownReservedPath(t *testing.T) {
	e := newEnv(t)
	resp, err := e.srv.Client().Get(e.srv.URL + "/.gatehouse/tokens")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("got %d, want 404", resp.StatusCode)
	}
}

func BenchmarkRefreshGrant(b *testing.B) {
	e := newEnv(b)
	_, rt := e.password(b, "alice", alicePassword).grant(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := e.refresh(b, rt)
		if r.status != http.StatusOK {
			b.Fatalf("got %d %s", r.status, r.raw)
		}
		rt = r.body["refresh_token"].(string)
	}
}
