package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"github.com/prometheus/client_golang/prometheus"
)

// The benchmarks below run side by side in one `go test -bench` run, so
// their ns/op compare directly: each request goes client → proxy → upstream
// over loopback with keep-alive connections, serially.

func benchUpstream(b *testing.B) *url.URL {
	b.Helper()
	body := []byte(`{"ok":true}`)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(up.Close)
	u, _ := url.Parse(up.URL)
	return u
}

// benchLoop sends b.N requests to target with the given Authorization.
func benchLoop(b *testing.B, target, authz string) {
	b.Helper()
	serialLoop(b, target, "Authorization", authz, nil)
}

// getOK sends req, drains the answer and fails b unless it is a 200.
func getOK(b *testing.B, client *http.Client, req *http.Request) {
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("%s: status %d, want 200", req.URL.Path, resp.StatusCode)
	}
}

// serialLoop sends b.N GET requests to target, serially over one
// keep-alive connection, with header set to value (when not empty). The
// first request warms connections and caches; warm, if not nil, runs after
// it and before the timer starts.
func serialLoop(b *testing.B, target, header, value string, warm func(do func())) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	req, _ := http.NewRequest("GET", target, nil)
	if value != "" {
		req.Header.Set(header, value)
	}
	do := func() { getOK(b, client, req) }
	do()
	if warm != nil {
		warm(do)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		do()
	}
}

// bareProxy is the baseline: httputil.ReverseProxy with the same tuned
// transport and nothing else.
func bareProxy(b *testing.B, up *url.URL) string {
	rp := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(up); pr.SetXForwarded() },
		Transport: NewTransport(time.Minute),
	}
	srv := httptest.NewServer(rp)
	b.Cleanup(srv.Close)
	return srv.URL
}

type benchKeys struct {
	es     *ecdsa.PrivateKey
	hs     []byte
	esTok  string
	hsTok  string
	issuer []jwtauth.IssuerConfig
}

func newBenchKeys(b *testing.B) benchKeys {
	es, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	hs := make([]byte, 32)
	_, _ = rand.Read(hs)
	pub, err := ecPublicPEM(&es.PublicKey)
	if err != nil {
		b.Fatal(err)
	}
	k := benchKeys{es: es, hs: hs, issuer: []jwtauth.IssuerConfig{
		{Issuer: "https://es.test", Audiences: []string{"api"}, Algorithms: []string{"ES256"}, PublicKeys: [][]byte{pub}},
		{Issuer: "https://hs.test", Audiences: []string{"api"}, Algorithms: []string{"HS256"}, HMACSecret: hs},
	}}
	k.esTok = benchToken(b, "https://es.test", jwa.ES256, es)
	k.hsTok = benchToken(b, "https://hs.test", jwa.HS256, hs)
	return k
}

func benchToken(b *testing.B, iss string, alg jwa.SignatureAlgorithm, key any) string {
	tok, _ := jwt.NewBuilder().Issuer(iss).Audience([]string{"api"}).Subject("alice").JwtID("j-"+iss).
		IssuedAt(time.Now()).Expiration(time.Now().Add(time.Hour)).Claim("groups", []string{"staff"}).Build()
	s, err := jwt.Sign(tok, jwt.WithKey(alg, key))
	if err != nil {
		b.Fatal(err)
	}
	return string(s)
}

// gatehouse starts a proxy Handler with one none route and one jwt route.
func gatehouse(b *testing.B, up *url.URL, bearer BearerVerifier) string {
	h, err := New(Options{
		Routes: []Route{
			{Name: "public", PathPrefix: "/public/", Auth: AuthNone},
			{Name: "api", PathPrefix: "/api/", Auth: AuthJWT},
		},
		Upstream: up, Bearer: bearer, Metrics: metrics.New(prometheus.NewRegistry(), "bench"),
		Headers: Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method"},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	return srv.URL
}

func verifier(b *testing.B, k benchKeys, rev auth.RevocationStore) *jwtauth.Verifier {
	v, err := jwtauth.NewVerifier(jwtauth.Options{Issuers: k.issuer, Revocations: rev})
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// BenchmarkProxy compares, in one run: a bare ReverseProxy, Gatehouse on a
// none route, and Gatehouse on a jwt route (ES256 and HS256, revocation on
// the memory store, warm verified-token cache).
func BenchmarkProxy(b *testing.B) {
	up := benchUpstream(b)
	k := newBenchKeys(b)
	mem := memstore.New(nil)
	b.Cleanup(func() { mem.Close() })
	gh := gatehouse(b, up, verifier(b, k, mem))
	b.Run("direct", func(b *testing.B) { benchLoop(b, up.String()+"/x", "") })
	b.Run("bare", func(b *testing.B) { benchLoop(b, bareProxy(b, up)+"/x", "") })
	b.Run("none", func(b *testing.B) { benchLoop(b, gh+"/public/x", "") })
	b.Run("jwt-ES256", func(b *testing.B) { benchLoop(b, gh+"/api/x", "Bearer "+k.esTok) })
	b.Run("jwt-HS256", func(b *testing.B) { benchLoop(b, gh+"/api/x", "Bearer "+k.hsTok) })
}

// BenchmarkRevocation compares the cost of the revocation check on a warm
// ES256 jwt route: no check, the memory store, Redis with the local cache
// kept fresh by pub/sub, and a naive Redis GET per request. redis-calls/op
// comes from the store's own command counter.
func BenchmarkRevocation(b *testing.B) {
	up := benchUpstream(b)
	k := newBenchKeys(b)
	b.Run("bare", func(b *testing.B) { benchLoop(b, bareProxy(b, up)+"/x", "") })
	b.Run("none", func(b *testing.B) { benchLoop(b, gatehouse(b, up, verifier(b, k, nil))+"/api/x", "Bearer "+k.esTok) })
	b.Run("memory", func(b *testing.B) {
		mem := memstore.New(nil)
		b.Cleanup(func() { mem.Close() })
		benchLoop(b, gatehouse(b, up, verifier(b, k, mem))+"/api/x", "Bearer "+k.esTok)
	})
	r := authtest.StartRedis(b)
	for _, v := range []struct {
		name string
		ttl  time.Duration
	}{{"redis-cached", 0}, {"redis-naive", -1}} {
		b.Run(v.name, func(b *testing.B) {
			var calls int64
			st, err := redisstore.New(redisstore.Options{
				Addrs: []string{r.Addr}, CacheTTL: v.ttl,
				Observe: func(string, time.Duration, error) { calls++ },
			})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { st.Close() })
			if err := st.Ping(context.Background()); err != nil {
				b.Fatal(err)
			}
			target := gatehouse(b, up, verifier(b, k, st)) + "/api/x"
			calls = 0
			benchLoop(b, target, "Bearer "+k.esTok)
			b.ReportMetric(float64(calls)*1000/float64(b.N), "redis-calls/1k-req")
		})
	}
}
