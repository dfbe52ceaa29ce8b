package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
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

// gatehouse is a running Gatehouse with a Bearer token and a session
// cookie for its jwt and session routes.
type gatehouse struct {
	*proc
	url, admin string
	bearer     string // Authorization header value
	cookie     string // Cookie header value
}

// writeGatehouseFiles writes the config, an ES256 issuing key and a users
// file into dir, and returns the config path.
func writeGatehouseFiles(dir, listen, admin, upstream, redisAddr string) (string, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	hash, err := bcrypt.GenerateFromPassword([]byte(benchPassword), bcrypt.MinCost)
	if err != nil {
		return "", err
	}
	store := "store: {type: memory}"
	if redisAddr != "" {
		store = fmt.Sprintf("store: {type: redis, redis: {addrs: [%q]}}", redisAddr)
	}
	cfg := fmt.Sprintf(`listen: %q
upstream: %q
admin: {listen: %q}
trusted_proxies: ["127.0.0.1/32"]
forward_auth: {enabled: true}
%s
users: {file: %q}
session: {secure: false}
jwt:
  issue: {issuer: "http://bench", audience: gatehouse, signing_key_file: %q, access_ttl: 1h}
routes:
  - {name: none, match: {path_prefix: "/none/"}, auth: none}
  - {name: jwt, match: {path_prefix: "/jwt/"}, auth: jwt}
  - {name: session, match: {path_prefix: "/session/"}, auth: session}
`, listen, upstream, admin, store, filepath.Join(dir, "users.yaml"), filepath.Join(dir, "issuing.pem"))
	files := map[string]string{
		"gatehouse.yaml": cfg,
		"issuing.pem":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"users.yaml":     fmt.Sprintf("- username: alice\n  password_hash: %q\n  email: alice@example.com\n  groups: [staff]\n", hash),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			return "", err
		}
	}
	return filepath.Join(dir, "gatehouse.yaml"), nil
}

// startGatehouse runs `gatehouse serve` with its access log in dir, mints a
// token with `gatehouse token` and logs in through the login form.
func startGatehouse(bin, dir, upstream, redisAddr string) (*gatehouse, error) {
	listen, admin := freeAddr(), freeAddr()
	cfg, err := writeGatehouseFiles(dir, listen, admin, upstream, redisAddr)
	if err != nil {
		return nil, err
	}
	p, err := start("gatehouse", filepath.Join(dir, "gatehouse-access.log"), bin, "serve", "-config", cfg)
	if err != nil {
		return nil, err
	}
	g := &gatehouse{proc: p, url: "http://" + listen, admin: "http://" + admin}
	if err := waitHTTP(g.admin + "/healthz"); err != nil {
		p.stop()
		out, _ := os.ReadFile(filepath.Join(dir, "gatehouse-access.log"))
		return nil, fmt.Errorf("%w\n%s", err, out)
	}
	tok, err := exec.Command(bin, "token", "-config", cfg, "-sub", "alice", "-ttl", "1h").Output()
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("gatehouse token: %w", err)
	}
	g.bearer = "Bearer " + strings.TrimSpace(string(tok))
	if g.cookie, err = login(g.url); err != nil {
		p.stop()
		return nil, err
	}
	return g, nil
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

// mallocs reads go_memstats_mallocs_total from a metrics endpoint.
func readMallocs(url string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_memstats_mallocs_total "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no go_memstats_mallocs_total", url)
}
