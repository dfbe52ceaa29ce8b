package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoadSyntaxErrorNamesFile: a config that is not YAML, or not a map of
// keys, is reported with the file's name before yaml's line number; yaml's
// own message names only the line. A file that cannot be read keeps the
// path of its *fs.PathError.
func TestLoadSyntaxErrorNamesFile(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, yaml, want string }{
		{"unclosed.yaml", "listen: \":8080\"\nupstream: \"http://127.0.0.1:3000\"\nroutes: [\n  - a\n  b: c\n", "unclosed.yaml: yaml: line 3: "},
		{"tab.yaml", "listen: \":8080\"\n\tupstream: x\n", "tab.yaml: yaml: line 2: "},
		{"list.yaml", "- a\n- b\n", "list.yaml: yaml: unmarshal errors:\n  line 1: "},
	} {
		path := filepath.Join(dir, c.name)
		if err := os.WriteFile(path, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(path, nil)
		if cfg != nil || err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, c.want)) {
			t.Errorf("Load(%s): got %v, %v; want nil and an error starting %q", c.name, cfg, err, c.want)
		}
	}
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing, nil); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing): %v; want a not-exist error naming %s", err, missing)
	}
}
