package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// releaseVersion returns cmd/gatehouse/VERSION, the one place the version
// is written (the binary embeds it).
func releaseVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../cmd/gatehouse/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(b))
	if !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(v) {
		t.Fatalf("cmd/gatehouse/VERSION holds %q, want a semantic version tag vMAJOR.MINOR.PATCH", v)
	}
	return v
}

// TestVersionEverywhere: the image tag in every kustomization and in the
// docs, the Component's ?ref=, the Makefile's image tag and the Dockerfile
// all use cmd/gatehouse/VERSION, so that a version bump cannot forget one
// (issue 10: "gatehouse version prints a semantic version, and the image and
// manifests use the same").
func TestVersionEverywhere(t *testing.T) {
	v := releaseVersion(t)
	tags := 0
	for dir, k := range readKustomizations(t) {
		for _, im := range k.Images {
			if im.Name != "gatehouse" && !strings.HasSuffix(im.NewName, "/gatehouse") {
				continue
			}
			tags++
			if im.NewTag != v {
				t.Errorf("%s/kustomization.yaml: image %s newTag %q, want %q (cmd/gatehouse/VERSION)", dir, im.Name, im.NewTag, v)
			}
		}
	}
	if tags < 2 {
		t.Errorf("%d gatehouse image entries in the kustomizations, want the sidecar overlay's and the Component's", tags)
	}
	for _, dir := range []string{filepath.Join(kubeDir, "overlays", "sidecar"), filepath.Join(kubeDir, "overlays", "redis"), sidecarTestdata} {
		g := findGatehouse(t, render(t, dir))
		if want := "ghcr.io/gatehouse-proxy/gatehouse:" + v; g.container.Image != want {
			t.Errorf("%s renders the gatehouse container with image %q, want %q", dir, g.container.Image, want)
		}
	}

	// The docs' examples.
	refs := regexp.MustCompile(`gatehouse:(v?\d+\.\d+\.\d+)|newTag: "?(v?\d+\.\d+\.\d+)|\?ref=(v?\d+\.\d+\.\d+)`)
	for _, doc := range []string{"README.md", "../README.md"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range refs.FindAllStringSubmatch(string(b), -1) {
			if got := m[1] + m[2] + m[3]; got != v {
				t.Errorf("%s: %q, want version %s", doc, m[0], v)
			}
		}
	}

	// The Makefile tags the image with the file's version; the Dockerfile
	// has no default version of its own.
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"VERSION  ?= $(shell cat cmd/gatehouse/VERSION)", "-t gatehouse:$(VERSION)"} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("Makefile lacks %q", want)
		}
	}
	if strings.Contains(string(mk), "main.version") {
		t.Error("Makefile sets main.version: the binary's version is cmd/gatehouse/VERSION, embedded")
	}
	for _, in := range readDockerfile(t) {
		if k, def, _ := strings.Cut(in.args, "="); in.cmd == "ARG" && k == "VERSION" && def != "" {
			t.Errorf("Dockerfile ARG VERSION=%s: want no default (the binary reports cmd/gatehouse/VERSION)", def)
		}
	}
}
