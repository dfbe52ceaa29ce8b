package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/assertion"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// assertingGatehouse is gatehouse() with identity_headers.assertion on.
func assertingGatehouse(b *testing.B, up *url.URL, bearer BearerVerifier, a AssertionSigner) string {
	h, err := New(Options{
		Routes:   []Route{{Name: "api", PathPrefix: "/api/", Auth: AuthJWT}},
		Upstream: up, Bearer: bearer, Assertions: a, Metrics: metrics.New(prometheus.NewRegistry(), "bench"),
		Headers: Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method",
			Assertion: "X-Auth-Assertion"},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

// BenchmarkAssertionProxy compares, in one run, a warm ES256 jwt route
// without and with the identity assertion (ES256 issuing key): reused for
// 30 s (the default) and signed on every request.
func BenchmarkAssertionProxy(b *testing.B) {
	up := benchUpstream(b)
	k := newBenchKeys(b)
	mem := memstore.New(nil)
	b.Cleanup(func() { mem.Close() })
	v := verifier(b, k, mem)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	issuing, err := jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	if err != nil {
		b.Fatal(err)
	}
	signer := func(reuse time.Duration) AssertionSigner {
		s, err := assertion.NewSigner(assertion.SignerOptions{Key: issuing, Issuer: "https://gate.test", Reuse: reuse})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	b.Run("bare", func(b *testing.B) { benchLoop(b, bareProxy(b, up)+"/x", "") })
	b.Run("jwt", func(b *testing.B) { benchLoop(b, gatehouse(b, up, v)+"/api/x", "Bearer "+k.esTok) })
	b.Run("jwt+assertion", func(b *testing.B) {
		benchLoop(b, assertingGatehouse(b, up, v, signer(0))+"/api/x", "Bearer "+k.esTok)
	})
	b.Run("jwt+assertion-unreused", func(b *testing.B) {
		benchLoop(b, assertingGatehouse(b, up, v, signer(-1))+"/api/x", "Bearer "+k.esTok)
	})
}
