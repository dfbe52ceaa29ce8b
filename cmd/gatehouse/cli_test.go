package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// runCmd runs one gatehouse command in-process.
func runCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestCheckNamesEveryProblemAndServeRefuses(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "bad.yaml")
	writeFiles(t, dir, map[string]string{"bad.yaml": `
listen: "127.0.0.1:0"
upstream: "http://127.0.0.1:3000"
colour: blue
server: {idle_timeout: "10 sec"}
jwt:
  issuers:
    - {issuer: "https://idp.test", audiences: [api], algorithms: [ES256], public_key_files: ["` + dir + `/missing.pem"]}
routes:
  - {name: api, match: {path_prefix: "/"}, auth: jtw}
`})
	_, stderr, err := runCmd(t, "", "check", "-config", cfg)
	if !errors.Is(err, errReported) {
		t.Fatalf("check: err = %v, want problems reported (exit 1)", err)
	}
	for _, want := range []string{
		`colour: unknown key`,
		`server.idle_timeout: "10 sec" is not a duration`,
		`routes[0].auth: unknown mode "jtw" (want none, session, jwt, any)`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}
	// Fix the syntax problems: the missing key file is named next.
	writeFiles(t, dir, map[string]string{"bad.yaml": strings.NewReplacer("colour: blue\n", "", `"10 sec"`, "10s", "jtw", "jwt").Replace(readFile(t, cfg))})
	_, stderr, err = runCmd(t, "", "check", "-config", cfg)
	if !errors.Is(err, errReported) || !strings.Contains(stderr, "jwt.issuers[0].public_key_files[0]") || !strings.Contains(stderr, "missing.pem") {
		t.Errorf("missing key file: err %v, output:\n%s", err, stderr)
	}
	// serve refuses the same config, before listening.
	_, stderr, err = runCmd(t, "", "serve", "-config", cfg)
	if !errors.Is(err, errReported) || !strings.Contains(stderr, "refusing to start") || !strings.Contains(stderr, "public_key_files[0]") {
		t.Errorf("serve: err %v, output:\n%s", err, stderr)
	}
	// GATEHOUSE_CONFIG names the file when -config is absent.
	// The demo config names its files relative to the repository root.
	t.Chdir(filepath.Join("..", ".."))
	t.Setenv("GATEHOUSE_CONFIG", filepath.Join("testdata", "demo", "gatehouse.yaml"))
	if out, stderr, err := runCmd(t, "", "check"); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("check of the demo config via GATEHOUSE_CONFIG: %v\n%s%s", err, out, stderr)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHashPasswordCommand(t *testing.T) {
	t.Parallel()
	out, stderr, err := runCmd(t, "s3cret-Pass\n", "hash-password")
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.TrimSpace(out)
	if err := bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret-Pass")); err != nil {
		t.Errorf("hash %q does not match the password without its newline: %v", hash, err)
	}
	if strings.Contains(out, "s3cret") {
		t.Error("the password is echoed")
	}
	if stderr != "" {
		t.Errorf("piped password: stderr %q, want nothing (no prompt)", stderr)
	}
	if _, _, err := runCmd(t, "\n", "hash-password"); !errors.Is(err, errReported) {
		t.Errorf("empty password: err = %v, want an error", err)
	}
}

func TestVersionAndUsage(t *testing.T) {
	t.Parallel()
	out, _, err := runCmd(t, "", "version")
	if err != nil || !strings.HasPrefix(out, "gatehouse ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %q, %v", out, err)
	}
	if !regexp.MustCompile(`^gatehouse v\d+\.\d+\.\d+ \(commit `).MatchString(out) {
		t.Errorf("version: %q is not a semantic version vMAJOR.MINOR.PATCH", out)
	}
	_, stderr, err := runCmd(t, "", "frobnicate")
	if !errors.Is(err, errReported) || !strings.Contains(stderr, `unknown command "frobnicate"`) || !strings.Contains(stderr, "\n  serve ") {
		t.Errorf("unknown command: %v\n%s", err, stderr)
	}
	for _, cmd := range []string{"serve", "check", "token", "revoke", "sessions", "demo-upstream", "hash-password", "version"} {
		_, stderr, err := runCmd(t, "", cmd, "-h")
		if err == nil || stderr == "" {
			t.Errorf("%s -h: err %v, no usage printed", cmd, err)
		}
	}
}

var updateCheckGolden = flag.Bool("update-check-golden", false, "rewrite testdata/check/check.golden")

// TestCheckGolden: check prints every problem of testdata/check/bad.yaml,
// decode, validation, file and parse problems together, each with its key
// path, and exits 1. It used to stop after the decode and validation
// problems and never read the files.
func TestCheckGolden(t *testing.T) {
	t.Parallel()
	_, stderr, err := runCmd(t, "", "check", "-config", filepath.Join("testdata", "check", "bad.yaml"))
	if !errors.Is(err, errReported) {
		t.Fatalf("check: err = %v, want problems reported (exit 1)", err)
	}
	const golden = "testdata/check/check.golden"
	if *updateCheckGolden {
		if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, rerr := os.ReadFile(golden)
	if rerr != nil {
		t.Fatalf("%v (run go test -run TestCheckGolden -update-check-golden to create it)", rerr)
	}
	if stderr != string(want) {
		t.Errorf("check output differs from %s (rerun with -update-check-golden if intended):\ngot:\n%s\nwant:\n%s", golden, stderr, want)
	}
}

// TestCheckPrintsEveryProblem is the example: an unknown key, a bad
// jwt.leeway and a missing jwt.issue.signing_key_file are all printed;
// with -skip-files, only the first two.
func TestCheckPrintsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	writeFiles(t, dir, map[string]string{"gatehouse.yaml": `
listen: ":8080"
upstream: "http://127.0.0.1:3000"
bogus_key: 1
jwt:
  leeway: 10m
  issue: {signing_key_file: "` + dir + `/signing.pem"}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: none}
`})
	wants := []string{
		"bogus_key: unknown key",
		"jwt.leeway: 10m0s is out of range",
		"jwt.issue.signing_key_file: open " + dir + "/signing.pem: no such file or directory",
	}
	for _, skip := range []bool{false, true} {
		args := []string{"check", "-config", cfg}
		if skip {
			args = append(args, "-skip-files")
		}
		out, stderr, err := runCmd(t, "", args...)
		if !errors.Is(err, errReported) || out != "" {
			t.Errorf("%q: err %v, stdout %q; want problems reported (exit 1)", args, err, out)
		}
		lines := strings.Split(strings.TrimSpace(stderr), "\n")
		n := len(wants)
		if skip {
			n--
		}
		if len(lines) != n {
			t.Errorf("%q: %d lines, want %d:\n%s", args, len(lines), n, stderr)
			continue
		}
		for i, want := range wants[:n] {
			if !strings.HasPrefix(lines[i], want) {
				t.Errorf("%q: line %d = %q, want it to start with %q", args, i+1, lines[i], want)
			}
		}
	}
}
