package authtest

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

	t     testing.TB
	bin   string
	dir   string
	conf  string // config file given first, if any (sentinels need one)
	args  []string
	extra []string // the ports that replaced AnyPort in args, in order
	pick  func(testing.TB) int
	// With tls set, the server listens for TLS only, on Addr (see
	// StartRedisTLS), started with tlsArgs; tls is the clients' config.
	tls     *tls.Config
	tlsArgs []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *lockedWriter // stdout and stderr
	done chan struct{} // closed when cmd has exited
}

// AnyPort, as an argument of StartRedis, stands for one more free
// loopback port (for --tls-port, --cluster-port, …), picked at start like
// the server's own port; ExtraPort returns it.
const AnyPort = "{{authtest:any-port}}"

// startAttempts bounds how often a first start moves to new ports because
// one was taken.
const startAttempts = 5

// StartRedis starts redis-server on a free 127.0.0.1 port with no
// persistence, in a temporary directory, with the extra config args
// ("--maxmemory", "10mb", …), and waits until it answers PING. The process
// is killed by t.Cleanup.
//
// The port cannot be chosen by the server: redis-server --port 0 means "no
// TCP at all", and it has no way to report an OS-assigned port. So the
// port comes from FreePort, which another process may take between the
// probe and redis-server's bind. When that happens redis-server exits at
// once logging "Address already in use"; start sees the exit (it does not
// wait out the ready timeout), and starts again on new ports, up to
// startAttempts times.
func StartRedis(t testing.TB, args ...string) *Redis {
	t.Helper()
	return startRedis(t, "", args...)
}

// startRedis is StartRedis with a config file, written by conf (given the
// server's directory) when conf is not nil.
func startRedis(t testing.TB, conf string, args ...string) *Redis {
	t.Helper()
	return startRedisPick(t, FreePort, conf, args...)
}

// startRedisPick is startRedis with the port chooser given (tests take a
// port on purpose).
func startRedisPick(t testing.TB, pick func(testing.TB) int, conf string, args ...string) *Redis {
	t.Helper()
	r := &Redis{
		pick: pick,
		t:    t,
		bin:  RedisServerPath(t),
		dir:  t.TempDir(),
		args: args,
	}
	if conf != "" {
		r.conf = writeFile(t, r.dir, "redis.conf", conf)
	}
	r.start()
	return r
}

// start launches the process on new ports until it starts or a failure
// is not a port taken by someone else.
func (r *Redis) start() {
	t := r.t
	t.Helper()
	t.Cleanup(r.Stop)
	for i := 1; ; i++ {
		r.pickPorts()
		err, inUse := r.launch()
		if err == nil {
			return
		}
		if !inUse || i == startAttempts {
			t.Fatalf("redis-server on %s: %v; output:\n%s", r.Addr, err, r.output())
		}
		t.Logf("redis-server on %s: a port was taken; starting again on new ports", r.Addr)
	}
}

// pickPorts chooses the server's port and those of AnyPort.
func (r *Redis) pickPorts() {
	r.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(r.pick(r.t)))
	r.extra = r.extra[:0]
	for _, a := range r.args {
		if a == AnyPort {
			r.extra = append(r.extra, strconv.Itoa(r.pick(r.t)))
		}
	}
}

// Port returns the server's port as a string.
func (r *Redis) Port() string {
	_, port, _ := net.SplitHostPort(r.Addr)
	return port
}

// ExtraPort returns the port that replaced the i-th AnyPort argument.
func (r *Redis) ExtraPort(i int) string { return r.extra[i] }

// FreePort returns a TCP port that was free on 127.0.0.1 a moment ago. The
// port is closed again before it is returned, so another process may take
// it first: a server started on it must detect that and retry (StartRedis
// does). Go servers in tests should listen on 127.0.0.1:0 instead and read
// the port from the listener.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// launch starts the process on r's ports and waits until it answers PING.
// inUse reports that it failed because a port was taken.
func (r *Redis) launch() (err error, inUse bool) {
	var args []string
	if r.conf != "" {
		args = append(args, r.conf)
	}
	if r.tls == nil {
		args = append(args, "--port", r.Port())
	} else {
		args = append(args, "--port", "0", "--tls-port", r.Port())
		args = append(args, r.tlsArgs...)
	}
	args = append(args, []string{
		"--bind", "127.0.0.1", "--dir", r.dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no",
		"--logfile", "", "--repl-diskless-sync-delay", "0",
	}...)
	extra := r.extra
	for _, a := range r.args {
		if a == AnyPort {
			a, extra = extra[0], extra[1:]
		}
		args = append(args, a)
	}
	cmd := exec.Command(r.bin, args...)
	// One writer for both streams: exec then copies them with one
	// goroutine at a time.
	out := &lockedWriter{w: &bytes.Buffer{}}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start: %w", err), false
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.out, r.done = cmd, out, done
	r.mu.Unlock()
	if err := waitPingOrExit(r.Addr, r.tls, done); err != nil {
		r.Stop()
		return err, strings.Contains(strings.ToLower(r.output()), "address already in use")
	}
	return nil, false
}

// output returns what the process has written so far.
func (r *Redis) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.out == nil {
		return ""
	}
	r.out.mu.Lock()
	defer r.out.mu.Unlock()
	return r.out.w.String()
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
	<-r.done
	r.cmd = nil
}

// Restart starts the server again on the same ports (with an empty data
// set: there is no persistence) and waits until it answers. Clients know
// the address, so it cannot move: if a port was taken meanwhile, Restart
// tries again until readyTimeout and then fails the test.
func (r *Redis) Restart() {
	r.t.Helper()
	r.Stop()
	deadline := time.Now().Add(readyTimeout)
	for {
		err, inUse := r.launch()
		if err == nil {
			return
		}
		if !inUse || time.Now().After(deadline) {
			r.t.Fatalf("restart redis-server on %s: %v; output:\n%s", r.Addr, err, r.output())
		}
		time.Sleep(100 * time.Millisecond) // the port's holder may let go
	}
}

// Client returns a client for this server, closed by t.Cleanup.
func (r *Redis) Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.Addr, TLSConfig: r.tls})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// waitPing polls addr with PING until it answers or readyTimeout passes.
func waitPing(addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	defer c.Close()
	return waitFor(func(ctx context.Context) error { return c.Ping(ctx).Err() })
}

// waitPingOrExit is waitPing that gives up as soon as done is closed
// (the process exited, e.g. because its port was taken).
func waitPingOrExit(addr string, tlsConfig *tls.Config, done <-chan struct{}) error {
	// Short timeouts: whoever took the port may accept and never answer,
	// and go-redis does not abort a read when its context is cancelled.
	c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: tlsConfig, MaxRetries: -1, DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, PoolSize: 1})
	defer c.Close()
	return waitFor(func(ctx context.Context) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
		err := c.Ping(ctx).Err()
		select {
		case <-done:
			return errExited
		default:
			return err
		}
	})
}

// errExited stops waitFor early: the process is gone.
var errExited = errors.New("redis-server exited")

// waitFor calls check every 10 ms until it returns nil, or returns its last
// error after readyTimeout. A check is a PING or an INFO on loopback (cheap),
// and a fresh redis-server answers within a few milliseconds.
func waitFor(check func(ctx context.Context) error) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := check(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, errExited) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %v: %w", readyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
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
