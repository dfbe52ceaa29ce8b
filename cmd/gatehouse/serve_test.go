package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const jwtConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
store:
  type: {{store}}
  on_error: {{on_error}}
  timeout: 200ms
  redis: {addrs: ["{{redis}}"]}
jwt:
  issuers:
    - issuer: "https://idp.test"
      audiences: [my-api]
      algorithms: [ES256]
      public_key_files: ["{{dir}}/idp.pub.pem"]
      claims: {user: preferred_username, groups: realm_access.roles}
  issue:
    signing_key_file: "{{dir}}/issuing.pem"
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: admins, match: {path_prefix: "/admins/"}, auth: jwt, require: {groups: [admins]}}
`

type idp struct {
	key *ecdsa.PrivateKey
}

// token signs claims as the test identity provider (ES256).
func (p idp) token(t *testing.T, sub string, iat time.Time, extra map[string]any) string {
	t.Helper()
	b := jwt.NewBuilder().Issuer("https://idp.test").Audience([]string{"my-api"}).Subject(sub).
		IssuedAt(iat).Expiration(time.Now().Add(5*time.Minute)).JwtID(sub+"-"+strconv.FormatInt(iat.UnixNano(), 36)).
		Claim("preferred_username", sub).Claim("realm_access", map[string]any{"roles": []string{"staff"}})
	for k, v := range extra {
		b = b.Claim(k, v)
	}
	tok, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, p.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

// raw signs payload exactly as given (ES256), for claims a builder would fix up.
func (p idp) raw(t *testing.T, payload string) string {
	t.Helper()
	signed, err := jws.Sign([]byte(payload), jws.WithKey(jwa.ES256, p.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func startJWT(t *testing.T, store, onError, redisAddr string) (*instance, idp) {
	key, _, pub := ecKeyPEM(t)
	_, issuing, _ := ecKeyPEM(t)
	cfg := strings.NewReplacer("{{store}}", store, "{{on_error}}", onError, "{{redis}}", redisAddr).Replace(jwtConfig)
	return startGatehouse(t, cfg, map[string]string{"idp.pub.pem": pub, "issuing.pem": issuing}), idp{key}
}

func TestServeJWTRoute(t *testing.T) {
	t.Parallel()
	in, p := startJWT(t, "memory", "deny", "127.0.0.1:1")
	waitStatus(t, 5*time.Second, 200, in.AdminURL+"/readyz")
	resp, body := get(t, in.URL+"/api/x", "Authorization: Bearer "+p.token(t, "alice", time.Now(), nil), "X-Auth-User: admin")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var e struct{ Headers map[string][]string }
	_ = json.Unmarshal([]byte(body), &e)
	if got := e.Headers["X-Auth-User"]; len(got) != 1 || got[0] != "alice" {
		t.Errorf("X-Auth-User %q, want [alice]", got)
	}
	if got := e.Headers["X-Auth-Groups"]; len(got) != 1 || got[0] != "staff" {
		t.Errorf("X-Auth-Groups %q, want [staff] (from realm_access.roles)", got)
	}
	if resp, _ := get(t, in.URL+"/admins/x", "Authorization: Bearer "+p.token(t, "alice", time.Now(), nil)); resp.StatusCode != 403 {
		t.Errorf("require groups: status %d, want 403", resp.StatusCode)
	}
	// Gatehouse's own tokens are accepted without extra config.
	var out bytes.Buffer
	if err := run(context.Background(), []string{"token", "-config", in.Dir + "/gatehouse.yaml", "-sub", "carol", "-claim", "groups=[\"admins\"]"}, nil, &out, &out); err != nil {
		t.Fatalf("gatehouse token: %v: %s", err, out.String())
	}
	if resp, body := get(t, in.URL+"/admins/x", "Authorization: Bearer "+strings.TrimSpace(out.String())); resp.StatusCode != 200 {
		t.Errorf("own token: status %d: %s", resp.StatusCode, body)
	}
	_, body = get(t, in.AdminURL+"/metrics")
	for _, want := range []string{`gatehouse_requests_total{auth="jwt",outcome="allowed",route="api"} 1`, "gatehouse_build_info", "gatehouse_auth_duration_seconds_bucket", "go_goroutines", "process_"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(in.stdout.String(), p.token(t, "alice", time.Unix(0, 0), nil)[:20]) {
		t.Error("a token appears in the log")
	}
}

func TestServeRefusesForgedTokens(t *testing.T) {
	t.Parallel()
	in, p := startJWT(t, "memory", "deny", "127.0.0.1:1")
	good := p.token(t, "alice", time.Now(), nil)
	parts := strings.Split(good, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	noneHeader := func(alg string) string { return b64([]byte(`{"alg":"` + alg + `","typ":"JWT"}`)) }
	forged := map[string]string{
		"alg none":          noneHeader("none") + "." + parts[1] + ".",
		"alg None":          noneHeader("None") + "." + parts[1] + ".",
		"alg NONE no sig":   noneHeader("NONE") + "." + parts[1],
		"alg none with sig": noneHeader("none") + "." + parts[1] + "." + parts[2],
		"two segments":      parts[0] + "." + parts[1],
		"bad base64":        parts[0] + ".!!!." + parts[2],
		"payload swapped":   parts[0] + "." + b64([]byte(`{"iss":"https://idp.test","aud":"my-api","sub":"admin","exp":9999999999}`)) + "." + parts[2],
		"unknown issuer":    p.token(t, "alice", time.Now(), map[string]any{"iss": "https://evil.test"}),
		"exp as string":     p.raw(t, `{"iss":"https://idp.test","aud":"my-api","sub":"alice","exp":"9999999999"}`),
		"no exp":            p.raw(t, `{"iss":"https://idp.test","aud":"my-api","sub":"alice"}`),
		"wrong aud":         p.raw(t, `{"iss":"https://idp.test","aud":"other","sub":"alice","exp":9999999999}`),
	}
	for name, tok := range forged {
		before := in.hits.Load()
		resp, body := get(t, in.URL+"/api/x", "Authorization: Bearer "+tok)
		if resp.StatusCode != 401 {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
		if in.hits.Load() != before {
			t.Errorf("%s: reached the upstream", name)
		}
		if strings.Contains(body, tok) || strings.Contains(resp.Header.Get("WWW-Authenticate"), parts[1]) {
			t.Errorf("%s: token echoed", name)
		}
	}
	// A megabyte token is refused by the header limit (431) before any parsing.
	resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+strings.Repeat("a", 1<<20))
	if resp.StatusCode != 431 && resp.StatusCode != 401 {
		t.Errorf("1 MB token: status %d, want 431", resp.StatusCode)
	}
}

func TestServeRevocationOnRedis(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	in, p := startJWT(t, "redis", "deny", r.Addr)
	rdb := r.Client(t)
	ctx := context.Background()
	waitStatus(t, 5*time.Second, 200, in.AdminURL+"/readyz")

	tok := p.token(t, "alice", time.Now(), map[string]any{"jti": "jti-to-revoke"})
	waitStatus(t, time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+tok)
	// Another system revokes without publishing: effective within 1 s.
	if err := rdb.Set(ctx, "gatehouse:revoked:jti:jti-to-revoke", "1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitStatus(t, 1500*time.Millisecond, 401, in.URL+"/api/x", "Authorization: Bearer "+tok)
	if d := time.Since(start); d > time.Second+200*time.Millisecond {
		t.Errorf("jti revocation took %v, want within 1 s", d)
	}

	old := p.token(t, "bob", time.Now().Add(-time.Minute), nil)
	waitStatus(t, time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+old)
	cut := time.Now().Add(-30 * time.Second).Unix()
	if err := rdb.Set(ctx, "gatehouse:revoked:sub:bob", strconv.FormatInt(cut, 10), 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, 1500*time.Millisecond, 401, in.URL+"/api/x", "Authorization: Bearer "+old)
	newer := p.token(t, "bob", time.Now(), nil)
	if resp, body := get(t, in.URL+"/api/x", "Authorization: Bearer "+newer); resp.StatusCode != 200 {
		t.Errorf("token issued after the subject revocation: %d %s", resp.StatusCode, body)
	}
}

func TestServeRedisOutage(t *testing.T) {
	t.Parallel()
	for _, policy := range []struct {
		onError string
		status  int
	}{{"deny", 503}, {"allow", 200}} {
		t.Run(policy.onError, func(t *testing.T) {
			r := authtest.StartRedis(t)
			in, p := startJWT(t, "redis", policy.onError, r.Addr)
			waitStatus(t, 5*time.Second, 200, in.AdminURL+"/readyz")
			tok := p.token(t, "alice", time.Now(), nil)
			waitStatus(t, time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+tok)
			r.Stop()
			fresh := p.token(t, "dave", time.Now(), nil)
			waitStatus(t, 3*time.Second, policy.status, in.URL+"/api/x", "Authorization: Bearer "+fresh)
			waitStatus(t, 3*time.Second, 503, in.AdminURL+"/readyz")
			if resp, _ := get(t, in.URL+"/public/x"); resp.StatusCode != 200 {
				t.Errorf("auth: none route during the outage: %d", resp.StatusCode)
			}
			r.Restart()
			waitStatus(t, 5*time.Second, 200, in.URL+"/api/x", "Authorization: Bearer "+fresh)
			waitStatus(t, 5*time.Second, 200, in.AdminURL+"/readyz")
		})
	}
}

func TestServeStartsWithoutRedis(t *testing.T) {
	t.Parallel()
	port := authtest.FreePort(t)
	in, p := startJWT(t, "redis", "deny", "127.0.0.1:"+strconv.Itoa(port))
	if resp, _ := get(t, in.AdminURL+"/readyz"); resp.StatusCode != 503 {
		t.Errorf("/readyz %d with Redis down, want 503", resp.StatusCode)
	}
	if resp, _ := get(t, in.URL+"/api/x", "Authorization: Bearer "+p.token(t, "alice", time.Now(), nil)); resp.StatusCode != 503 {
		t.Errorf("jwt route %d with Redis down and on_error deny, want 503", resp.StatusCode)
	}
}
