package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/storetest"
)

// prefix returns a fresh key prefix, so that stores sharing one server do
// not see each other's keys.
func prefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b) + ":"
}

// newStore makes a Store on addrs and closes it at cleanup.
func newStore(t testing.TB, o Options) *Store {
	t.Helper()
	if o.KeyPrefix == "" {
		o.KeyPrefix = prefix()
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitSubscribed waits until s's revocation subscription is confirmed.
func waitSubscribed(t testing.TB, s *Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().UnixNano() >= s.cache.healthyUntil.Load() {
		if time.Now().After(deadline) {
			t.Fatal("revocation subscription not established after 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// counter counts Observe calls by op.
type counter struct {
	mu      sync.Mutex
	ops     map[string]int
	errs    int
	lastErr string
}

func (c *counter) observe(op string, d time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ops == nil {
		c.ops = make(map[string]int)
	}
	c.ops[op]++
	if err != nil {
		c.errs++
		c.lastErr = op + ": " + err.Error()
	}
}

func (c *counter) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ops[op]
}

func TestContract(t *testing.T) {
	r := authtest.StartRedis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) auth.Store {
		return newStore(t, Options{Addrs: []string{r.Addr}, Now: now})
	})
}

func TestContractNaive(t *testing.T) {
	r := authtest.StartRedis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) auth.Store {
		return newStore(t, Options{Addrs: []string{r.Addr}, Now: now, CacheTTL: -1})
	})
}

// TestKeysAreData checks the exact keys written for hostile identifiers:
// one key each, named by concatenation, and nothing else in the database.
func TestKeysAreData(t *testing.T) {
	r := authtest.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: "gatehouse:"})
	big := strings.Repeat("x", 10*1024)
	ids := []string{"*", "a\r\nFLUSHALL\r\n", "a\nb", big, "[a-z]?"}
	for _, id := range ids {
		if err := s.RevokeJTI(ctx, id, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("RevokeJTI(%.20q): %v", id, err)
		}
		if err := s.RevokeSubject(ctx, id, time.Unix(1700000000, 0)); err != nil {
			t.Fatalf("RevokeSubject(%.20q): %v", id, err)
		}
	}
	for _, id := range ids {
		for _, k := range []string{"gatehouse:revoked:jti:" + id, "gatehouse:revoked:sub:" + id} {
			if n, err := rdb.Exists(ctx, k).Result(); err != nil || n != 1 {
				t.Errorf("EXISTS %.40q = %d, %v; want 1", k, n, err)
			}
		}
	}
	if got, _ := rdb.Get(ctx, "gatehouse:revoked:sub:"+big).Result(); got != "1700000000" {
		t.Errorf("got subject revocation %q, want %q", got, "1700000000")
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != int64(2*len(ids)) {
		t.Errorf("got %d keys in the database, want %d", n, 2*len(ids))
	}
	if ttl, _ := rdb.TTL(ctx, "gatehouse:revoked:jti:*").Result(); ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("got jti TTL %v, want about 1h (the token's exp)", ttl)
	}
	if ok, _ := s.JTIRevoked(ctx, "anything"); ok {
		t.Errorf("got jti %q revoked after revoking %q", "anything", "*")
	}
}

// TestForeignWriter reads keys written by another system per the schema.
func TestForeignWriter(t *testing.T) {
	r := authtest.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}})
	if err := rdb.Set(ctx, s.keys.sub+"carol", "1700000123", 0).Err(); err != nil {
		t.Fatal(err)
	}
	at, err := s.SubjectRevokedAt(ctx, "carol")
	if err != nil || !at.Equal(time.Unix(1700000123, 0)) {
		t.Errorf("SubjectRevokedAt(carol) = %v, %v; want %v", at, err, time.Unix(1700000123, 0))
	}
	if err := rdb.Set(ctx, s.keys.sub+"dave", "yesterday", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SubjectRevokedAt(ctx, "dave"); err == nil {
		t.Errorf("SubjectRevokedAt with a malformed value: got no error, want one")
	}
}

func TestObserve(t *testing.T) {
	r := authtest.StartRedis(t)
	var c counter
	s := newStore(t, Options{Addrs: []string{r.Addr}, Observe: c.observe, CacheTTL: -1})
	ctx := testCtx(t)
	_, _ = s.JTIRevoked(ctx, "j")
	_ = s.RevokeJTI(ctx, "j", time.Now().Add(time.Minute))
	_, _ = s.SubjectRevokedAt(ctx, "nobody")
	_, _ = s.TouchSession(ctx, "missing", time.Minute)
	for op, want := range map[string]int{"exists": 1, "set": 1, "publish": 1, "get": 1, "getex": 1} {
		if got := c.get(op); got != want {
			t.Errorf("got %d %q observed, want %d", got, op, want)
		}
	}
	if c.errs != 0 {
		t.Errorf("got %d errors observed (nil replies are not errors), want 0; last: %s", c.errs, c.lastErr)
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		o    Options
	}{
		{"no addrs", Options{}},
		{"cache TTL over 1s", Options{Addrs: []string{"127.0.0.1:1"}, CacheTTL: 2 * time.Second}},
	}
	for _, tt := range tests {
		if s, err := New(tt.o); err == nil {
			_ = s.Close()
			t.Errorf("New(%s): got no error, want one", tt.name)
		}
	}
}

// redisCLI runs redis-cli against addr.
func redisCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("redis-cli", append([]string{"-h", host, "-p", port}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli %q: %v: %s", args, err, out)
	}
	return string(out)
}
