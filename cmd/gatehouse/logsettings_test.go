package main

import (
	"strings"
	"testing"
	"time"
)

const logConfig = `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
log: {{log}}
routes:
  - {name: public, match: {path_prefix: "/public/"}, auth: none}
`

// stopInstance stops a running instance and waits until serve returned, so
// that every line it will ever log is in in.stdout.
func stopInstance(t *testing.T, in *instance) {
	t.Helper()
	in.cancel()
	select {
	case err := <-in.done:
		in.done <- err // for the cleanup startGatehouse registered
	case <-time.After(10 * time.Second):
		t.Fatal("gatehouse did not stop")
	}
}

// waitLog polls in's log until it contains s.
func waitLog(t *testing.T, in *instance, d time.Duration, s string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(in.stdout.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v the log holds no %q:\n%s", d, s, in.stdout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLogSettings: log.level, log.format and log.access at start and on
// reload (README "Logs"). The Kubernetes service-link variables are named in
// a debug line at log.level debug; log.format text writes text lines and
// stays as it started (a reload says it needs a restart); log.access false
// writes no access line; a reload changes log.level and log.access at once.
func TestLogSettings(t *testing.T) {
	t.Setenv("GATEHOUSE_SERVICE_HOST", "10.96.0.10")
	t.Setenv("GATEHOUSE_SERVICE_PORT", "80")
	cfg := strings.Replace(logConfig, "{{log}}", "{level: debug, format: text, access: false}", 1)
	in := startGatehouse(t, cfg, nil)
	waitLog(t, in, 5*time.Second, `level=DEBUG msg="ignored Kubernetes service-link variables; they are not config" variables="[GATEHOUSE_SERVICE_HOST GATEHOUSE_SERVICE_PORT]"`)
	if resp, _ := get(t, in.URL+"/public/a"); resp.StatusCode != 200 {
		t.Fatalf("/public/a: status %d", resp.StatusCode)
	}
	written := readFile(t, in.Dir+"/gatehouse.yaml")

	// Access on, level info, format json: the access line comes back, in text.
	writeConfig(t, in, strings.Replace(written, "{level: debug, format: text, access: false}", "{level: info, format: json, access: true}", 1))
	waitMetric(t, in, 5*time.Second, reloadOK, 1)
	waitLog(t, in, 5*time.Second, `level=WARN msg="config reloaded, but these settings apply at start only; restart to apply them" keys=[log.format]`)
	if resp, _ := get(t, in.URL+"/public/b"); resp.StatusCode != 200 {
		t.Fatalf("/public/b: status %d", resp.StatusCode)
	}
	waitLog(t, in, 5*time.Second, "path=/public/b")

	// Level warn: the access lines (info) stop.
	writeConfig(t, in, strings.Replace(written, "{level: debug, format: text, access: false}", "{level: warn, format: text, access: true}", 1))
	waitMetric(t, in, 5*time.Second, reloadOK, 2)
	if resp, _ := get(t, in.URL+"/public/c"); resp.StatusCode != 200 {
		t.Fatalf("/public/c: status %d", resp.StatusCode)
	}
	stopInstance(t, in)

	out := in.stdout.String()
	var access []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, "time=") {
			t.Errorf("log.format text: line %q is not a text line", line)
		}
		if strings.Contains(line, " msg=request ") {
			access = append(access, line)
		}
	}
	if len(access) != 1 || !strings.Contains(access[0], "path=/public/b") {
		t.Errorf("access lines %q; want only the one for /public/b (access off, then on at info, then level warn)", access)
	}
	if strings.Count(out, `msg="config reloaded" `) != 1 {
		t.Errorf("want the second reload's info line held back at level warn:\n%s", out)
	}
}

// TestLogDefaults: without a log section the log is JSON at info, one
// access line per request, and the service-link line (debug) is not written.
func TestLogDefaults(t *testing.T) {
	t.Setenv("GATEHOUSE_SERVICE_HOST", "10.96.0.10")
	in := startGatehouse(t, strings.Replace(logConfig, "log: {{log}}\n", "", 1), nil)
	if resp, _ := get(t, in.URL+"/public/a"); resp.StatusCode != 200 {
		t.Fatalf("/public/a: status %d", resp.StatusCode)
	}
	stopInstance(t, in)
	out := in.stdout.String()
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.HasPrefix(line, `{"time":`) {
			t.Errorf("default format: line %q is not JSON", line)
		}
	}
	if n := strings.Count(out, `"msg":"request"`); n != 1 {
		t.Errorf("%d access lines, want 1:\n%s", n, out)
	}
	if strings.Contains(out, "service-link") || strings.Contains(out, `"level":"DEBUG"`) {
		t.Errorf("a debug line at the default level info:\n%s", out)
	}
}
