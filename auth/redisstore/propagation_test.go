package redisstore

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// eventually polls cond every 5 ms until it holds, and returns how long it
// took, or fails after limit.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// twoStores returns two stores (replicas) sharing one Redis and one
// prefix, both subscribed, with the maximum cache TTL so that only the
// publish can explain a prompt change.
func twoStores(t *testing.T, r *authtest.Redis) (a, b *Store) {
	p := prefix()
	a = newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: p, CacheTTL: MaxCacheTTL})
	b = newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: p, CacheTTL: MaxCacheTTL})
	waitSubscribed(t, a)
	waitSubscribed(t, b)
	return a, b
}

func TestRevocationPropagatesByPublish(t *testing.T) {
	r := authtest.StartRedis(t)
	a, b := twoStores(t, r)
	ctx := testCtx(t)
	if ok, err := b.JTIRevoked(ctx, "j1"); err != nil || ok {
		t.Fatalf("JTIRevoked before revoking = %v, %v", ok, err)
	}
	if at, err := b.SubjectRevokedAt(ctx, "alice"); err != nil || !at.IsZero() {
		t.Fatalf("SubjectRevokedAt before revoking = %v, %v", at, err)
	}
	if _, ok := b.cache.jti("j1", time.Now()); !ok {
		t.Fatalf("B's answer was not cached; the test would prove nothing")
	}
	if err := a.RevokeJTI(ctx, "j1", time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := a.RevokeSubject(ctx, "alice", time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	d := eventually(t, 200*time.Millisecond, "jti revocation on A seen by B", func() bool {
		ok, err := b.JTIRevoked(ctx, "j1")
		return err == nil && ok
	})
	eventually(t, 200*time.Millisecond, "subject revocation on A seen by B", func() bool {
		at, err := b.SubjectRevokedAt(ctx, "alice")
		return err == nil && at.Equal(time.Unix(1700000000, 0))
	})
	t.Logf("B saw A's revocation after %v (cache TTL %v)", d, MaxCacheTTL)
}

func TestForeignWriteWithoutPublishWithinOneSecond(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}}) // default cache TTL
	waitSubscribed(t, s)
	ctx := testCtx(t)
	if ok, err := s.JTIRevoked(ctx, "foreign"); err != nil || ok {
		t.Fatalf("JTIRevoked before = %v, %v", ok, err)
	}
	_, _ = s.SubjectRevokedAt(ctx, "bob")
	redisCLI(t, r.Addr, "SET", s.keys.jti+"foreign", "1", "EX", "60")
	redisCLI(t, r.Addr, "SET", s.keys.sub+"bob", "1700000000")
	d := eventually(t, time.Second, "jti revoked by redis-cli", func() bool {
		ok, err := s.JTIRevoked(ctx, "foreign")
		return err == nil && ok
	})
	eventually(t, time.Second, "subject revoked by redis-cli", func() bool {
		at, err := s.SubjectRevokedAt(ctx, "bob")
		return err == nil && !at.IsZero()
	})
	t.Logf("a write without publish took effect after %v", d)
}

func TestHotJTIIsCached(t *testing.T) {
	r := authtest.StartRedis(t)
	tests := []struct {
		name     string
		cacheTTL time.Duration
		maxCalls int
	}{
		{"cached", 0, 10},
		{"naive", -1, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c counter
			s := newStore(t, Options{Addrs: []string{r.Addr}, Observe: c.observe, CacheTTL: tt.cacheTTL})
			waitSubscribed(t, s)
			ctx := testCtx(t)
			_ = s.RevokeJTI(ctx, "hot", time.Now().Add(time.Hour))
			const calls = 2000
			for range calls {
				if ok, err := s.JTIRevoked(ctx, "hot"); err != nil || !ok {
					t.Fatalf("JTIRevoked(hot) = %v, %v", ok, err)
				}
			}
			got := c.get("exists")
			t.Logf("%d calls made %d EXISTS", calls, got)
			if got > tt.maxCalls || got == 0 {
				t.Errorf("got %d EXISTS for %d calls, want 1..%d", got, calls, tt.maxCalls)
			}
		})
	}
}

func TestOutageAndRecovery(t *testing.T) {
	r := authtest.StartRedis(t)
	a, b := twoStores(t, r)
	ctx := testCtx(t)
	if err := a.CreateSession(ctx, auth.SessionRecord{Key: "k", User: "u"}, time.Minute, 0); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.JTIRevoked(ctx, "hot"); err != nil || ok {
		t.Fatalf("JTIRevoked = %v, %v", ok, err)
	}
	r.Stop()
	eventually(t, 5*time.Second, "both subscribers see the connection close", func() bool {
		return !a.SubscriptionUp() && !b.SubscriptionUp()
	})
	start := time.Now()
	_, jerr := b.JTIRevoked(ctx, "hot")
	_, serr := b.SubjectRevokedAt(ctx, "alice")
	_, terr := a.TouchSession(ctx, "k", time.Minute)
	perr := a.Ping(ctx)
	if elapsed := time.Since(start); elapsed > 4*DefaultTimeout {
		t.Errorf("four calls during the outage took %v, want under %v", elapsed, 4*DefaultTimeout)
	}
	for name, err := range map[string]error{"JTIRevoked (cached before)": jerr, "SubjectRevokedAt": serr, "Ping": perr} {
		if err == nil {
			t.Errorf("%s during the outage: got no error, want one", name)
		}
	}
	if terr == nil || errors.Is(terr, auth.ErrNotFound) {
		t.Errorf("TouchSession during the outage = %v, want a store error (not ErrNotFound)", terr)
	}
	r.Restart()
	eventually(t, 5*time.Second, "ping after restart", func() bool { return a.Ping(ctx) == nil })
	waitSubscribed(t, a)
	waitSubscribed(t, b)
	// The first calls after a restart may still meet the store's 250 ms
	// timeout on a loaded machine while the pool redials: wait for an
	// answer, which b then caches for MaxCacheTTL.
	var ok bool
	var err error
	eventually(t, 5*time.Second, "JTIRevoked after restart answers", func() bool {
		ok, err = b.JTIRevoked(ctx, "hot")
		return err == nil
	})
	if ok {
		t.Fatalf("JTIRevoked after restart = true, want false")
	}
	if err := a.RevokeJTI(ctx, "hot", time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("RevokeJTI after restart: %v", err)
	}
	// Well within b's cache TTL (MaxCacheTTL, 1 s): only the recovered
	// subscription's message can make b see the revocation this soon.
	eventually(t, 500*time.Millisecond, "revocation propagated by the recovered subscription", func() bool {
		ok, err := b.JTIRevoked(ctx, "hot")
		return err == nil && ok
	})
}

// TestUnresponsiveServerTimesOut points a store at a listener that accepts
// connections and never answers: calls must fail after about Timeout.
func TestUnresponsiveServerTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	s := newStore(t, Options{Addrs: []string{l.Addr().String()}, Timeout: 200 * time.Millisecond})
	for _, call := range []func(context.Context) error{
		func(ctx context.Context) error { _, err := s.JTIRevoked(ctx, "j"); return err },
		s.Ping,
	} {
		start := time.Now()
		err := call(context.Background())
		if d := time.Since(start); d > time.Second {
			t.Errorf("call took %v, want about 200ms", d)
		}
		if err == nil {
			t.Errorf("call to a silent server: got no error, want one")
		}
	}
}

func BenchmarkJTIRevoked(b *testing.B) {
	r := authtest.StartRedis(b)
	for _, bb := range []struct {
		name     string
		cacheTTL time.Duration
	}{{"cached", 0}, {"naive", -1}} {
		b.Run(bb.name, func(b *testing.B) {
			s := newStore(b, Options{Addrs: []string{r.Addr}, CacheTTL: bb.cacheTTL})
			waitSubscribed(b, s)
			ctx := context.Background()
			_ = s.RevokeJTI(ctx, "hot", time.Now().Add(time.Hour))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if ok, err := s.JTIRevoked(ctx, "hot"); err != nil || !ok {
						b.Fatalf("JTIRevoked = %v, %v", ok, err)
					}
				}
			})
		})
	}
}

// TestSessionDeletePropagatesByPublish: a hot session is served from each
// replica's cache, and a logout or forced logout on one replica drops the
// cached copies everywhere at once.
func TestSessionDeletePropagatesByPublish(t *testing.T) {
	r := authtest.StartRedis(t)
	a, b := twoStores(t, r)
	ctx := testCtx(t)
	for _, del := range []struct {
		name string
		do   func(key string) error
	}{
		{"logout", func(key string) error { _, err := a.DeleteSession(ctx, key); return err }},
		{"forced logout", func(string) error { _, err := a.DeleteUserSessions(ctx, "alice"); return err }},
	} {
		key := "k-" + del.name
		if err := a.CreateSession(ctx, auth.SessionRecord{Key: key, User: "alice", Created: time.Now()}, time.Hour, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := b.TouchSession(ctx, key, time.Hour); err != nil {
			t.Fatalf("%s: TouchSession on B: %v", del.name, err)
		}
		if _, ok := b.cache.session(key, time.Now()); !ok {
			t.Fatalf("%s: B did not cache the session; the test would prove nothing", del.name)
		}
		if err := del.do(key); err != nil {
			t.Fatal(err)
		}
		if _, err := a.TouchSession(ctx, key, time.Hour); !errors.Is(err, auth.ErrNotFound) {
			t.Errorf("%s: on A itself: %v, want ErrNotFound at once", del.name, err)
		}
		d := eventually(t, 100*time.Millisecond, del.name+" on A seen by B", func() bool {
			_, err := b.TouchSession(ctx, key, time.Hour)
			return errors.Is(err, auth.ErrNotFound)
		})
		t.Logf("%s: B dropped its cached session after %v (cache TTL %v)", del.name, d, MaxCacheTTL)
	}
}
