package users

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAndCheckPassword(t *testing.T) {
	dir := t.TempDir()
	uf := write(t, dir, "users.yaml", `
- username: alice
  password_hash: "`+hash(t, "alice-pw")+`"
  email: alice@example.com
  groups: [staff, admins]
`)
	// $2y$ is what Apache's htpasswd -B writes.
	bobHash := "$2y$" + strings.TrimPrefix(hash(t, "bob-pw"), "$2a$")
	hf := write(t, dir, "htpasswd", "# comment\n\nbob:"+bobHash+"\ncarol:"+hash(t, "carol-pw")+"\n")
	d, err := Load(uf, hf)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		user, pw string
		ok       bool
	}{
		{"alice", "alice-pw", true},
		{"alice", "wrong", false},
		{"bob", "bob-pw", true},
		{"carol", "carol-pw", true},
		{"carol", "", false},
		{"nobody", "alice-pw", false},
		{"", "", false},
	}
	for _, tt := range tests {
		u, ok := d.CheckPassword(tt.user, tt.pw)
		if ok != tt.ok {
			t.Errorf("CheckPassword(%q, %q) ok = %v, want %v", tt.user, tt.pw, ok, tt.ok)
		}
		if ok && u.Username != tt.user {
			t.Errorf("CheckPassword(%q) user = %q, want %q", tt.user, u.Username, tt.user)
		}
	}
	u, _ := d.CheckPassword("alice", "alice-pw")
	if u.Email != "alice@example.com" || strings.Join(u.Groups, ",") != "staff,admins" {
		t.Errorf("alice = %+v, want email and groups from the file", u)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := hash(t, "pw")
	tests := []struct {
		name, users, htpasswd, want string
	}{
		{"md5 htpasswd", "", "ok:" + good + "\n# c\nbad:$apr1$abc$defghijklmnopqrstuvwx.\n", "line 3"},
		{"sha htpasswd", "", "bad:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", "line 1"},
		{"crypt htpasswd", "", "\nbad:rl3ewLx0ME1nE\n", "line 2"},
		{"no colon", "", "justaname\n", "line 1"},
		{"unknown field", "- username: a\n  password_hash: \"" + good + "\"\n  pasword: x\n", "", "unknown field"},
		{"duplicate in yaml", "- {username: a, password_hash: \"" + good + "\"}\n- {username: a, password_hash: \"" + good + "\"}\n", "", "duplicate"},
		{"duplicate across files", "- {username: a, password_hash: \"" + good + "\"}\n", "a:" + good + "\n", "duplicate"},
		{"plain text hash", "- {username: a, password_hash: secret}\n", "", "not bcrypt"},
		{"empty username", "- {username: \"\", password_hash: \"" + good + "\"}\n", "", "username is empty"},
		{"missing file", "", "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			uf, hf := "", ""
			if tt.users != "" {
				uf = write(t, dir, "u.yaml", tt.users)
			}
			if tt.htpasswd != "" {
				hf = write(t, dir, "h", tt.htpasswd)
			}
			if tt.users == "" && tt.htpasswd == "" {
				uf = filepath.Join(dir, "absent.yaml")
			}
			_, err := Load(uf, hf)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "rl3ewLx0ME1nE") {
				t.Errorf("Load error %q echoes a password or hash", err)
			}
		})
	}
}

func TestDummyHashHasUsersCost(t *testing.T) {
	dir := t.TempDir()
	h, err := bcrypt.GenerateFromPassword([]byte("pw"), 6)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load("", write(t, dir, "h", "a:"+string(h)+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost(d.dummy); c != 6 {
		t.Errorf("dummy hash cost = %d, want 6", c)
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := bcrypt.Cost([]byte(h)); c != HashCost {
		t.Errorf("cost = %d, want %d", c, HashCost)
	}
	if bcrypt.CompareHashAndPassword([]byte(h), []byte("s3cret")) != nil {
		t.Error("hash does not verify its password")
	}
}

func TestWatcherReloads(t *testing.T) {
	dir := t.TempDir()
	hf := write(t, dir, "h", "a:"+hash(t, "old")+"\n")
	logs := &syncBuf{}
	w, err := NewWatcher("", hf, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	w.interval = 10 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	write(t, dir, "h", "garbage line\n")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "users reload failed") { // the watcher has read the bad file
		if time.Now().After(deadline) {
			t.Fatalf("the bad file was not read within 5s; log:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := w.CheckPassword("a", "old"); !ok {
		t.Fatal("a bad file replaced the previous users")
	}
	write(t, dir, "h", "a:"+hash(t, "new")+"\n")
	deadline = time.Now().Add(5 * time.Second)
	for {
		if _, ok := w.CheckPassword("a", "new"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new password not applied within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, ok := w.CheckPassword("a", "old"); ok {
		t.Error("old password still accepted after reload")
	}
}

// syncBuf is a bytes.Buffer safe for a logger and a test to share.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
