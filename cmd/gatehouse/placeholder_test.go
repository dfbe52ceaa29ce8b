package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestPlaceholderSecretsRefused: a secret file that still holds the
// shipped placeholder text (deploy/: REPLACE_ME) is refused by check and by
// serve, naming the key and the file; the admin token placeholder is long
// enough to pass every other rule (issue 10). Filled in, both pass.
func TestPlaceholderSecretsRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gatehouse.yaml")
	token, users := filepath.Join(dir, "admin-token"), filepath.Join(dir, "users.yaml")
	writeFiles(t, dir, map[string]string{
		"gatehouse.yaml": `
listen: "127.0.0.1:0"
admin: {listen: "127.0.0.1:0", token_file: "` + token + `"}
users: {file: "` + users + `"}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: session}
`,
		// As shipped in deploy/kubernetes/base/secret.yaml.
		"admin-token": "REPLACE_ME-with-a-long-random-token-openssl-rand-hex-32\n",
		"users.yaml":  "- username: REPLACE_ME\n  password_hash: \"REPLACE_ME: a bcrypt hash\"\n",
	})
	wantProblems := []string{
		"admin.token_file: " + token + ": still holds the shipped placeholder (REPLACE_ME); put the real secret there",
		"users.file: " + users + ": still holds the shipped placeholder (REPLACE_ME); put the real users there",
	}
	_, stderr, err := runCmd(t, "", "check", "-config", cfg)
	if !errors.Is(err, errReported) {
		t.Fatalf("check: err = %v, want problems reported (exit 1); output:\n%s", err, stderr)
	}
	for _, want := range wantProblems {
		if !strings.Contains(stderr, want) {
			t.Errorf("check output lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "users:") || strings.Contains(stderr, "bcrypt") {
		t.Errorf("check reports the users file twice (placeholder and parse):\n%s", stderr)
	}
	_, stderr, err = runCmd(t, "", "serve", "-config", cfg)
	if !errors.Is(err, errReported) || !strings.Contains(stderr, "refusing to start") {
		t.Fatalf("serve: err = %v, want a refusal; output:\n%s", err, stderr)
	}
	for _, want := range wantProblems {
		if !strings.Contains(stderr, want) {
			t.Errorf("serve output lacks %q:\n%s", want, stderr)
		}
	}

	hash, err := bcrypt.GenerateFromPassword([]byte("correct horse"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"admin-token": "4f9c2a7e1b3d5f608a2c4e6f8b0d1f3a\n",
		"users.yaml":  "- username: alice\n  password_hash: \"" + string(hash) + "\"\n",
	})
	if out, stderr, err := runCmd(t, "", "check", "-config", cfg); err != nil || !strings.Contains(out, "OK") {
		t.Errorf("check with the secrets filled in: %v\n%s%s", err, out, stderr)
	}
}
