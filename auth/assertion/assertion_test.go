package assertion

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
)

func newKey(t testing.TB) *jwtauth.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	s, err := jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var alice = &auth.Identity{Subject: "u-1", User: "alice", Email: "alice@example.com", Groups: []string{"staff", "ops"}, Method: auth.MethodJWT}

func TestAssertClaims(t *testing.T) {
	key := newKey(t)
	s, err := NewSigner(SignerOptions{Key: key, Issuer: "https://gate.example"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Assert(alice, "api")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifyOptions{Keys: key.PublicKeys(), Issuer: "https://gate.example", Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Verify(context.Background(), a)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.User != "alice" || id.Email != "alice@example.com" || !slices.Equal(id.Groups, alice.Groups) || id.Method != "jwt" || id.TokenID == "" {
		t.Errorf("got %+v, want alice's identity with a jti", id)
	}
	if d := id.ExpiresAt.Sub(id.IssuedAt); d != 60*time.Second {
		t.Errorf("got lifetime %v, want 60s", d)
	}
	for _, claim := range []string{"iss", "aud", "sub", "email", "groups", "auth", "iat", "exp", "jti"} {
		if _, ok := id.Claims[claim]; !ok {
			t.Errorf("claim %q missing", claim)
		}
	}
}

func TestAssertReuse(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s, _ := NewSigner(SignerOptions{Key: newKey(t), Issuer: "https://gate.example", Now: func() time.Time { return now }})
	a1, _ := s.Assert(alice, "api")
	a2, _ := s.Assert(alice, "api")
	if a1 != a2 {
		t.Error("the same identity and route within Reuse got a new assertion")
	}
	other, _ := s.Assert(alice, "wiki")
	bob, _ := s.Assert(&auth.Identity{User: "bob", Method: auth.MethodJWT}, "api")
	fewer, _ := s.Assert(&auth.Identity{User: "alice", Email: alice.Email, Groups: []string{"staff"}, Method: auth.MethodJWT}, "api")
	if other == a1 || bob == a1 || fewer == a1 {
		t.Error("a different route, user or group list reused an assertion")
	}
	now = now.Add(DefaultReuse)
	if a3, _ := s.Assert(alice, "api"); a3 == a1 {
		t.Error("an assertion was reused after Reuse")
	}
}

func TestCacheKeyUnambiguous(t *testing.T) {
	a := cacheKey("api", "jwt", "al", "ice@x", []string{"a,b"})
	b := cacheKey("api", "jwt", "ali", "ce@x", []string{"a", "b"})
	if a == b {
		t.Errorf("distinct claims share the key %q", a)
	}
}

func TestMiddleware(t *testing.T) {
	key, stranger := newKey(t), newKey(t)
	s, _ := NewSigner(SignerOptions{Key: key, Issuer: "https://gate.example"})
	foreign, _ := NewSigner(SignerOptions{Key: stranger, Issuer: "https://gate.example"})
	old := time.Now().Add(-2 * time.Minute)
	expired, _ := NewSigner(SignerOptions{Key: key, Issuer: "https://gate.example", Now: func() time.Time { return old }})
	wrongIss, _ := NewSigner(SignerOptions{Key: key, Issuer: "https://evil.example"})
	good, _ := s.Assert(alice, "api")
	replayed, _ := s.Assert(alice, "wiki")
	forged, _ := foreign.Assert(alice, "api")
	stale, _ := expired.Assert(alice, "api")
	otherIss, _ := wrongIss.Assert(alice, "api")
	access, _, _, _ := key.Mint(jwtauth.Claims{Issuer: "https://gate.example", Audience: "api", Subject: "alice", TTL: time.Minute})

	var reached atomic.Int64
	h := Middleware(VerifyOptions{Keys: key.PublicKeys(), Issuer: "https://gate.example", Audience: "api"})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			id, ok := FromContext(r.Context())
			if !ok || id.User != "alice" {
				t.Errorf("FromContext: got %+v, %v", id, ok)
			}
		}))
	tests := []struct {
		name, header string
		want         int
	}{
		{"valid", good, 200},
		{"missing", "", 401},
		{"replayed to another route", replayed, 401},
		{"signed by another key", forged, 401},
		{"expired", stale, 401},
		{"another issuer", otherIss, 401},
		{"access token without auth claim", access, 401},
		{"garbage", "x.y.z", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reached.Load()
			req := httptest.NewRequest("GET", "/", nil)
			if tt.header != "" {
				req.Header.Set(DefaultHeader, tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("got %d %s, want %d", rec.Code, rec.Body, tt.want)
			}
			if got := reached.Load() - before; (got == 1) != (tt.want == 200) {
				t.Errorf("handler reached %d times, want %v", got, tt.want == 200)
			}
		})
	}
}

// TestMiddlewareJWKSURL fetches the keys over HTTP: after a rotation the
// JWKS holds the new key and the previous one, and both verify.
func TestMiddlewareJWKSURL(t *testing.T) {
	k1, k2 := newKey(t), newKey(t)
	set := k2.PublicKeys()
	prev, _ := k1.PublicKeys().Key(0)
	_ = set.AddKey(prev)
	var fetches atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		_ = json.NewEncoder(w).Encode(set)
	}))
	defer jwks.Close()
	v, err := NewVerifier(VerifyOptions{JWKSURL: jwks.URL, Issuer: "https://gate.example", Audience: "api",
		HTTPClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	for i, key := range []*jwtauth.Signer{k1, k2} {
		s, _ := NewSigner(SignerOptions{Key: key, Issuer: "https://gate.example"})
		a, _ := s.Assert(alice, "api")
		if _, err := v.Verify(context.Background(), a); err != nil {
			t.Errorf("key %d: %v", i+1, err)
		}
	}
	if got := fetches.Load(); got != 1 {
		t.Errorf("got %d JWKS fetches, want 1", got)
	}
	jwks.Close()
	broken, _ := NewVerifier(VerifyOptions{JWKSURL: jwks.URL, Issuer: "https://gate.example", Audience: "api"})
	a, _ := (&Signer{o: SignerOptions{Key: k1, Issuer: "https://gate.example", TTL: time.Minute, Reuse: -1, Now: time.Now}}).Assert(alice, "api")
	if _, err := broken.Verify(context.Background(), a); !errors.Is(err, auth.ErrUnavailable) {
		t.Errorf("JWKS down: got %v, want auth.ErrUnavailable", err)
	}
}

func TestOptionsRequired(t *testing.T) {
	if _, err := NewSigner(SignerOptions{Issuer: "x"}); err == nil {
		t.Error("NewSigner without a key: got nil error")
	}
	if _, err := NewVerifier(VerifyOptions{Issuer: "x", Audience: "api"}); err == nil {
		t.Error("NewVerifier without keys: got nil error")
	}
	if _, err := NewVerifier(VerifyOptions{Keys: newKey(t).PublicKeys(), Issuer: "x"}); err == nil {
		t.Error("NewVerifier without an audience: got nil error")
	}
}

func BenchmarkAssert(b *testing.B) {
	for _, bc := range []struct {
		name  string
		reuse time.Duration
	}{{"cached", 0}, {"sign-every-time", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			s, _ := NewSigner(SignerOptions{Key: newKey(b), Issuer: "https://gate.example", Reuse: bc.reuse})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Assert(alice, "api"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
