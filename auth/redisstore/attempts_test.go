package redisstore

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// TestAttemptKeys checks the documented keys: under the prefix, the IP as
// hash tag, the username only as a hash, and a TTL of at most the period.
func TestAttemptKeys(t *testing.T) {
	r := authtest.StartRedis(t)
	rdb := r.Client(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: DefaultKeyPrefix})
	ctx := context.Background()
	a := auth.Attempt{User: "alice", IP: netip.MustParseAddr("2001:db8::7"),
		PerUser: auth.Rate{N: 5, Per: time.Minute}, PerIP: auth.Rate{N: 30, Per: time.Hour}}
	if _, err := s.ReserveAttempt(ctx, a); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Duration{
		"gatehouse:login:{2001:db8::7}:user:" + a.UserHash(): 12 * time.Second,
		"gatehouse:login:{2001:db8::7}:ip":                   2 * time.Minute,
	}
	if len(keys) != len(want) {
		t.Fatalf("keys = %q, want %d", keys, len(want))
	}
	for k, ttl := range want {
		got, err := rdb.PTTL(ctx, k).Result()
		if err != nil || got <= 0 || got > ttl {
			t.Errorf("PTTL %s = %v, %v; want in (0, %v]", k, got, err, ttl)
		}
	}
	if err := s.ClearAttempts(ctx, a); err != nil {
		t.Fatal(err)
	}
	if n, _ := rdb.DBSize(ctx).Result(); n != 0 {
		keys, _ := rdb.Keys(ctx, "*").Result()
		t.Errorf("after a successful login's clear, keys left: %q", keys)
	}
}
