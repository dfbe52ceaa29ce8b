package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// startJWTRules is startJWT with jwt.max_lifetime: 1h and an assertion
// header.
func startJWTRules(t *testing.T) (*instance, idp) {
	t.Helper()
	key, _, pub := ecKeyPEM(t)
	_, issuing, _ := ecKeyPEM(t)
	cfg := strings.NewReplacer("{{store}}", "memory", "{{on_error}}", "deny", "{{redis}}", "127.0.0.1:1",
		"jwt:\n  issuers:", "jwt:\n  max_lifetime: 1h\n  issuers:").Replace(jwtConfig)
	cfg += "identity_headers: {assertion: X-Auth-Assertion}\n"
	return startGatehouse(t, cfg, map[string]string{"idp.pub.pem": pub, "issuing.pem": issuing}), idp{key}
}

// Issue 9 items 7 and 9, and README "Security": the claim rules, end to end.
func TestServeJWTClaimRules(t *testing.T) {
	t.Parallel()
	in, p := startJWTRules(t)
	now := time.Now()
	tests := []struct {
		name      string
		tok       string
		status    int
		wantEmail string // with status 200: the X-Auth-Email upstream ("": none)
		desc      string // with status 401: in WWW-Authenticate
	}{
		{"email unverified", p.token(t, "alice", now, map[string]any{"email": "ceo@corp.example", "email_verified": false}), 200, "", ""},
		{"email verified", p.token(t, "alice", now, map[string]any{"email": "ceo@corp.example", "email_verified": true}), 200, "ceo@corp.example", ""},
		{"email, no email_verified", p.token(t, "alice", now, map[string]any{"email": "ceo@corp.example"}), 200, "ceo@corp.example", ""},
		{"user with trailing space", p.token(t, "alice", now, map[string]any{"preferred_username": "admin "}), 401, "", "white space or control"},
		{"user with U+0085", p.token(t, "alice", now, map[string]any{"preferred_username": "admin\u0085"}), 401, "", "white space or control"},
		{"group with U+2028", p.token(t, "alice", now, map[string]any{"realm_access": map[string]any{"roles": []string{"staff\u2028"}}}), 401, "", "white space or control"},
		{"email with leading space", p.token(t, "alice", now, map[string]any{"email": " ceo@corp.example"}), 401, "", "white space or control"},
		{"repeated sub", p.raw(t, `{"iss":"https://idp.test","aud":"my-api","sub":"alice","sub":"admin","exp":`+unix(now.Add(time.Minute))+`}`), 401, "", "repeated claim name"},
		{"lifetime over jwt.max_lifetime", p.raw(t, `{"iss":"https://idp.test","aud":"my-api","sub":"alice","iat":`+unix(now)+`,"exp":`+unix(now.Add(2*time.Hour))+`}`), 401, "", "token lifetime too long"},
		{"over 16 KiB", p.token(t, "alice", now, map[string]any{"pad": strings.Repeat("x", 16<<10)}), 401, "", "token too large"},
	}
	for _, tt := range tests {
		before := in.hits.Load()
		resp, body := get(t, in.URL+"/api/x", "Authorization: Bearer "+tt.tok)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, resp.StatusCode, tt.status, body)
			continue
		}
		if tt.status != 200 {
			wa := resp.Header.Get("WWW-Authenticate")
			if !strings.Contains(wa, `error="invalid_token"`) || !strings.Contains(wa, tt.desc) {
				t.Errorf("%s: WWW-Authenticate %q, want invalid_token and %q", tt.name, wa, tt.desc)
			}
			if in.hits.Load() != before {
				t.Errorf("%s: reached the upstream", tt.name)
			}
			continue
		}
		h := echoed(t, body)
		if got := strings.Join(h["X-Auth-Email"], ","); got != tt.wantEmail {
			t.Errorf("%s: X-Auth-Email %q, want %q", tt.name, got, tt.wantEmail)
		}
	}
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// Issue 9 item 5: the X-Auth-Assertion an upstream received, replayed as
// a Bearer token on a jwt route, is refused even when the route it was
// made for is named like jwt.issue.audience (a config `check` now refuses,
// built here by hand): it is typed gh-assertion+jwt.
func TestAssertionReplayedAsBearer(t *testing.T) {
	t.Parallel()
	key, _, pub := ecKeyPEM(t)
	_, issuing, _ := ecKeyPEM(t)
	up, _ := upstream(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"idp.pub.pem": pub, "issuing.pem": issuing})
	cfgText := strings.NewReplacer("{{store}}", "memory", "{{on_error}}", "deny", "{{redis}}", "127.0.0.1:1",
		"{{listen}}", "127.0.0.1:0", "{{admin}}", "127.0.0.1:0", "{{upstream}}", up.URL, "{{dir}}", dir).Replace(jwtConfig)
	cfgText += "identity_headers: {assertion: X-Auth-Assertion}\n"
	writeFiles(t, dir, map[string]string{"gatehouse.yaml": cfgText})
	cfg, mat, err := loadConfig(filepath.Join(dir, "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The clash check refuses this; build it anyway, as an older version
	// would have run it.
	cfg.JWT.Issue.Audience = "api"
	mat.issuers[len(mat.issuers)-1] = ownIssuer(cfg, mat.signer)
	s := &server{log: slog.New(slog.NewTextHandler(io.Discard, nil)), reg: prometheus.NewRegistry(), store: memstore.New(nil)}
	s.m = metrics.New(s.reg, "test")
	t.Cleanup(func() { s.store.Close() })
	g, err := s.build(cfg, mat)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.cancel)
	srv := httptest.NewServer(g.proxy)
	t.Cleanup(srv.Close)

	p := idp{key}
	admin := p.token(t, "alice", time.Now(), map[string]any{"realm_access": map[string]any{"roles": []string{"admins"}}})
	resp, body := get(t, srv.URL+"/api/x", "Authorization: Bearer "+admin)
	if resp.StatusCode != 200 {
		t.Fatalf("alice on /api/: %d %s", resp.StatusCode, body)
	}
	asserted := echoed(t, body)["X-Auth-Assertion"]
	if len(asserted) != 1 {
		t.Fatalf("the upstream got X-Auth-Assertion %q, want one", asserted)
	}
	resp, body = get(t, srv.URL+"/admins/x", "Authorization: Bearer "+asserted[0])
	if resp.StatusCode != 401 {
		t.Fatalf("assertion replayed as Bearer on /admins/: status %d, want 401: %s", resp.StatusCode, body)
	}
	if wa := resp.Header.Get("WWW-Authenticate"); !strings.Contains(wa, "token type not accepted") {
		t.Errorf("WWW-Authenticate %q, want the type refusal", wa)
	}
	// Gatehouse's own access tokens still pass.
	tok, _, _, err := mat.signer.Mint(jwtauth.Claims{Issuer: cfg.JWT.Issue.Issuer, Audience: cfg.JWT.Issue.Audience,
		Subject: "carol", TTL: time.Minute, Extra: map[string]any{"groups": []string{"admins"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, srv.URL+"/admins/x", "Authorization: Bearer "+tok); resp.StatusCode != 200 {
		t.Fatalf("own access token: %d %s", resp.StatusCode, body)
	}
}

// Issue 9 item 5: check refuses a route named like jwt.issue.audience.
func TestCheckRefusesRouteNamedLikeAudience(t *testing.T) {
	t.Parallel()
	_, issuing, _ := ecKeyPEM(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"issuing.pem": issuing, "gatehouse.yaml": `
upstream: "http://127.0.0.1:3000"
jwt:
  issue: {signing_key_file: "` + dir + `/issuing.pem", audience: api}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/"}, auth: jwt}
`})
	_, stderr, err := runCmd(t, "", "check", "-config", filepath.Join(dir, "gatehouse.yaml"))
	if !errors.Is(err, errReported) || !strings.Contains(stderr, `routes[1].name: "api" is also jwt.issue.audience`) {
		t.Fatalf("check: err %v, output:\n%s", err, stderr)
	}
}

// Contract: a weak key in jwt.issue.previous_key_files is reported under
// that key and file, not under signing_key_file.
func TestCheckNamesWeakPreviousKey(t *testing.T) {
	t.Parallel()
	_, issuing, _ := ecKeyPEM(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(weak)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"issuing.pem": issuing, "old.pem": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"gatehouse.yaml": `
upstream: "http://127.0.0.1:3000"
jwt:
  issue: {signing_key_file: "` + dir + `/issuing.pem", previous_key_files: ["` + dir + `/issuing.pem", "` + dir + `/old.pem"]}
routes:
  - {name: api, match: {path_prefix: "/"}, auth: jwt}
`})
	_, stderr, err := runCmd(t, "", "check", "-config", filepath.Join(dir, "gatehouse.yaml"))
	want := "jwt.issue.previous_key_files[1]: " + dir + "/old.pem: RSA key of 1024 bits is too weak"
	if !errors.Is(err, errReported) || !strings.Contains(stderr, want) || strings.Contains(stderr, "signing_key_file") {
		t.Fatalf("check: err %v, output:\n%s\nwant %q", err, stderr, want)
	}
}
