package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
)

const benchPassword = "bench-password"

// loginPath is Gatehouse's sign-in form.
const loginPath = httpx.ReservedPrefix + "login"

// gatehouse is a running Gatehouse.
type gatehouse struct {
	*proc
	url, admin string
}

// writeGatehouseFiles writes the config, a copy with tracing on (to
// traceURL), an ES256 issuing key and a users file into dir, and returns
// the two config paths.
func writeGatehouseFiles(dir, listen, admin, upstream, redisAddr, traceURL string) (cfg, traceCfg string, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcrypt.MinCost)
	if err != nil {
		return "", "", err
	}
	store := "store: {type: memory}"
	if redisAddr != "" {
		store = fmt.Sprintf("store: {type: redis, redis: {addrs: [%q]}}", redisAddr)
	}
	base := fmt.Sprintf(`listen: %q
upstream: %q
admin: {listen: %q}
trusted_proxies: ["127.0.0.1/32"]
forward_auth: {enabled: true}
%s
users: {file: %q}
session: {secure: false}
jwt:
  issue: {issuer: %q, audience: %q, signing_key_file: %q, access_ttl: 1h}
routes:
  - {name: none, match: {path_prefix: "/none/"}, auth: none}
  - {name: jwt, match: {path_prefix: "/jwt/"}, auth: jwt}
  - {name: session, match: {path_prefix: "/session/"}, auth: session}
`, listen, upstream, admin, store, filepath.Join(dir, "users.yaml"), benchIssuer, benchAudience, filepath.Join(dir, "issuing.pem"))
	files := map[string]string{
		"gatehouse.yaml":         base,
		"gatehouse-tracing.yaml": base + fmt.Sprintf("tracing: {otlp_endpoint: %q, sample_ratio: 0.1}\n", traceURL),
		"issuing.pem":            string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"users.yaml":             fmt.Sprintf("- username: alice\n  password_hash: %q\n  email: alice@example.com\n  groups: [staff]\n", hash),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return "", "", err
		}
	}
	return filepath.Join(dir, "gatehouse.yaml"), filepath.Join(dir, "gatehouse-tracing.yaml"), nil
}

// startGatehouse runs `gatehouse serve -config cfg` with its access log in
// the bench directory and waits for its health check.
func (e *env) startGatehouse(cfg string) (*gatehouse, error) {
	log := filepath.Join(e.dir, "gatehouse-access.log")
	p, err := start("gatehouse", log, e.o.bin, "serve", "-config", cfg)
	if err != nil {
		return nil, err
	}
	g := &gatehouse{proc: p, url: "http://" + e.listen, admin: "http://" + e.admin}
	if err := waitUp(p, g.admin+"/healthz"); err != nil {
		p.stop()
		out, _ := os.ReadFile(log)
		return nil, fmt.Errorf("gatehouse serve: %w\n%s", err, lastLines(string(out), 5))
	}
	return g, nil
}

// mintCLI mints alice's hot token with `gatehouse token`.
func mintCLI(bin, cfg string) (string, error) {
	tok, err := exec.Command(bin, "token", "-config", cfg, "-sub", "alice", "-ttl", "1h").Output()
	if err != nil {
		return "", fmt.Errorf("gatehouse token: %w", err)
	}
	return "Bearer " + strings.TrimSpace(string(tok)), nil
}

// checkConfig runs `gatehouse check` on cfg and returns its complaint.
func checkConfig(bin, cfg string) string {
	out, err := exec.Command(bin, "check", "-config", cfg).CombinedOutput()
	if err == nil {
		return ""
	}
	return strings.Join(strings.Fields(lastLines(string(out), 3)), " ")
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login signs alice in through the login form and returns the Cookie
// header that carries her session.
func login(base string) (string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + loginPath + "?rd=/session/")
	if err != nil {
		return "", err
	}
	var page strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		page.WriteString(sc.Text())
	}
	resp.Body.Close()
	m := csrfRE.FindStringSubmatch(page.String())
	if m == nil {
		return "", fmt.Errorf("login page without csrf_token (status %d)", resp.StatusCode)
	}
	resp, err = c.PostForm(base+loginPath, url.Values{
		"username": {"alice"}, "password": {benchPassword}, "csrf_token": {m[1]}, "rd": {"/session/"},
	})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return "", fmt.Errorf("login: status %d, want 303", resp.StatusCode)
	}
	u, _ := url.Parse(base)
	var parts []string
	for _, ck := range jar.Cookies(u) {
		parts = append(parts, ck.Name+"="+ck.Value)
	}
	return strings.Join(parts, "; "), nil
}

// counters are the process counters read from a metrics endpoint.
type counters struct {
	mallocs  float64 // go_memstats_mallocs_total
	storeOps float64 // gatehouse_store_operations_total, all labels; NaN: not Gatehouse
}

// readCounters reads counters from a Prometheus text endpoint.
func readCounters(url string) (counters, error) {
	c := counters{mallocs: math.NaN(), storeOps: math.NaN()}
	resp, err := http.Get(url)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "gatehouse_") && math.IsNaN(c.storeOps) {
			c.storeOps = 0
		}
		if v, ok := strings.CutPrefix(line, "go_memstats_mallocs_total "); ok {
			if c.mallocs, err = strconv.ParseFloat(v, 64); err != nil {
				return c, err
			}
		}
		if strings.HasPrefix(line, "gatehouse_store_operations_total") {
			f := strings.Fields(line)
			n, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil {
				return c, err
			}
			c.storeOps += n
		}
	}
	if math.IsNaN(c.mallocs) {
		return c, fmt.Errorf("%s: no go_memstats_mallocs_total", url)
	}
	return c, sc.Err()
}
