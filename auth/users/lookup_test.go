package users

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLookupAndEnded(t *testing.T) {
	dir := t.TempDir()
	aliceHash, bobHash := hash(t, "alice-pw"), hash(t, "bob-pw")
	entry := func(name, h, groups string) string {
		return "- username: " + name + "\n  password_hash: \"" + h + "\"\n  groups: " + groups + "\n"
	}
	old, err := Load(write(t, dir, "old.yaml", entry("alice", aliceHash, "[staff, ops]")+
		entry("bob", bobHash, "[staff]")+entry("carol", hash(t, "carol-pw"), "[]")), "")
	if err != nil {
		t.Fatal(err)
	}
	// bob's hash changes, carol is gone, alice is demoted, dave is new.
	cur, err := Load(write(t, dir, "cur.yaml", entry("alice", aliceHash, "[staff]")+
		entry("bob", hash(t, "bob-pw"), "[staff]")+entry("dave", hash(t, "dave-pw"), "[]")), "")
	if err != nil {
		t.Fatal(err)
	}
	u, fp, ok := cur.Lookup("alice")
	if !ok || !slices.Equal(u.Groups, []string{"staff"}) || len(fp) != 16 || strings.Contains(aliceHash, fp) {
		t.Errorf("Lookup(alice) = %+v, %q, %v; want her current groups and a 16-character fingerprint", u, fp, ok)
	}
	if _, oldFP, _ := old.Lookup("alice"); oldFP != fp {
		t.Errorf("alice's fingerprint changed with her groups: %q → %q", oldFP, fp)
	}
	if _, _, ok := cur.Lookup("carol"); ok {
		t.Error("Lookup(carol) found a removed user")
	}
	if got := Ended(old, cur); !slices.Equal(got, []string{"bob", "carol"}) {
		t.Errorf("Ended = %v, want [bob carol]", got)
	}
	if got := Ended(nil, cur); got != nil {
		t.Errorf("Ended(nil, cur) = %v, want none", got)
	}
	if got := Ended(old, nil); len(got) != 3 {
		t.Errorf("Ended(old, nil) = %v, want every user", got)
	}
	var nilDir *Directory
	if _, _, ok := nilDir.Lookup("alice"); ok {
		t.Error("a nil Directory found a user")
	}
}

// TestWatcherFollowsConfigMapSwap: the users file mounted from a
// Kubernetes ConfigMap (users.yaml → ..data/users.yaml, ..data → a
// timestamped directory swapped by rename) is reloaded within about
// one PollInterval of the swap, and OnReload reports who was removed.
func TestWatcherFollowsConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, name), "users.yaml", content)
	}
	swap := func(target string) {
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(name string) string {
		return "- username: " + name + "\n  password_hash: \"" + hash(t, name+"-pw") + "\"\n"
	}
	bob := entry("bob")
	version("..v1", entry("alice")+bob)
	swap("..v1")
	path := filepath.Join(dir, "users.yaml")
	if err := os.Symlink("..data/users.yaml", path); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan []string, 1)
	w.OnReload = func(old, cur *Directory) { ended <- Ended(old, cur) }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	version("..v2", bob)
	start := time.Now()
	swap("..v2")
	select {
	case got := <-ended:
		took := time.Since(start)
		if !slices.Equal(got, []string{"alice"}) {
			t.Errorf("OnReload: ended %v, want [alice]", got)
		}
		if _, _, ok := w.Lookup("alice"); ok {
			t.Error("alice is still found after the reload")
		}
		t.Logf("ConfigMap swap reloaded in %v (PollInterval %v)", took, PollInterval)
		if took > 10*PollInterval {
			t.Errorf("reload took %v, want about one PollInterval (%v); generous bound %v", took, PollInterval, 10*PollInterval)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s of the swap")
	}
}
