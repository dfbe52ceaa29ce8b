package redisstore

import (
	"errors"
	"os"
	"strconv"
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

// TestBatchCluster sends the coalescer's pipelines on a cluster: keys on
// every shard, in one pipeline (go-redis splits it by node), each answer
// in its key's place.
func TestBatchCluster(t *testing.T) {
	t.Parallel() // waits on cluster start-up, not the CPU
	c := authtest.StartCluster(t, 3, 0)
	s := newStore(t, Options{Addrs: c.Addrs(), Timeout: time.Second, CacheTTL: -1})
	ctx := testCtx(t)
	keys := make([]string, 60)
	for i := range keys {
		keys[i] = "k" + strconv.Itoa(i)
		if i%3 == 0 {
			if err := s.RevokeJTI(ctx, keys[i], time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeSubject(ctx, keys[i], time.Unix(1700000000+int64(i), 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	revoked, errs := make([]bool, len(keys)), make([]error, len(keys))
	s.jtisRevoked(ctx, keys, revoked, errs)
	ats, serrs := make([]time.Time, len(keys)), make([]error, len(keys))
	s.subjectsRevokedAt(ctx, keys, ats, serrs)
	for i, k := range keys {
		if want := i%3 == 0; errs[i] != nil || revoked[i] != want {
			t.Errorf("jti %s in a cluster pipeline: %v, %v; want %v, nil", k, revoked[i], errs[i], want)
		}
		var want time.Time
		if i%3 == 0 {
			want = time.Unix(1700000000+int64(i), 0)
		}
		if serrs[i] != nil || !ats[i].Equal(want) {
			t.Errorf("subject %s in a cluster pipeline: %v, %v; want %v, nil", k, ats[i], serrs[i], want)
		}
	}
}
