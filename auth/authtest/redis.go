package authtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readyTimeout bounds every wait for a process or a cluster to become ready.
const readyTimeout = 10 * time.Second

// RedisServerPath returns the path of redis-server. When it is not
// installed the test is skipped, unless the environment variable CI is
// non-empty, in which case the test fails: CI must run the Redis tests.
func RedisServerPath(t testing.TB) string {
	t.Helper()
	return binPath(t, "redis-server")
}

// redisCLIPath is like RedisServerPath for redis-cli.
func redisCLIPath(t testing.TB) string {
	t.Helper()
	return binPath(t, "redis-cli")
}

func binPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (required when CI is set): %v", name, err)
		}
		t.Skipf("%s not found; skipping: %v", name, err)
	}
	return p
}

// Redis is one redis-server process on a loopback port. Its methods are
// safe for concurrent use.
type Redis struct {
	Addr string // host:port on 127.0.0.1

	t    testing.TB
	bin  string
	dir  string
	conf string // config file given first, if any (sentinels need one)
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// StartRedis starts redis-server on a free 127.0.0.1 port with no
// persistence, in a temporary directory, with the extra config args
// ("--maxmemory", "10mb", …), and waits until it answers PING. The process
// is killed by t.Cleanup.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	return startRedis(t, "", args...)
}

// startRedis is StartRedis with a config file, written by conf (given the
// server's directory) when conf is not nil.
func startRedis(t testing.TB, conf string, args ...string) *Redis {
	t.Helper()
	r := &Redis{
		Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
		t:    t,
		bin:  RedisServerPath(t),
		dir:  t.TempDir(),
		args: args,
	}
	if conf != "" {
		r.conf = writeFile(t, r.dir, "redis.conf", conf)
	}
	t.Cleanup(r.Stop)
	r.start()
	return r
}

// Port returns the server's port as a string.
func (r *Redis) Port() string {
	_, port, _ := net.SplitHostPort(r.Addr)
	return port
}

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *Redis) start() {
	r.t.Helper()
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	args = append(args, []string{
		"--port", r.Port(), "--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", "", "--repl-diskless-sync-delay", "0",
	}...)
	args = append(args, r.args...)
	cmd := exec.Command(r.bin, args...)
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: out}, &lockedWriter{w: out}
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server on %s: %v", r.Addr, err)
	}
	r.mu.Lock()
	r.cmd, r.out = cmd, out
	r.mu.Unlock()
	if err := waitPing(r.Addr); err != nil {
		r.Stop()
		r.t.Fatalf("redis-server on %s: %v; output:\n%s", r.Addr, err, out)
	}
}

// Stop kills the process at once (an outage, as seen by clients) and waits
// for it to exit. Stopping a stopped server does nothing.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// Restart starts the server again on the same port (with an empty data
// set: there is no persistence) and waits until it answers.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	r.start()
}

// Client returns a client for this server, closed by t.Cleanup.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitPing polls addr with PING until it answers or readyTimeout passes.
func waitPing(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	return waitFor(func(ctx context.Context) error { return c.Ping(ctx).Err() })
}

// waitFor calls check every 50 ms until it returns nil, or returns its last
// error after readyTimeout.
func waitFor(check func(ctx context.Context) error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedWriter serialises writes from a process's stdout and stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// writeFile writes a config file into dir and returns its path.
func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", p, err)
	}
	return p
}
