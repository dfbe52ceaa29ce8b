package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
)

// TestRefreshKeys checks the schema: the token is stored only under its
// SHA-256, as a pointer to its family, both with a TTL.
func TestRefreshKeys(t *testing.T) {
	r := authtest.StartRedis(t)
	rdb := r.Client(t)
	ctx := testCtx(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, KeyPrefix: "gatehouse:"})
	sum := sha256.Sum256([]byte("the-secret-token"))
	k := hex.EncodeToString(sum[:])
	now := time.Now()
	rec := auth.RefreshRecord{Key: k, Family: "fam1", User: "alice", Created: now, AuthTime: now, Expires: now.Add(time.Hour)}
	if err := s.CreateRefresh(ctx, rec, auth.TokenRef{JTI: "j1", Expires: now.Add(time.Minute)}); err != nil {
		t.Fatalf("CreateRefresh: %v", err)
	}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"gatehouse:refresh:" + k: true, "gatehouse:refresh-family:fam1": true}
	if len(keys) != len(want) {
		t.Fatalf("got keys %q, want %d keys", keys, len(want))
	}
	for _, key := range keys {
		if !want[key] {
			t.Errorf("unexpected key %q", key)
		}
		if ttl := rdb.PTTL(ctx, key).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
			t.Errorf("%s: got TTL %v, want about 1h", key, ttl)
		}
		if got := rdb.Dump(ctx, key).Val(); strings.Contains(got, "the-secret-token") {
			t.Errorf("%s holds the token itself", key)
		}
	}
	if got := rdb.Get(ctx, "gatehouse:refresh:"+k).Val(); got != "fam1" {
		t.Errorf("pointer: got %q, want %q", got, "fam1")
	}
}

// TestRefreshStoreDown checks that an unreachable Redis is an error, never
// "not found" (which would read as a bad grant).
func TestRefreshStoreDown(t *testing.T) {
	r := authtest.StartRedis(t)
	s := newStore(t, Options{Addrs: []string{r.Addr}, Timeout: 200 * time.Millisecond})
	r.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := s.SpendRefresh(ctx, "k"); err == nil || err == auth.ErrNotFound {
		t.Errorf("SpendRefresh with Redis down: got %v, want a store error", err)
	}
	if err := s.CreateRefresh(ctx, auth.RefreshRecord{Key: "k", Family: "f", Expires: time.Now().Add(time.Hour)}, auth.TokenRef{}); err == nil {
		t.Errorf("CreateRefresh with Redis down: got nil, want an error")
	}
}
