package authtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestMain: the parallel tests here wait on Redis processes (start-up,
// failover timers), not on the CPU; run up to four at once.
func TestMain(m *testing.M) {
	DefaultParallel(4)
	os.Exit(m.Run())
}

func TestStartRedisStopRestart(t *testing.T) {
	r := StartRedis(t)
	c := r.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET on a started server: %v", err)
	}
	r.Stop()
	// A client that does not retry: the default one backs off for ~2 s.
	once := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	defer once.Close()
	if err := once.Ping(ctx).Err(); err == nil {
		t.Fatalf("PING on a stopped server succeeded")
	}
	r.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING after restart: %v", err)
	}
	if n, _ := c.Exists(ctx, "k").Result(); n != 0 {
		t.Errorf("got %d keys after restart, want 0 (no persistence)", n)
	}
}

func TestStartRedisArgs(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, "--maxmemory", "12345678")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := r.Client(t).ConfigGet(ctx, "maxmemory").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got["maxmemory"] != "12345678" {
		t.Errorf("got maxmemory %q, want %q", got["maxmemory"], "12345678")
	}
}

func TestStartCluster(t *testing.T) {
	t.Parallel() // waits on failover timers, not the CPU
	c := StartCluster(t, 3, 1)
	if got := len(c.Addrs()); got != 6 {
		t.Fatalf("got %d nodes, want 6", got)
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	for i := range 20 {
		k := fmt.Sprintf("k%d", i)
		if err := rdb.Set(ctx, k, "v", 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	if err := rdb.Do(ctx, "WAIT", 1, 1000).Err(); err != nil {
		t.Logf("WAIT: %v", err)
	}
	dead := c.KillMaster(0)
	t.Logf("killed master %s", dead)
	for i := range 20 {
		k := fmt.Sprintf("k%d", i)
		var got string
		var err error
		for range 100 { // the client learns the new topology after a MOVED or a refresh
			actx, acancel := context.WithTimeout(ctx, time.Second)
			got, err = rdb.Get(actx, k).Result()
			acancel()
			if err == nil {
				break
			}
			rdb.ReloadState(ctx) // go-redis reloads slots on MOVED, or every 10s otherwise
			time.Sleep(100 * time.Millisecond)
		}
		if got != "v" {
			t.Errorf("GET %s after failover = %q, %v; want %q", k, got, err, "v")
		}
	}
}

func TestStartSentinel(t *testing.T) {
	t.Parallel() // waits on failover timers, not the CPU
	s := StartSentinel(t)
	before := s.MasterAddr()
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs()})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through sentinel: %v", err)
	}
	if err := rdb.Do(ctx, "WAIT", 1, 1000).Err(); err != nil {
		t.Fatalf("WAIT: %v", err)
	}
	s.Failover()
	if after := s.MasterAddr(); after == before {
		t.Fatalf("master still %s after Failover", after)
	}
	var got string
	var err error
	for range 50 {
		if got, err = rdb.Get(ctx, "k").Result(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != "v" {
		t.Errorf("GET after failover = %q, %v; want %q", got, err, "v")
	}
}

// TestStartRedisPortTaken: when the port picked for the server, or for an
// AnyPort argument, is taken before redis-server binds it, StartRedis
// starts again on new ports instead of failing.
func TestStartRedisPortTaken(t *testing.T) {
	for _, taken := range []int{0, 1} { // the server's port, the cluster bus port
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		busy := l.Addr().(*net.TCPAddr).Port
		calls := 0
		pick := func(t testing.TB) int {
			calls++
			if calls-1 == taken {
				return busy
			}
			return FreePort(t)
		}
		r := startRedisPick(t, pick, "", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", AnyPort)
		if r.Port() == strconv.Itoa(busy) || r.ExtraPort(0) == strconv.Itoa(busy) {
			t.Errorf("case %d: server on %s, bus %s; want neither on the taken port %d", taken, r.Port(), r.ExtraPort(0), busy)
		}
		// Two starts pick 4 ports. A free port another test process
		// takes meanwhile (the race the retry exists for) costs one more
		// start: more picks, always two per start.
		if calls < 4 || calls%2 != 0 {
			t.Errorf("case %d: %d ports picked, want 4 (two starts), or another pair per start lost to a race", taken, calls)
		}
		if err := r.Client(t).Ping(context.Background()).Err(); err != nil {
			t.Errorf("case %d: PING: %v", taken, err)
		}
		_ = l.Close()
	}
}

// TestRefusingAddr: connections are refused, and the port stays taken.
func TestRefusingAddr(t *testing.T) {
	addr := RefusingAddr(t)
	for range 3 {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Fatalf("dial %s: connected, want refused", addr)
		}
	}
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Errorf("listen %s: got the port, want it held", addr)
	}
}
