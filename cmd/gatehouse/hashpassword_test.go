package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// TestHashPasswordRefusesLongPasswords: bcrypt reads 72 bytes, so a longer
// password is refused with an error rather than hashed (its end would be
// ignored), and the password is not echoed.
func TestHashPasswordRefusesLongPasswords(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat("p", 72) // hashing it at cost 12 is slow: read it only
	if pw, err := readPipedPassword(strings.NewReader(ok + "\r\n")); err != nil || string(pw) != ok {
		t.Fatalf("72-byte password read as %q, %v; want it accepted", pw, err)
	}
	for _, n := range []int{73, 200, 5000} {
		pw := strings.Repeat("q", n)
		out, stderr, err := runCmd(t, pw+"\n", "hash-password")
		if !errors.Is(err, errReported) || out != "" || !strings.Contains(stderr, "72") {
			t.Errorf("%d-byte password: stdout %q, stderr %q, err %v; want an error naming 72 bytes and no hash", n, out, stderr, err)
		}
		if strings.Contains(stderr, pw[:20]) {
			t.Errorf("%d-byte password is echoed: %q", n, stderr)
		}
	}
}

// TestPromptTwice checks the terminal dialogue with a fake no-echo reader.
func TestPromptTwice(t *testing.T) {
	t.Parallel()
	reader := func(answers ...string) func() ([]byte, error) {
		return func() ([]byte, error) {
			a := answers[0]
			answers = answers[1:]
			return []byte(a), nil
		}
	}
	var prompts strings.Builder
	pw, err := promptTwice(reader("s3cret", "s3cret"), &prompts)
	if err != nil || string(pw) != "s3cret" {
		t.Errorf("same twice: %q, %v", pw, err)
	}
	if p := prompts.String(); !strings.Contains(p, "Password: ") || !strings.Contains(p, "Again: ") || strings.Contains(p, "s3cret") {
		t.Errorf("prompts %q, want both prompts and no password", p)
	}
	if _, err := promptTwice(reader("s3cret", "s3creT"), &prompts); err == nil {
		t.Error("different passwords accepted")
	}
	if _, err := promptTwice(reader(strings.Repeat("x", 73), strings.Repeat("x", 73)), &prompts); err == nil {
		t.Error("a 73-byte password accepted at the prompt")
	}
	if _, err := promptTwice(reader("", ""), &prompts); err == nil {
		t.Error("an empty password accepted at the prompt")
	}
}

// TestCheckWarnsOnMixedCosts: users files that mix bcrypt costs let a
// failed login's time tell users apart; `check` says so in a warning line
// and still exits 0.
func TestCheckWarnsOnMixedCosts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h4, _ := bcrypt.GenerateFromPassword([]byte("a"), 4)
	h5, _ := bcrypt.GenerateFromPassword([]byte("b"), 5)
	cfg := filepath.Join(dir, "gatehouse.yaml")
	writeFiles(t, dir, map[string]string{
		"users.yaml": "- {username: alice, password_hash: \"" + string(h4) + "\"}\n" +
			"- {username: bob, password_hash: \"" + string(h4) + "\"}\n",
		"htpasswd": "carol:" + string(h5) + "\n",
		"gatehouse.yaml": `
listen: "127.0.0.1:0"
upstream: "http://127.0.0.1:3000"
users: {file: "` + filepath.Join(dir, "users.yaml") + `", htpasswd_file: "` + filepath.Join(dir, "htpasswd") + `"}
routes:
  - {name: app, match: {path_prefix: "/"}, auth: session}
`,
	})
	out, stderr, err := runCmd(t, "", "check", "-config", cfg)
	if err != nil {
		t.Fatalf("check with mixed costs: %v (%s), want exit 0", err, stderr)
	}
	if !strings.Contains(out, "OK") {
		t.Errorf("stdout %q, want OK", out)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "warning: users: ") ||
		!strings.Contains(lines[0], "cost 4: 2") || !strings.Contains(lines[0], "cost 5: 1") {
		t.Errorf("stderr %q, want one warning line naming the costs", stderr)
	}

	writeFiles(t, dir, map[string]string{"htpasswd": "carol:" + string(h4) + "\n"})
	if _, stderr, err := runCmd(t, "", "check", "-config", cfg); err != nil || stderr != "" {
		t.Errorf("check with one cost: stderr %q, err %v; want nothing", stderr, err)
	}
}
