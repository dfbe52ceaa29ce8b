package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenConfig has every kind of route (none, jwt, session, a require that
// fails), the token endpoint and the admin API, on the memory store.
const goldenConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}", token_file: "{{dir}}/admin.token"}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: ops, match: {path_prefix: "/ops/"}, auth: jwt, require: {groups: [nobody]}}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

const goldenAdminToken = "golden-admin-token-0123456789abcdef"

// unknownSessionID is a well-formed session ID (32 bytes, base64url) that
// no store holds.
const unknownSessionID = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// goldenReq is one request of the fixed set. A body is form-encoded
// unless json is set; {{token}} in a header is replaced by an access token
// for alice.
type goldenReq struct {
	admin        bool // on the admin listener
	method, path string
	headers      []string
	body         string
	json         bool
}

// goldenRequests is the fixed set of requests whose error bodies and
// resulting /metrics are pinned. Add a request here to pin a new error.
var goldenRequests = []goldenReq{
	{method: "GET", path: "/public/x"},
	{method: "GET", path: "/api/x"},
	{method: "GET", path: "/api/x", headers: []string{"Authorization: Bearer not-a-jwt"}},
	{method: "GET", path: "/api/x", headers: []string{"Authorization: Basic YWxpY2U6eA=="}},
	{method: "GET", path: "/api/x", headers: []string{"Authorization: Bearer {{token}}"}},
	{method: "GET", path: "/ops/x", headers: []string{"Authorization: Bearer {{token}}"}},
	{method: "GET", path: "/app/x", headers: []string{"Accept: application/json"}},
	{method: "GET", path: "/app/x", headers: []string{"Cookie: gatehouse_session=bogus", "Accept: application/json"}},
	{method: "GET", path: "/app/x", headers: []string{"Cookie: gatehouse_session=" + unknownSessionID, "Accept: application/json"}},
	{method: "POST", path: "/app/x", headers: []string{"Accept: application/json"}},
	{method: "GET", path: "/a/%2e%2e/b"},
	{method: "GET", path: "/public/%00"},
	{method: "GET", path: "/.gatehouse/nope"},
	{method: "PUT", path: "/.gatehouse/login"},
	{method: "DELETE", path: "/.gatehouse/userinfo"},
	{method: "GET", path: "/.gatehouse/userinfo"},
	{method: "GET", path: "/.gatehouse/userinfo", headers: []string{"Authorization: Bearer not-a-jwt"}},
	{method: "POST", path: "/.gatehouse/login", body: "username=alice&password=wrong"},
	{method: "POST", path: "/.gatehouse/token", body: "grant_type=client_credentials"},
	{method: "POST", path: "/.gatehouse/token", body: "grant_type=password&username=alice&password=wrong"},
	{method: "POST", path: "/.gatehouse/token", body: "grant_type=password&username=alice"},
	{method: "POST", path: "/.gatehouse/token", body: "grant_type=refresh_token&refresh_token=bogus"},
	{method: "POST", path: "/.gatehouse/token", body: "grant_type=refresh_token"},
	{method: "GET", path: "/.gatehouse/token"},
	{method: "POST", path: "/.gatehouse/revoke"},
	{admin: true, method: "GET", path: "/nope"},
	{admin: true, method: "GET", path: "/admin/sessions"},
	{admin: true, method: "GET", path: "/admin/sessions?user=alice", headers: []string{"Authorization: Bearer wrong"}},
	{admin: true, method: "GET", path: "/admin/sessions?user=alice&cursor=x", headers: []string{"Authorization: Bearer " + goldenAdminToken}},
	{admin: true, method: "POST", path: "/admin/revoke", headers: []string{"Authorization: Bearer " + goldenAdminToken}, body: "{", json: true},
	{admin: true, method: "POST", path: "/admin/revoke", headers: []string{"Authorization: Bearer " + goldenAdminToken}, body: `{"kind":"nope"}`, json: true},
	{admin: true, method: "DELETE", path: "/admin/sessions", headers: []string{"Authorization: Bearer " + goldenAdminToken}},
}

// TestGoldenErrorsAndMetrics drives a real `gatehouse serve` with the
// fixed set of requests, then pins every error body (testdata/
// errors.golden: status, the headers a refusal carries, the JSON body with
// request_id normalised) and the /metrics exposition (testdata/
// metrics.golden: Gatehouse's series with their values, histograms by
// _count only, timing- and build-dependent values normalised). Run with
// -update to rewrite them, and review the diff.
func TestGoldenErrorsAndMetrics(t *testing.T) {
	t.Parallel()
	in := startGatehouse(t, goldenConfig, map[string]string{
		"users.yaml": usersFile(t), "issuing.pem": signingKey(t, "ES256"), "admin.token": goldenAdminToken + "\n",
	})
	waitStatus(t, 5*time.Second, http.StatusOK, in.AdminURL+"/readyz")
	status, tok := postForm(t, in.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}})
	access, _ := tok["access_token"].(string)
	if status != 200 || access == "" {
		t.Fatalf("password grant: %d %v", status, tok)
	}
	errs, proxied := runGolden(t, in, goldenRequests, access)
	proxied++ // the password grant above
	compareGolden(t, "testdata/errors.golden", errs)

	// The request counter is updated as the response ends: wait until it
	// has counted every request on the proxy listener.
	deadline := time.Now().Add(10 * time.Second)
	var exposition string
	for {
		_, exposition = get(t, in.AdminURL+"/metrics")
		if n := sumSeries(exposition, "gatehouse_requests_total"); n == float64(proxied) {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("gatehouse_requests_total sums to %v after 10s, want %d", n, proxied)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
	compareGolden(t, "testdata/metrics.golden", []byte(normaliseMetrics(exposition)))
}

// runGolden sends reqs in order and returns the rendered answers and how
// many went to the proxy listener.
func runGolden(t *testing.T, in *instance, reqs []goldenReq, access string) ([]byte, int) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var out bytes.Buffer
	proxied := 0
	for _, g := range reqs {
		base := in.URL
		if g.admin {
			base = in.AdminURL
		} else {
			proxied++
		}
		req, err := http.NewRequest(g.method, base+g.path, strings.NewReader(g.body))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case g.json:
			req.Header.Set("Content-Type", "application/json")
		case g.body != "":
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, h := range g.headers {
			k, v, _ := strings.Cut(strings.ReplaceAll(h, "{{token}}", access), ":")
			req.Header.Set(k, strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", g.method, g.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Fprintf(&out, "%s\n", goldenEntry(t, g, resp, body))
	}
	return out.Bytes(), proxied
}

// goldenUnavailableConfig is goldenConfig on a Redis store that refuses
// connections, with on_error: deny, and an external JWT issuer (a token
// can then be made without the store).
const goldenUnavailableConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}", token_file: "{{dir}}/admin.token"}
store:
  type: redis
  on_error: deny
  timeout: 200ms
  redis: {addrs: ["{{redis}}"]}
users: {file: "{{dir}}/users.yaml"}
session: {secure: false}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
  issuers:
    - issuer: "https://idp.test"
      audiences: [my-api]
      algorithms: [ES256]
      public_key_files: ["{{dir}}/idp.pub.pem"]
      claims: {user: preferred_username}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: app, match: {path_prefix: "/"}, auth: session}
`

// TestGoldenErrorsStoreDown pins the answers given while the store cannot
// answer (testdata/errors_store_down.golden): 503 bodies on routes, the
// token endpoint, readiness and the admin API.
func TestGoldenErrorsStoreDown(t *testing.T) {
	t.Parallel()
	key, _, pub := ecKeyPEM(t)
	cfg := strings.ReplaceAll(goldenUnavailableConfig, "{{redis}}", authtest.RefusingAddr(t))
	in := startGatehouse(t, cfg, map[string]string{
		"users.yaml": usersFile(t), "issuing.pem": signingKey(t, "ES256"), "idp.pub.pem": pub,
		"admin.token": goldenAdminToken + "\n",
	})
	tok := jwt.New()
	for k, v := range map[string]any{"iss": "https://idp.test", "aud": []string{"my-api"}, "sub": "alice",
		"preferred_username": "alice", "jti": "golden-jti", "iat": time.Now(), "exp": time.Now().Add(5 * time.Minute)} {
		if err := tok.Set(k, v); err != nil {
			t.Fatal(err)
		}
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.ES256, key))
	if err != nil {
		t.Fatal(err)
	}
	admin := "Authorization: Bearer " + goldenAdminToken
	errs, _ := runGolden(t, in, []goldenReq{
		{method: "GET", path: "/public/x"},
		{method: "GET", path: "/api/x", headers: []string{"Authorization: Bearer {{token}}"}},
		{method: "GET", path: "/app/x", headers: []string{"Cookie: gatehouse_session=" + unknownSessionID, "Accept: application/json"}},
		{method: "GET", path: "/.gatehouse/userinfo", headers: []string{"Authorization: Bearer {{token}}"}},
		{method: "POST", path: "/.gatehouse/token", body: "grant_type=password&username=alice&password=" + testPassword},
		{method: "POST", path: "/.gatehouse/token", body: "grant_type=refresh_token&refresh_token=bogus"},
		{admin: true, method: "GET", path: "/readyz"},
		{admin: true, method: "GET", path: "/admin/sessions?user=alice", headers: []string{admin}},
		{admin: true, method: "DELETE", path: "/admin/sessions?user=alice", headers: []string{admin}},
		{admin: true, method: "POST", path: "/admin/revoke", headers: []string{admin}, body: `{"subject":"alice"}`, json: true},
	}, string(signed))
	compareGolden(t, "testdata/errors_store_down.golden", errs)
}

// goldenEntry renders one response: the request, the status, the headers
// a refusal carries, and a JSON body with request_id normalised (checked
// to be present and non-empty); other bodies by content type only.
func goldenEntry(t *testing.T, g goldenReq, resp *http.Response, body []byte) string {
	t.Helper()
	where := "proxy"
	if g.admin {
		where = "admin"
	}
	var hdrs []string
	for _, h := range g.headers {
		k, _, _ := strings.Cut(h, ":")
		hdrs = append(hdrs, k)
	}
	line := fmt.Sprintf("%s %s %s", where, g.method, g.path)
	if len(hdrs) > 0 {
		line += " [" + strings.Join(hdrs, ", ") + "]"
	}
	if g.body != "" {
		line += " body " + g.body
	}
	line += fmt.Sprintf("\n  -> %d", resp.StatusCode)
	for _, h := range []string{"WWW-Authenticate", "Allow", "Location", "Retry-After", "Content-Type", "Cache-Control"} {
		if v := resp.Header.Get(h); v != "" {
			line += fmt.Sprintf("\n  %s: %s", h, v)
		}
	}
	if resp.StatusCode < 400 {
		return line + "\n" // not an error: its body is the upstream's
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return line + fmt.Sprintf("\n  (%d bytes)\n", len(body))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Errorf("%s %s: JSON body %q: %v", g.method, g.path, body, err)
		return line + "\n  (bad JSON)\n"
	}
	members := []string{"error", "error_description", "request_id"}
	if g.admin && g.path == "/readyz" {
		members = []string{"status", "reason"} // the readiness shape
	}
	for _, k := range members {
		if v, _ := m[k].(string); v == "" {
			t.Errorf("%s %s: error body without %s: %s", g.method, g.path, k, body)
		}
	}
	if _, ok := m["request_id"]; ok {
		m["request_id"] = "<request_id>"
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out) // sorted keys
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m)
	return line + "\n  " + out.String()
}

var (
	metricLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (.*)$`)
	goLabel    = regexp.MustCompile(`goversion="[^"]*"`)
	verLabel   = regexp.MustCompile(`([{,])version="[^"]*"`)
)

// normaliseMetrics keeps Gatehouse's own series (not go_*, process_*,
// promhttp_*), drops histogram buckets and sums (timing-dependent) and
// keeps their _count, and replaces the values that depend on the build or
// the clock.
func normaliseMetrics(exposition string) string {
	var out []string
	for _, line := range strings.Split(exposition, "\n") {
		if line == "" {
			continue
		}
		name := line
		if strings.HasPrefix(line, "# ") {
			f := strings.Fields(line)
			if len(f) < 3 {
				continue
			}
			name = f[2]
		} else if m := metricLine.FindStringSubmatch(line); m != nil {
			name = m[1]
		}
		if !strings.HasPrefix(name, "gatehouse_") ||
			strings.HasSuffix(name, "_bucket") || strings.HasSuffix(name, "_sum") {
			continue
		}
		if strings.HasPrefix(line, "# ") {
			out = append(out, line)
			continue
		}
		m := metricLine.FindStringSubmatch(line)
		labels, value := m[2], m[3]
		switch name {
		case "gatehouse_build_info":
			labels = verLabel.ReplaceAllString(goLabel.ReplaceAllString(labels, `goversion="<go>"`), `${1}version="<version>"`)
		case "gatehouse_config_last_reload_timestamp_seconds":
			value = "<time>"
		}
		if strings.HasPrefix(name, "gatehouse_store_") && name != "gatehouse_store_up" && name != "gatehouse_store_errors_allowed_total" {
			value = "<n>" // the store's health check runs every second as well
		}
		out = append(out, name+labels+" "+value)
	}
	return strings.Join(out, "\n") + "\n"
}

// sumSeries adds the values of every series of name in an exposition.
func sumSeries(exposition, name string) float64 {
	var sum float64
	for _, line := range strings.Split(exposition, "\n") {
		if m := metricLine.FindStringSubmatch(line); m != nil && m[1] == name {
			var v float64
			if _, err := fmt.Sscan(m[3], &v); err == nil {
				sum += v
			}
		}
	}
	return sum
}

// compareGolden compares got with the file, or rewrites it under -update.
func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update and review the diff):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	inW, inG := map[string]int{}, map[string]int{}
	for _, l := range w {
		inW[l]++
	}
	for _, l := range g {
		inG[l]++
	}
	var b strings.Builder
	for _, l := range w {
		if inG[l] == 0 {
			fmt.Fprintf(&b, "- %s\n", l)
		}
	}
	for _, l := range g {
		if inW[l] == 0 {
			fmt.Fprintf(&b, "+ %s\n", l)
		}
	}
	return b.String()
}
