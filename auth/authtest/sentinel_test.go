package authtest

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestSentinelKillMaster kills the master's process and expects the
// sentinels to promote the replica, which holds the replicated data and
// accepts writes.
func TestSentinelKillMaster(t *testing.T) {
	t.Parallel() // waits on failover timers, not the CPU
	s := StartSentinel(t)
	before := s.MasterAddr()
	rdb := redis.NewClient(&redis.Options{Addr: before, MaxRetries: -1, DialerRetries: 1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on the master: %v", err)
	}
	if n, err := rdb.Wait(ctx, 1, time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 1000 = %d, %v; want 1", n, err)
	}
	if got := s.KillMaster(); got != before {
		t.Errorf("KillMaster killed %s, want the master %s", got, before)
	}
	after := s.MasterAddr()
	if after == before {
		t.Fatalf("master still %s after KillMaster", after)
	}
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Errorf("the killed master %s still answers PING", before)
	}
	nm := redis.NewClient(&redis.Options{Addr: after})
	defer nm.Close()
	if got, err := nm.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Errorf("GET k on the new master %s = %q, %v; want %q", after, got, err, "v")
	}
	if err := nm.Set(ctx, "k2", "v2", 0).Err(); err != nil {
		t.Errorf("SET on the new master %s: %v", after, err)
	}
}
