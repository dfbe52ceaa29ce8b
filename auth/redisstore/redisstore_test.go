package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/storetest"
	"github.com/redis/go-redis/v9"
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

// contractStore makes a store for the contract suite, with a FastForward
// hook that lets time pass on the real server (see fastForward).
func contractStore(t *testing.T, o Options) storetest.Fixture {
	o.KeyPrefix = prefix()
	s := newStore(t, o)
	return storetest.Fixture{Store: s, FastForward: func(d time.Duration) error {
		return fastForward(testCtx(t), s, o.KeyPrefix, d)
	}}
}

// ffScript shortens KEYS[1]'s remaining TTL by ARGV[1] ms, deleting the
// key when that is all it had left; a key without a TTL is left alone.
// One key per call, so it runs on a cluster too.
var ffScript = redis.NewScript(`
local left = redis.call('PTTL', KEYS[1])
if left < 0 then return 0 end
local d = tonumber(ARGV[1])
if left <= d then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], left - d) end
return 1`)

// fastForward makes d pass for s on a real Redis server: every key under
// prefix with a TTL gets it shortened by d, or is deleted if it would have
// expired within d, and s's process-local cache is dropped (its lifetimes
// run on the real clock and are at most MaxCacheTTL; dropping it only
// sends reads to Redis, which the contract must survive anyway: see
// TestContractNaive). This is sound for this store because Redis keeps no
// other time the suite depends on: scores and values holding times (the
// session index, LastSeen, refresh expiries) are written from Options.Now,
// the suite's clock, which moves by d too; only the login-attempt scripts
// read the server's TIME, and the attempt cases never let time pass.
// Polling for real expiry instead would still wait ≥ 1 s per case and
// cannot shorten the "touch slides the expiry" case, which waits for
// something not to happen. TestRealExpiry keeps one case on real TTLs.
func fastForward(ctx context.Context, s *Store, prefix string, d time.Duration) error {
	ms := d.Milliseconds()
	if ms <= 0 {
		return nil
	}
	each := func(ctx context.Context, c *redis.Client) error {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			if err := ffScript.Run(ctx, s.rdb, []string{iter.Val()}, ms).Err(); err != nil && !errors.Is(err, redis.Nil) {
				return err
			}
		}
		return iter.Err()
	}
	var err error
	switch c := s.rdb.(type) {
	case *redis.ClusterClient:
		err = c.ForEachMaster(ctx, each)
	case *redis.Client:
		err = each(ctx, c)
	default:
		err = fmt.Errorf("fast-forward: unexpected client %T", s.rdb)
	}
	s.cache.reset()
	return err
}

func TestContract(t *testing.T) {
	r := authtest.StartRedis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Fixture {
		return contractStore(t, Options{Addrs: []string{r.Addr}, Now: now})
	})
}

func TestContractNaive(t *testing.T) {
	r := authtest.StartRedis(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Fixture {
		return contractStore(t, Options{Addrs: []string{r.Addr}, Now: now, CacheTTL: -1})
	})
}

// TestRealExpiry checks, on the server's own clock, what the suite checks
// by fast-forwarding: a revoked jti, a session and a refresh token are gone
// once their TTL has run out. The TTLs are short and the test waits for the
// condition, not for a fixed time.
func TestRealExpiry(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, CacheTTL: -1})
	ctx := testCtx(t)
	exp := time.Now().Add(150 * time.Millisecond)
	if err := s.RevokeJTI(ctx, "j", exp); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateSession(ctx, auth.SessionRecord{Key: "k", User: "alice"}, 150*time.Millisecond, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefresh(ctx, auth.RefreshRecord{Key: "r", Family: "f", Expires: exp}, auth.TokenRef{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Not TouchSession: it would slide the session's expiry.
		revoked, err := s.JTIRevoked(ctx, "j")
		n, _ := s.rdb.Exists(ctx, s.keys.jti+"j", s.keys.session+"k").Result()
		if err == nil && !revoked && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("5s after a 150ms TTL: jti revoked %v (%v), %d keys left", revoked, err, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := s.TouchSession(ctx, "k", time.Minute); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("TouchSession after its idle timeout: %v, want auth.ErrNotFound", err)
	}
	if _, err := s.SpendRefresh(ctx, "r"); !errors.Is(err, auth.ErrNotFound) {
		t.Errorf("SpendRefresh after its expiry: %v, want auth.ErrNotFound", err)
	}
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
