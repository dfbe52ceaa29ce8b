package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"

	"github.com/gatehouse-proxy/gatehouse/config"

	"github.com/gatehouse-proxy/gatehouse/auth/authtest"
	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// tlsConfigYAML serves HTTPS with the pair in {{certdir}}; /ws goes to a
// WebSocket echo upstream.
const tlsConfigYAML = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
server:
  tls: {cert_file: "{{certdir}}/tls.crt", key_file: "{{certdir}}/tls.key"}
routes:
  - {name: ws, match: {path_prefix: "/ws"}, auth: none, upstream: "{{ws}}"}
  - {name: public, match: {path_prefix: "/"}, auth: none}
`

// certDir holds a certificate pair as tls.crt and tls.key, replaced the way
// rotations replace them: each file renamed over (an editor, a script), or,
// with symlinks, the layout of a Kubernetes Secret volume (cert-manager):
// tls.crt → ..data/tls.crt, and ..data a symlink to a timestamped directory
// that the kubelet swaps atomically.
type certDir struct {
	dir      string
	symlinks bool
	n        int
}

func (d *certDir) install(t *testing.T, certPEM, keyPEM []byte) {
	t.Helper()
	d.n++
	if !d.symlinks {
		for name, b := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
			tmp := filepath.Join(d.dir, "."+name+".tmp")
			if err := os.WriteFile(tmp, b, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(d.dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	ts := fmt.Sprintf("..2026_12_01_15_00_%02d.%d", d.n, d.n)
	writeFiles(t, mkdir(t, filepath.Join(d.dir, ts)), map[string]string{"tls.crt": string(certPEM), "tls.key": string(keyPEM)})
	old, _ := os.Readlink(filepath.Join(d.dir, "..data"))
	tmp := filepath.Join(d.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(d.dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(d.dir, old)); err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, name := range []string{"tls.crt", "tls.key"} {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(d.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

func mkdir(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startTLSGatehouse starts Gatehouse on the pair in d, with a WebSocket
// echo upstream on /ws, and returns it with its https:// URL.
func startTLSGatehouse(t *testing.T, d *certDir) (*instance, string) {
	t.Helper()
	ws := httptest.NewServer(websocket.Handler(func(c *websocket.Conn) { _, _ = io.Copy(c, c) }))
	t.Cleanup(ws.Close)
	cfg := strings.NewReplacer("{{certdir}}", d.dir, "{{ws}}", ws.URL).Replace(tlsConfigYAML)
	in := startGatehouse(t, cfg, nil)
	return in, "https://" + strings.TrimPrefix(in.URL, "http://")
}

// handshake makes a new TLS connection to addr, offering h2 and
// http/1.1, and returns the leaf's serial number and the protocol chosen.
func handshake(addr string, ca *authtest.CA) (*big.Int, string, error) {
	cfg := ca.ClientConfig()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return nil, "", err
	}
	defer c.Close()
	st := c.ConnectionState()
	return st.PeerCertificates[0].SerialNumber, st.NegotiatedProtocol, nil
}

// waitHandshakeSerial polls new handshakes until they present want.
func waitHandshakeSerial(t *testing.T, addr string, ca *authtest.CA, want *big.Int, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		got, _, err := handshake(addr, ca)
		if err == nil && got.Cmp(want) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > d {
			t.Fatalf("new handshakes after %v: serial %v (%v), want %v", d, got, err, want)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// TestServeTLSRotation: with server.tls, Gatehouse serves HTTPS and HTTP/2;
// when the certificate files are replaced (renamed over, or a Secret
// volume's symlink swap) new handshakes get the new certificate within a
// few polls, while a keep-alive connection made before carries on with no
// failed request; a pair that does not load is logged and the previous
// certificate keeps serving.
func TestServeTLSRotation(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	for _, symlinks := range []bool{false, true} {
		name := map[bool]string{false: "renamed over", true: "Secret volume symlink swap"}[symlinks]
		t.Run(name, func(t *testing.T) {
			t.Parallel() // each waits on its own reloader's polls
			d := &certDir{dir: t.TempDir(), symlinks: symlinks}
			first := ca.Issue(t)
			d.install(t, first.CertPEM, first.KeyPEM)
			in, base := startTLSGatehouse(t, d)
			addr := strings.TrimPrefix(base, "https://")

			tr := newTLSTraffic(ca)
			if err := tr.get(base + "/public/warm-up"); err != nil {
				t.Fatal(err)
			}
			if tr.serial.Cmp(first.Serial) != 0 {
				t.Fatalf("first certificate: serial %v, want %v", tr.serial, first.Serial)
			}
			tr.run(base+"/public/x", 2)

			second := ca.Issue(t)
			before := tr.ok.Load()
			d.install(t, second.CertPEM, second.KeyPEM)
			took := waitHandshakeSerial(t, addr, ca, second.Serial, 10*time.Second)
			t.Logf("new handshakes presented the new certificate %v after the rotation", took)
			if _, proto, err := handshake(addr, ca); err != nil || proto != "h2" {
				t.Errorf("ALPN offering h2 and http/1.1: got %q (%v), want h2", proto, err)
			}
			tr.waitMore(t, max(before, tr.ok.Load()))

			// A key that does not match: logged, the second certificate stays.
			third := ca.Issue(t)
			d.install(t, third.CertPEM, second.KeyPEM)
			waitLog(t, in, 10*time.Second, "TLS certificate reload failed; the previous certificate keeps serving")
			if got, _, err := handshake(addr, ca); err != nil || got.Cmp(second.Serial) != 0 {
				t.Errorf("after a mismatched pair: serial %v (%v), want the previous %v", got, err, second.Serial)
			}
			if !strings.Contains(in.stdout.String(), "the private key does not match the certificate") {
				t.Errorf("the reload failure does not say why:\n%s", in.stdout)
			}
			// Fixed: it is loaded.
			d.install(t, third.CertPEM, third.KeyPEM)
			waitHandshakeSerial(t, addr, ca, third.Serial, 10*time.Second)
			tr.waitMore(t, tr.ok.Load())

			if err := tr.halt(); err != nil {
				t.Errorf("a request failed during the rotations: %v", err)
			}
			if n := tr.dials.Load(); n != 1 {
				t.Errorf("the keep-alive client dialled %d times, want 1 (its connection was dropped)", n)
			}
			if tr.serial.Cmp(first.Serial) != 0 {
				t.Errorf("the keep-alive connection presents serial %v, want the first certificate's %v (it is the connection made before the rotations)", tr.serial, first.Serial)
			}
			t.Logf("%d requests over one connection, none failed", tr.ok.Load())
		})
	}
}

// TestServeTLSProtocols: over HTTPS the upstream learns the scheme
// (X-Forwarded-Proto: https); a client offering only http/1.1 (as a
// WebSocket client does) gets HTTP/1.1 and its WebSocket works; TLS 1.1 is
// refused; plain HTTP on the port gets 400.
func TestServeTLSProtocols(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	d := &certDir{dir: t.TempDir()}
	l := ca.Issue(t)
	d.install(t, l.CertPEM, l.KeyPEM)
	_, base := startTLSGatehouse(t, d)
	addr := strings.TrimPrefix(base, "https://")

	tr := newTLSTraffic(ca)
	resp, err := tr.client.Get(base + "/public/echo")
	if err != nil {
		t.Fatal(err)
	}
	var saw echo.Request
	err = json.NewDecoder(resp.Body).Decode(&saw)
	resp.Body.Close()
	if err != nil || resp.Proto != "HTTP/2.0" {
		t.Fatalf("GET over HTTPS: %s %v %v", resp.Proto, resp.Status, err)
	}
	if got := saw.Headers["X-Forwarded-Proto"]; len(got) != 1 || got[0] != "https" {
		t.Errorf("upstream saw X-Forwarded-Proto %q, want [https]", got)
	}

	h1 := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: ca.ClientConfig()}} // no ForceAttemptHTTP2: http/1.1 only
	resp, err = h1.Get(base + "/public/h1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.StatusCode != 200 {
		t.Errorf("client offering http/1.1 only: %s %s, want 200 over HTTP/1.1", resp.Proto, resp.Status)
	}

	cfg := ca.ClientConfig()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("WebSocket client's ALPN: %q, want http/1.1", p)
	}
	wcfg, err := websocket.NewConfig("wss://"+addr+"/ws", base)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.NewClient(wcfg, conn)
	if err != nil {
		t.Fatalf("WebSocket over TLS: %v", err)
	}
	for _, msg := range []string{"hello", "over tls"} {
		var got string
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		if err := websocket.Message.Receive(ws, &got); err != nil || got != msg {
			t.Errorf("WebSocket echo: %q, %v; want %q", got, err, msg)
		}
	}

	old := ca.ClientConfig()
	old.MinVersion, old.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
	if c, err := tls.Dial("tcp", addr, old); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded; want TLS 1.2 at least")
	}

	resp, err = http.Get("http://" + addr + "/public/plain")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the HTTPS port: %d, want 400", resp.StatusCode)
	}
}

// TestCheckTLSFiles: check reads and parses server.tls's pair and
// store.redis.ca_file, and names the key of each problem.
func TestCheckTLSFiles(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	dir := t.TempDir()
	a, b := ca.Issue(t), ca.Issue(t)
	old := ca.IssueValid(t, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	writeFiles(t, dir, map[string]string{
		"a.crt": string(a.CertPEM), "a.key": string(a.KeyPEM), "b.key": string(b.KeyPEM),
		"old.crt": string(old.CertPEM), "old.key": string(old.KeyPEM),
		"ca.pem": string(ca.PEM), "garbage": "not PEM\n",
		"bad-block.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	})
	const cfg = `
listen: "127.0.0.1:0"
upstream: "http://127.0.0.1:3000"
server: {tls: {cert_file: "%s", key_file: "%s"}}
store: {type: redis, redis: {tls: %s, ca_file: "%s"}}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: none}
`
	p := func(name string) string {
		if name == "" {
			return ""
		}
		return filepath.Join(dir, name)
	}
	tests := []struct {
		name                       string
		cert, key, redisTLS, caPEM string
		want                       []string // nil: OK
		warning                    string   // with OK: a warning printed
	}{
		{"good", "a.crt", "a.key", "true", "ca.pem", nil, ""},
		{"expired", "old.crt", "old.key", "true", "ca.pem", nil, "warning: server.tls.cert_file: the certificate expired at "},
		{"cert without key", "a.crt", "", "true", "ca.pem",
			[]string{"server.tls.key_file: empty, but server.tls.cert_file is set; set both for HTTPS, or neither for plain HTTP"}, ""},
		{"key without cert", "", "a.key", "true", "ca.pem",
			[]string{"server.tls.cert_file: empty, but server.tls.key_file is set"}, ""},
		{"mismatched pair", "a.crt", "b.key", "true", "ca.pem",
			[]string{"server.tls.cert_file: " + p("a.crt") + " and " + p("b.key") + ": the private key does not match the certificate"}, ""},
		{"key file holds a certificate", "a.crt", "a.crt", "true", "ca.pem",
			[]string{"server.tls.key_file: " + p("a.crt") + ": tls: "}, ""},
		{"cert file not PEM", "garbage", "a.key", "true", "ca.pem",
			[]string{"server.tls.cert_file: " + p("garbage") + ": no PEM certificate first"}, ""},
		{"missing cert file", "missing.crt", "a.key", "true", "ca.pem",
			[]string{"server.tls.cert_file: open " + p("missing.crt") + ": no such file or directory"}, ""},
		{"ca_file not PEM", "a.crt", "a.key", "true", "garbage",
			[]string{"store.redis.ca_file: " + p("garbage") + ": no PEM certificate found"}, ""},
		{"ca_file broken block", "a.crt", "a.key", "true", "bad-block.pem",
			[]string{"store.redis.ca_file: " + p("bad-block.pem") + ": PEM block 1: x509: "}, ""},
		{"ca_file without tls", "a.crt", "a.key", "false", "ca.pem",
			[]string{"store.redis.ca_file: is set, but store.redis.tls is false"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "gatehouse.yaml")
			if err := os.WriteFile(path, fmt.Appendf(nil, cfg, p(tt.cert), p(tt.key), tt.redisTLS, p(tt.caPEM)), 0o600); err != nil {
				t.Fatal(err)
			}
			out, stderr, err := runCmd(t, "", "check", "-config", path)
			if tt.want == nil {
				if err != nil || !strings.Contains(out, "OK") {
					t.Errorf("check: %v\n%s%s", err, out, stderr)
				}
				if !strings.Contains(stderr, tt.warning) || (tt.warning == "" && stderr != "") {
					t.Errorf("check's warnings: %q, want %q", stderr, tt.warning)
				}
				return
			}
			if !errors.Is(err, errReported) {
				t.Fatalf("check: err %v, want problems reported; output %s%s", err, out, stderr)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("check printed %d problems, want %d:\n%s", len(lines), len(tt.want), stderr)
			}
			for _, want := range tt.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("check output lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
}

// TestExpiryWarning: a certificate past its NotAfter gets a warning (check
// prints it and passes: it is a rotation that failed, not a config error).
func TestExpiryWarning(t *testing.T) {
	t.Parallel()
	ca := authtest.NewCA(t)
	l := ca.Issue(t)
	pair, err := tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if w := expiryWarning(pair.Leaf, pair.Leaf.NotAfter.Add(time.Second)); !strings.Contains(w, "expired at") {
		t.Errorf("after NotAfter: warning %q, want it to say expired", w)
	}
	if w := expiryWarning(pair.Leaf, time.Now()); w != "" {
		t.Errorf("valid now: warning %q, want none", w)
	}
}

// TestRestartOnlyTLS: a reload that names other TLS files, or turns TLS on
// or off, says that it needs a restart (the files' contents are reloaded
// without one).
func TestRestartOnlyTLS(t *testing.T) {
	t.Parallel()
	base := config.Default()
	on := config.Default()
	on.Server.TLS = config.ServerTLS{CertFile: "a.crt", KeyFile: "a.key"}
	moved := on
	moved.Server.TLS.CertFile = "b.crt"
	for _, tt := range []struct {
		name     string
		old, cur config.Config
		want     bool
	}{
		{"unchanged", on, on, false},
		{"turned on", base, on, true},
		{"turned off", on, base, true},
		{"other file", on, moved, true},
	} {
		got := slices.Contains(restartOnly(&tt.old, &tt.cur), "server.tls")
		if got != tt.want {
			t.Errorf("%s: restartOnly lists server.tls: %v, want %v", tt.name, got, tt.want)
		}
	}
}
