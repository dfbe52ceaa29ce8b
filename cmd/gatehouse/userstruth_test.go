package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// truthConfig has the token endpoint, a jwt route and a session route;
// {{store}}, {{redis}}, {{refresh_ttl}} and {{max_lifetime}} are filled in
// by startTruth.
const truthConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
store:
  type: {{store}}
  on_error: deny
  timeout: 500ms
  redis: {addrs: ["{{redis}}"]}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
    refresh_ttl: {{refresh_ttl}}
    refresh_max_lifetime: {{max_lifetime}}
routes:
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

// truthUser is one entry of the users file; its hash is made once, so that
// rewriting the file without a password change keeps it.
type truthUser struct{ name, password, hash, groups string }

func newTruthUser(t *testing.T, name, groups string) truthUser {
	t.Helper()
	pw := name + "-truth-password"
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return truthUser{name: name, password: pw, hash: string(h), groups: groups}
}

func truthUsersYAML(us ...truthUser) string {
	var b strings.Builder
	for _, u := range us {
		b.WriteString("- username: " + u.name + "\n  password_hash: \"" + u.hash + "\"\n  email: " +
			u.name + "@example.com\n  groups: " + u.groups + "\n")
	}
	return b.String()
}

// startTruth starts Gatehouse with truthConfig, key as its issuing key and
// the users file holding us.
func startTruth(t *testing.T, store, redisAddr, refreshTTL, maxLifetime, key string, us ...truthUser) *instance {
	t.Helper()
	if redisAddr == "" {
		redisAddr = "127.0.0.1:1"
	}
	cfg := strings.NewReplacer("{{store}}", store, "{{redis}}", redisAddr,
		"{{refresh_ttl}}", refreshTTL, "{{max_lifetime}}", maxLifetime).Replace(truthConfig)
	in := startGatehouse(t, cfg, map[string]string{"users.yaml": truthUsersYAML(us...), "issuing.pem": key})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	return in
}

// replaceUsers swaps in a new users file the way an editor or a ConfigMap
// update does: write aside, rename over.
func replaceUsers(t *testing.T, in *instance, us ...truthUser) {
	t.Helper()
	tmp := filepath.Join(in.Dir, ".users.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(truthUsersYAML(us...)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(in.Dir, "users.yaml")); err != nil {
		t.Fatal(err)
	}
}

// grantFor runs the password grant for u on in and returns the refresh token.
func grantFor(t *testing.T, in *instance, u truthUser) string {
	t.Helper()
	status, body := postForm(t, in.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {u.name}, "password": {u.password}})
	_, rt := grantTokens(t, status, body)
	return rt
}

// wantInvalidGrant refreshes rt on in and wants 400 invalid_grant.
func wantInvalidGrant(t *testing.T, in *instance, rt, what string) {
	t.Helper()
	if s, body := refreshGrant(t, in, rt); s != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("%s: refresh got %d %v, want 400 invalid_grant", what, s, body)
	}
}

// tokenClaims decodes a JWT's claims (no verification: the test reads what
// Gatehouse put in).
func tokenClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// groupsWithin polls path with c on every instance until the upstream sees
// X-Auth-Groups == want, and fails after limit (counted from start).
func groupsWithin(t *testing.T, start time.Time, limit time.Duration, want string, clients ...*webClient) time.Duration {
	t.Helper()
	for _, c := range clients {
		for {
			got := echoHeader(c.upstreamSaw("/app"), "X-Auth-Groups")
			if got == want {
				break
			}
			if time.Since(start) > limit {
				t.Fatalf("%s: X-Auth-Groups %q after %v, want %q within %v", c.base, got, time.Since(start), want, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return time.Since(start)
}

// TestUsersFileIsTheTruthOnTwoReplicas: the users files decide, on every
// replica, who has a session or a refresh family and with which groups. On
// today's code a removed user's session worked until its absolute timeout,
// their refresh family forever, and a removed group stayed on both.
func TestUsersFileIsTheTruthOnTwoReplicas(t *testing.T) {
	t.Parallel()
	r := authtest.StartRedis(t)
	key := signingKey(t, "ES256")
	alice, bob := newTruthUser(t, "alice", "[staff, admins]"), newTruthUser(t, "bob", "[staff]")
	a := startTruth(t, "redis", r.Addr, "720h", "2160h", key, alice, bob)
	b := startTruth(t, "redis", r.Addr, "720h", "2160h", key, alice, bob)

	bobOnA := newWebClient(t, a.URL)
	bobOnA.mustLogin(bob.name, bob.password, "/app")
	bobOnB := newWebClient(t, b.URL)
	bobOnB.setCookie("gatehouse_session", bobOnA.cookie("gatehouse_session"))
	aliceOnB := newWebClient(t, b.URL)
	aliceOnB.mustLogin(alice.name, alice.password, "/app")
	aliceOnA := newWebClient(t, a.URL)
	aliceOnA.setCookie("gatehouse_session", aliceOnB.cookie("gatehouse_session"))
	bobRT := grantFor(t, b, bob)
	aliceRT := grantFor(t, a, alice)
	for _, c := range []*webClient{bobOnA, bobOnB, aliceOnA, aliceOnB} {
		c.upstreamSaw("/app")
	}

	// Remove bob from A's users file only: A refuses him once it reloads,
	// and B, which has not reloaded, through the store.
	start := time.Now()
	replaceUsers(t, a, alice)
	for _, c := range []*webClient{bobOnA, bobOnB} {
		for c.status("/app") != http.StatusUnauthorized {
			if time.Since(start) > time.Second {
				t.Fatalf("%s: bob's session still works %v after his removal, want refused within 1s", c.base, time.Since(start))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	t.Logf("removed user's session refused on both replicas %v after the users file changed on one", time.Since(start))
	wantInvalidGrant(t, b, bobRT, "bob removed, on the replica that has not reloaded")
	// B, not reloaded yet, still takes bob's password; A refuses the grant.
	wantInvalidGrant(t, a, grantFor(t, b, bob), "bob removed, a grant B made before reloading, on A")
	if !strings.Contains(a.stdout.String(), `"user":"bob"`) || strings.Contains(a.stdout.String(), bob.hash) {
		t.Error("A's log lacks the audit line naming bob, or shows his hash")
	}
	// alice is untouched.
	for _, c := range []*webClient{aliceOnA, aliceOnB} {
		if got := echoHeader(c.upstreamSaw("/app"), "X-Auth-Groups"); got != "staff,admins" {
			t.Errorf("%s: alice's groups %q, want staff,admins", c.base, got)
		}
	}

	// Demote alice on both replicas (the ConfigMap reaches every pod).
	alice.groups = "[staff]"
	start = time.Now()
	replaceUsers(t, a, alice)
	replaceUsers(t, b, alice)
	d := groupsWithin(t, start, time.Second, "staff", aliceOnA, aliceOnB)
	t.Logf("demotion seen on the next request of both replicas %v after the users files changed", d)
	access, _ := refreshOK(t, a, aliceRT)
	groups, _ := tokenClaims(t, access)["groups"].([]any)
	if !slices.Equal(groups, []any{"staff"}) {
		t.Errorf("refreshed access token: groups %v, want [staff]", groups)
	}
	if s, seen := callAPI(t, b, "/api/x", access); s != http.StatusOK || seen.Get("X-Auth-Groups") != "staff" {
		t.Errorf("refreshed access token on B: %d, X-Auth-Groups %q; want 200 staff", s, seen.Get("X-Auth-Groups"))
	}
}

// TestRefreshMaxLifetimeEndToEnd: a refresh family cannot go on past
// jwt.issue.refresh_max_lifetime, however often it is refreshed. On
// today's code each refresh gave the family another refresh_ttl.
func TestRefreshMaxLifetimeEndToEnd(t *testing.T) {
	t.Parallel()
	const maxLifetime = 3 * time.Second
	alice := newTruthUser(t, "alice", "[staff]")
	in := startTruth(t, "memory", "", "3s", maxLifetime.String(), signingKey(t, "ES256"), alice)
	start := time.Now()
	rt := grantFor(t, in, alice)
	refreshes := 0
	for {
		time.Sleep(300 * time.Millisecond)
		s, body := refreshGrant(t, in, rt)
		if s == http.StatusOK {
			if time.Since(start) > maxLifetime+3*time.Second {
				t.Fatalf("refresh %v after the password grant still works; refresh_max_lifetime is %v", time.Since(start), maxLifetime)
			}
			_, rt = grantTokens(t, s, body)
			refreshes++
			continue
		}
		if s != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Fatalf("refresh: got %d %v, want 200 or 400 invalid_grant", s, body)
		}
		if took := time.Since(start); took < maxLifetime-200*time.Millisecond {
			t.Fatalf("refresh refused %v after the grant, before refresh_max_lifetime %v: %v", took, maxLifetime, body)
		}
		break
	}
	if refreshes < 3 {
		t.Errorf("only %d refreshes succeeded before the family ended, want several", refreshes)
	}
	t.Logf("family ended %v after its password grant, after %d refreshes", time.Since(start), refreshes)
}
