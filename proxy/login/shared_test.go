package login

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/memstore"
	"github.com/gatehouse-proxy/gatehouse/auth/redisstore"
	"github.com/gatehouse-proxy/gatehouse/proxy/passwords"
)

// TestCountersSharedAcrossReplicas: with the Redis store, two replicas (two
// handlers, each with its own store client) count attempts together: the
// limit holds across them, under concurrency too, and a success on one
// clears the counter for both.
func TestCountersSharedAcrossReplicas(t *testing.T) {
	r := authtest.StartRedis(t)
	dir := usersAt(t, bcrypt.MinCost, "alice", alicePassword)
	replica := func() *throttleEnv {
		st, err := redisstore.New(redisstore.Options{Addrs: []string{r.Addr}, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = st.Close() })
		return newThrottleEnv(t, dir, passwords.LimiterOptions{Counts: st, MaxChecks: 40})
	}
	a, b := replica(), replica()

	for i, e := range []*throttleEnv{a, b, a, b, a} {
		if res := e.post("alice", "wrong", "192.0.2.10"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d = %d, want 401", i+1, res.StatusCode)
		}
	}
	for name, e := range map[string]*throttleEnv{"a": a, "b": b} {
		if res := e.post("alice", "wrong", "192.0.2.10"); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
			t.Errorf("6th guess on replica %s = %d, want 429 with Retry-After", name, res.StatusCode)
		}
	}

	// 40 concurrent guesses, half on each replica: at most 5 checks in all.
	a.who.calls.Store(0)
	b.who.calls.Store(0)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 40 {
		e := a
		if i%2 == 1 {
			e = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			e.post("alice", "wrong", "192.0.2.11")
		}()
	}
	close(start)
	wg.Wait()
	checks := a.who.calls.Load() + b.who.calls.Load()
	t.Logf("40 concurrent guesses on two replicas sharing Redis, limit 5/min: %d password checks", checks)
	if checks > 5 {
		t.Errorf("40 concurrent guesses on two replicas got %d password checks, want at most 5", checks)
	}

	// A success on b clears alice's counter for a as well.
	for range 4 {
		a.post("alice", "typo", "192.0.2.12")
	}
	if res := b.post("alice", alicePassword, "192.0.2.12"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("correct password on b = %d, want 303", res.StatusCode)
	}
	for i := range 5 {
		if res := a.post("alice", "typo", "192.0.2.12"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("typo %d on a after the success on b = %d, want 401", i+1, res.StatusCode)
		}
	}
}

// TestCountersFallBackWhenRedisStops: while Redis is down, attempts are
// counted by each replica on its own (the limits still hold), not refused
// and not unlimited.
func TestCountersFallBackWhenRedisStops(t *testing.T) {
	r := authtest.StartRedis(t)
	st, err := redisstore.New(redisstore.Options{Addrs: []string{r.Addr}, Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	e := newThrottleEnv(t, usersAt(t, bcrypt.MinCost, "alice", alicePassword), passwords.LimiterOptions{Counts: st, Fallback: memstore.NewAttempts(nil)})
	r.Stop()
	for i := range 5 {
		if res := e.post("alice", "wrong", "192.0.2.20"); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d with Redis down = %d, want 401", i+1, res.StatusCode)
		}
	}
	if res := e.post("alice", "wrong", "192.0.2.20"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("6th guess with Redis down = %d, want 429", res.StatusCode)
	}
	if n := e.who.calls.Load(); n != 5 {
		t.Errorf("%d password checks with Redis down, want 5", n)
	}
}
