package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth/assertion"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

const tokensConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
users: {file: "{{dir}}/users.yaml"}
jwt:
  issue:
    issuer: "http://gatehouse.test"
    signing_key_file: "{{dir}}/issuing.pem"
identity_headers: {assertion: X-Auth-Assertion}
routes:
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: wiki, match: {path_prefix: "/wiki/"}, auth: jwt}
`

const testPassword = "alice-e2e-password"

// privatePEM encodes a private key as PKCS#8 PEM.
func privatePEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// signingKey returns a fresh private key PEM for alg: ES256, EdDSA, RS256.
func signingKey(t *testing.T, alg string) string {
	t.Helper()
	var key any
	var err error
	switch alg {
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "RS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil || key == nil {
		t.Fatalf("generate %s key: %v", alg, err)
	}
	return privatePEM(t, key)
}

func usersFile(t *testing.T) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return "- username: alice\n  password_hash: \"" + string(h) + "\"\n  email: alice@example.com\n  groups: [staff, ops]\n"
}

func startTokens(t *testing.T, alg string) *instance {
	t.Helper()
	return startGatehouse(t, tokensConfig, map[string]string{"users.yaml": usersFile(t), "issuing.pem": signingKey(t, alg)})
}

// postForm posts v to url and decodes the JSON answer (nil for none).
func postForm(t *testing.T, u string, v url.Values) (int, map[string]any) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.PostForm(u, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// passwordGrant logs alice in and returns her access and refresh tokens.
func passwordGrant(t *testing.T, in *instance) (access, refreshTok string) {
	t.Helper()
	status, body := postForm(t, in.URL+"/.gatehouse/token", url.Values{
		"grant_type": {"password"}, "username": {"alice"}, "password": {testPassword}})
	return grantTokens(t, status, body)
}

func refreshGrant(t *testing.T, in *instance, rt string) (int, map[string]any) {
	t.Helper()
	return postForm(t, in.URL+"/.gatehouse/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// refreshOK spends rt and returns the next pair.
func refreshOK(t *testing.T, in *instance, rt string) (access, refreshTok string) {
	t.Helper()
	status, body := refreshGrant(t, in, rt)
	return grantTokens(t, status, body)
}

func grantTokens(t *testing.T, status int, body map[string]any) (access, refreshTok string) {
	t.Helper()
	access, _ = body["access_token"].(string)
	refreshTok, _ = body["refresh_token"].(string)
	if status != http.StatusOK || access == "" || refreshTok == "" {
		t.Fatalf("token endpoint: got %d %v, want 200 with two tokens", status, body)
	}
	return access, refreshTok
}

// callAPI calls path with the access token and returns the status and, on
// 200, the headers the upstream received.
func callAPI(t *testing.T, in *instance, path, access string) (int, http.Header) {
	t.Helper()
	resp, body := get(t, in.URL+path, "Authorization: Bearer "+access)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil
	}
	var seen echo.Request
	if err := json.Unmarshal([]byte(body), &seen); err != nil {
		t.Fatalf("echo body: %v", err)
	}
	return resp.StatusCode, http.Header(seen.Headers)
}

func TestTokenFlowEndToEnd(t *testing.T) {
	t.Parallel()
	in := startTokens(t, "ES256")
	access, rt := passwordGrant(t, in)
	status, seen := callAPI(t, in, "/api/orders", access)
	if status != http.StatusOK || seen.Get("X-Auth-User") != "alice" {
		t.Fatalf("GET /api/ with the access token: got %d, user %q; want 200 alice", status, seen.Get("X-Auth-User"))
	}
	// The upstream verifies the assertion against the served JWKS; the same
	// assertion replayed to another route's upstream is refused.
	for route, want := range map[string]int{"api": 200, "wiki": 401} {
		h := assertion.Middleware(assertion.VerifyOptions{
			JWKSURL: in.URL + "/.gatehouse/jwks.json", Issuer: "http://gatehouse.test", Audience: route,
		})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("X-Auth-Assertion", seen.Get("X-Auth-Assertion"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("assertion for route api checked by the %s upstream: got %d, want %d", route, rec.Code, want)
		}
	}
	access2, rt2 := refreshOK(t, in, rt)
	if s, _ := callAPI(t, in, "/api/orders", access2); s != http.StatusOK {
		t.Errorf("refreshed access token: got %d, want 200", s)
	}
	if s, _ := postForm(t, in.URL+"/.gatehouse/revoke", url.Values{"token": {rt2}}); s != http.StatusOK {
		t.Fatalf("revoke: got %d, want 200", s)
	}
	if s, _ := callAPI(t, in, "/api/orders", access2); s != http.StatusUnauthorized {
		t.Errorf("access token of a revoked grant: got %d, want 401", s)
	}
	if s, body := refreshGrant(t, in, rt2); s != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: got %d %v, want 400 invalid_grant", s, body)
	}
}

// TestRefreshReuseEndToEnd: the second use of a refresh token fails, and
// the newer tokens of its family stop working at once.
func TestRefreshReuseEndToEnd(t *testing.T) {
	t.Parallel()
	in := startTokens(t, "EdDSA")
	_, rt1 := passwordGrant(t, in)
	access2, rt2 := refreshOK(t, in, rt1)
	if s, body := refreshGrant(t, in, rt1); s != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: got %d %v, want 400 invalid_grant", s, body)
	}
	if s, _ := callAPI(t, in, "/api/x", access2); s != http.StatusUnauthorized {
		t.Errorf("newer access token after reuse: got %d, want 401", s)
	}
	if s, _ := refreshGrant(t, in, rt2); s != http.StatusBadRequest {
		t.Errorf("newer refresh token after reuse: got %d, want 400", s)
	}
	_, metrics := get(t, in.AdminURL+"/metrics")
	if !strings.Contains(metrics, `gatehouse_revocations_total{kind="family"} 1`) {
		t.Error(`gatehouse_revocations_total{kind="family"} is not 1`)
	}
}

// TestAccessAndRefreshNotInterchangeable at the proxy: a refresh token is
// no Bearer token, an access token no refresh token.
func TestAccessAndRefreshNotInterchangeable(t *testing.T) {
	t.Parallel()
	in := startTokens(t, "ES256")
	access, rt := passwordGrant(t, in)
	if s, _ := callAPI(t, in, "/api/x", rt); s != http.StatusUnauthorized {
		t.Errorf("refresh token as Bearer: got %d, want 401", s)
	}
	if s, body := refreshGrant(t, in, access); s != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("access token as refresh token: got %d %v, want 400 invalid_grant", s, body)
	}
}

// TestKeyRotationEndToEnd: a reload makes an RSA key current and keeps the
// EC key as previous; tokens of both verify, the JWKS lists both, and new
// tokens carry the new kid.
func TestKeyRotationEndToEnd(t *testing.T) {
	t.Parallel()
	in := startTokens(t, "ES256")
	oldAccess, _ := passwordGrant(t, in)
	writeFiles(t, in.Dir, map[string]string{"new.pem": signingKey(t, "RS256")})
	cfgPath := filepath.Join(in.Dir, "gatehouse.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	rotated := strings.Replace(string(cfg), `signing_key_file: "`+in.Dir+`/issuing.pem"`,
		`signing_key_file: "`+in.Dir+`/new.pem"`+"\n    previous_key_files: [\""+in.Dir+"/issuing.pem\"]", 1)
	writeFiles(t, in.Dir, map[string]string{"gatehouse.yaml": rotated})
	deadline := time.Now().Add(10 * time.Second)
	for len(jwksKeys(t, in)) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("the JWKS did not list two keys after the reload")
		}
		time.Sleep(50 * time.Millisecond)
	}
	newAccess, _ := passwordGrant(t, in)
	if alg := tokenHeader(t, newAccess)["alg"]; alg != "RS256" {
		t.Errorf("new token: got alg %v, want RS256", alg)
	}
	for name, tok := range map[string]string{"old (previous key)": oldAccess, "new": newAccess} {
		if s, _ := callAPI(t, in, "/api/x", tok); s != http.StatusOK {
			t.Errorf("%s token: got %d, want 200", name, s)
		}
	}
}

func jwksKeys(t *testing.T, in *instance) []map[string]any {
	t.Helper()
	_, body := get(t, in.URL+"/.gatehouse/jwks.json")
	var set struct{ Keys []map[string]any }
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return set.Keys
}

func tokenHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	h, _, _ := strings.Cut(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// TestCheckRefusesSigningKeys: weak RSA and P-384 issuing keys are config
// errors that name the key and the file.
func TestCheckRefusesSigningKeys(t *testing.T) {
	t.Parallel()
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, pem, want string
	}{
		{"weak RSA", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsa1024)})), "1024 bits is too weak"},
		{"P-384", privatePEM(t, p384), "P-384 is not accepted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			writeFiles(t, dir, map[string]string{"issuing.pem": tt.pem, "users.yaml": usersFile(t)})
			cfg := strings.NewReplacer("{{listen}}", "127.0.0.1:0", "{{admin}}", "127.0.0.1:0",
				"{{upstream}}", "http://127.0.0.1:1", "{{dir}}", dir).Replace(tokensConfig)
			writeFiles(t, dir, map[string]string{"gatehouse.yaml": cfg})
			var stdout, stderr strings.Builder
			err := run(context.Background(), []string{"check", "-config", filepath.Join(dir, "gatehouse.yaml")}, nil, &stdout, &stderr)
			out := stderr.String()
			if err == nil || !strings.Contains(out, "jwt.issue.signing_key_file") ||
				!strings.Contains(out, filepath.Join(dir, "issuing.pem")) || !strings.Contains(out, tt.want) {
				t.Errorf("check: got error %v, output %q; want the key path, the file and %q", err, out, tt.want)
			}
		})
	}
}
