package authtest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// Sentinel is one master, one replica and three sentinels on loopback
// ports (quorum 2, down-after 1 s). Its methods must be called from the
// test's goroutine.
type Sentinel struct {
	MasterName string

	t         testing.TB
	servers   []*Redis // the first master and its replica
	sentinels []*Redis
}

// StartSentinel starts the servers and sentinels and waits until every
// sentinel sees the replica and the two other sentinels. Processes are
// killed by t.Cleanup.
func StartSentinel(t testing.TB) *Sentinel {
	t.Helper()
	s := &Sentinel{MasterName: "gatehouse-test", t: t}
	master := StartRedis(t)
	replica := StartRedis(t, "--replicaof", "127.0.0.1", master.Port())
	rdb := redis.NewClient(&redis.Options{Addr: replica.Addr, MaxRetries: -1})
	err := waitFor(func(ctx context.Context) error {
		repl, err := rdb.Info(ctx, "replication").Result()
		if err == nil && !strings.Contains(repl, "master_link_status:up") {
			err = fmt.Errorf("replica link is not up")
		}
		return err
	})
	_ = rdb.Close()
	if err != nil {
		t.Fatalf("replica %s: %v", replica.Addr, err)
	}
	s.servers = []*Redis{master, replica}
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]s 2\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 5000\n", s.MasterName, master.Port())
	for range 3 {
		s.sentinels = append(s.sentinels, startRedis(t, conf, "--sentinel"))
	}
	for _, sn := range s.sentinels {
		if err := s.waitSentinel(sn, master.Addr); err != nil {
			t.Fatalf("sentinel %s: %v", sn.Addr, err)
		}
	}
	return s
}

// SentinelAddrs returns the sentinels' addresses.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, sn := range s.sentinels {
		addrs[i] = sn.Addr
	}
	return addrs
}

// MasterAddr returns the master's address as the first sentinel reports it.
func (s *Sentinel) MasterAddr() string {
	s.t.Helper()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].Addr})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		s.t.Fatalf("SENTINEL GET-MASTER-ADDR-BY-NAME: %v", err)
	}
	return net.JoinHostPort(hp[0], hp[1])
}

// Failover runs SENTINEL FAILOVER and waits until every sentinel names the
// former replica as master. (The former master is then reconfigured as a
// replica by the sentinels in the background; a second Failover is not
// supported.)
func (s *Sentinel) Failover() {
	s.t.Helper()
	old := s.MasterAddr()
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].Addr})
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	if err := sc.Failover(ctx, s.MasterName).Err(); err != nil {
		s.t.Fatalf("SENTINEL FAILOVER: %v", err)
	}
	for _, sn := range s.sentinels {
		if err := s.waitSentinel(sn, ""); err != nil {
			s.t.Fatalf("sentinel %s after failover: %v", sn.Addr, err)
		}
		if err := waitFor(func(ctx context.Context) error { return s.masterChanged(ctx, sn, old) }); err != nil {
			s.t.Fatalf("sentinel %s after failover: %v", sn.Addr, err)
		}
	}
}

// KillMaster kills the current master's process (a crash, not a planned
// failover) and waits until every sentinel has noticed it (down-after 1 s)
// and names the former replica as master. It returns the killed server's
// address. Like Failover, it can be called once.
func (s *Sentinel) KillMaster() string {
	s.t.Helper()
	old := s.MasterAddr()
	for _, r := range s.servers {
		if r.Addr == old {
			r.Stop()
		}
	}
	for _, sn := range s.sentinels {
		if err := waitFor(func(ctx context.Context) error { return s.masterChanged(ctx, sn, old) }); err != nil {
			s.t.Fatalf("sentinel %s after killing the master: %v", sn.Addr, err)
		}
	}
	if err := waitPing(s.MasterAddr()); err != nil {
		s.t.Fatalf("new master %s: %v", s.MasterAddr(), err)
	}
	return old
}

func (s *Sentinel) masterChanged(ctx context.Context, sn *Redis, old string) error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
	defer sc.Close()
	hp, err := sc.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return err
	}
	if addr := net.JoinHostPort(hp[0], hp[1]); addr == old {
		return fmt.Errorf("master is still %s", old)
	}
	return nil
}

// waitSentinel waits until sn monitors a master (master, if not empty)
// with one replica and two other sentinels.
func (s *Sentinel) waitSentinel(sn *Redis, master string) error {
	sc := redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, MaxRetries: -1})
	defer sc.Close()
	return waitFor(func(ctx context.Context) error {
		m, err := sc.Master(ctx, s.MasterName).Result()
		if err != nil {
			return err
		}
		if master != "" && net.JoinHostPort(m["ip"], m["port"]) != master {
			return fmt.Errorf("master is %s:%s, want %s", m["ip"], m["port"], master)
		}
		if m["num-slaves"] != "1" || m["num-other-sentinels"] != "2" {
			return fmt.Errorf("sees %s replicas and %s other sentinels, want 1 and 2", m["num-slaves"], m["num-other-sentinels"])
		}
		if strings.Contains(m["flags"], "down") {
			return fmt.Errorf("master flags %q", m["flags"])
		}
		return nil
	})
}
