package proxy

import (
	"github.com/gatehouse-proxy/gatehouse/proxy/httpx"
	"net/url"
	"strings"
	"testing"
)

func TestRefusePath(t *testing.T) {
	tests := []struct {
		raw     string
		refused bool
	}{
		{"/", false},
		{"/api/x", false},
		{"/a%20b", false},
		{"/files/report.v2.pdf", false},
		{"/..", true},
		{"/a/../b", true},
		{"/a/./b", true},
		{"/a/.", true},
		{"/a%2fb", true},
		{"/a%2Fb", true},
		{"/a%5cb", true},
		{"/a%5Cb", true},
		{"/a%2eb", true},
		{"/a%2E%2E/b", true},
		{"/a%00", true},
		{"/a\\b", true},
		{"/a;b", true},
		{"api", true},
		{"", true},
	}
	for _, tc := range tests {
		if got := refusePath(tc.raw) != ""; got != tc.refused {
			t.Errorf("refusePath(%q) refused = %v, want %v", tc.raw, got, tc.refused)
		}
	}
}

func TestMergeSlashes(t *testing.T) {
	for in, want := range map[string]string{"/": "/", "//": "/", "/a//b///c": "/a/b/c", "/a/": "/a/", "///x": "/x"} {
		if got := mergeSlashes(in); got != want {
			t.Errorf("mergeSlashes(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRefusePath checks the property the refusals exist for: a path that is
// accepted decodes to a path without dot segments, backslashes or NULs, so
// the upstream cannot resolve it to anything other than what was routed.
func FuzzRefusePath(f *testing.F) {
	for _, s := range []string{"/api/x", "/public/../api", "/public/%2e%2e/api", "/a%2fb", "/\\x", "/a;b", "/%252e", "//a//b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if refusePath(raw) != "" {
			return
		}
		decoded, err := url.PathUnescape(raw)
		if err != nil {
			return // Go's server refuses invalid escapes before we see them
		}
		merged := mergeSlashes(decoded)
		if strings.ContainsAny(merged, "\\\x00") {
			t.Fatalf("accepted %q decodes to %q", raw, merged)
		}
		for seg := range strings.SplitSeq(merged, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted %q decodes to dot segment in %q", raw, merged)
			}
		}
	})
}

func FuzzBearerToken(f *testing.F) {
	for _, s := range []string{"Bearer abc", "bearer  x ", "Basic x", "Bearer", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		h := map[string][]string{"Authorization": {v}}
		tok, present, ok := httpx.BearerToken(h)
		if ok && (!present || tok == "") {
			t.Fatalf("bearerToken(%q) = %q, %v, %v", v, tok, present, ok)
		}
	})
}
