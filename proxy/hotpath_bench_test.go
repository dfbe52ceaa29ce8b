package proxy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/jwtauth"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/metrics"
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

// BenchmarkHotPath is the load benchmark's Gatehouse (bench/gatehouse.go)
// in-process, for allocation and CPU profiles of the request path: the
// routes none, jwt and session on a Redis store, an ES256 issuing key as
// `gatehouse token` uses, the users file re-checked on every session
// request, a JSON access line per request (to io.Discard), the HTML error
// pages, trusted_proxies 127.0.0.1/32 and forward-auth on, as
// cmd/gatehouse wires them. Each request goes client → proxy → upstream
// over loopback, serially; allocs/op includes the client's and the
// upstream's, so compare with "bare" (the bench's bare ReverseProxy) and
// "direct" (no proxy). jwt-10k rotates 10,000 distinct tokens, each already
// verified once; fwdauth-jwt is nginx's auth_request question about the jwt
// route (answered without an upstream).
func BenchmarkHotPath(b *testing.B) {
	up := benchUpstream(b)
	hp := newHotPath(b, up)
	b.Run("direct", func(b *testing.B) { benchLoop(b, up.String()+"/x", "") })
	b.Run("bare", func(b *testing.B) { benchLoop(b, bareProxy(b, up)+"/x", "") })
	b.Run("none", func(b *testing.B) { benchLoop(b, hp.url+"/none/x", "") })
	b.Run("jwt", func(b *testing.B) { benchLoop(b, hp.url+"/jwt/x", "Bearer "+hp.tokens[0]) })
	b.Run("jwt-10k", func(b *testing.B) { hp.warm(b); rotateLoop(b, hp.url+"/jwt/x", hp.tokens) })
	b.Run("session", func(b *testing.B) { serialLoop(b, hp.url+"/session/x", "Cookie", hp.cookie, nil) })
	b.Run("fwdauth-jwt", func(b *testing.B) { fwdAuthLoop(b, hp.url, "Bearer "+hp.tokens[0]) })
}

type hotPath struct {
	url    string
	tokens []string // distinct valid tokens for alice (mint)
	signer *jwtauth.Signer
	redis  string       // the store's address
	calls  atomic.Int64 // Redis commands sent
	cookie string       // a password session's Cookie header
}

// newHotPath starts the Gatehouse of BenchmarkHotPath.
func newHotPath(b *testing.B, up *url.URL) *hotPath {
	b.Helper()
	r := authtest.StartRedis(b)
	hp := &hotPath{redis: r.Addr}
	st, err := redisstore.New(redisstore.Options{Addrs: []string{r.Addr}, Observe: func(string, time.Duration, error) { hp.calls.Add(1) }})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Ping(context.Background()); err != nil {
		b.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	signer, err := jwtauth.NewSigner(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil)
	if err != nil {
		b.Fatal(err)
	}
	v, err := jwtauth.NewVerifier(jwtauth.Options{
		Issuers:     []jwtauth.IssuerConfig{{Issuer: "http://bench", Audiences: []string{"gatehouse"}, Algorithms: []string{signer.Algorithm()}, Keys: signer.PublicKeys()}},
		Revocations: st, KeepClaims: []string{},
	})
	if err != nil {
		b.Fatal(err)
	}
	hp.signer = signer
	hp.mint(b, 1)
	hash, err := users.HashPassword([]byte("bench-password"))
	if err != nil {
		b.Fatal(err)
	}
	usersFile := filepath.Join(b.TempDir(), "users.yaml")
	if err := os.WriteFile(usersFile, fmt.Appendf(nil, "- username: alice\n  password_hash: %q\n  email: alice@example.com\n  groups: [staff]\n", hash), 0o600); err != nil {
		b.Fatal(err)
	}
	dir, err := users.Load(usersFile, "")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	if os.Getenv("HOTPATH_LOG") != "" { // warnings and errors on stderr, to see why a request failed
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sm, err := session.New(session.Options{Store: st, Revocations: st, Users: dir, ClientIP: httpx.ClientIP, Logger: log})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	alice, _ := dir.CheckPassword("alice", "bench-password")
	if err := sm.Login(context.Background(), rec, httptest.NewRequest("POST", "/.gatehouse/login", nil), alice); err != nil {
		b.Fatal(err)
	}
	ck := rec.Result().Cookies()[0]
	hp.cookie = ck.Name + "=" + ck.Value + "; app_theme=dark" // the app's own cookie travels too
	h, err := New(Options{
		Routes: []Route{
			{Name: "none", PathPrefix: "/none/", Auth: AuthNone},
			{Name: "jwt", PathPrefix: "/jwt/", Auth: AuthJWT},
			{Name: "session", PathPrefix: "/session/", Auth: AuthSession},
		},
		Upstream: up, Bearer: v, Sessions: sm, Metrics: metrics.New(prometheus.NewRegistry(), "bench"), Logger: log,
		Headers:          Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method"},
		TrustedProxies:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		ForwardAuth:      true,
		ProtectedCookies: []string{"gatehouse_session", "gatehouse_csrf", "__Host-gatehouse_csrf", "gatehouse_oidc", "__Host-gatehouse_oidc"},
		ErrorPages:       func(w http.ResponseWriter, _ *http.Request, status int, _, _ string) { w.WriteHeader(status) },
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	hp.url = srv.URL
	return hp
}

// mint makes hp.tokens n distinct tokens for alice, as the load
// benchmark mints them.
func (hp *hotPath) mint(b *testing.B, n int) {
	for len(hp.tokens) < n {
		tok, _, _, err := hp.signer.Mint(jwtauth.Claims{Issuer: "http://bench", Audience: "gatehouse", Subject: "alice", TTL: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		hp.tokens = append(hp.tokens, tok)
	}
}

// warm mints 10,000 tokens and has each verified once, as the load benchmark's warm-up
// does.
func (hp *hotPath) warm(b *testing.B) {
	b.Helper()
	client := &http.Client{}
	defer client.CloseIdleConnections()
	hp.mint(b, 10000)
	for _, tok := range hp.tokens {
		req, _ := http.NewRequest("GET", hp.url+"/jwt/warm", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		getOK(b, client, req)
	}
}

// rotateLoop is serialLoop with the i-th request carrying token i mod
// len(tokens).
func rotateLoop(b *testing.B, target string, tokens []string) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	reqs := make([]*http.Request, len(tokens))
	for i, tok := range tokens {
		reqs[i], _ = http.NewRequest("GET", target, nil)
		reqs[i].Header.Set("Authorization", "Bearer "+tok)
	}
	i := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		getOK(b, client, reqs[i%len(reqs)])
		i++
	}
}

// BenchmarkHotPathParallel is BenchmarkHotPath's targets driven by 32
// goroutines with a keep-alive connection each, as the load benchmark
// drives them (so that, for one, revocation misses overlap). ns/op is
// wall time shared with everything else on the machine; cpu-µs/op (this
// process: client, proxy and upstream alike) and redis-cpu-µs/op (the
// store's server) are what to compare: the difference from "bare" is the
// proxy's own cost.
func BenchmarkHotPathParallel(b *testing.B) {
	up := benchUpstream(b)
	hp := newHotPath(b, up)
	bearer := func(tok string) func(int, http.Header) {
		return func(_ int, h http.Header) { h.Set("Authorization", "Bearer "+tok) }
	}
	b.Run("bare", func(b *testing.B) { hp.parallel(b, bareProxy(b, up)+"/x", nil) })
	b.Run("none", func(b *testing.B) { hp.parallel(b, hp.url+"/none/x", nil) })
	b.Run("jwt", func(b *testing.B) { hp.parallel(b, hp.url+"/jwt/x", bearer(hp.tokens[0])) })
	b.Run("jwt-10k", func(b *testing.B) {
		hp.warm(b)
		hp.parallel(b, hp.url+"/jwt/x", func(i int, h http.Header) { h.Set("Authorization", "Bearer "+hp.tokens[i%len(hp.tokens)]) })
	})
	b.Run("session", func(b *testing.B) {
		hp.parallel(b, hp.url+"/session/x", func(_ int, h http.Header) { h.Set("Cookie", hp.cookie) })
	})
	b.Run("fwdauth-jwt", func(b *testing.B) {
		hp.parallel(b, hp.url+AuthRequestPath, func(_ int, h http.Header) {
			h.Set("X-Original-Method", "GET")
			h.Set("X-Original-URI", "/jwt/x?q=1")
			h.Set("X-Forwarded-For", "192.0.2.7")
			h.Set("Authorization", "Bearer "+hp.tokens[0])
		})
	})
}

// parallel sends b.N GET requests to target from 32 goroutines, the i-th
// with the headers set(i) adds, and reports the CPU they cost.
func (hp *hotPath) parallel(b *testing.B, target string, set func(i int, h http.Header)) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(client.CloseIdleConnections)
	var next atomic.Int64
	b.SetParallelism(16) // × GOMAXPROCS goroutines
	b.ReportAllocs()
	proc, redis, calls := processCPU(), redisCPU(b, hp.redis), hp.calls.Load()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("GET", target, nil)
			if set != nil {
				set(int(next.Add(1)), req.Header)
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d, want 200", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-proc).Microseconds())/float64(b.N), "cpu-µs/op")
	b.ReportMetric(float64((redisCPU(b, hp.redis)-redis).Microseconds())/float64(b.N), "redis-cpu-µs/op")
	b.ReportMetric(float64(hp.calls.Load()-calls)/float64(b.N), "redis-calls/op")
}

// processCPU is the CPU time this process has used (client, proxy and
// upstream alike).
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// redisCPU is the CPU time the Redis server at addr has used.
func redisCPU(b *testing.B, addr string) time.Duration {
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	info, err := c.Info(context.Background(), "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return time.Duration(total * float64(time.Second))
}

// fwdAuthLoop asks the auth-request door about GET /jwt/x?q=1 as nginx
// does (Host, X-Original-Method, X-Original-URI, the client's
// Authorization and X-Forwarded-For), serially.
func fwdAuthLoop(b *testing.B, base, authz string) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	b.Cleanup(client.CloseIdleConnections)
	req, _ := http.NewRequest("GET", base+AuthRequestPath, nil)
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", "/jwt/x?q=1")
	req.Header.Set("X-Forwarded-For", "192.0.2.7")
	req.Header.Set("Authorization", authz)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("X-Auth-User") == "" {
			b.Fatalf("status %d, user %q: want 200 and an identity", resp.StatusCode, resp.Header.Get("X-Auth-User"))
		}
	}
}
