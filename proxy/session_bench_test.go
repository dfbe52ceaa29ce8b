package proxy

import (
	"context"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/auth/session"
	"github.com/gatehouse-proxy/gatehouse/auth/users"
	"github.com/gatehouse-proxy/gatehouse/metrics"
)

// sessionGatehouse serves a proxy Handler with one session route in front
// of up, backed by a real session.Manager on store, and returns its URL and
// the Cookie header of a session started with Manager.Login.
func sessionGatehouse(b *testing.B, up *url.URL, store auth.Store) (target, cookie string) {
	b.Helper()
	m, err := session.New(session.Options{Store: store, Revocations: store, Idle: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	rec := httptest.NewRecorder()
	u := users.User{Username: "alice", Email: "alice@example.com", Groups: []string{"staff", "admins"}}
	if err := m.Login(context.Background(), rec, httptest.NewRequest("POST", "/.gatehouse/login", nil), u); err != nil {
		b.Fatal(err)
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 {
		b.Fatalf("login set %d cookies, want 1", len(cookies))
	}
	h, err := New(Options{
		Routes:   []Route{{Name: "app", PathPrefix: "/", Auth: AuthSession}},
		Upstream: up, Sessions: m, Metrics: metrics.New(prometheus.NewRegistry(), "bench"),
		Headers: Headers{User: "X-Auth-User", Email: "X-Auth-Email", Groups: "X-Auth-Groups", Method: "X-Auth-Method"},
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	// The app's own cookie travels with Gatehouse's, as from a browser.
	return srv.URL + "/app/page", cookies[0].Name + "=" + cookies[0].Value + "; app_theme=dark"
}

// sessionLoop is serialLoop with the Cookie header.
func sessionLoop(b *testing.B, target, cookie string, warm func(do func())) {
	b.Helper()
	serialLoop(b, target, "Cookie", cookie, warm)
}

// BenchmarkSession compares, in one run and with the same serial loop: a
// bare httputil.ReverseProxy, and Gatehouse on a session route with the
// memory store and with the Redis store. redis-calls/op counts every Redis
// command the store sent while timed, through redisstore's Observe hook:
// the session record and the subject-revocation answer are both served from
// the store's pub/sub-invalidated local cache, so a hot session costs one
// GETEX (which also slides its idle expiry) and one GET per cache TTL
// (500 ms), not per request.
func BenchmarkSession(b *testing.B) {
	up := benchUpstream(b)
	b.Run("bare", func(b *testing.B) { sessionLoop(b, bareProxy(b, up)+"/app/page", "", nil) })
	b.Run("memory", func(b *testing.B) {
		mem := memstore.New(nil)
		b.Cleanup(func() { mem.Close() })
		target, cookie := sessionGatehouse(b, up, mem)
		sessionLoop(b, target, cookie, nil)
	})
	b.Run("redis", func(b *testing.B) {
		r := authtest.StartRedis(b)
		var calls atomic.Int64
		st, err := redisstore.New(redisstore.Options{
			Addrs:   []string{r.Addr},
			Observe: func(string, time.Duration, error) { calls.Add(1) },
		})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		target, cookie := sessionGatehouse(b, up, st)
		sessionLoop(b, target, cookie, func(do func()) { waitRevocationCache(b, &calls, do) })
		b.ReportMetric(float64(calls.Load())/float64(b.N), "redis-calls/op")
		calls.Store(0)
	})
}

// waitRevocationCache sends requests until one costs no Redis command: the
// subscription is up and the session and subject answers are cached. It
// then zeroes calls for the timed loop.
func waitRevocationCache(b *testing.B, calls *atomic.Int64, do func()) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		before := calls.Load()
		do()
		if calls.Load()-before == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("a session request still costs %d Redis commands after 5 s", calls.Load()-before)
		}
		time.Sleep(20 * time.Millisecond)
	}
	calls.Store(0)
}
