package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-proxy/gatehouse/internal/echo"
)

// reloadConfig has a jwt route on the default upstream and one on a second
// upstream ({{slow}}), so a reload can change headers, routes and upstreams.
const reloadConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
server: {shutdown_timeout: 5s}
jwt:
  issuers:
    - issuer: "https://idp.test"
      audiences: [my-api]
      algorithms: [ES256]
      public_key_files: ["{{dir}}/idp.pub.pem"]
      claims: {user: preferred_username}
identity_headers: {user: X-Auth-User}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
  - {name: api, match: {path_prefix: "/api/"}, auth: jwt}
  - {name: slow, match: {path_prefix: "/slow/"}, auth: jwt, upstream: "{{slow}}"}
`

// taggedEcho is an echo upstream that names itself in X-Upstream.
func taggedEcho(t *testing.T, tag string) *httptest.Server {
	e := echo.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", tag)
		e.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// startReload starts Gatehouse on reloadConfig with slowURL as the second
// upstream; it returns the instance, the token issuer and the config as
// written (placeholders filled).
func startReload(t *testing.T, slowURL string) (*instance, idp, string) {
	t.Helper()
	key, _, pub := ecKeyPEM(t)
	in := startGatehouse(t, strings.ReplaceAll(reloadConfig, "{{slow}}", slowURL), map[string]string{"idp.pub.pem": pub})
	b, err := os.ReadFile(filepath.Join(in.Dir, "gatehouse.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return in, idp{key}, string(b)
}

// writeConfig replaces the running instance's config file.
func writeConfig(t *testing.T, in *instance, cfg string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(in.Dir, "gatehouse.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// metricValue reads one sample from /metrics; 0 when absent.
func metricValue(t *testing.T, in *instance, series string) float64 {
	t.Helper()
	_, body := get(t, in.AdminURL+"/metrics")
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metric %s: %v", series, err)
			}
			return f
		}
	}
	return 0
}

const (
	reloadOK  = `gatehouse_config_reloads_total{result="success"}`
	reloadErr = `gatehouse_config_reloads_total{result="error"}`
)

// waitMetric polls series until it reaches want, for at most d.
func waitMetric(t *testing.T, in *instance, d time.Duration, series string, want float64) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := metricValue(t, in, series)
		if got == want {
			return
		}
		if got > want || time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", series, got, want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// echoed decodes an echo upstream's answer.
func echoed(t *testing.T, body string) map[string][]string {
	t.Helper()
	var e echo.Request
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("not an echo answer: %v: %s", err, body)
	}
	return e.Headers
}

func TestReloadSwapsConfigAndSparesInFlightRequests(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	e := echo.Handler()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Upstream", "slow")
		arrived <- struct{}{}
		<-release
		e.ServeHTTP(w, r)
	}))
	t.Cleanup(slow.Close)
	defer close(release) // before slow.Close, which waits for the handler
	other := taggedEcho(t, "other")
	in, p, cfg := startReload(t, slow.URL)
	bearer := "Authorization: Bearer " + p.token(t, "alice", time.Now(), nil)

	type result struct {
		resp *http.Response
		body string
	}
	inflight := make(chan result, 1)
	go func() {
		resp, body := get(t, in.URL+"/slow/x", bearer)
		inflight <- result{resp, body}
	}()
	<-arrived

	cfg2 := strings.Replace(cfg, "{user: X-Auth-User}", "{user: X-Remote-User}", 1)
	cfg2 = strings.Replace(cfg2, slow.URL, other.URL, 1)
	writeConfig(t, in, cfg2)
	waitMetric(t, in, 5*time.Second, reloadOK, 1)

	resp, body := get(t, in.URL+"/api/x", bearer)
	if h := echoed(t, body); resp.StatusCode != 200 || len(h["X-Remote-User"]) != 1 || h["X-Remote-User"][0] != "alice" || h["X-Auth-User"] != nil {
		t.Errorf("after reload: status %d, X-Remote-User %q, X-Auth-User %q; want 200, [alice], none", resp.StatusCode, h["X-Remote-User"], h["X-Auth-User"])
	}
	if resp, _ := get(t, in.URL+"/slow/x", bearer); resp.Header.Get("X-Upstream") != "other" {
		t.Errorf("after reload: /slow/ served by %q, want other", resp.Header.Get("X-Upstream"))
	}

	release <- struct{}{}
	select {
	case r := <-inflight:
		h := echoed(t, r.body)
		if r.resp.StatusCode != 200 || r.resp.Header.Get("X-Upstream") != "slow" {
			t.Errorf("in-flight request: status %d from %q, want 200 from slow", r.resp.StatusCode, r.resp.Header.Get("X-Upstream"))
		}
		if got := h["X-Auth-User"]; len(got) != 1 || got[0] != "alice" || h["X-Remote-User"] != nil {
			t.Errorf("in-flight request: X-Auth-User %q, X-Remote-User %q; want the old header only", got, h["X-Remote-User"])
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	if got := metricValue(t, in, reloadErr); got != 0 {
		t.Errorf("%s = %v, want 0", reloadErr, got)
	}
}

func TestReloadRefusesBadConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		break_  func(dir, cfg string) string
		wantLog string // the key path the log must name
	}{
		{"yaml syntax error", func(_, cfg string) string { return cfg + "\nroutes: [\n" }, "yaml: line"},
		{"unknown key", func(_, cfg string) string { return cfg + "\nlisten_adress: x\n" }, "listen_adress"},
		{"unparsable upstream", func(_, cfg string) string {
			return strings.Replace(cfg, "auth: jwt}", `auth: jwt, upstream: "http://[::1"}`, 1)
		}, "routes[1].upstream"},
		{"key file deleted", func(dir, cfg string) string {
			if err := os.Remove(filepath.Join(dir, "idp.pub.pem")); err != nil {
				panic(err)
			}
			return cfg + "\n# touched\n"
		}, "jwt.issuers[0].public_key_files[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := taggedEcho(t, "unused")
			in, p, cfg := startReload(t, up.URL)
			bearer := "Authorization: Bearer " + p.token(t, "alice", time.Now(), nil)
			pub, err := os.ReadFile(filepath.Join(in.Dir, "idp.pub.pem"))
			if err != nil {
				t.Fatal(err)
			}
			writeConfig(t, in, tc.break_(in.Dir, cfg))
			waitMetric(t, in, 5*time.Second, reloadErr, 1)
			if !strings.Contains(in.stdout.String(), tc.wantLog) {
				t.Errorf("the reload error log does not name %q:\n%s", tc.wantLog, in.stdout)
			}
			resp, body := get(t, in.URL+"/api/x", bearer)
			if h := echoed(t, body); resp.StatusCode != 200 || len(h["X-Auth-User"]) != 1 {
				t.Errorf("old config after a refused reload: status %d, X-Auth-User %q; want 200, [alice]", resp.StatusCode, h["X-Auth-User"])
			}
			if resp, _ := get(t, in.AdminURL+"/readyz"); resp.StatusCode != 200 {
				t.Errorf("/readyz %d after a refused reload, want 200", resp.StatusCode)
			}
			// The watcher survives the failure: a fixed config is applied.
			writeFiles(t, in.Dir, map[string]string{"idp.pub.pem": string(pub)})
			writeConfig(t, in, strings.Replace(cfg, "{user: X-Auth-User}", "{user: X-Fixed-User}", 1))
			waitMetric(t, in, 5*time.Second, reloadOK, 1)
			if _, body := get(t, in.URL+"/api/x", bearer); len(echoed(t, body)["X-Fixed-User"]) != 1 {
				t.Errorf("the fixed config was not applied: %s", body)
			}
		})
	}
}

// TestReloadDebouncesBurstsOfWrites: eight writes 50 ms apart (the burst
// lasts longer than the settle time, so each write must restart the wait)
// give one reload. A loaded machine can stall the writer past the settle
// time, which makes two reloads right; such a burst is retried.
func TestReloadDebouncesBurstsOfWrites(t *testing.T) {
	t.Parallel()
	in, _, cfg := startReload(t, taggedEcho(t, "unused").URL)
	const writes, gap = 8, 50 * time.Millisecond
	for attempt := 1; ; attempt++ {
		before := metricValue(t, in, reloadOK)
		var worst time.Duration
		last := time.Now()
		for i := range writes {
			if i > 0 {
				time.Sleep(gap)
			}
			writeConfig(t, in, fmt.Sprintf("%s\n# attempt %d edit %d\n", cfg, attempt, i))
			if d := time.Since(last); i > 0 && d > worst {
				worst = d
			}
			last = time.Now()
		}
		waitMetric(t, in, 5*time.Second, reloadOK, before+1)
		// Nothing is pending: a second reload would have come within the
		// settle time of the last write.
		time.Sleep(3 * defaultReloadSettle)
		got := metricValue(t, in, reloadOK) - before
		if worst < defaultReloadSettle-gap {
			if got != 1 {
				t.Errorf("%v reloads after a burst of %d writes at most %v apart, want 1", got, writes, worst)
			}
			return
		}
		t.Logf("attempt %d: the writer stalled %v between writes (%v reloads); retrying", attempt, worst, got)
		if attempt == 5 {
			t.Skip("the machine is too loaded to write a burst")
		}
	}
}

// The kubelet updates a mounted ConfigMap by writing a new timestamped
// directory and renaming a "..data" symlink onto it; the config file is a
// symlink through ..data and is never written itself.
func TestReloadFollowsConfigMapSymlinkSwap(t *testing.T) {
	t.Parallel()
	in, p, cfg := startReload(t, taggedEcho(t, "unused").URL)
	bearer := "Authorization: Bearer " + p.token(t, "alice", time.Now(), nil)
	version := func(name, header string) {
		t.Helper()
		dir := filepath.Join(in.Dir, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string]string{"gatehouse.yaml": strings.Replace(cfg, "X-Auth-User", header, 1)})
	}
	swap := func(link, target string) {
		t.Helper()
		tmp := filepath.Join(in.Dir, link+"_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(in.Dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	version("..2026_01_01_v1", "X-V1")
	swap("..data", "..2026_01_01_v1")
	swap("gatehouse.yaml", "..data/gatehouse.yaml")
	waitMetric(t, in, 5*time.Second, reloadOK, 1)
	if _, body := get(t, in.URL+"/api/x", bearer); len(echoed(t, body)["X-V1"]) != 1 {
		t.Fatalf("v1 not applied: %s", body)
	}
	version("..2026_01_02_v2", "X-V2")
	swap("..data", "..2026_01_02_v2")
	if err := os.RemoveAll(filepath.Join(in.Dir, "..2026_01_01_v1")); err != nil {
		t.Fatal(err)
	}
	waitMetric(t, in, 5*time.Second, reloadOK, 2)
	if _, body := get(t, in.URL+"/api/x", bearer); len(echoed(t, body)["X-V2"]) != 1 {
		t.Errorf("v2 not applied after the ..data swap: %s", body)
	}
	if got := metricValue(t, in, reloadErr); got != 0 {
		t.Errorf("%s = %v, want 0", reloadErr, got)
	}
}
