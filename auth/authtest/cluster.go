package authtest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Cluster is a Redis Cluster of loopback processes. Its methods must be
// called from the test's goroutine.
type Cluster struct {
	t       testing.TB
	nodes   []*Redis
	masters []*Redis // in the order of redis-cli's slot assignment
}

// StartCluster starts masters×(1+replicasPerMaster) redis-server processes
// with cluster mode on (node timeout 1 s, so failovers take seconds),
// joins them with `redis-cli --cluster create`, and waits until every node
// reports cluster_state:ok and every replica is in sync. masters must be
// at least 3. Processes are killed by t.Cleanup.
func StartCluster(t testing.TB, masters, replicasPerMaster int) *Cluster {
	t.Helper()
	cli := redisCLIPath(t)
	c := &Cluster{t: t}
	total := masters * (1 + replicasPerMaster)
	create := []string{"--cluster", "create"}
	for range total {
		n := StartRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-port", AnyPort)
		c.nodes = append(c.nodes, n)
		create = append(create, n.Addr)
	}
	create = append(create, "--cluster-replicas", strconv.Itoa(replicasPerMaster), "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 2*readyTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitHealthy(nil); err != nil {
		t.Fatalf("cluster: %v", err)
	}
	for _, n := range c.nodes {
		if n.role(t) == "master" {
			c.masters = append(c.masters, n)
		}
	}
	if len(c.masters) != masters {
		t.Fatalf("cluster has %d masters, want %d", len(c.masters), masters)
	}
	return c
}

// role returns "master" or "slave" as the server reports it.
func (r *Redis) role(t testing.TB) string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	v, err := rdb.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		t.Fatalf("ROLE on %s: %v", r.Addr, err)
	}
	s, _ := v[0].(string)
	return s
}

// Addrs returns every node's address, masters first.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.Addr
	}
	return addrs
}

// KillMaster kills the i-th original master and waits until one of its
// replicas has taken over and the surviving nodes report cluster_state:ok.
// It returns the killed node's address.
func (c *Cluster) KillMaster(i int) string {
	c.t.Helper()
	dead := c.masters[i]
	// Replication is asynchronous, and a replica that joined late may not
	// even have finished its first sync: wait until some replica of this
	// master has everything the master has, so that a kill loses nothing
	// the test wrote.
	if err := c.waitReplicaCaughtUp(dead); err != nil {
		c.t.Fatalf("cluster: %v", err)
	}
	dead.Stop()
	if err := c.waitHealthy(dead); err != nil {
		c.t.Fatalf("cluster after killing %s: %v", dead.Addr, err)
	}
	return dead.Addr
}

// waitHealthy waits until every node but skip reports cluster_state:ok,
// no node believes skip is its master, and every replica's link is up.
func (c *Cluster) waitHealthy(skip *Redis) error {
	for _, n := range c.nodes {
		if n == skip {
			continue
		}
		rdb := redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		err := waitFor(func(ctx context.Context) error { return nodeHealthy(ctx, rdb, skip) })
		_ = rdb.Close()
		if err != nil {
			return fmt.Errorf("node %s: %w", n.Addr, err)
		}
	}
	return nil
}

func nodeHealthy(ctx context.Context, rdb *redis.Client, skip *Redis) error {
	info, err := rdb.ClusterInfo(ctx).Result()
	if err != nil {
		return err
	}
	if !strings.Contains(info, "cluster_state:ok") {
		return fmt.Errorf("cluster_state is not ok")
	}
	repl, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	if !strings.Contains(repl, "role:slave") {
		return nil
	}
	if skip != nil && strings.Contains(repl, "master_port:"+skip.Port()+"\r\n") {
		return fmt.Errorf("replica still follows the killed master %s", skip.Addr)
	}
	if !strings.Contains(repl, "master_link_status:up") {
		return fmt.Errorf("replica link is not up")
	}
	if !strings.Contains(repl, "master_sync_in_progress:0") {
		return fmt.Errorf("replica still syncing")
	}
	return nil
}

// waitReplicaCaughtUp waits until a replica of master reports a replication
// offset at least the master's and holds as many keys.
func (c *Cluster) waitReplicaCaughtUp(master *Redis) error {
	mdb := redis.NewClient(&redis.Options{Addr: master.Addr})
	defer mdb.Close()
	return waitFor(func(ctx context.Context) error {
		minfo, err := mdb.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		want := infoField(minfo, "master_repl_offset")
		keys, err := mdb.DBSize(ctx).Result()
		if err != nil {
			return err
		}
		for _, n := range c.nodes {
			if n == master {
				continue
			}
			rdb := redis.NewClient(&redis.Options{Addr: n.Addr})
			info, err := rdb.Info(ctx, "replication").Result()
			size, serr := rdb.DBSize(ctx).Result()
			_ = rdb.Close()
			if err != nil || serr != nil || !strings.Contains(info, "master_port:"+master.Port()+"\r\n") {
				continue
			}
			if strings.Contains(info, "master_link_status:up") && infoField(info, "master_repl_offset") >= want && size >= keys {
				return nil
			}
		}
		return fmt.Errorf("no replica of %s has caught up (offset %d, %d keys)", master.Addr, want, keys)
	})
}

// infoField reads a numeric field of an INFO reply; -1 when absent.
func infoField(info, name string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}
