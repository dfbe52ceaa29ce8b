package deploy

import (
	"bufio"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its stage (0-based).
type instruction struct {
	stage int
	cmd   string // upper case
	args  string
}

// readDockerfile returns the instructions of ../Dockerfile, continuation
// lines joined and comments dropped.
func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	stage, cur := -1, ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur += s + " "
			continue
		}
		cur += line
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur), " ")
		cur = ""
		cmd = strings.ToUpper(cmd)
		if cmd == "FROM" {
			stage++
		}
		out = append(out, instruction{stage, cmd, strings.TrimSpace(args)})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDockerfile checks the image: a Go build stage matching go.mod's
// version, a static stamped build, a distroless nonroot final stage with the
// ports and entry point the manifests rely on, and no HEALTHCHECK.
func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	last := ins[len(ins)-1].stage
	if last < 1 {
		t.Fatalf("%d stages, want a build stage and a final stage", last+1)
	}
	final := map[string][]string{}
	var froms, runs []string
	args := map[string]string{}
	for _, in := range ins {
		switch {
		case in.cmd == "FROM":
			froms = append(froms, in.args)
		case in.cmd == "RUN":
			runs = append(runs, in.args)
		case in.cmd == "ARG" && in.stage == -1:
			k, v, _ := strings.Cut(in.args, "=")
			args[k] = v
		case in.cmd == "HEALTHCHECK":
			t.Errorf("HEALTHCHECK %s: health is left to Kubernetes probes", in.args)
		}
		if in.stage == last {
			final[in.cmd] = append(final[in.cmd], in.args)
		}
	}
	goMod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(goMod)
	if goVersion == nil || args["GO_VERSION"] != string(goVersion[1]) {
		t.Errorf("ARG GO_VERSION=%q, want go.mod's %q", args["GO_VERSION"], goVersion)
	}
	if !strings.Contains(froms[0], "golang:${GO_VERSION}") {
		t.Errorf("build stage FROM %q, want golang:${GO_VERSION}", froms[0])
	}
	if got, want := froms[last], "gcr.io/distroless/static-debian12:nonroot"; got != want {
		t.Errorf("final FROM %q, want %q", got, want)
	}
	build := strings.Join(runs, "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.commit=${COMMIT}", "./cmd/gatehouse", `"$(cat cmd/gatehouse/VERSION)"`} {
		if !strings.Contains(build, want) {
			t.Errorf("no RUN contains %q", want)
		}
	}
	if strings.Contains(build, "main.version") {
		t.Error("a RUN sets main.version: the binary's version is cmd/gatehouse/VERSION, embedded (and -X cannot override it)")
	}
	wantFinal := map[string]string{
		"USER":       "65532:65532",
		"EXPOSE":     "8080 9090",
		"ENTRYPOINT": `["/gatehouse"]`,
		"CMD":        `["serve", "-config", "` + configFile + `"]`,
	}
	for cmd, want := range wantFinal {
		if got := final[cmd]; len(got) != 1 || got[0] != want {
			t.Errorf("final stage %s %q, want %q", cmd, got, want)
		}
	}
	var cmdArgs []string
	if err := json.Unmarshal([]byte(wantFinal["CMD"]), &cmdArgs); err != nil {
		t.Errorf("CMD is not exec (JSON) form: %v", err)
	}
	checkStampedVars(t)
}

// checkStampedVars checks that package main of cmd/gatehouse declares the
// string variables the -X flags set (the linker ignores missing ones).
func checkStampedVars(t *testing.T) {
	t.Helper()
	files, err := filepath.Glob("../cmd/gatehouse/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in cmd/gatehouse: %v", err)
	}
	found := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatalf("parse %s: %v", name, err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR || f.Name.Name != "main" {
				continue
			}
			for _, s := range gd.Specs {
				for _, n := range s.(*ast.ValueSpec).Names {
					found[n.Name] = true
				}
			}
		}
	}
	for _, v := range []string{"version", "commit"} {
		if !found[v] {
			t.Errorf("cmd/gatehouse has no package-level var %s for -X main.%s", v, v)
		}
	}
}

// dockerignored reports whether .dockerignore's patterns exclude the
// slash-separated path p: the last matching pattern wins, a pattern matches
// a path or any of its parent directories, and "**/" matches any depth.
func dockerignored(patterns []string, p string) bool {
	excluded := false
	for _, pat := range patterns {
		neg := strings.HasPrefix(pat, "!")
		pat = strings.TrimPrefix(strings.TrimPrefix(pat, "!"), "/")
		for c := p; c != "." && c != ""; c = path.Dir(c) {
			if globMatch(pat, c) {
				excluded = !neg
				break
			}
		}
	}
	return excluded
}

func globMatch(pat, p string) bool {
	rest, deep := strings.CutPrefix(pat, "**/")
	if !deep {
		ok, _ := path.Match(pat, p)
		return ok
	}
	for {
		if ok, _ := path.Match(rest, p); ok {
			return true
		}
		_, after, found := strings.Cut(p, "/")
		if !found {
			return false
		}
		p = after
	}
}

// TestDockerignore checks that .dockerignore keeps out VCS data and key
// material but leaves in every file the build needs: go.mod, go.sum and the
// Go and embedded files of every package of this module ./cmd/gatehouse uses.
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			patterns = append(patterns, l)
		}
	}
	for _, p := range []string{".git/config", "keys/signing.pem", "auth/testdata/x.key", ".env"} {
		if !dockerignored(patterns, p) {
			t.Errorf("%s is sent to the builder", p)
		}
	}
	needed := []string{"go.mod", "go.sum"}
	out, err := exec.Command("go", "list", "-e", "-deps", "-f",
		`{{if .Module}}{{if .Module.Main}}{{$d := .Dir}}{{range .GoFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{range .EmbedFiles}}{{$d}}/{{.}}{{"\n"}}{{end}}{{end}}{{end}}`,
		"../cmd/gatehouse").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		needed = append(needed, filepath.ToSlash(rel))
	}
	if len(needed) < 5 {
		t.Fatalf("go list found %d files for ./cmd/gatehouse: %q", len(needed), needed)
	}
	for _, p := range needed {
		if dockerignored(patterns, p) {
			t.Errorf("%s is needed by the build but excluded by .dockerignore", p)
		}
	}
}

// TestDockerignored checks the matcher the test above relies on.
func TestDockerignored(t *testing.T) {
	patterns := []string{".git", "/bin", "**/*.pem", "deploy", "**/testdata", "!deploy/keep.go"}
	tests := []struct {
		path string
		want bool
	}{
		{".git/HEAD", true},
		{"bin/gatehouse", true},
		{"cmd/bin/x.go", false},
		{"a/b/c.pem", true},
		{"c.pem", true},
		{"deploy/doc.go", true},
		{"deploy/keep.go", false},
		{"auth/testdata/k", true},
		{"auth/store.go", false},
	}
	for _, tt := range tests {
		if got := dockerignored(patterns, tt.path); got != tt.want {
			t.Errorf("dockerignored(%q): got %v, want %v", tt.path, got, tt.want)
		}
	}
}
