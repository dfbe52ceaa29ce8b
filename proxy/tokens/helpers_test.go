package tokens

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/refresh"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

const alicePassword = "alice-test-password"

// env is the token handler over a memory store with a real users file, a
// real signer and the verifier a jwt route would use.
type env struct {
	srv      *httptest.Server
	signer   *jwtauth.Signer
	store    *memstore.Store
	verifier *jwtauth.Verifier
	metrics  *metrics.Metrics
}

// newEnv builds the env; edit, if given, changes the handler's options.
func newEnv(t testing.TB, edit ...func(*Options)) *env {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	e := &env{store: memstore.New(nil), metrics: metrics.New(prometheus.NewRegistry(), "test")}
	t.Cleanup(func() { _ = e.store.Close() })
	if e.signer, err = jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil); err != nil {
		t.Fatal(err)
	}
	svc, err := refresh.New(refresh.Options{
		Store: e.store, Signer: e.signer, Issuer: "https://gh.example", Audience: "gatehouse",
		OnFamilyRevoked: func() { e.metrics.Revocations.WithLabelValues("family").Inc() },
	})
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := bcrypt.GenerateFromPassword([]byte(alicePassword), bcrypt.MinCost)
	path := filepath.Join(t.TempDir(), "users.yaml")
	content := "- username: alice\n  password_hash: \"" + string(hash) + "\"\n  email: alice@example.com\n  groups: [staff]\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	dir, err := users.Load(path, "")
	if err != nil {
		t.Fatal(err)
	}
	limiter, err := passwords.NewLimiter(passwords.LimiterOptions{Rate: passwords.Rate{N: 3, Per: time.Hour}, ClientRate: passwords.Rate{N: 100, Per: time.Hour}, Counts: memstore.NewAttempts(nil)})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Service: svc, Keys: e.signer.PublicKeys(), Users: dir, Limiter: limiter, Metrics: e.metrics}
	for _, f := range edit {
		f(&o)
	}
	h, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	e.verifier, err = jwtauth.NewVerifier(jwtauth.Options{
		Issuers: []jwtauth.IssuerConfig{{Issuer: "https://gh.example", Audiences: []string{"gatehouse"},
			Algorithms: []string{"ES256"}, Keys: e.signer.PublicKeys()}},
		Revocations: e.store, CacheSize: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends body with contentType to path.
func (e *env) post(t testing.TB, path, contentType, body string) reply {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	_ = json.Unmarshal(b, &r.body)
	return r
}

func (e *env) form(t testing.TB, path string, v url.Values) reply {
	t.Helper()
	return e.post(t, path, "application/x-www-form-urlencoded", v.Encode())
}

func (e *env) password(t testing.TB, user, pw string) reply {
	t.Helper()
	return e.form(t, TokenPath, url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}})
}

func (e *env) refresh(t testing.TB, tok string) reply {
	t.Helper()
	return e.form(t, TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}})
}

// grant checks a successful token response and returns its two tokens.
func (r reply) grant(t testing.TB) (access, refreshTok string) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("got status %d (%s), want 200", r.status, r.raw)
	}
	access, _ = r.body["access_token"].(string)
	refreshTok, _ = r.body["refresh_token"].(string)
	if access == "" || refreshTok == "" || r.body["token_type"] != "Bearer" || r.body["expires_in"] != 300.0 {
		t.Fatalf("got body %v, want access_token, refresh_token, token_type Bearer, expires_in 300", r.body)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("got Cache-Control %q, want %q", got, "no-store")
	}
	return access, refreshTok
}

// oauthError checks an RFC 6749 §5.2 error answer that holds no token.
func (r reply) oauthError(t testing.TB, status int, code string) {
	t.Helper()
	if r.status != status || r.body["error"] != code {
		t.Errorf("got %d %v, want %d with error %q", r.status, r.body, status, code)
	}
	if _, ok := r.body["access_token"]; ok {
		t.Errorf("an error answer carries an access token: %s", r.raw)
	}
	if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Errorf("got Cache-Control %q, Content-Type %q; want no-store, application/json",
			r.header.Get("Cache-Control"), r.header.Get("Content-Type"))
	}
}

func (e *env) accessOK(t testing.TB, token string, want bool) {
	t.Helper()
	_, err := e.verifier.Verify(context.Background(), token)
	if got := err == nil; got != want {
		t.Errorf("access token accepted: got %v (%v), want %v", got, err, want)
	}
}

func counter(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }
