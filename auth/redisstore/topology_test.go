package redisstore

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth"
	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/auth/storetest"
)

// TestMain: the parallel tests here wait on Redis processes (start-up,
// failover timers), not on the CPU; run up to four at once.
func TestMain(m *testing.M) {
	authtest.DefaultParallel(4)
	os.Exit(m.Run())
}

func TestContractCluster(t *testing.T) {
	t.Parallel() // waits on failover timers, not the CPU
	c := authtest.StartCluster(t, 3, 1)
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Fixture {
		return contractStore(t, Options{Addrs: c.Addrs(), Now: now, Timeout: time.Second})
	})
}

func TestContractSentinel(t *testing.T) {
	t.Parallel() // waits on failover timers, not the CPU
	s := authtest.StartSentinel(t)
	storetest.Run(t, func(t *testing.T, now func() time.Time) storetest.Fixture {
		return contractStore(t, Options{Addrs: s.SentinelAddrs(), MasterName: s.MasterName, Now: now, Timeout: time.Second})
	})
}

// TestClusterMasterLoss writes sessions on every shard, kills a master and
// expects its replica to serve them.
func TestClusterMasterLoss(t *testing.T) {
	t.Parallel() // waits on failover timers, not the CPU
	c := authtest.StartCluster(t, 3, 1)
	s := newStore(t, Options{Addrs: c.Addrs(), Timeout: time.Second})
	ctx := testCtx(t)
	keys := make([]string, 30)
	for i := range keys {
		keys[i] = string(rune('a'+i%26)) + time.Now().Format("150405.000000000")
		if err := s.CreateSession(ctx, auth.SessionRecord{Key: keys[i], User: "alice"}, time.Minute, 0); err != nil {
			t.Fatalf("CreateSession: %v", err)
		}
	}
	// Replication is asynchronous: a write a master acknowledged but had not
	// passed on when it died is lost. WAIT on each master rules that out,
	// and must report the replica's acknowledgement.
	for _, addr := range c.Addrs() {
		if !strings.Contains(redisCLI(t, addr, "ROLE"), "master") {
			continue
		}
		if got := strings.TrimSpace(redisCLI(t, addr, "WAIT", "1", "5000")); got != "1" {
			t.Fatalf("WAIT 1 5000 on master %s = %q, want 1 replica", addr, got)
		}
	}
	t.Logf("killed %s", c.KillMaster(1))
	for _, k := range keys {
		var err error
		eventually(t, 10*time.Second, "session readable after failover", func() bool {
			_, err = s.TouchSession(ctx, k, time.Minute)
			return err == nil || errors.Is(err, auth.ErrNotFound)
		})
		if err != nil {
			t.Errorf("TouchSession after failover: %v", err)
		}
	}
	n, err := s.DeleteUserSessions(ctx, "alice")
	if err != nil || n != len(keys) {
		t.Errorf("DeleteUserSessions after failover = %d, %v; want %d, nil", n, err, len(keys))
	}
}
