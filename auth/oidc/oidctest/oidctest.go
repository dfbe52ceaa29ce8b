// Package oidctest runs a real OpenID Provider for tests: panva's
// oidc-provider (OpenID Certified) from testdata/oidc-provider, with the
// machine's Node.js. When node or npm is missing the test is skipped, unless
// the environment variable CI is non-empty: then it fails.
package oidctest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fixed credentials of the fixture's clients (testdata/oidc-provider/server.js).
const (
	ClientID       = "gatehouse"
	ClientSecret   = "gatehouse-test-secret"
	PublicClientID = "gatehouse-public"
)

// readyTimeout bounds the wait for discovery to answer.
const readyTimeout = 30 * time.Second

// Options configures the provider's clients.
type Options struct {
	RedirectURIs           []string // both clients' redirect_uris
	PostLogoutRedirectURIs []string
	BackchannelLogoutURI   string // the confidential client's; "" for none
	// Port to listen on; 0 picks a free loopback port.
	Port int
}

// Provider is one running oidc-provider process.
type Provider struct {
	Issuer string // http://127.0.0.1:PORT
	t      testing.TB
	cmd    *exec.Cmd
	out    *lockedBuffer
	done   chan struct{}
}

// Dir returns the absolute path of testdata/oidc-provider.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("oidctest: no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "oidc-provider")
}

func lookPath(t testing.TB, name string) string {
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

var installMu sync.Mutex

// install runs npm ci once when node_modules is missing.
func install(t testing.TB, dir string) {
	t.Helper()
	installMu.Lock()
	defer installMu.Unlock()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err == nil {
		return
	}
	npm := lookPath(t, "npm")
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oidctest: npm ci in %s: %v\n%s", dir, err, out)
	}
}

// Start runs the provider until the test ends and waits for its discovery
// document.
func Start(t testing.TB, o Options) *Provider {
	t.Helper()
	node := lookPath(t, "node")
	dir := Dir(t)
	install(t, dir)
	port := o.Port
	if port == 0 {
		port = FreePort(t)
	}
	p := &Provider{
		Issuer: fmt.Sprintf("http://127.0.0.1:%d", port),
		t:      t,
		out:    &lockedBuffer{},
		done:   make(chan struct{}),
	}
	p.cmd = exec.Command(node, "server.js", fmt.Sprint(port))
	p.cmd.Dir = dir
	p.cmd.Env = append(os.Environ(),
		"REDIRECT_URIS="+strings.Join(o.RedirectURIs, ","),
		"POST_LOGOUT_REDIRECT_URIS="+strings.Join(o.PostLogoutRedirectURIs, ","),
		"BACKCHANNEL_LOGOUT_URI="+o.BackchannelLogoutURI,
	)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("oidctest: start node: %v", err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)
	if err := p.waitDiscovery(); err != nil {
		t.Fatalf("oidctest: %v\n%s", err, p.out.String())
	}
	return p
}

func (p *Provider) waitDiscovery() error {
	deadline := time.Now().Add(readyTimeout)
	u := p.Issuer + "/.well-known/openid-configuration"
	for {
		resp, err := http.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("oidc-provider exited before answering discovery")
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("oidc-provider: no discovery at %s after %s: %v", u, readyTimeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Stop ends the process (idempotent).
func (p *Provider) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Output returns what the process printed so far.
func (p *Provider) Output() string { return p.out.String() }

// Disable makes the user unknown at the provider (a refresh then fails
// with invalid_grant); Enable undoes it.
func (p *Provider) Disable(user string) { p.post("/test/disable", url.Values{"user": {user}}) }

// Enable undoes Disable.
func (p *Provider) Enable(user string) { p.post("/test/enable", url.Values{"user": {user}}) }

// BackchannelLogout makes the provider send a back-channel logout for sub
// (and sid, when not "") to the confidential client now.
func (p *Provider) BackchannelLogout(sub, sid string) {
	p.post("/test/backchannel", url.Values{"sub": {sub}, "sid": {sid}})
}

func (p *Provider) post(path string, q url.Values) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, p.Issuer+path+"?"+q.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("oidctest: POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		p.t.Fatalf("oidctest: POST %s: %s %s", path, resp.Status, b.String())
	}
}

// FreePort returns a loopback TCP port free at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("oidctest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
