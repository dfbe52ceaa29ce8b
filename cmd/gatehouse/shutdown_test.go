package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"golang.org/x/net/websocket"
)

// process is the real gatehouse binary running `serve` as a subprocess.
type process struct {
	URL, AdminURL, Dir string
	cmd                *exec.Cmd
	stdout             *syncBuffer
	exited             chan struct{}
	code               int  // valid once exited is closed
	healthy            bool // answered /healthz once started
}

// The gatehouse binary, built once for the package's tests (linking it
// takes seconds); TestMain removes binDir.
var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// buildBinary builds the gatehouse binary on first use and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "gatehouse-test-bin-"); binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "gatehouse"), ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "gatehouse")
}

// startProcess writes cfg (placeholders as in startGatehouse, with
// {{upstream}} given) and runs `gatehouse serve` until it is healthy,
// starting again on new ports when one was taken (see startGatehouse).
func startProcess(t *testing.T, bin, upstreamURL, cfg string, files map[string]string) *process {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, files)
	for attempt := 1; ; attempt++ {
		p := startProcessOnce(t, bin, upstreamURL, cfg, dir)
		if p.healthy {
			return p
		}
		if !addrInUse(p.stdout.String()) || attempt == 3 {
			t.Fatalf("gatehouse exited with %d:\n%s", p.code, p.stdout)
		}
		t.Logf("gatehouse: an address was taken; starting again on new ports")
	}
}

func startProcessOnce(t *testing.T, bin, upstreamURL, cfg, dir string) *process {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", authtest.FreePort(t))
	adminAddr := fmt.Sprintf("127.0.0.1:%d", authtest.FreePort(t))
	cfg = strings.NewReplacer("{{listen}}", listen, "{{admin}}", adminAddr, "{{upstream}}", upstreamURL, "{{dir}}", dir).Replace(cfg)
	writeFiles(t, dir, map[string]string{"gatehouse.yaml": cfg})
	p := &process{URL: "http://" + listen, AdminURL: "http://" + adminAddr, Dir: dir, stdout: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "serve", "-config", filepath.Join(dir, "gatehouse.yaml"))
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		}
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() && p.healthy {
			t.Logf("gatehouse output:\n%s", p.stdout)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		// As in startGatehouseOnce: /healthz may be another process on a
		// port taken first; "gatehouse started" is this one's.
		if resp, err := http.Get(p.AdminURL + "/healthz"); err == nil {
			resp.Body.Close()
			if strings.Contains(p.stdout.String(), "gatehouse started") {
				p.healthy = true
				return p
			}
		}
		select {
		case <-p.exited:
			return p
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse did not start:\n%s", p.stdout)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
}

// wait returns the exit code, failing the test if the process runs past d.
func (p *process) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.exited:
		return p.code
	case <-time.After(d):
		t.Fatalf("gatehouse still running %v after the signal", d)
		return -1
	}
}

// readyzStatus is /readyz's status, or 0 when the admin listener is gone.
func (p *process) readyzStatus() int {
	resp, err := http.Get(p.AdminURL + "/readyz")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

const shutdownConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
server: {shutdown_timeout: {{timeout}}}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: none}
`

// slowUpstream answers /slow after 200 ms (or after ?d=, announcing the
// arrival of such a request on hangs), holds /hang for 10 s (or until
// the request is cancelled; each arrival is sent on hangs) and echoes
// WebSocket messages on /ws.
func slowUpstream(t *testing.T) (srv *httptest.Server, hangs <-chan struct{}) {
	h := make(chan struct{}, 16)
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		d := 200 * time.Millisecond
		if q := r.URL.Query().Get("d"); q != "" { // a longer request, announced on hangs
			d, _ = time.ParseDuration(q)
			h <- struct{}{}
		}
		time.Sleep(d)
		io.WriteString(w, "ok")
	})
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		h <- struct{}{}
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.Handle("/ws", websocket.Handler(func(c *websocket.Conn) { _, _ = io.Copy(c, c) }))
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, h
}

func startShutdown(t *testing.T, bin, timeout string) (*process, <-chan struct{}) {
	up, hangs := slowUpstream(t)
	return startProcess(t, bin, up.URL, strings.ReplaceAll(shutdownConfig, "{{timeout}}", timeout), nil), hangs
}

// refused reports whether err means the connection was never accepted.
func refused(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

func TestSignals(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	t.Run("SIGTERM under load drains every accepted request", func(t *testing.T) {
		t.Parallel()
		sigtermUnderLoad(t, bin)
	})
	t.Run("SIGTERM waits for upgraded connections", func(t *testing.T) {
		t.Parallel()
		sigtermWaitsForWebSocket(t, bin)
	})
	t.Run("shutdown_timeout cuts requests and exits 1", func(t *testing.T) {
		t.Parallel()
		p, hangs := startShutdown(t, bin, "1s")
		go func() { _, _ = http.Get(p.URL + "/hang") }()
		arrived(t, hangs)
		p.signal(t, syscall.SIGTERM)
		if code := p.wait(t, 5*time.Second); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if out := p.stdout.String(); !strings.Contains(out, `"cut":1`) || !strings.Contains(out, "shutdown_timeout") {
			t.Errorf("no log line with the number of requests cut:\n%s", out)
		}
	})
	t.Run("second SIGTERM forces exit", func(t *testing.T) {
		t.Parallel()
		p, hangs := startShutdown(t, bin, "30s")
		go func() { _, _ = http.Get(p.URL + "/hang") }()
		arrived(t, hangs)
		p.signal(t, syscall.SIGTERM)
		waitFor(t, 2*time.Second, "/readyz 503", func() bool { return p.readyzStatus() == 503 })
		start := time.Now()
		p.signal(t, syscall.SIGTERM)
		if code := p.wait(t, 3*time.Second); code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("exit took %v after the second SIGTERM, want at once", d)
		}
		if out := p.stdout.String(); !strings.Contains(out, `"cut":1`) || !strings.Contains(out, "second signal") {
			t.Errorf("no log line with what was cut:\n%s", out)
		}
	})
	t.Run("SIGHUP reloads", func(t *testing.T) {
		t.Parallel()
		sighupReloads(t, bin)
	})
}

// arrived waits until the upstream has received a request on /hang.
func arrived(t *testing.T, hangs <-chan struct{}) {
	t.Helper()
	select {
	case <-hangs:
	case <-time.After(5 * time.Second):
		t.Fatal("the request did not reach the upstream")
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// sigtermUnderLoad: eight clients loop on a 200 ms upstream; after SIGTERM
// every request the server accepted must succeed, /readyz must answer 503
// until exit, and the exit code must be 0. A request refused at dial time
// (the listener was closed) was never accepted.
func sigtermUnderLoad(t *testing.T, bin string) {
	p, hangs := startShutdown(t, bin, "10s")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var (
		signalled                atomic.Bool
		ok, afterSignal, refusal atomic.Int64
		mu                       sync.Mutex
		failures                 []string
		wg                       sync.WaitGroup
	)
	fail := func(s string) { mu.Lock(); failures = append(failures, s); mu.Unlock() }
	for range 8 {
		wg.Go(func() {
			for {
				resp, err := client.Get(p.URL + "/slow")
				if err != nil {
					if signalled.Load() && refused(err) {
						refusal.Add(1)
					} else {
						fail(err.Error())
					}
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || string(body) != "ok" {
					fail(fmt.Sprintf("status %d, body %q, error %v", resp.StatusCode, body, err))
					return
				}
				ok.Add(1)
				if signalled.Load() {
					afterSignal.Add(1)
				}
			}
		})
	}
	// Under load: every client has had answers (2 each on average) and
	// has its next request in flight.
	waitFor(t, 10*time.Second, "load established", func() bool { return ok.Load() >= 16 })
	// One request lasts 1.5 s, so that the drain (and the 503 window) does
	// not end within milliseconds when the others happen to be finishing.
	long := make(chan string, 1)
	go func() {
		resp, err := client.Get(p.URL + "/slow?d=1500ms")
		if err != nil {
			long <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		long <- fmt.Sprintf("%d %s", resp.StatusCode, body)
	}()
	arrived(t, hangs)
	signalled.Store(true)
	p.signal(t, syscall.SIGTERM)
	waitFor(t, 2*time.Second, "/readyz 503 right after SIGTERM", func() bool { return p.readyzStatus() == 503 })
	readyAgain := make(chan int, 1)
	go func() {
		for {
			select {
			case <-p.exited:
				readyAgain <- 0
				return
			default:
			}
			if st := p.readyzStatus(); st != 503 && st != 0 {
				readyAgain <- st
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if code := p.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	wg.Wait()
	if got := <-long; got != "200 ok" {
		t.Errorf("the long request in flight at SIGTERM: %s, want 200 ok", got)
	}
	if st := <-readyAgain; st != 0 {
		t.Errorf("/readyz answered %d during the drain, want 503 until exit", st)
	}
	if len(failures) > 0 {
		t.Errorf("%d accepted requests failed (of %d): %q", len(failures), ok.Load()+int64(len(failures)), failures)
	}
	if afterSignal.Load() == 0 {
		t.Errorf("no request was in flight at SIGTERM (%d before); the test proves nothing", ok.Load())
	}
	if refusal.Load() != 8 {
		t.Errorf("%d clients ended on a refused connection, want all 8", refusal.Load())
	}
	t.Logf("%d requests succeeded, %d of them finished after SIGTERM", ok.Load(), afterSignal.Load())
}

// sigtermWaitsForWebSocket: http.Server.Shutdown does not wait for hijacked
// connections; Gatehouse does, and keeps them working during the drain.
func sigtermWaitsForWebSocket(t *testing.T, bin string) {
	p, _ := startShutdown(t, bin, "10s")
	ws, err := websocket.Dial("ws"+strings.TrimPrefix(p.URL, "http")+"/ws", "", p.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	echoOnce := func(msg string) {
		t.Helper()
		_ = ws.SetDeadline(time.Now().Add(3 * time.Second))
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatalf("send %q: %v", msg, err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
			t.Fatalf("echo: got %q (%v), want %q", got, err, msg)
		}
	}
	echoOnce("before")
	p.signal(t, syscall.SIGTERM)
	waitFor(t, time.Second, "/readyz 503", func() bool { return p.readyzStatus() == 503 })
	time.Sleep(700 * time.Millisecond) // Shutdown's own wait is over by now
	select {
	case <-p.exited:
		t.Fatal("gatehouse exited while a WebSocket was open")
	default:
	}
	echoOnce("during the drain")
	ws.Close()
	if code := p.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// sighupReloads rotates an issuer's public key file (which the config-file
// watcher does not watch) and applies it with SIGHUP.
func sighupReloads(t *testing.T, bin string) {
	_, _, pub1 := ecKeyPEM(t)
	key2, _, pub2 := ecKeyPEM(t)
	up := taggedEcho(t, "app")
	cfg := `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
jwt:
  issuers:
    - {issuer: "https://idp.test", audiences: [my-api], algorithms: [ES256], public_key_files: ["{{dir}}/idp.pub.pem"]}
routes:
  - {name: api, match: {path_prefix: "/"}, auth: jwt}
`
	p := startProcess(t, bin, up.URL, cfg, map[string]string{"idp.pub.pem": pub1})
	bearer := "Authorization: Bearer " + idp{key2}.token(t, "alice", time.Now(), nil)
	if resp, _ := get(t, p.URL+"/x", bearer); resp.StatusCode != 401 {
		t.Fatalf("token of a key not yet configured: status %d, want 401", resp.StatusCode)
	}
	writeFiles(t, p.Dir, map[string]string{"idp.pub.pem": pub2})
	time.Sleep(3 * defaultReloadSettle)
	if resp, _ := get(t, p.URL+"/x", bearer); resp.StatusCode != 401 {
		t.Fatalf("key file rewritten, before SIGHUP: status %d, want 401 (only the config file is watched)", resp.StatusCode)
	}
	p.signal(t, syscall.SIGHUP)
	waitStatus(t, 3*time.Second, 200, p.URL+"/x", bearer)
	// The log is flushed every 100 ms.
	waitFor(t, time.Second, "reload log line with trigger signal", func() bool {
		return strings.Contains(p.stdout.String(), `"trigger":"signal"`)
	})
	p.signal(t, syscall.SIGTERM)
	if code := p.wait(t, 5*time.Second); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}
