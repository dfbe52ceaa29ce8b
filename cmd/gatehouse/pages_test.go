package main

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckTemplatesDir: a login.templates_dir template that does not parse
// or cannot render is a config problem naming the key and the file, at
// `check` and at `serve`; a good one is used by serve, under the same CSP.
func TestCheckTemplatesDir(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tpl := filepath.Join(dir, "templates")
	if err := os.Mkdir(tpl, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gatehouse.yaml")
	writeFiles(t, dir, map[string]string{"gatehouse.yaml": `
listen: "127.0.0.1:0"
login: {templates_dir: "` + tpl + `", logo_url: "https://cdn.example.com/acme.svg"}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: none}
`})
	for _, tt := range []struct{ file, text, want string }{
		{"login.html", `{{if .User}}`, `login.templates_dir: ` + tpl + `/login.html: template: login.html:1: unexpected EOF`},
		{"error.html", `{{.Stauts}}`, `login.templates_dir: ` + tpl + `/error.html: 403: template: error.html:1:2: executing "error.html" at <.Stauts>: can't evaluate field Stauts`},
	} {
		writeFiles(t, tpl, map[string]string{tt.file: tt.text})
		_, stderr, err := runCmd(t, "", "check", "-config", cfg)
		if !errors.Is(err, errReported) || !strings.Contains(stderr, tt.want) {
			t.Errorf("check with a bad %s: err %v, stderr:\n%s\nwant %q", tt.file, err, stderr, tt.want)
		}
		if err := os.Remove(filepath.Join(tpl, tt.file)); err != nil {
			t.Fatal(err)
		}
	}
	if out, stderr, err := runCmd(t, "", "check", "-config", cfg); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("check with an empty templates dir: %v\n%s", err, stderr)
	}

	in := startGatehouse(t, `
listen: "{{listen}}"
upstream: "{{upstream}}"
admin: {listen: "{{admin}}"}
login: {title: "Acme", templates_dir: "{{dir}}", logo_url: "https://cdn.example.com/acme.svg"}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: none, upstream: "http://127.0.0.1:1"}
`, map[string]string{"error.html": `{{template "head" .}}<h1>Acme could not help: {{.Status}}</h1><p>{{.RequestID}}</p>{{template "foot" .}}`})
	resp, body := get(t, in.URL+"/.gatehouse/nope", "Accept: text/html")
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(body, "<h1>Acme could not help: 404</h1>") ||
		!strings.Contains(body, "<p>"+resp.Header.Get("X-Request-Id")+"</p>") {
		t.Errorf("navigation to a missing page: %d\n%s", resp.StatusCode, body)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "img-src https://cdn.example.com;") || strings.Contains(csp, "script") {
		t.Errorf("CSP %q", csp)
	}
	resp, body = get(t, in.URL+"/.gatehouse/login", "Accept: text/html")
	if resp.StatusCode != 200 || !strings.Contains(body, `<img class="logo" src="https://cdn.example.com/acme.svg" alt="Acme">`) {
		t.Errorf("login page with a logo: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := get(t, in.URL+"/.gatehouse/nope", "Accept: application/json"); !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API client on a 404: %s %s", resp.Header.Get("Content-Type"), body)
	}
}
