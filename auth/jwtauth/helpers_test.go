package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"

	"github.com/gatehouse-proxy/gatehouse/auth"
)

const (
	testIssuer   = "https://idp.test"
	testAudience = "api"
)

// testNow is the fixed time tokens are minted and verified at.
var testNow = time.Unix(1_800_000_000, 0)

// Keys are generated once per test binary; RSA generation is slow.
var (
	keysOnce         sync.Once
	rsaKey, rsaKey2  *rsa.PrivateKey
	ecKey, ecKey2    *ecdsa.PrivateKey
	edKey            ed25519.PrivateKey
	attackerKey      *ecdsa.PrivateKey
	testHMACSecret   = []byte("0123456789abcdef0123456789abcdef-secret")
	errStoreDown     = errors.New("store down")
	generateKeyError error
)

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		rsaKey, err = rsa.GenerateKey(rand.Reader, 2048)
		if err == nil {
			rsaKey2, err = rsa.GenerateKey(rand.Reader, 2048)
		}
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ecKey2, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		attackerKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, edKey, _ = ed25519.GenerateKey(rand.Reader)
		generateKeyError = err
	})
	if generateKeyError != nil {
		t.Fatalf("generate keys: %v", generateKeyError)
	}
}

// clock is a settable Options.Now.
type clock struct{ t atomic.Pointer[time.Time] }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.t.Store(&t) }
func (c *clock) now() time.Time   { return *c.t.Load() }

// claimsAt returns a valid claim set for testIssuer minted at now.
func claimsAt(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "aud": testAudience, "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": "jti-1",
	}
}

// signToken builds a compact JWS by hand so that tests can put anything in
// the header. hdr members override the defaults alg and typ.
func signToken(t testing.TB, alg string, key any, hdr, claims map[string]any) string {
	t.Helper()
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range hdr {
		h[k] = v
	}
	hj, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	cj, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64.EncodeToString(hj) + "." + b64.EncodeToString(cj)
	signer, err := jws.NewSigner(jwa.SignatureAlgorithm(alg))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), key)
	if err != nil {
		t.Fatalf("sign %s: %v", alg, err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func publicPEM(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func privatePEM(t testing.TB, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func thumb(t testing.TB, key any) string {
	t.Helper()
	tp, err := Thumbprint(key)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// jwksJSON returns a JWKS document of the public keys, each with kid kids[i].
func jwksJSON(t testing.TB, kids []string, pubs ...crypto.PublicKey) []byte {
	t.Helper()
	set := jwk.NewSet()
	for i, pub := range pubs {
		k, err := jwk.FromRaw(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Set(jwk.KeyIDKey, kids[i]); err != nil {
			t.Fatal(err)
		}
		if err := set.AddKey(k); err != nil {
			t.Fatal(err)
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// jwksServer is a real HTTP server on 127.0.0.1 that serves a JWKS and
// counts requests. While failing, it answers 500.
type jwksServer struct {
	*httptest.Server
	hits    atomic.Int32
	failing atomic.Bool
	body    atomic.Pointer[[]byte]
}

func newJWKSServer(t testing.TB, body []byte) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.body.Store(&body)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		if s.failing.Load() {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.body.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setBody(b []byte) { s.body.Store(&b) }

// mapRevocations is the trivial in-memory auth.RevocationStore used to
// exercise the Verifier's calls; err, when set, is returned by every call.
type mapRevocations struct {
	mu       sync.Mutex
	jtis     map[string]bool
	subjects map[string]time.Time
	err      error
}

func newMapRevocations() *mapRevocations {
	return &mapRevocations{jtis: map[string]bool{}, subjects: map[string]time.Time{}}
}

func (m *mapRevocations) JTIRevoked(_ context.Context, jti string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.jtis[jti], m.err
}

func (m *mapRevocations) SubjectRevokedAt(_ context.Context, sub string) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subjects[sub], m.err
}

func (m *mapRevocations) RevokeJTI(_ context.Context, jti string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jtis[jti] = true
	return nil
}

func (m *mapRevocations) RevokeSubject(_ context.Context, sub string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.subjects[sub] = at.Truncate(time.Second)
	return nil
}

func (m *mapRevocations) setErr(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.err = err
}

var _ auth.RevocationStore = (*mapRevocations)(nil)

// newTestVerifier builds a Verifier at testNow (unless o.Now is set) and
// fails the test on a configuration error.
func newTestVerifier(t testing.TB, o Options) *Verifier {
	t.Helper()
	if o.Now == nil {
		o.Now = func() time.Time { return testNow }
	}
	v, err := NewVerifier(o)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// wantErr checks that err is an *auth.Error of kind with description desc
// ("" matches any description).
func wantErr(t testing.TB, err, kind error, desc string) {
	t.Helper()
	var ae *auth.Error
	if !errors.As(err, &ae) {
		t.Fatalf("got error %v (%T), want *auth.Error", err, err)
	}
	if !errors.Is(err, kind) {
		t.Fatalf("got kind %v, want %v (%q)", ae.Kind, kind, ae.Description)
	}
	if desc != "" && ae.Description != desc {
		t.Fatalf("got description %q, want %q", ae.Description, desc)
	}
}

// rsaPEMIssuer is an RS256 issuer with rsaKey's public key as PEM.
func rsaPEMIssuer(t testing.TB) IssuerConfig {
	return IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"RS256"},
		PublicKeys: [][]byte{publicPEM(t, rsaKey.Public())}}
}

// esJWKSIssuer is an ES256 issuer whose JWKS server holds ecKey as kid "ec1".
func esJWKSIssuer(t testing.TB) (IssuerConfig, *jwksServer) {
	srv := newJWKSServer(t, jwksJSON(t, []string{"ec1"}, ecKey.Public()))
	return IssuerConfig{Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
		JWKSURL: srv.URL + "/jwks.json"}, srv
}

// waitReady runs v in the background until the test ends and waits for it
// to be ready.
func waitReady(t testing.TB, v *Verifier) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { v.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(5 * time.Second)
	for !v.Ready() || fetching(v) {
		if time.Now().After(deadline) {
			t.Fatal("verifier not ready after 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// fetching reports whether a JWKS fetch is still winding down: its keys
// are installed (Ready) a moment before it stops being in flight, and a
// refetch asked for in that moment joins it rather than starting anew.
// Tests that change the JWKS after waitReady need it finished.
func fetching(v *Verifier) bool {
	for _, s := range v.jwks {
		s.mu.Lock()
		busy := s.inflight != nil
		s.mu.Unlock()
		if busy {
			return true
		}
	}
	return false
}

// decodeJSON decodes one base64url part of a compact JWS into v.
func decodeJSON(part string, v any) error {
	raw, err := b64.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, v)
}
