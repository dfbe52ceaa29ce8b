package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// instance is a Gatehouse started through run(), as `gatehouse serve` would
// be, on free loopback ports, with a real echo upstream behind it.
type instance struct {
	URL, AdminURL string
	Dir           string
	hits          *atomic.Int64
	stdout        *syncBuffer
	cancel        context.CancelFunc
	done          chan error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMain runs up to four tests at once unless -parallel is given: most
// tests here wait on processes and the network, not on the CPU, and the
// default (GOMAXPROCS, two on a 2-core machine) leaves the CPU idle.
// Browser tests take turns, and so do Redis topologies under traffic
// (browserSlot, trafficSlot); tests whose timing assertions are
// tight, or that set the environment, do not call t.Parallel.
func TestMain(m *testing.M) {
	authtest.DefaultParallel(4)
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// upstream starts an echo upstream that counts its hits.
func upstream(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	e := echo.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		e.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// writeFiles writes name → content into dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// ecKeyPEM returns a fresh P-256 private key and its public key, as PEM.
func ecKeyPEM(t *testing.T) (*ecdsa.PrivateKey, string, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(k)
	pub, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

// startGatehouse writes cfg (with {{listen}}, {{admin}}, {{upstream}} and
// {{dir}} filled in) and runs `gatehouse serve` until the test ends.
//
// serve takes its listen addresses from the config and cannot report a
// port the OS chose, so the ports come from authtest.FreePort, which
// another process may take before serve binds it: when serve exits because
// an address is in use, startGatehouse starts it again on new ports.
func startGatehouse(t *testing.T, cfg string, files map[string]string) *instance {
	t.Helper()
	up, hits := upstream(t)
	dir := t.TempDir()
	writeFiles(t, dir, files)
	for attempt := 1; ; attempt++ {
		in, stderr, err := startGatehouseOnce(t, cfg, dir, up.URL)
		if err == nil {
			in.hits = hits
			return in
		}
		if !addrInUse(err.Error()+stderr) || attempt == 3 {
			t.Fatalf("%v\nstderr: %s", err, stderr)
		}
		t.Logf("gatehouse: %v; starting again on new ports", err)
	}
}

func startGatehouseOnce(t *testing.T, cfg, dir, upstreamURL string) (*instance, string, error) {
	t.Helper()
	listen := fmt.Sprintf("127.0.0.1:%d", authtest.FreePort(t))
	adminAddr := fmt.Sprintf("127.0.0.1:%d", authtest.FreePort(t))
	cfg = strings.NewReplacer("{{listen}}", listen, "{{admin}}", adminAddr, "{{upstream}}", upstreamURL, "{{dir}}", dir).Replace(cfg)
	path := filepath.Join(dir, "gatehouse.yaml")
	writeFiles(t, dir, map[string]string{"gatehouse.yaml": cfg})
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{URL: "http://" + listen, AdminURL: "http://" + adminAddr, Dir: dir,
		stdout: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	stderr := &syncBuffer{}
	go func() { in.done <- run(ctx, []string{"serve", "-config", path}, nil, in.stdout, stderr) }()
	exited := false
	t.Cleanup(func() {
		cancel()
		if exited {
			return
		}
		select {
		case <-in.done:
		case <-time.After(10 * time.Second):
			t.Error("gatehouse did not stop")
		}
		if t.Failed() {
			t.Logf("gatehouse stdout:\n%s\nstderr:\n%s", in.stdout, stderr)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		// /healthz alone could be another process that took the admin
		// port first (this one then exits, "address already in use"):
		// "gatehouse started" is logged once both listeners are ours.
		resp, err := http.Get(in.AdminURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if strings.Contains(in.stdout.String(), "gatehouse started") {
				return in, "", nil
			}
			err = errors.New("/healthz answers, but this gatehouse has not logged its start")
		}
		select {
		case err := <-in.done:
			exited = true
			return nil, stderr.String(), fmt.Errorf("gatehouse exited: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse did not start: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // poll interval
	}
}

// addrInUse reports whether a server's error output says that its listen
// address was taken.
func addrInUse(out string) bool {
	return strings.Contains(strings.ToLower(out), "address already in use")
}

// get sends a GET with optional "Name: value" headers.
func get(t *testing.T, url string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// waitStatus polls url until it answers want, for at most d.
func waitStatus(t *testing.T, d time.Duration, want int, url string, headers ...string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		resp, body := get(t, url, headers...)
		if resp.StatusCode == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: status %d after %v, want %d; body %s", url, resp.StatusCode, d, want, body)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
