package filestat

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSame(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	write := func(name, data string, mod time.Time) {
		t.Helper()
		if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1_700_000_000, 0)
	write(a, "one", t0)
	first := Stat(a, "", filepath.Join(dir, "missing"))
	if first[1] != nil || first[2] != nil {
		t.Fatalf("Stat of an empty name or a missing file = %v, want nil", first[1:])
	}
	if !Same(first, Stat(a, "", filepath.Join(dir, "missing"))) {
		t.Error("unchanged files reported as changed")
	}
	write(a, "two", t0.Add(time.Second))
	if Same(first, Stat(a, "", filepath.Join(dir, "missing"))) {
		t.Error("a rewritten file reported as unchanged")
	}
	// Renamed over (a new inode with the same size and time) is a change too.
	cur := Stat(a)
	write(b, "two", t0.Add(time.Second))
	if err := os.Rename(b, a); err != nil {
		t.Fatal(err)
	}
	if Same(cur, Stat(a)) {
		t.Error("a file renamed over reported as unchanged")
	}
	if Same(Stat(a), Stat(a, a)) {
		t.Error("lists of different lengths reported as the same")
	}
}
